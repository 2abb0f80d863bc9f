"""The outbox against a real server: optimistic changes, acknowledgements, rejections
that wait for a person, and replays that change nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from server.demo import DEMO_TIME_ZONE
from server.mutations.models import AppliedMutation
from server.scheduling.models import Appointment
from sync import account
from sync.account import Desk
from sync.client import ServerClient, ServerUnreachable
from sync.engine import SyncEngine
from tests.support.live_server import LiveServer

EMAIL, PASSWORD = "frontdesk@demo.clinic", "frontdesk-demo-1"
ZONE = ZoneInfo(DEMO_TIME_ZONE)


def open_desk(server: LiveServer, folder: Path) -> tuple[Desk, SyncEngine]:
    desk = account.sign_in(folder, server.url, "demo", EMAIL, PASSWORD)
    engine = SyncEngine(desk.store, account.sync_client(desk))
    engine.sync()
    return desk, engine


def free_evening(days_ahead: int = 3, hour: int = 19) -> datetime:
    """The demo clinic closes at 17:00, so evenings are free."""
    day = datetime.now(ZONE).date() + timedelta(days=days_ahead)
    return datetime.combine(day, time(hour), tzinfo=ZONE).astimezone(UTC)


def book(desk: Desk, start: datetime, provider: int = 0) -> uuid.UUID:
    providers = desk.store.providers()
    patient = desk.store.diary(start - timedelta(days=20), start)[0]
    return desk.store.book(
        desk.author,
        provider_id=providers[provider].id,
        patient_id=uuid.UUID(str(_patient_id(desk, patient.id))),
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
    )


def _patient_id(desk: Desk, appointment_id: uuid.UUID) -> str:
    from sync.schema import appointments

    with desk.store.engine.connect() as conn:
        return str(
            conn.scalar(
                select(appointments.c.patient_id).where(appointments.c.id == str(appointment_id))
            )
        )


def server_appointment(server: LiveServer, appointment_id: uuid.UUID) -> Appointment | None:
    with server.sessionmaker() as session:
        return session.get(Appointment, appointment_id)


def local_entry(desk: Desk, appointment_id: uuid.UUID, around: datetime):
    found = [
        e
        for e in desk.store.diary(around - timedelta(days=1), around + timedelta(days=1))
        if e.id == appointment_id
    ]
    return found[0] if found else None


def test_a_booking_shows_at_once_as_pending_and_is_acknowledged_by_the_next_sync(
    live_server: LiveServer, tmp_path: Path
) -> None:
    desk, engine = open_desk(live_server, tmp_path)
    start = free_evening()
    appointment_id = book(desk, start)

    entry = local_entry(desk, appointment_id, start)
    assert entry is not None
    assert entry.pending
    assert desk.store.outbox_counts() == {"pending": 1, "attention": 0}
    assert server_appointment(live_server, appointment_id) is None

    report = engine.sync()

    assert report.applied == 1
    assert desk.store.outbox_counts() == {"pending": 0, "attention": 0}
    entry = local_entry(desk, appointment_id, start)
    assert entry is not None
    assert not entry.pending
    stored = server_appointment(live_server, appointment_id)
    assert stored is not None
    assert stored.starts_at == start


def test_two_desks_book_the_same_slot_offline_one_stands_the_other_needs_attention(
    live_server: LiveServer, tmp_path: Path
) -> None:
    first, first_engine = open_desk(live_server, tmp_path / "first")
    second, second_engine = open_desk(live_server, tmp_path / "second")
    start = free_evening()
    winner = book(first, start)
    loser = book(second, start)

    first_engine.sync()
    report = second_engine.sync()

    assert report.rejected == 1
    assert second.store.outbox_counts() == {"pending": 0, "attention": 1}
    [attention] = second.store.needs_attention()
    assert attention.result.code == "slot_taken"
    assert len(attention.result.suggestions) == 3
    # The loser's diary now shows the server's truth: the winner's booking, not its own.
    assert local_entry(second, loser, start) is None
    assert local_entry(second, winner, start) is not None

    # Taking the first suggestion books it, and that stands.
    suggestion = attention.result.suggestions[0]
    rebooked = second.store.retry_at(attention.seq, second.author, suggestion)
    assert rebooked is not None
    second_engine.sync()
    assert second.store.outbox_counts() == {"pending": 0, "attention": 0}
    with live_server.sessionmaker() as session:
        starts = session.scalars(
            select(Appointment.starts_at).where(Appointment.id.in_([winner, loser]))
        ).all()
    assert sorted(starts) == sorted([start, suggestion.starts_at])


def test_chained_offline_edits_of_one_appointment_all_apply(
    live_server: LiveServer, tmp_path: Path
) -> None:
    desk, engine = open_desk(live_server, tmp_path)
    start = free_evening(days_ahead=0, hour=20)  # today: a check-in fits only on the day
    appointment_id = book(desk, start)
    later = start + timedelta(hours=1)
    providers = desk.store.providers()
    desk.store.move(
        desk.author,
        appointment_id,
        provider_id=providers[1].id,
        starts_at=later,
        ends_at=later + timedelta(minutes=45),
    )
    desk.store.set_status(desk.author, appointment_id, "check_in")

    report = engine.sync()

    assert (report.applied, report.rejected) == (3, 0)
    stored = server_appointment(live_server, appointment_id)
    assert stored is not None
    assert (stored.provider_id, stored.starts_at, stored.status) == (
        providers[1].id,
        later,
        "arrived",
    )


def test_another_desks_change_wins_and_ours_waits_with_the_record_as_it_stands(
    live_server: LiveServer, tmp_path: Path
) -> None:
    first, first_engine = open_desk(live_server, tmp_path / "first")
    second, second_engine = open_desk(live_server, tmp_path / "second")
    start = free_evening()
    appointment_id = book(first, start)
    first_engine.sync()
    second_engine.sync()

    first.store.set_status(first.author, appointment_id, "check_in")  # offline
    second.store.set_status(second.author, appointment_id, "cancel")
    second_engine.sync()
    report = first_engine.sync()

    assert report.rejected == 1
    [attention] = first.store.needs_attention()
    assert attention.result.code == "stale_version"
    entry = local_entry(first, appointment_id, start)
    assert entry is not None
    assert entry.status == "cancelled"
    assert not entry.pending
    first.store.discard(attention.seq)
    assert first.store.outbox_counts() == {"pending": 0, "attention": 0}


def test_pending_changes_survive_a_pull_of_newer_data(
    live_server: LiveServer, tmp_path: Path
) -> None:
    first, first_engine = open_desk(live_server, tmp_path / "first")
    second, second_engine = open_desk(live_server, tmp_path / "second")
    start = free_evening()
    ours = book(first, start)
    theirs = book(second, start, provider=1)
    second_engine.sync()

    first_engine.pull()  # pull only: ours is still unsent

    entry = local_entry(first, ours, start)
    assert entry is not None
    assert entry.pending, "the pull did not overwrite our unsent booking"
    assert local_entry(first, theirs, start) is not None


def test_offline_changes_wait_in_the_outbox_and_go_when_the_line_returns(
    live_server: LiveServer, tmp_path: Path
) -> None:
    desk, engine = open_desk(live_server, tmp_path)
    appointment_id = book(desk, free_evening())
    offline = SyncEngine(desk.store, ServerClient("http://127.0.0.1:9", device_token="x"))
    with pytest.raises(ServerUnreachable):
        offline.sync()
    assert desk.store.outbox_counts()["pending"] == 1

    engine.sync()

    assert desk.store.outbox_counts()["pending"] == 0
    assert server_appointment(live_server, appointment_id) is not None


def test_a_lost_reply_is_answered_again_from_the_servers_record(
    live_server: LiveServer, tmp_path: Path
) -> None:
    desk, engine = open_desk(live_server, tmp_path)
    appointment_id = book(desk, free_evening())
    batch = desk.store.pending_mutations(10)
    engine.client.push(batch)  # the server applies it; the reply never arrives

    report = engine.sync()

    assert report.applied == 1
    assert desk.store.outbox_counts()["pending"] == 0
    with live_server.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(AppliedMutation)) == 1
        assert (
            session.scalar(
                select(func.count())
                .select_from(Appointment)
                .where(Appointment.id == appointment_id)
            )
            == 1
        )


def test_changes_to_records_the_desk_has_never_seen_are_refused_locally(
    live_server: LiveServer, tmp_path: Path
) -> None:
    from sync.store import StoreError

    desk, _engine = open_desk(live_server, tmp_path)
    with pytest.raises(StoreError, match="not in this desk's copy"):
        desk.store.set_status(desk.author, uuid.uuid4(), "cancel")
    assert desk.store.outbox_counts()["pending"] == 0
