"""The desk's inbox in its local store, with no server: a message written here shows at
once, queued; it survives the pages a sync brings and a reset; the server's answers are
taken in; consent reads as the rules say (care and reminders yes until the patient says
no, the rest no until they say yes, the latest decision winning)."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from common.appointments import AppointmentStatus
from common.errors import DomainError
from common.message_templates import AppointmentFacts
from common.messaging import Channel, ConsentSource, DeliveryStatus, Direction, Purpose
from sync.messages import AppointmentsToMention, LaterPatients
from sync.outbox import About, describe
from sync.protocol import (
    LocationRecord,
    MessageRecord,
    MutationResult,
    StaffRecord,
    Tombstone,
)
from sync.schema import MIGRATIONS, messages, outbox
from sync.store import Store
from tests.support import records

ZONE = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
ALEX = StaffRecord(
    id=uuid.uuid4(), version=1, display_name="Alex Reed", role="front_desk", active=True
)
AUTHOR = records.author(ALEX.id)
ADA = records.patient_with("Ada", "Lovelace", phone="+447700900001").model_copy(
    update={"email": "ada@example.org"}
)
ALAN = records.patient_with("Alan", "Turing", phone="+447700900002")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    opened.clock = lambda: NOW
    opened.apply_page(records.page(patients=[ADA, ALAN], staff=[ALEX]), synced_at=NOW)
    yield opened
    opened.close()


def bring(store: Store, **parts: object) -> None:
    """A page of the change feed, as a sync brings it."""
    store.apply_page(records.page(**parts), synced_at=NOW)


def answer(store: Store, status: str = "applied", **fields: object) -> MutationResult:
    """The server's answer to the oldest pending change, taken in."""
    [sent] = store.pending_mutations(1)
    result = MutationResult(mutation_id=sent.mutation_id, status=status, **fields)  # type: ignore[arg-type]
    store.record_results([sent], [result])
    return result


def server_copy(
    message_id: uuid.UUID, status: DeliveryStatus, *, version: int = 9
) -> MessageRecord:
    return records.message(
        ADA,
        "Your results are in.",
        NOW,
        direction=Direction.OUT,
        deliveries=((Channel.SMS, status, None),),
        version=version,
    ).model_copy(update={"id": message_id})


def test_a_store_from_before_messaging_gets_its_tables_and_downloads_afresh(
    tmp_path: Path,
) -> None:
    key = secrets.token_bytes(32)
    older = Store.open(tmp_path / "old.db", key)
    messaging = next(
        n for n, steps in enumerate(MIGRATIONS) if any("CREATE TABLE messages" in s for s in steps)
    )
    with older.engine.begin() as conn:
        # As the store was before messaging, and before everything added since.
        for table in ("messages", "consents", "message_templates", "form_requests"):
            conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.exec_driver_sql("ALTER TABLE appointment_types DROP COLUMN video")
        conn.exec_driver_sql("ALTER TABLE appointments DROP COLUMN video_url")
        conn.exec_driver_sql(f"PRAGMA user_version = {messaging}")
    older.set_meta({"cursor": "1.500"})
    older.close()

    upgraded = Store.open(tmp_path / "old.db", key)
    assert upgraded.get_meta("cursor") is None  # messages older than it are fetched too
    assert upgraded.conversations() == []
    upgraded.close()


# --- writing ------------------------------------------------------------------------------


def test_a_message_written_here_is_in_the_conversation_at_once_queued(store: Store) -> None:
    message_id = store.send_message(
        AUTHOR, ADA.id, channels=[Channel.SMS, Channel.EMAIL], body="  Your results are in. "
    )

    [shown] = store.conversation(ADA.id)
    assert shown.id == message_id
    assert shown.body == "Your results are in."
    assert shown.direction is Direction.OUT
    assert shown.pending
    assert shown.sent_by == "Alex Reed"
    assert [(d.channel, d.status) for d in shown.deliveries] == [
        (Channel.SMS, DeliveryStatus.QUEUED),
        (Channel.EMAIL, DeliveryStatus.QUEUED),
    ]
    assert shown.counterpart == "+447700900001"
    [conversation] = store.conversations()
    assert (conversation.name, conversation.preview, conversation.unread) == (
        "Ada Lovelace",
        "You: Your results are in.",
        0,
    )
    [queued] = store.pending_mutations(10)
    assert queued.command.kind == "send_message"
    assert describe(queued.command, ZONE, About(patient="Ada Lovelace")) == (
        "Text and e-mail to Ada Lovelace: Your results are in."
    )


@pytest.mark.parametrize(
    ("channels", "body", "words"),
    [([Channel.SMS], "   ", "Write something to send."), ([], "Hello", "Choose how to send it")],
)
def test_an_empty_message_or_one_with_no_channel_is_refused_in_words_and_nothing_queued(
    store: Store, channels: list[Channel], body: str, words: str
) -> None:
    with pytest.raises(DomainError, match=words):
        store.send_message(AUTHOR, ADA.id, channels=channels, body=body)
    assert store.pending_mutations(10) == []
    assert store.conversation(ADA.id) == []


def test_pages_a_sync_brings_do_not_lose_a_message_still_unsent(store: Store) -> None:
    message_id = store.send_message(AUTHOR, ADA.id, channels=[Channel.SMS], body="See you soon")
    bring(store, messages=[records.message(ALAN, "Thanks", NOW)])
    assert [m.id for m in store.conversation(ADA.id)] == [message_id]

    # The server's copy arrives before its answer (a push whose reply was lost): it is
    # kept, not painted over as "queued" again.
    bring(store, messages=[server_copy(message_id, DeliveryStatus.SENT)])
    [shown] = store.conversation(ADA.id)
    assert [d.status for d in shown.deliveries] == [DeliveryStatus.SENT]
    assert shown.pending


def test_a_reset_clears_the_cached_inbox_but_not_what_waits_to_be_sent(store: Store) -> None:
    bring(
        store,
        messages=[records.message(ALAN, "Thanks", NOW)],
        consents=[records.consent(ALAN, Channel.SMS, Purpose.MARKETING, True, NOW)],
    )
    message_id = store.send_message(AUTHOR, ADA.id, channels=[Channel.SMS], body="Hello")
    assert store.count("consents") == 1

    bring(store, reset=True, patients=[ADA, ALAN])

    assert store.count("consents") == 0
    assert store.conversation(ALAN.id) == []
    assert [m.id for m in store.conversation(ADA.id)] == [message_id]  # replayed on top
    assert [c.name for c in store.conversations()] == ["Ada Lovelace"]


def test_a_tombstone_removes_a_message(store: Store) -> None:
    gone = records.message(ALAN, "Wrong number", NOW)
    bring(store, messages=[gone])
    bring(store, tombstones=[Tombstone(entity="messages", id=gone.id, version=20)])
    assert store.conversation(ALAN.id) == []


# --- the server's answers -----------------------------------------------------------------


def test_an_applied_message_becomes_the_servers_copy(store: Store) -> None:
    message_id = store.send_message(AUTHOR, ADA.id, channels=[Channel.SMS], body="Hello")
    answer(store, message_record=server_copy(message_id, DeliveryStatus.QUEUED))

    [shown] = store.conversation(ADA.id)
    assert not shown.pending
    assert store.outbox_counts() == {"pending": 0, "attention": 0}
    with store.engine.connect() as conn:
        assert conn.scalar(select(messages.c.version).where(messages.c.id == str(message_id))) == 9


def test_a_refused_message_keeps_its_text_in_needs_attention_and_in_its_conversation(
    store: Store,
) -> None:
    message_id = store.send_message(
        AUTHOR, ADA.id, channels=[Channel.SMS], body="Special offer on whitening"
    )
    answer(store, "rejected", code="forbidden", message="Your role may not send that.")

    [waiting] = store.needs_attention()
    assert describe(waiting.command, ZONE, waiting.about) == (
        "Text to Ada Lovelace: Special offer on whitening"
    )
    [shown] = store.conversation(ADA.id)
    assert (shown.id, shown.body, shown.refused) == (
        message_id,
        "Special offer on whitening",
        "Your role may not send that.",
    )
    with store.engine.connect() as conn:  # not in the cache: it never was the server's
        assert conn.scalar(select(messages.c.id).where(messages.c.id == str(message_id))) is None

    store.discard(waiting.seq)
    assert store.conversation(ADA.id) == []


def test_reading_marks_only_unread_texts_and_the_answer_just_clears_pending(store: Store) -> None:
    unread = records.message(ADA, "Can I come earlier?", NOW)
    read = records.message(ADA, "Thanks", NOW - timedelta(hours=1), read_at=NOW)
    bring(store, messages=[unread, read])
    assert store.unread_messages() == 1

    assert len(store.mark_read(AUTHOR, [unread.id, read.id])) == 1
    [queued] = store.pending_mutations(10)
    assert queued.command.model_dump()["message_ids"] == [unread.id]
    assert describe(queued.command, ZONE) == "Mark a message read"
    assert store.unread_messages() == 0
    assert store.mark_read(AUTHOR, [unread.id]) == []  # nothing more to queue

    answer(store)  # MarkMessagesRead carries no record back
    latest = {m.id: m for m in store.conversation(ADA.id)}[unread.id]
    assert latest.read_at == NOW
    assert not latest.pending
    assert store.outbox_counts() == {"pending": 0, "attention": 0}


def test_a_refused_read_mark_leaves_the_text_unread(store: Store) -> None:
    unread = records.message(ADA, "Can I come earlier?", NOW)
    bring(store, messages=[unread])
    store.mark_read(AUTHOR, [unread.id])
    answer(store, "rejected", code="forbidden", message="Not allowed.")
    assert store.unread_messages() == 1


def test_a_text_from_an_unknown_number_is_attached_to_a_patient(store: Store) -> None:
    stranger = records.message(None, "Is this the dentist?", NOW, counterpart="+447700900999")
    bring(store, messages=[stranger])
    [listed] = store.conversations()
    assert (listed.known, listed.name, listed.number) == (False, "+44 ••••• 999", "+447700900999")
    assert [m.id for m in store.unattached("+447700900999")] == [stranger.id]

    store.attach_message(AUTHOR, stranger.id, ALAN.id)
    assert store.unattached() == []
    assert [m.id for m in store.conversation(ALAN.id)] == [stranger.id]
    [queued] = store.pending_mutations(10)
    assert describe(queued.command, ZONE, About(patient="Alan Turing")) == (
        "Put a text from an unknown number in Alan Turing's conversation"
    )

    # Turned down, with the message as the server has it: it goes back where it was.
    answer(store, "rejected", code="invalid", message="Already attached.", message_record=stranger)
    assert [m.id for m in store.unattached()] == [stranger.id]


def test_conversations_list_unread_first_then_the_newest(store: Store) -> None:
    grace = records.patient_with("Grace", "Hopper", phone="+447700900003")
    bring(
        store,
        patients=[grace],
        messages=[
            records.message(ADA, "Old but unread", NOW - timedelta(days=2)),
            records.message(ADA, "Older still", NOW - timedelta(days=3)),
            records.message(ALAN, "Read", NOW - timedelta(hours=1), read_at=NOW),
            records.message(grace, "Newest, read", NOW, read_at=NOW),
            records.message(None, "Who is this?", NOW - timedelta(days=1), counterpart=None),
        ],
    )
    listed = store.conversations()
    assert [(c.name, c.unread) for c in listed] == [
        ("No number", 1),
        ("Ada Lovelace", 2),
        ("Grace Hopper", 0),
        ("Alan Turing", 0),
    ]
    assert listed[1].preview == "Old but unread"
    assert store.unread_messages() == 3


# --- consent --------------------------------------------------------------------------


def test_consent_defaults_care_and_reminders_yes_the_rest_no(store: Store) -> None:
    found = store.consents(ADA.id)
    assert len(found.states) == len(Channel) * len(Purpose)
    assert all(s.decision is None for s in found.states)
    assert found.allows(Channel.SMS, Purpose.CARE)
    assert found.allows(Channel.EMAIL, Purpose.REMINDER)
    assert not found.allows(Channel.SMS, Purpose.MARKETING)
    assert not found.allows(Channel.EMAIL, Purpose.SURVEY)
    assert not found.allows(Channel.EMAIL, Purpose.REVIEW)
    assert found.history == ()


def test_the_latest_consent_decision_wins_and_the_history_says_when_how_and_by_whom(
    store: Store,
) -> None:
    bring(
        store,
        consents=[
            records.consent(ADA, Channel.SMS, Purpose.CARE, False, NOW - timedelta(days=9)),
            records.consent(
                ADA,
                Channel.SMS,
                Purpose.CARE,
                True,
                NOW - timedelta(days=2),
                source=ConsentSource.SMS_KEYWORD,
            ),
            records.consent(ADA, Channel.EMAIL, Purpose.MARKETING, True, NOW - timedelta(days=5)),
        ],
    )
    store.record_consent(
        AUTHOR,
        ADA.id,
        channel=Channel.EMAIL,
        purpose=Purpose.MARKETING,
        granted=False,
        note=" phone ",
    )

    found = store.consents(ADA.id)
    assert found.allows(Channel.SMS, Purpose.CARE)
    assert not found.allows(Channel.EMAIL, Purpose.MARKETING)
    newest = found.history[0]
    assert (newest.granted, newest.source, newest.staff_name, newest.note, newest.pending) == (
        False,
        ConsentSource.DESK,
        "Alex Reed",
        "phone",
        True,
    )
    assert newest.decided_at == NOW
    assert [d.source for d in found.history[1:3]] == [ConsentSource.SMS_KEYWORD, ConsentSource.DESK]
    assert len(found.history) == 4
    [queued] = store.pending_mutations(10)
    assert describe(queued.command, ZONE, About(patient="Ada Lovelace")) == (
        "Record Ada Lovelace's consent: Email for marketing withdrawn"
    )


def test_a_refused_consent_is_taken_back(store: Store) -> None:
    store.record_consent(AUTHOR, ADA.id, channel=Channel.SMS, purpose=Purpose.SURVEY, granted=True)
    assert store.consents(ADA.id).allows(Channel.SMS, Purpose.SURVEY)
    answer(store, "rejected", code="forbidden", message="Your role may not change patients.")
    assert not store.consents(ADA.id).allows(Channel.SMS, Purpose.SURVEY)
    assert store.consents(ADA.id).history == ()


# --- wordings and running late ---------------------------------------------------------


def test_a_wording_is_saved_here_at_once_and_based_on_the_version_this_desk_has(
    store: Store,
) -> None:
    template_id = store.save_template(AUTHOR, "reminder", Channel.SMS, body="See you {when}")
    [saved] = store.templates()
    assert (saved.id, saved.kind, saved.purpose, saved.pending) == (
        template_id,
        "reminder",
        Purpose.REMINDER,
        True,
    )
    [first] = store.pending_mutations(10)
    assert first.command.model_dump()["base_version"] is None
    answer(store)
    assert not store.templates()[0].pending

    again = store.save_template(AUTHOR, "reminder", Channel.SMS, body="See you at {when}")
    assert again == template_id  # one wording per kind and channel
    [second] = store.pending_mutations(10)
    assert describe(second.command, ZONE) == "Save the wording of reminder messages (SMS)"


def test_running_late_counts_the_patients_still_expected_and_changes_nothing_here(
    store: Store,
) -> None:
    doctor = records.provider("Dr Adams")
    grace = records.patient_with("Grace", "Hopper")
    bring(
        store,
        providers=[doctor],
        patients=[grace],
        appointments=[
            records.appointment(doctor, ADA, NOW - timedelta(hours=1)),  # before: not told
            records.appointment(doctor, ALAN, NOW + timedelta(hours=1)),
            records.appointment(doctor, ALAN, NOW + timedelta(hours=3)),  # told once
            records.appointment(doctor, grace, NOW + timedelta(hours=2)),  # no number
            records.appointment(
                doctor, ADA, NOW + timedelta(hours=4), status=AppointmentStatus.CANCELLED
            ),
            records.appointment(doctor, ADA, NOW + timedelta(days=1)),  # tomorrow
        ],
    )
    end_of_day = NOW.replace(hour=23, minute=59)
    assert store.later_patients(doctor.id, NOW, end_of_day) == LaterPatients(1, 1)

    store.tell_running_late(AUTHOR, doctor.id, 20, NOW)
    [queued] = store.pending_mutations(10)
    assert describe(queued.command, ZONE, About(provider="Dr Adams")) == (
        "Tell Dr Adams's patients after 10:00 that the clinic runs 20 min late"
    )
    with store.engine.connect() as conn:
        assert json.loads(conn.scalar(select(outbox.c.command)))["minutes"] == 20
    answer(store)
    assert store.outbox_counts() == {"pending": 0, "attention": 0}


def test_a_wording_speaks_of_the_next_appointment_still_expected_and_of_today_s_visit(
    store: Store,
) -> None:
    doctor = records.provider("Dr Adams")
    kind = records.appointment_type("Check-up", providers=(doctor,))
    room = LocationRecord(id=uuid.uuid4(), version=1, name="Room 3", active=True)
    day_start = NOW.replace(hour=0)

    def at(start: datetime, status: AppointmentStatus = AppointmentStatus.BOOKED) -> Any:
        booked = records.appointment(doctor, ADA, start, status=status)
        return records.typed(booked, kind).model_copy(update={"location_id": room.id})

    bring(
        store,
        providers=[doctor],
        appointment_types=[kind],
        locations=[room],
        appointments=[
            at(NOW - timedelta(days=1), AppointmentStatus.COMPLETED),  # yesterday: not today's
            at(NOW - timedelta(hours=2), AppointmentStatus.COMPLETED),
            at(NOW - timedelta(hours=1), AppointmentStatus.NO_SHOW),  # never came
            at(NOW + timedelta(hours=1), AppointmentStatus.CANCELLED),
            records.appointment(doctor, ADA, NOW + timedelta(days=2)),  # no type, no room
            at(NOW + timedelta(days=1), AppointmentStatus.CONFIRMED),
        ],
    )
    found = store.appointments_to_mention(ADA.id, NOW, day_start)
    assert found.upcoming == AppointmentFacts(
        NOW + timedelta(days=1), "Dr Adams", "Check-up", "Room 3"
    )
    assert found.seen_today == AppointmentFacts(
        NOW - timedelta(hours=2), "Dr Adams", "Check-up", "Room 3"
    )
    assert store.appointments_to_mention(ALAN.id, NOW, day_start) == AppointmentsToMention(
        None, None
    )


def test_the_list_says_when_the_last_message_did_not_reach_the_patient(store: Store) -> None:
    bring(
        store,
        messages=[
            records.message(
                ADA,
                "Your results are ready.",
                NOW,
                direction=Direction.OUT,
                deliveries=((Channel.SMS, DeliveryStatus.UNDELIVERED, "Phone switched off."),),
            ),
            records.message(
                ALAN,
                "See you soon.",
                NOW - timedelta(minutes=1),
                direction=Direction.OUT,
                deliveries=(
                    (Channel.SMS, DeliveryStatus.DELIVERED, None),
                    (Channel.EMAIL, DeliveryStatus.BOUNCED, "No such mailbox."),
                ),
            ),
        ],
    )
    previews = {c.name: c.preview for c in store.conversations()}
    assert previews["Ada Lovelace"] == "Not delivered: Your results are ready."
    assert previews["Alan Turing"] == "Partly not delivered: See you soon."
