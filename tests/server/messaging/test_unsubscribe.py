"""Every marketing e-mail carries a working unsubscribe link: one click, no sign-in.
Opening it changes nothing (mail scanners open links); pressing its button, or a mail
program's one-click POST, withdraws the consent, and waiting marketing e-mails are held."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from common.messaging import Channel, DeliveryStatus, Purpose
from common.roles import Role
from server.db import transaction
from server.messaging.dispatcher import Dispatcher
from server.messaging.models import ConsentDecision, Delivery, DevOutboxEntry
from server.messaging.unsubscribe import token, url_maker
from server.patients.models import Patient
from tests.server.test_mutations import mutation, push


@pytest.fixture
def clinic(factory):
    made = factory.clinic("alder", roles=(Role.FRONT_DESK, Role.CLINIC_ADMIN), patients=1)
    with transaction(factory.db) as session:
        session.get(Patient, made.records.patient_ids[0]).email = "ada@example.org"
    return made


def marketing(client, factory, clinic):
    """A newsletter to a patient who said yes to marketing by e-mail."""
    admin = clinic.staff[Role.CLINIC_ADMIN].staff_id
    headers = factory.signed_desk(clinic.staff[Role.CLINIC_ADMIN])
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
        "subject": "Our new evening hours",
        "body": "We now open until 8pm on Thursdays.",
    }
    results = push(client, headers, mutation(admin, consent, seq=1), mutation(admin, news, seq=2))
    assert [r["status"] for r in results] == ["applied", "applied"], results
    return news


def test_a_marketing_email_carries_the_link_and_one_click_unsubscribes(
    client, db, factory, app, clinic, settings
):
    marketing(client, factory, clinic)
    links = url_maker(settings)
    Dispatcher(app.state.database, {}, unsubscribe_url=links).drain()
    with db() as session:
        [sent] = session.scalars(select(DevOutboxEntry)).all()
    link = links(clinic.id, clinic.records.patient_ids[0], Purpose.MARKETING)
    assert link in sent.text
    assert link in (sent.html or "")
    path = link.removeprefix(settings.public_base_url.rstrip("/"))

    page = client.get(path)  # a scanner or the patient opening it: nothing changes yet
    assert page.status_code == 200
    assert "Unsubscribe" in page.text
    assert "Alder Clinic" in page.text
    with db() as session:
        assert (
            session.scalars(select(ConsentDecision).where(ConsentDecision.granted.is_(False))).all()
            == []
        )

    for _ in range(2):  # pressed twice: one withdrawal
        done = client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200
        assert "You are unsubscribed" in done.text
    with db() as session:
        withdrawn = session.scalars(
            select(ConsentDecision).where(ConsentDecision.granted.is_(False))
        ).all()
    assert [(d.channel, d.purpose, d.source.value) for d in withdrawn] == [
        (Channel.EMAIL, Purpose.MARKETING, "unsubscribe_link")
    ]
    # The next newsletter is held, with the reason.
    news = marketing_again(client, factory, clinic)
    with db() as session:
        held = session.scalars(
            select(Delivery).where(Delivery.message_id == uuid.UUID(news["message_id"]))
        ).one()
    assert held.status is DeliveryStatus.HELD


def marketing_again(client, factory, clinic):
    admin = clinic.staff[Role.CLINIC_ADMIN].staff_id
    headers = factory.signed_desk(clinic.staff[Role.CLINIC_ADMIN], device_name="Office")
    news = {
        "kind": "send_message",
        "message_id": str(uuid.uuid4()),
        "patient_id": str(clinic.records.patient_ids[0]),
        "channels": ["email"],
        "purpose": "marketing",
        "subject": "More news",
        "body": "And on Fridays too.",
    }
    [result] = push(client, headers, mutation(admin, news))
    assert result["status"] == "applied"
    return news


def test_care_emails_carry_no_unsubscribe_link(client, db, factory, app, clinic, settings):
    headers = factory.signed_desk(clinic.front_desk)
    reply = {
        "kind": "send_message",
        "message_id": str(uuid.uuid4()),
        "patient_id": str(clinic.records.patient_ids[0]),
        "channels": ["email"],
        "body": "Your results are in.",
    }
    push(client, headers, mutation(clinic.front_desk.staff_id, reply))
    Dispatcher(app.state.database, {}, unsubscribe_url=url_maker(settings)).drain()
    with db() as session:
        [sent] = session.scalars(select(DevOutboxEntry)).all()
    assert "unsubscribe" not in sent.text.lower()


def test_a_forged_or_mangled_link_changes_nothing(client, db, clinic, settings):
    good = token(settings, clinic.id, clinic.records.patient_ids[0], Purpose.MARKETING)
    other = token(settings, clinic.id, uuid.uuid4(), Purpose.MARKETING)  # no such patient
    # A character in the middle of the signature (the last may carry only padding bits).
    tampered = good[:-5] + ("A" if good[-5] != "A" else "B") + good[-4:]
    for bad in (good[:-3], tampered, "garbage", other):
        assert client.get(f"/unsubscribe/{bad}").status_code == 404
        answer = client.post(f"/unsubscribe/{bad}")
        assert answer.status_code == 404
        assert "does not work" in answer.text
    with db() as session:
        assert session.scalars(select(ConsentDecision)).all() == []
