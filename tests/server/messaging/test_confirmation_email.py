"""A booking's confirmation reaches a real SMTP server (aiosmtpd) with a text part, an
HTML part and an .ics, all naming the clinic and the appointment's local time; a text
goes by SMS too; a visit recorded after the fact is not "confirmed"."""

from __future__ import annotations

import email
import socket
import uuid
from datetime import UTC, datetime, time, timedelta
from email.policy import default as default_policy
from zoneinfo import ZoneInfo

import icalendar
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from common.messaging import Channel
from common.roles import Role
from server.db import transaction
from server.messaging.calendar_attachments import confirmation_attachments
from server.messaging.dispatcher import Dispatcher
from server.messaging.models import DevOutboxEntry, Message
from server.messaging.providers.smtp import SmtpEmail
from server.patients.models import Patient
from tests.server.test_mutations import mutation, push

LONDON = ZoneInfo("Europe/London")


class Inbox:
    """An aiosmtpd handler keeping what it is sent."""

    def __init__(self) -> None:
        self.received: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.received.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


@pytest.fixture
def smtp():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def desk(factory):
    clinic = factory.clinic("alder", roles=(Role.FRONT_DESK,), providers=1, patients=1)
    with transaction(factory.db) as session:
        patient = session.get(Patient, clinic.records.patient_ids[0])
        patient.first_name = "Ada"
        patient.email = "ada@example.org"
        patient.phone = "+447400912345"
    return clinic, factory.signed_desk(clinic.front_desk)


def book_at(client, clinic, headers, starts_at):
    command = {
        "kind": "book",
        "appointment_id": str(uuid.uuid4()),
        "provider_id": str(clinic.records.provider_ids[0]),
        "patient_id": str(clinic.records.patient_ids[0]),
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(minutes=30)).isoformat(),
    }
    [result] = push(client, headers, mutation(clinic.front_desk.staff_id, command))
    assert result["status"] == "applied", result
    return result["appointment"]


def test_the_booking_confirmation_reaches_a_real_smtp_server_with_its_ics(
    client, db, app, desk, smtp
):
    clinic, headers = desk
    inbox, port = smtp
    day = datetime.now(LONDON).date() + timedelta(days=7)
    starts_at = datetime.combine(day, time(13, 45), tzinfo=LONDON).astimezone(UTC)
    appointment = book_at(client, clinic, headers, starts_at)

    mail = SmtpEmail("127.0.0.1", port, from_address="hello@alder.example", starttls=False)
    dispatcher = Dispatcher(
        app.state.database,
        {Channel.EMAIL: mail, Channel.SMS: None},
        attachments=confirmation_attachments,
        # A time the window for texts is open, so the SMS goes too.
        clock=lambda: datetime.combine(day - timedelta(days=6), time(10), tzinfo=LONDON),
    )
    done = dispatcher.drain()
    assert done.sent == 2

    [received] = inbox.received
    assert received["To"] == "ada@example.org"
    assert "Alder Clinic" in received["From"]
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Alder Clinic" in part
        assert "13:45" in part  # the clinic's local time, not UTC
    assert "Ada" in text
    [ics] = [
        part for part in received.iter_attachments() if part.get_filename() == "appointment.ics"
    ]
    calendar = icalendar.Calendar.from_ical(ics.get_content())
    [event] = calendar.walk("VEVENT")
    assert event.decoded("DTSTART") == starts_at
    assert event.decoded("DTEND") == starts_at + timedelta(minutes=30)
    assert appointment["id"] in str(event["UID"])

    with db() as session:
        [text_message] = session.scalars(
            select(DevOutboxEntry).where(DevOutboxEntry.channel == Channel.SMS)
        ).all()
    assert "Alder Clinic" in text_message.text
    assert "13:45" in text_message.text


def test_a_visit_recorded_after_it_happened_is_not_confirmed(client, db, desk):
    clinic, headers = desk
    yesterday = datetime.now(UTC) - timedelta(days=1)
    book_at(client, clinic, headers, yesterday.replace(microsecond=0))
    with db() as session:
        assert session.scalars(select(Message)).all() == []


def test_a_clinic_that_sends_no_confirmations_sends_none(client, db, desk):
    from server.messaging.models import MessagingSettings

    clinic, headers = desk
    with transaction(db) as session:
        session.add(MessagingSettings(clinic_id=clinic.id, send_confirmations=False))
    book_at(client, clinic, headers, datetime.now(UTC) + timedelta(days=3))
    with db() as session:
        assert session.scalars(select(Message)).all() == []
