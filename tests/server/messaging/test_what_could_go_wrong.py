"""Messaging when things are not as they should be: a number typed without its country
code, a provider slower than the dispatcher's lease, a receipt posted to another clinic's
address, a delivery that cannot be prepared, a running-late request sent a day late, a
confirmation overtaken by a cancellation, and the server's own settings wrong."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from common.messaging import Channel, DeliveryStatus
from common.roles import Role
from server.config import Settings
from server.db import transaction
from server.messaging import service
from server.messaging.dispatcher import Dispatcher
from server.messaging.models import Delivery, DevOutboxEntry, Message, MessagingSettings
from server.messaging.providers.base import Accepted, TransientFailure
from server.patients.models import Patient
from tests.server.messaging.test_compose_and_dispatch import Scripted, at_london
from tests.server.messaging.test_dispatch_exactly_once import queue
from tests.server.messaging.test_webhooks import SENDGRID_PUBLIC, sendgrid_post
from tests.server.test_mutations import a_week_from_today_at, mutation, push


@pytest.fixture
def settings(database_url: str) -> Settings:
    """With SendGrid's webhook key, so a receipt can be signed as SendGrid signs it."""
    return Settings(
        database_url=database_url,
        environment="test",
        dispatch_in_server=False,
        sendgrid_webhook_public_key=SENDGRID_PUBLIC,
    )


@pytest.fixture
def desk(factory):
    clinic = factory.clinic(
        "alder", roles=(Role.FRONT_DESK, Role.CLINIC_ADMIN), providers=1, patients=2
    )
    with transaction(factory.db) as session:
        for n, patient_id in enumerate(clinic.records.patient_ids):
            patient = session.get(Patient, patient_id)
            patient.phone = f"+44740091234{n}"
            patient.email = f"pat{n}@example.org"
    headers = factory.signed_desk(clinic.front_desk, clinic.staff[Role.CLINIC_ADMIN])
    return clinic, headers


def deliveries(db):
    with db() as session:
        return session.scalars(select(Delivery).order_by(Delivery.created_at)).all()


def book(clinic, start, patient=0):
    return {
        "kind": "book",
        "appointment_id": str(uuid.uuid4()),
        "provider_id": str(clinic.records.provider_ids[0]),
        "patient_id": str(clinic.records.patient_ids[patient]),
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=30)).isoformat(),
    }


def test_a_number_without_its_country_code_holds_the_text_and_books_all_the_same(client, db, desk):
    clinic, headers = desk
    with transaction(db) as session:  # as an older desk saved it
        session.get(Patient, clinic.records.patient_ids[0]).phone = "07400 912340"
    [booked] = push(
        client,
        headers,
        mutation(clinic.front_desk.staff_id, book(clinic, a_week_from_today_at(10))),
    )
    assert booked["status"] == "applied", booked
    by_channel = {d.channel: d for d in deliveries(db)}
    assert by_channel[Channel.SMS].status is DeliveryStatus.HELD
    assert by_channel[Channel.SMS].error == service.NO_COUNTRY_CODE
    assert by_channel[Channel.EMAIL].status is DeliveryStatus.QUEUED


def test_a_slow_provider_never_holds_a_delivery_past_its_lease(db, factory, app):
    clinic = factory.clinic("birch", roles=(Role.FRONT_DESK,), patients=1)
    queue(db, clinic, 5)
    now = [at_london(12)]

    class Slow(Scripted):
        def send(self, message):
            now[0] += timedelta(seconds=50)  # each send takes 50 s
            return super().send(message)

    provider = Slow()
    lease = timedelta(minutes=2)
    first = Dispatcher(
        app.state.database,
        {Channel.SMS: provider},
        name="first",
        lease=lease,
        clock=lambda: now[0],
    )
    done = first.run_once()
    assert done.claimed == 5
    assert done.sent == 2  # a third send would have run past the lease's end
    second = Dispatcher(
        app.state.database,
        {Channel.SMS: provider},
        name="second",
        lease=lease,
        clock=lambda: now[0],
    )
    assert second.run_once().claimed == 0  # still the first one's until its lease ends
    for _ in range(3):  # each round sends what it can before its own lease runs short
        now[0] += lease
        second.drain()
    handed = [message.delivery_id for message in provider.handed]
    assert len(handed) == 5
    assert len(set(handed)) == 5  # none handed over twice
    assert {d.status for d in deliveries(db)} == {DeliveryStatus.SENT}


def test_a_delivery_that_cannot_be_prepared_is_held_and_the_rest_go(db, factory, app):
    clinic = factory.clinic("birch", roles=(Role.FRONT_DESK,), patients=1)
    queue(db, clinic, 3)
    bad = deliveries(db)[1]
    with transaction(db) as session:
        session.get(Delivery, bad.id).calendar_appointment_id = uuid.uuid4()

    def attachments(session, delivery):
        raise RuntimeError("the calendar file could not be made")

    done = Dispatcher(app.state.database, {}, attachments=attachments).drain()
    assert (done.sent, done.held) == (2, 1)
    held = {d.id: d for d in deliveries(db)}[bad.id]
    assert held.status is DeliveryStatus.HELD
    assert "could not be prepared" in held.error


def test_a_sendgrid_receipt_finds_its_delivery_whichever_clinics_address_it_reached(
    client, db, factory, app, desk
):
    clinic, headers = desk
    other = factory.clinic("birch", roles=(Role.FRONT_DESK,))
    command = {
        "kind": "send_message",
        "message_id": str(uuid.uuid4()),
        "patient_id": str(clinic.records.patient_ids[0]),
        "channels": ["email"],
        "body": "Hello",
    }
    push(client, headers, mutation(clinic.front_desk.staff_id, command))

    class SendGridLike:
        name = "sendgrid"
        channel = Channel.EMAIL

        def send(self, message):
            return Accepted("msgid")

    Dispatcher(app.state.database, {Channel.EMAIL: SendGridLike()}).drain()
    [email] = deliveries(db)
    event = {
        "sg_event_id": "evt-1",
        "sg_message_id": "msgid.filter0001",
        "event": "delivered",
        "delivery_id": str(email.id),
        "email": "pat0@example.org",
        "timestamp": int(datetime.now(UTC).timestamp()),
    }
    assert sendgrid_post(client, other, [event]).status_code == 204
    [email] = deliveries(db)
    assert email.status is DeliveryStatus.DELIVERED


def test_a_marketing_email_written_at_the_desk_is_not_blank_beside_its_link(
    client, db, app, desk, settings
):
    from server.messaging.unsubscribe import url_maker

    clinic, headers = desk
    admin = clinic.staff[Role.CLINIC_ADMIN].staff_id
    patient = str(clinic.records.patient_ids[0])
    consent = {
        "kind": "record_consent",
        "consent_id": str(uuid.uuid4()),
        "patient_id": patient,
        "channel": "email",
        "purpose": "marketing",
        "granted": True,
    }
    news = {
        "kind": "send_message",
        "message_id": str(uuid.uuid4()),
        "patient_id": patient,
        "channels": ["email"],
        "purpose": "marketing",
        "body": "Evening hours <now> & on Thursdays.",
    }
    push(client, headers, mutation(admin, consent, seq=1), mutation(admin, news, seq=2))
    Dispatcher(app.state.database, {}, unsubscribe_url=url_maker(settings)).drain()
    with db() as session:
        [sent] = session.scalars(select(DevOutboxEntry)).all()
    assert "Evening hours &lt;now&gt; &amp; on Thursdays." in sent.html
    assert "Unsubscribe" in sent.html


def test_the_marketing_cap_counts_messages_not_channels(client, db, app, desk):
    clinic, headers = desk
    admin = clinic.staff[Role.CLINIC_ADMIN].staff_id
    patient = str(clinic.records.patient_ids[0])
    with transaction(db) as session:
        session.add(MessagingSettings(clinic_id=clinic.id, marketing_cap=2))
    commands = [
        {
            "kind": "record_consent",
            "consent_id": str(uuid.uuid4()),
            "patient_id": patient,
            "channel": channel,
            "purpose": "marketing",
            "granted": True,
        }
        for channel in ("sms", "email")
    ]
    commands += [
        {
            "kind": "send_message",
            "message_id": str(uuid.uuid4()),
            "patient_id": patient,
            "channels": ["sms", "email"],
            "purpose": "marketing",
            "body": f"News {n}",
        }
        for n in range(3)
    ]
    push(client, headers, *(mutation(admin, c, seq=n + 1) for n, c in enumerate(commands)))
    done = Dispatcher(app.state.database, {}, clock=lambda: at_london(12)).drain()
    assert (done.sent, done.held) == (4, 2)  # two newsletters by both channels; not the third


def test_running_late_asked_offline_yesterday_tells_nobody(client, db, desk):
    clinic, headers = desk
    yesterday = datetime.now(UTC) - timedelta(days=1)
    late = {
        "kind": "running_late",
        "provider_id": str(clinic.records.provider_ids[0]),
        "minutes": 15,
        "after": yesterday.isoformat(),
    }
    [result] = push(client, headers, mutation(clinic.front_desk.staff_id, late))
    assert result["status"] == "rejected"
    assert "another day" in result["message"]
    with db() as session:
        assert session.scalars(select(Message)).all() == []


def test_a_cancellation_holds_the_confirmation_still_waiting_and_a_move_reconfirms(
    client, db, desk
):
    clinic, headers = desk
    staff = clinic.front_desk.staff_id
    first, second = book(clinic, a_week_from_today_at(10)), book(clinic, a_week_from_today_at(11))
    results = push(client, headers, mutation(staff, first, seq=1), mutation(staff, second, seq=2))
    cancel = {
        "kind": "cancel",
        "appointment_id": first["appointment_id"],
        "base_version": results[0]["appointment"]["version"],
        "cancelled_by": "patient",
    }
    start = a_week_from_today_at(15)
    move = {
        "kind": "move",
        "appointment_id": second["appointment_id"],
        "base_version": results[1]["appointment"]["version"],
        "provider_id": second["provider_id"],
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=30)).isoformat(),
    }
    changed = push(client, headers, mutation(staff, cancel, seq=3), mutation(staff, move, seq=4))
    assert [r["status"] for r in changed] == ["applied", "applied"], changed
    with db() as session:
        messages = session.scalars(select(Message).order_by(Message.created_at)).all()
    assert len(messages) == 3  # two confirmations, then the moved one's new one
    by_appointment: dict[str, list[Message]] = {}
    for message in messages:
        by_appointment.setdefault(str(message.appointment_id), []).append(message)
    [cancelled] = by_appointment[first["appointment_id"]]
    old, fresh = by_appointment[second["appointment_id"]]
    assert {d["status"] for d in cancelled.deliveries} == {"held"}
    assert cancelled.deliveries[0]["error"] == "The appointment was cancelled before this was sent."
    assert {d["status"] for d in old.deliveries} == {"held"}
    assert old.deliveries[0]["error"] == "The appointment was moved before this was sent."
    assert {d["status"] for d in fresh.deliveries} == {"queued"}
    assert "15:00" in fresh.body  # the new time, on the clinic's clocks


def test_a_wording_saved_twice_before_the_first_is_answered_is_still_its_own(client, db, desk):
    clinic, headers = desk
    admin = clinic.staff[Role.CLINIC_ADMIN].staff_id
    template_id = str(uuid.uuid4())

    def save(body, seq):
        command = {
            "kind": "save_message_template",
            "template_id": template_id,
            "base_version": None,
            "message_kind": "running_late",
            "channel": "sms",
            "body": body,
        }
        return mutation(admin, command, seq=seq)

    body = "{{ clinic.name }}: running {{ minutes_late }} min late."
    results = push(client, headers, save(body, 1), save(body + " Sorry!", 2))
    assert [r["status"] for r in results] == ["applied", "applied"], results
    assert results[1]["message_template"]["body"].endswith("Sorry!")


def test_a_wrong_credential_keeps_the_message_for_the_settings_to_be_put_right(db, factory, app):
    clinic = factory.clinic("birch", roles=(Role.FRONT_DESK,), patients=1)
    queue(db, clinic, 1)
    refused = TransientFailure("The SMS provider refused our credentials.", code="provider_auth")
    now = [datetime.now(UTC)]
    dispatcher = Dispatcher(
        app.state.database,
        {Channel.SMS: Scripted(*[refused] * 20)},
        clock=lambda: now[0],
        max_attempts=3,
    )
    for _ in range(10):
        dispatcher.run_once()
        now[0] += timedelta(hours=1, minutes=1)
    [waiting] = deliveries(db)
    assert waiting.status is DeliveryStatus.QUEUED  # still kept, ten tries on
    assert "credentials" in waiting.error
