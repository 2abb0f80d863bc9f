"""Messaging changes from a desk against a real server: each reaches it once, however
often the push is repeated; a refusal waits in Needs attention with the text kept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from common.messaging import Channel, DeliveryStatus, Purpose
from server.demo import DEMO_TIME_ZONE
from server.messaging.models import ConsentDecision, Delivery, Message, MessageTemplate
from server.patients.models import Patient
from sync import account
from sync.account import Desk
from sync.engine import SyncEngine
from sync.outbox import describe
from tests.support.live_server import LiveServer

EMAIL, PASSWORD = "frontdesk@demo.clinic", "frontdesk-demo-1"
ADMIN = ("admin@demo.clinic", "admin-demo-1")
ZONE = ZoneInfo(DEMO_TIME_ZONE)


def open_desk(server: LiveServer, folder: Path) -> tuple[Desk, SyncEngine]:
    desk = account.sign_in(folder, server.url, "demo", EMAIL, PASSWORD)
    engine = SyncEngine(desk.store, account.sync_client(desk))
    engine.sync()
    return desk, engine


def reachable_patient(server: LiveServer) -> Patient:
    with server.sessionmaker() as session:
        return session.scalars(
            select(Patient)
            .where(Patient.phone.is_not(None), Patient.email.is_not(None))
            .order_by(Patient.last_name)
            .limit(1)
        ).one()


def test_messages_and_consent_reach_the_server_once_and_come_back_as_its_copy(
    live_server: LiveServer, tmp_path: Path
) -> None:
    desk, engine = open_desk(live_server, tmp_path)
    patient = reachable_patient(live_server)
    message_id = desk.store.send_message(
        desk.author, patient.id, channels=[Channel.SMS, Channel.EMAIL], body="Your results are in."
    )
    consent_id = desk.store.record_consent(
        desk.author, patient.id, channel=Channel.EMAIL, purpose=Purpose.MARKETING, granted=True
    )
    pushed = desk.store.pending_mutations(10)

    report = engine.sync()
    assert (report.applied, report.rejected) == (2, 0)
    # The same push again (its answer lost, say): answered from the server's record.
    again = engine.client.push(pushed)
    assert [r.status for r in again.results] == ["applied", "applied"]

    with live_server.sessionmaker() as session:
        [message] = session.scalars(select(Message).where(Message.id == message_id)).all()
        deliveries = session.scalars(
            select(Delivery).where(Delivery.message_id == message_id)
        ).all()
        [consent] = session.scalars(
            select(ConsentDecision).where(ConsentDecision.id == consent_id)
        ).all()
    assert message.patient_id == patient.id
    assert message.sent_by_staff_id == desk.staff.id
    assert sorted(d.channel for d in deliveries) == [Channel.EMAIL, Channel.SMS]
    assert (consent.granted, consent.channel) == (True, Channel.EMAIL)

    [shown] = desk.store.conversation(patient.id)
    assert not shown.pending
    assert shown.body.endswith("Your results are in.")
    assert {d.status for d in shown.deliveries} == {DeliveryStatus.QUEUED}
    assert desk.store.consents(patient.id).allows(Channel.EMAIL, Purpose.MARKETING)
    assert not desk.store.consents(patient.id).history[0].pending


def test_a_message_the_server_refuses_waits_in_needs_attention_with_its_text(
    live_server: LiveServer, tmp_path: Path
) -> None:
    desk, engine = open_desk(live_server, tmp_path)
    patient = reachable_patient(live_server)
    # Marketing is for those allowed bulk sends: not the front desk.
    message_id = desk.store.send_message(
        desk.author,
        patient.id,
        channels=[Channel.SMS],
        body="Half price whitening this week",
        purpose=Purpose.MARKETING,
    )

    report = engine.sync()

    assert report.rejected == 1
    [waiting] = desk.store.needs_attention()
    assert waiting.result.code == "forbidden"
    assert waiting.result.message
    [shown] = desk.store.conversation(patient.id)
    assert (shown.id, shown.body, shown.refused) == (
        message_id,
        "Half price whitening this week",
        waiting.result.message,
    )
    with live_server.sessionmaker() as session:
        assert session.get(Message, message_id) is None
    assert uuid.UUID(str(waiting.command.model_dump()["message_id"])) == message_id


def test_running_late_texts_the_patients_the_desk_counted(
    live_server: LiveServer, tmp_path: Path
) -> None:
    desk, engine = open_desk(live_server, tmp_path)
    patient = reachable_patient(live_server)
    provider = desk.store.providers()[0]
    now = datetime.now(UTC).replace(microsecond=0)
    soon = now + timedelta(minutes=3)
    tomorrow = datetime.combine(now.astimezone(ZONE).date(), time(0), tzinfo=ZONE) + timedelta(
        days=1
    )
    if soon + timedelta(minutes=5) >= tomorrow:
        pytest.skip("run within minutes of the clinic's midnight: no later patients today")
    desk.store.book(
        desk.author,
        provider_id=provider.id,
        patient_id=patient.id,
        starts_at=soon,
        ends_at=soon + timedelta(minutes=5),
    )
    engine.sync()
    # As the dialog does: from now to the end of the clinic's day.
    counted = desk.store.later_patients(provider.id, now, tomorrow.astimezone(UTC))
    assert counted.texted >= 1

    desk.store.tell_running_late(desk.author, provider.id, 20, now)
    report = engine.sync()

    assert report.rejected == 0
    with live_server.sessionmaker() as session:
        told = session.scalars(select(Message).where(Message.kind == "running_late")).all()
    assert len(told) == counted.texted  # what the dialog said is what was sent
    assert all(m.urgent and m.sent_by_staff_id == desk.staff.id for m in told)
    [ours] = [m for m in told if m.patient_id == patient.id]
    assert "20 minutes late" in ours.body
    # The texts come back to the desk like any other message.
    assert any(m.kind == "running_late" for m in desk.store.conversation(patient.id))


def test_a_wording_saved_by_an_admin_reaches_the_server_and_the_front_desk_may_not(
    live_server: LiveServer, tmp_path: Path
) -> None:
    admin = account.sign_in(tmp_path / "admin", live_server.url, "demo", *ADMIN)
    admin_engine = SyncEngine(admin.store, account.sync_client(admin))
    admin_engine.sync()
    wording = "{{ clinic.name }}: sorry, we are running {{ minutes_late }} minutes late."
    template_id = admin.store.save_template(admin.author, "running_late", Channel.SMS, body=wording)
    assert admin_engine.sync().applied == 1
    [saved] = admin.store.templates()
    assert (saved.id, saved.body, saved.pending) == (template_id, wording, False)
    assert saved.version > 0
    # Changed again, based on the version the desk now has.
    admin.store.save_template(admin.author, "running_late", Channel.SMS, body=wording + " Sorry!")
    assert admin_engine.sync().applied == 1
    with live_server.sessionmaker() as session:
        [stored] = session.scalars(select(MessageTemplate)).all()
    assert (stored.id, stored.body) == (template_id, wording + " Sorry!")

    desk, engine = open_desk(live_server, tmp_path / "front")
    desk.store.save_template(desk.author, "running_late", Channel.SMS, body="Late again")
    assert engine.sync().rejected == 1
    [waiting] = desk.store.needs_attention()
    assert waiting.result.code == "forbidden"
    assert describe(waiting.command, ZONE) == "Save the wording of running late messages (SMS)"
    [kept] = desk.store.templates()  # the clinic's wording as the server has it
    assert (kept.body, kept.pending) == (wording + " Sorry!", False)
