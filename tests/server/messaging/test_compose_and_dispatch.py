"""Messages first, deliveries second: a desk's message is written with a delivery per
channel in one transaction, held with a reason where it may not go, and handed to the
provider by the dispatcher once, inside the rules (consent, opt-outs, quiet hours,
marketing caps), with back-off on transient failures."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from common.messaging import Channel, DeliveryStatus
from common.roles import Role
from server.crypto import phone_index
from server.db import Database, transaction
from server.messaging.dispatcher import Dispatcher, _Outcome, retry_delay
from server.messaging.models import (
    Delivery,
    DevOutboxEntry,
    Message,
    MessagingSettings,
    PhoneOptOut,
)
from server.messaging.providers.base import Accepted, Outgoing, PermanentFailure, TransientFailure
from server.patients.models import Patient
from tests.server.test_mutations import PUSH, mutation, push
from tests.support.signed import sign_all

DEV_OUTBOX = {Channel.SMS: None, Channel.EMAIL: None}
NUMBER = "+447400912345"


@pytest.fixture
def desk(factory):
    clinic = factory.clinic(
        "alder",
        roles=(Role.FRONT_DESK, Role.READ_ONLY, Role.CLINIC_ADMIN),
        providers=1,
        patients=2,
    )
    with transaction(factory.db) as session:
        for n, patient_id in enumerate(clinic.records.patient_ids):
            patient = session.get(Patient, patient_id)
            patient.phone = NUMBER if n == 0 else None
            patient.email = f"pat{n}@example.org"
    headers = factory.signed_desk(
        clinic.front_desk, clinic.staff[Role.READ_ONLY], clinic.staff[Role.CLINIC_ADMIN]
    )
    return clinic, headers


@pytest.fixture
def database(app) -> Database:
    return app.state.database


def send(clinic, channels=("sms", "email"), *, patient=0, purpose="care", body="See you soon"):
    return {
        "kind": "send_message",
        "message_id": str(uuid.uuid4()),
        "patient_id": str(clinic.records.patient_ids[patient]),
        "channels": list(channels),
        "purpose": purpose,
        "subject": "",
        "body": body,
    }


def deliveries(db, message_id):
    with db() as session:
        return {
            row.channel: row
            for row in session.scalars(
                select(Delivery).where(Delivery.message_id == uuid.UUID(str(message_id)))
            )
        }


def outbox(db):
    with db() as session:
        return session.scalars(select(DevOutboxEntry)).all()


def test_a_message_is_written_with_a_delivery_per_channel_and_sent_once(client, db, desk, database):
    clinic, headers = desk
    command = send(clinic)
    once = mutation(clinic.front_desk.staff_id, command)
    [result] = push(client, headers, once)
    assert result["status"] == "applied", result
    assert [d["status"] for d in result["message_record"]["deliveries"]] == ["queued", "queued"]
    push(client, headers, once)  # the desk repeats its push: still one message
    with db() as session:
        assert session.scalar(select(Message).where(Message.id == uuid.UUID(command["message_id"])))
        assert len(session.scalars(select(Message)).all()) == 1

    done = Dispatcher(database, DEV_OUTBOX).drain()
    assert done.sent == 2
    sent = {entry.channel: entry for entry in outbox(db)}
    assert sent[Channel.SMS].to_address == NUMBER
    assert sent[Channel.SMS].text == "Alder Clinic: See you soon"  # says who it is from
    assert sent[Channel.EMAIL].subject == "A message from Alder Clinic"
    assert sent[Channel.EMAIL].text == "See you soon"
    assert {d.status for d in deliveries(db, command["message_id"]).values()} == {
        DeliveryStatus.DELIVERED
    }
    assert Dispatcher(database, DEV_OUTBOX).drain().sent == 0  # nothing sent twice
    assert len(outbox(db)) == 2
    with db() as session:
        message = session.get(Message, uuid.UUID(command["message_id"]))
    assert [entry["status"] for entry in message.deliveries] == ["delivered", "delivered"]


def test_a_channel_the_patient_has_no_address_for_is_held_with_the_reason(
    client, db, desk, database
):
    clinic, headers = desk
    command = send(clinic, patient=1)  # no phone
    [result] = push(client, headers, mutation(clinic.front_desk.staff_id, command))
    by_channel = {d["channel"]: d for d in result["message_record"]["deliveries"]}
    assert by_channel["sms"]["status"] == "held"
    assert by_channel["sms"]["error"] == "There is no mobile number on the patient's file."
    assert by_channel["email"]["status"] == "queued"
    Dispatcher(database, DEV_OUTBOX).drain()
    assert [entry.channel for entry in outbox(db)] == [Channel.EMAIL]


def test_a_withdrawn_consent_holds_what_waits_and_what_is_written_after(client, db, desk, database):
    clinic, headers = desk
    staff = clinic.front_desk.staff_id
    first = send(clinic, ["sms"])
    push(client, headers, mutation(staff, first, seq=1))
    withdraw = {
        "kind": "record_consent",
        "consent_id": str(uuid.uuid4()),
        "patient_id": str(clinic.records.patient_ids[0]),
        "channel": "sms",
        "purpose": "care",
        "granted": False,
        "note": "asked on the phone",
    }
    [result] = push(client, headers, mutation(staff, withdraw, seq=2))
    assert result["status"] == "applied", result
    assert result["consent"]["source"] == "desk"
    assert deliveries(db, first["message_id"])[Channel.SMS].status is DeliveryStatus.HELD
    second = send(clinic, ["sms", "email"])
    [later] = push(client, headers, mutation(staff, second, seq=3))
    by_channel = {d["channel"]: d for d in later["message_record"]["deliveries"]}
    assert by_channel["sms"]["status"] == "held"
    assert "asked not to get care messages by SMS" in by_channel["sms"]["error"]
    Dispatcher(database, DEV_OUTBOX).drain()
    assert [entry.channel for entry in outbox(db)] == [Channel.EMAIL]


def test_an_opt_out_that_arrives_while_a_text_waits_stops_it_at_sending(client, db, desk, database):
    clinic, headers = desk
    command = send(clinic, ["sms"])
    push(client, headers, mutation(clinic.front_desk.staff_id, command))
    with transaction(db) as session:  # STOP recorded behind the composer's back
        session.add(PhoneOptOut(clinic_id=clinic.id, phone_index=phone_index(NUMBER)))
    done = Dispatcher(database, DEV_OUTBOX).drain()
    assert (done.sent, done.held) == (0, 1)
    held = deliveries(db, command["message_id"])[Channel.SMS]
    assert held.status is DeliveryStatus.HELD
    assert "replied STOP" in held.error
    assert outbox(db) == []


def test_marketing_needs_the_bulk_permission_and_the_patients_yes(client, db, desk, database):
    clinic, headers = desk
    [refused] = push(
        client, headers, mutation(clinic.front_desk.staff_id, send(clinic, purpose="marketing"))
    )
    assert refused["status"] == "rejected"
    assert refused["code"] == "forbidden"
    admin = clinic.staff[Role.CLINIC_ADMIN].staff_id
    [held] = push(client, headers, mutation(admin, send(clinic, ["email"], purpose="marketing")))
    assert held["status"] == "applied"
    assert held["message_record"]["deliveries"][0]["status"] == "held"
    assert "has not agreed to marketing" in held["message_record"]["deliveries"][0]["error"]


def test_read_only_staff_can_not_send(client, db, desk):
    clinic, headers = desk
    [result] = push(client, headers, mutation(clinic.staff[Role.READ_ONLY].staff_id, send(clinic)))
    assert result["status"] == "rejected"
    assert result["code"] == "forbidden"
    with db() as session:
        assert session.scalars(select(Message)).all() == []


def test_an_empty_or_oversized_body_is_refused_in_words(client, desk):
    clinic, headers = desk
    blank = send(clinic, body="   ")
    [result] = push(client, headers, mutation(clinic.front_desk.staff_id, blank))
    assert result["status"] == "rejected"
    assert result["message"] == "Write something to send."
    huge = mutation(clinic.front_desk.staff_id, send(clinic, body="x" * 5000))
    response = client.post(PUSH, json={"mutations": sign_all(headers, [huge])}, headers=headers)
    assert response.status_code == 422
    assert "body" in response.json()["message"]


# --- quiet hours ----------------------------------------------------------------------


LONDON = ZoneInfo("Europe/London")
DAY = date.today() + timedelta(days=2)  # ahead of every message's due time


def at_london(hour, minute=0, day=DAY):
    """``DAY`` at this time on the clinic's (London's) clocks."""
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON).astimezone(UTC)


@pytest.mark.quiet_hours
def test_a_text_written_at_night_waits_for_the_morning_an_email_does_not(
    client, db, desk, database
):
    clinic, headers = desk
    command = send(clinic)
    push(client, headers, mutation(clinic.front_desk.staff_id, command))
    night = Dispatcher(database, DEV_OUTBOX, clock=lambda: at_london(22, 30))
    done = night.drain()
    assert (done.sent, done.waiting) == (1, 1)
    waiting = deliveries(db, command["message_id"])[Channel.SMS]
    assert waiting.status is DeliveryStatus.QUEUED
    assert waiting.due_at == at_london(8, 0, day=DAY + timedelta(days=1))
    assert night.drain().claimed == 0  # still night: nothing claimed, nothing sent
    morning = Dispatcher(
        database, DEV_OUTBOX, clock=lambda: at_london(8, 0, day=DAY + timedelta(days=1))
    )
    assert morning.drain().sent == 1


def test_the_clinic_sets_its_own_window(client, db, desk, database):
    clinic, headers = desk
    with transaction(db) as session:
        session.add(
            MessagingSettings(
                clinic_id=clinic.id, texts_from_minute=9 * 60, texts_until_minute=17 * 60
            )
        )
    push(client, headers, mutation(clinic.front_desk.staff_id, send(clinic, ["sms"])))
    assert Dispatcher(database, DEV_OUTBOX, clock=lambda: at_london(8, 30)).drain().waiting == 1
    assert Dispatcher(database, DEV_OUTBOX, clock=lambda: at_london(9, 0)).drain().sent == 1


# --- providers' answers ------------------------------------------------------------------


class Scripted:
    """A provider answering from a script, recording what it was handed."""

    name = "scripted"
    channel = Channel.SMS

    def __init__(self, *answers):
        self.answers = list(answers)
        self.handed: list[Outgoing] = []
        self.lock = threading.Lock()

    def send(self, message: Outgoing) -> Accepted:
        with self.lock:
            self.handed.append(message)
            answer = self.answers.pop(0) if self.answers else Accepted(f"SM{len(self.handed)}")
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_a_transient_failure_is_retried_with_back_off_then_given_up(client, db, desk, database):
    clinic, headers = desk
    command = send(clinic, ["sms"])
    push(client, headers, mutation(clinic.front_desk.staff_id, command))
    busy = TransientFailure("The SMS provider is busy (429).", retry_after=90)
    provider = Scripted(*[busy] * 10)
    now = at_london(12)
    dispatcher = Dispatcher(
        database, {Channel.SMS: provider, Channel.EMAIL: None}, clock=lambda: now, max_attempts=3
    )
    assert dispatcher.run_once().retrying == 1
    waiting = deliveries(db, command["message_id"])[Channel.SMS]
    assert waiting.status is DeliveryStatus.QUEUED
    assert waiting.due_at == now + timedelta(seconds=90)  # the provider asked for 90 s
    assert "busy" in waiting.error
    assert dispatcher.run_once().claimed == 0  # not due yet
    for _attempt in (2, 3):
        now = now + timedelta(hours=2)
        dispatcher.run_once()
    failed = deliveries(db, command["message_id"])[Channel.SMS]
    assert failed.status is DeliveryStatus.FAILED
    assert failed.attempts == 3
    assert len(provider.handed) == 3
    with db() as session:
        message = session.get(Message, uuid.UUID(command["message_id"]))
    assert message.deliveries[0]["status"] == "failed"
    assert "busy" in message.deliveries[0]["error"]


def test_a_permanent_failure_is_not_retried_and_keeps_the_reason(client, db, desk, database):
    clinic, headers = desk
    command = send(clinic, ["sms"])
    push(client, headers, mutation(clinic.front_desk.staff_id, command))
    provider = Scripted(PermanentFailure("The number +44••••••45 is not a valid mobile number."))
    dispatcher = Dispatcher(
        database, {Channel.SMS: provider, Channel.EMAIL: None}, clock=lambda: at_london(12)
    )
    assert dispatcher.drain().failed == 1
    failed = deliveries(db, command["message_id"])[Channel.SMS]
    assert failed.status is DeliveryStatus.FAILED
    assert failed.error == "The number +44••••••45 is not a valid mobile number."
    assert len(provider.handed) == 1


def test_accepted_sends_keep_the_providers_id_and_segments(client, db, desk, database):
    clinic, headers = desk
    command = send(clinic, ["sms"])
    push(client, headers, mutation(clinic.front_desk.staff_id, command))
    provider = Scripted(Accepted("SM0123", segments=2))
    Dispatcher(
        database, {Channel.SMS: provider, Channel.EMAIL: None}, clock=lambda: at_london(12)
    ).drain()
    sent = deliveries(db, command["message_id"])[Channel.SMS]
    assert (sent.status, sent.provider_message_id, sent.segments) == (
        DeliveryStatus.SENT,
        "SM0123",
        2,
    )


def test_the_back_off_doubles_up_to_an_hour():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_delay(20) == timedelta(hours=1)
    assert retry_delay(1, asked=600) == timedelta(seconds=600)


def test_a_dispatcher_that_died_holding_work_loses_it_when_its_lease_runs_out(
    client, db, desk, database
):
    clinic, headers = desk
    command = send(clinic, ["sms"])
    push(client, headers, mutation(clinic.front_desk.staff_id, command))
    now = at_london(12)
    dead = Dispatcher(database, DEV_OUTBOX, name="dead", clock=lambda: now)
    work, _ = dead._claim()  # claimed, then the process died before sending
    assert len(work) == 1
    alive = Dispatcher(database, DEV_OUTBOX, name="alive", clock=lambda: now)
    assert alive.drain().claimed == 0  # the lease still holds
    later = Dispatcher(database, DEV_OUTBOX, name="alive", clock=lambda: now + timedelta(minutes=3))
    assert later.drain().sent == 1
    assert len(outbox(db)) == 1
    # The dead one's late recording (were it to come back) changes nothing: not its lease.
    assert dead._record([_Outcome(work[0])]).sent == 0
    assert len(outbox(db)) == 1


# --- running late ------------------------------------------------------------------------


def test_running_late_tells_each_later_patient_once_even_at_night(client, db, desk, database):
    from server.scheduling.models import Appointment

    clinic, headers = desk
    doctor = clinic.records.provider_ids[0]
    first, second = clinic.records.patient_ids
    start = datetime.now(UTC).replace(microsecond=0)
    day_end = datetime.combine(
        start.astimezone(LONDON).date() + timedelta(days=1), time(0), tzinfo=LONDON
    )
    with transaction(db) as session:
        session.get(Patient, second).phone = "+447400912399"
        for patient, minutes in ((first, 1), (first, 2), (second, 3)):
            at = start + timedelta(minutes=minutes)
            if at < day_end:
                session.add(
                    Appointment(
                        clinic_id=clinic.id,
                        provider_id=doctor,
                        patient_id=patient,
                        starts_at=at,
                        ends_at=at + timedelta(seconds=20),
                    )
                )
    command = {
        "kind": "running_late",
        "provider_id": str(doctor),
        "minutes": 20,
        "after": start.isoformat(),
    }
    [result] = push(client, headers, mutation(clinic.front_desk.staff_id, command))
    assert result["status"] == "applied", result
    with db() as session:
        told = session.scalars(select(Message).where(Message.kind == "running_late")).all()
    expected = {first, second} if start + timedelta(minutes=3) < day_end else {first}
    assert {message.patient_id for message in told} == expected  # once each
    assert all(message.urgent for message in told)
    assert all("20" in message.body for message in told)
    # Urgent: a dispatcher at 23:00 still sends them.
    late = Dispatcher(database, DEV_OUTBOX, clock=lambda: at_london(23))
    assert late.drain().sent == len(expected)


def test_a_committed_message_wakes_this_processs_dispatcher(client, db, desk):
    from server.messaging.wakeup import composed

    clinic, headers = desk
    composed.clear()
    push(client, headers, mutation(clinic.front_desk.staff_id, send(clinic, ["email"])))
    assert composed.is_set()  # the pushed change committed: the thread looks at once
    composed.clear()
    with transaction(db) as session, session.begin_nested():
        session.get(Patient, clinic.records.patient_ids[0]).first_name = "Ada"
    assert not composed.is_set()  # nothing composed, nothing to wake for
