"""Booking links, the staff side over the API: broadcast rules (admins; refused in words),
sending a link from a patient's file (only its digest kept, its text composed), one open
link per rule, re-sending (a new address), expiring, deleting, the history, expiry as
true when read, another clinic's ids, and the audit trail."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select, text

from common.booking_links import BookingLinkStatus
from common.messaging import Channel, DeliveryStatus, Purpose
from common.roles import Role
from server.audit.models import AuditEvent
from server.auth.context import AuthContext
from server.booking_links import staff
from server.booking_links.models import BookingLink, BookingLinkEvent
from server.db import transaction, utcnow
from server.messaging.models import Delivery, Message
from server.patients.models import Patient
from server.scheduling.models import Appointment, AppointmentType
from server.web import tokens
from sync.protocol import API_PREFIX, SaveBroadcastRule
from tests.support.diary import appointment_type, days_ahead, local

RULES = f"{API_PREFIX}/broadcast-rules"
SMS = "Hello {first_name}, book your check-up with {clinic}: {link}"


def links_url(patient_id: uuid.UUID) -> str:
    return f"{API_PREFIX}/patients/{patient_id}/booking-links"


@pytest.fixture
def clinic(factory, db):
    made = factory.clinic(
        "alder",
        roles=(Role.CLINIC_ADMIN, Role.FRONT_DESK, Role.READ_ONLY),
        providers=2,
        patients=2,
    )
    with transaction(db) as session:
        first = session.get(Patient, made.records.patient_ids[0])
        assert first is not None
        first.phone = "+447700900123"
    return made


@pytest.fixture
def kind(db, clinic):
    return appointment_type(
        db, clinic.id, name="Check-up", provider_ids=(clinic.records.provider_ids[0],)
    )


@pytest.fixture
def admin(factory, clinic):
    return factory.staff_headers(clinic.staff[Role.CLINIC_ADMIN])


@pytest.fixture
def desk(factory, clinic):
    return factory.staff_headers(clinic.front_desk)


def rule_body(kind_id, **changes):
    return {
        "title": "Annual check-up",
        "appointment_type_id": str(kind_id),
        "provider_ids": [],
        "earliest_days": 1,
        "latest_days": 21,
        "link_valid_days": 7,
        "welcome_text": "Welcome! Choose a time.",
        "sms_text": SMS,
        "confirmation_text": "See you soon.",
        "allow_reschedule": True,
        **changes,
    }


@pytest.fixture
def rule(db, clinic, kind):
    """Made through the service, sparing each test an admin's sign-in (the API's own
    tests sign one in)."""
    login = clinic.staff[Role.CLINIC_ADMIN]
    ctx = AuthContext(clinic.id, None, login.staff_id, login.role)
    with transaction(db) as session:
        made = staff.save_rule(
            session, ctx, SaveBroadcastRule(**rule_body(kind)), base_url="http://127.0.0.1:8765"
        )
        [record] = staff.rule_records(session, [made])
    return record.model_dump(mode="json")


def send(client, headers, patient_id, rule_id):
    return client.post(links_url(patient_id), json={"rule_id": rule_id}, headers=headers)


def link_row(db, link_id) -> BookingLink:
    with db() as session:
        row = session.get(BookingLink, uuid.UUID(str(link_id)))
        assert row is not None
        return row


# --- rules ------------------------------------------------------------------------------

BAD_RULES = (
    ({"title": "  "}, "Give the rule a title"),
    ({"title": "x" * 121}, "keep it to 120"),
    ({"title": "Bad\x07title"}, "control characters"),
    ({"earliest_days": 10, "latest_days": 5}, "comes before the first"),
    ({"latest_days": 400}, "0 to 365"),
    ({"earliest_days": -1}, "0 to 365"),
    ({"link_valid_days": 0}, "1 to 90"),
    ({"link_valid_days": 91}, "1 to 90"),
    ({"sms_text": "Book with us today"}, "must contain {link}"),
    ({"sms_text": "Book now: {link} " + "please " * 70}, "takes 4 SMS"),
    ({"welcome_text": "w" * 2001}, "keep it to 2000"),
    ({"appointment_type_id": str(uuid.uuid4())}, "no such appointment type"),
)


def test_an_admin_creates_a_rule_and_staff_see_it_in_the_menu(client, admin, desk, kind):
    response = client.post(RULES, json=rule_body(kind), headers=admin)
    assert response.status_code == 201, response.text
    rule = response.json()
    assert rule["title"] == "Annual check-up"
    assert rule["type_name"] == "Check-up"
    assert rule["active"] is True
    menu = client.get(RULES, headers=desk)
    assert menu.status_code == 200
    assert [r["id"] for r in menu.json()] == [rule["id"]]


def test_a_bad_rule_is_refused_in_words(client, admin, kind):
    for changes, words in BAD_RULES:
        response = client.post(RULES, json=rule_body(kind, **changes), headers=admin)
        assert response.status_code == 422, (changes, response.text)
        assert words in response.json()["message"], changes
    assert client.get(RULES, headers=admin).json() == []


def test_providers_must_be_the_clinics_and_offer_the_type(client, admin, clinic, kind, factory):
    other = factory.clinic("birch", providers=1)
    second = clinic.records.provider_ids[1]  # does not offer the check-up
    refused = client.post(RULES, json=rule_body(kind, provider_ids=[str(second)]), headers=admin)
    assert refused.status_code == 422
    assert "do not offer “Check-up”" in refused.json()["message"]
    foreign = rule_body(kind, provider_ids=[str(other.records.provider_ids[0])])
    assert "not in this clinic" in client.post(RULES, json=foreign, headers=admin).json()["message"]


def test_an_inactive_type_and_a_duplicate_title_are_refused(client, admin, db, clinic, rule, kind):
    again = client.post(RULES, json=rule_body(kind, title="annual CHECK-UP"), headers=admin)
    assert again.status_code == 422
    assert "Another active rule" in again.json()["message"]
    with transaction(db) as session:
        row = session.get(AppointmentType, kind)
        assert row is not None
        row.active = False
    stale = client.post(RULES, json=rule_body(kind, title="Other"), headers=admin)
    assert "no longer in use" in stale.json()["message"]


def test_only_admins_change_rules_and_see_inactive_ones(client, desk, admin, rule, kind):
    assert client.post(RULES, json=rule_body(kind, title="Mine"), headers=desk).status_code == 403
    assert (
        client.put(f"{RULES}/{rule['id']}", json=rule_body(kind), headers=desk).status_code == 403
    )
    assert client.get(RULES, params={"include_inactive": True}, headers=desk).status_code == 403
    off = client.post(f"{RULES}/{rule['id']}/deactivate", headers=admin)
    assert off.status_code == 200
    assert off.json()["active"] is False
    assert client.get(RULES, headers=desk).json() == []
    everything = client.get(RULES, params={"include_inactive": True}, headers=admin).json()
    assert [r["id"] for r in everything] == [rule["id"]]


def test_an_update_keeps_links_already_sent(client, admin, desk, clinic, rule, kind, db):
    sent = send(client, desk, clinic.records.patient_ids[0], rule["id"]).json()
    changed = client.put(
        f"{RULES}/{rule['id']}",
        json=rule_body(kind, latest_days=60, allow_reschedule=False),
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["latest_days"] == 60
    row = link_row(db, sent["link"]["id"])
    assert row.allow_reschedule is True
    assert row.last_day.isoformat() == sent["link"]["last_day"]


def test_a_deleted_rule_is_gone_from_lists_and_sends_nothing(client, admin, desk, clinic, rule):
    assert client.delete(f"{RULES}/{rule['id']}", headers=admin).status_code == 204
    assert client.get(RULES, params={"include_inactive": True}, headers=admin).json() == []
    refused = send(client, desk, clinic.records.patient_ids[0], rule["id"])
    assert refused.status_code == 404


def test_another_clinics_rule_is_not_found(client, factory, rule, kind):
    other = factory.clinic("birch", roles=(Role.CLINIC_ADMIN, Role.FRONT_DESK), patients=1)
    their_admin = factory.staff_headers(other.staff[Role.CLINIC_ADMIN])
    their_desk = factory.staff_headers(other.front_desk)
    for response in (
        client.put(f"{RULES}/{rule['id']}", json=rule_body(kind), headers=their_admin),
        client.post(f"{RULES}/{rule['id']}/deactivate", headers=their_admin),
        client.delete(f"{RULES}/{rule['id']}", headers=their_admin),
        send(client, their_desk, other.records.patient_ids[0], rule["id"]),
    ):
        assert response.status_code == 404, response.text
    assert client.get(RULES, headers=their_desk).json() == []


# --- sending ----------------------------------------------------------------------------


def test_sending_keeps_only_the_digest_and_texts_the_address(client, desk, db, clinic, rule):
    patient_id = clinic.records.patient_ids[0]
    response = send(client, desk, patient_id, rule["id"])
    assert response.status_code == 201, response.text
    answer = response.json()
    url = answer["url"]
    assert url.startswith("http://127.0.0.1:8765/l/")
    token = url.rsplit("/", 1)[1]
    link = answer["link"]
    assert link["status"] == "sent"
    assert link["type_name"] == "Check-up"
    assert link["rule_title"] == "Annual check-up"
    assert link["allow_reschedule"] is True
    assert link["first_day"] == days_ahead(1).isoformat()
    assert link["last_day"] == days_ahead(21).isoformat()
    assert answer["held"] is None
    assert "on its way" in answer["notice"]
    row = link_row(db, link["id"])
    assert row.token_hash == tokens.digest(token)
    # The raw token is in no column of any table: the desks' message shows a mask, the
    # text to send is sealed.
    with db() as session:
        tables = inspect(session.get_bind()).get_table_names()
        assert {"booking_links", "messages", "message_deliveries"} <= set(tables)
        for table in tables:
            for values in session.execute(text(f"SELECT * FROM {table}")):  # noqa: S608
                assert all(token not in str(value) for value in values), table
        [message] = session.scalars(select(Message).where(Message.clinic_id == clinic.id))
        masked = url.replace(token, "•••")
        greeting = "Hello Pat0, book your check-up with Alder Clinic: "
        assert message.body.startswith(greeting + masked)
        [delivery] = session.scalars(select(Delivery).where(Delivery.clinic_id == clinic.id))
        assert delivery.channel is Channel.SMS
        assert delivery.purpose is Purpose.CARE
        assert delivery.status is DeliveryStatus.QUEUED
        assert url in delivery.text
        assert delivery.text.startswith("Hello Pat0, book your check-up with Alder Clinic: http")
        [event] = session.scalars(select(BookingLinkEvent))
        assert event.status is BookingLinkStatus.SENT
        assert event.staff_id == clinic.front_desk.staff_id
    assert answer["text"] == delivery.text


def test_the_expiry_is_the_validity_but_never_past_the_last_day(client, admin, desk, clinic, kind):
    short = client.post(
        RULES,
        json=rule_body(kind, title="Soon", earliest_days=0, latest_days=2, link_valid_days=30),
        headers=admin,
    ).json()
    link = send(client, desk, clinic.records.patient_ids[0], short["id"]).json()["link"]
    end_of_last_day = local(days_ahead(3), 0)
    assert link["expires_at"] == end_of_last_day.isoformat().replace("+00:00", "Z")


def test_a_patient_without_a_mobile_gets_the_link_but_the_text_is_held(client, desk, clinic, rule):
    answer = send(client, desk, clinic.records.patient_ids[1], rule["id"])
    assert answer.status_code == 201
    body = answer.json()
    assert body["held"] == "There is no mobile number on the patient's file."
    assert "was not sent" in body["notice"]
    assert "Copy the link" in body["notice"]
    assert body["url"]


def test_a_second_open_link_under_one_rule_is_a_conflict_offering_resend(
    client, desk, clinic, rule
):
    patient_id = clinic.records.patient_ids[0]
    assert send(client, desk, patient_id, rule["id"]).status_code == 201
    again = send(client, desk, patient_id, rule["id"])
    assert again.status_code == 409
    assert "Re-send it instead" in again.json()["message"]


def test_resending_replaces_the_address(client, desk, db, clinic, rule):
    patient_id = clinic.records.patient_ids[0]
    first = send(client, desk, patient_id, rule["id"]).json()
    old_digest = tokens.digest(first["url"].rsplit("/", 1)[1])
    again = client.post(f"{links_url(patient_id)}/{first['link']['id']}/resend", headers=desk)
    assert again.status_code == 200, again.text
    new_url = again.json()["url"]
    assert new_url != first["url"]
    row = link_row(db, first["link"]["id"])
    assert row.token_hash == tokens.digest(new_url.rsplit("/", 1)[1])
    with db() as session:
        assert (
            session.scalar(select(BookingLink).where(BookingLink.token_hash == old_digest)) is None
        )
        assert len(session.scalars(select(Delivery)).all()) == 2
        # The new address is masked in the desks' copy too, and sent in full.
        new_token = new_url.rsplit("/", 1)[1]
        bodies = session.execute(text("SELECT body FROM messages")).scalars().all()
        assert len(bodies) == 2
        assert all(new_token not in body and "/l/•••" in body for body in bodies)
        assert any(new_url in delivery.text for delivery in session.scalars(select(Delivery)))
    events = client.get(f"{links_url(patient_id)}/{first['link']['id']}/events", headers=desk)
    assert [e["detail"].startswith("Re-sent") for e in events.json()] == [False, True]


def test_expiring_and_deleting(client, desk, clinic, rule):
    patient_id = clinic.records.patient_ids[0]
    link_id = send(client, desk, patient_id, rule["id"]).json()["link"]["id"]
    expired = client.post(f"{links_url(patient_id)}/{link_id}/expire", headers=desk)
    assert expired.status_code == 200
    assert expired.json()["status"] == "expired"
    twice = client.post(f"{links_url(patient_id)}/{link_id}/expire", headers=desk)
    assert twice.status_code == 409
    assert "expired already" in twice.json()["message"]
    resend = client.post(f"{links_url(patient_id)}/{link_id}/resend", headers=desk)
    assert resend.status_code == 409
    # Expired, a new one may go under the same rule.
    assert send(client, desk, patient_id, rule["id"]).status_code == 201
    deleted = client.delete(f"{links_url(patient_id)}/{link_id}", headers=desk)
    assert deleted.json()["status"] == "deleted"
    events = client.get(f"{links_url(patient_id)}/{link_id}/events", headers=desk).json()
    assert [e["status"] for e in events] == ["sent", "expired", "deleted"]
    assert all(e["staff_name"] == "Front desk of alder" for e in events)


def test_the_history_is_newest_first_with_the_booked_appointment(client, desk, db, clinic, rule):
    patient_id = clinic.records.patient_ids[0]
    first = send(client, desk, patient_id, rule["id"]).json()["link"]["id"]
    client.post(f"{links_url(patient_id)}/{first}/expire", headers=desk)
    second = send(client, desk, patient_id, rule["id"]).json()["link"]["id"]
    start = local(days_ahead(3), 10)
    with transaction(db) as session:  # what the patient's side does when they book
        appointment = Appointment(
            clinic_id=clinic.id,
            provider_id=clinic.records.provider_ids[0],
            patient_id=patient_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
        )
        session.add(appointment)
        session.flush()
        row = session.get(BookingLink, uuid.UUID(second))
        assert row is not None
        row.status = BookingLinkStatus.BOOKED
        row.appointment_id = appointment.id
        appointment_id = appointment.id
    history = client.get(links_url(patient_id), headers=desk)
    assert history.status_code == 200
    rows = history.json()
    assert [r["id"] for r in rows] == [second, first]
    assert rows[0]["status"] == "booked"
    assert rows[0]["appointment_id"] == str(appointment_id)
    assert rows[0]["appointment_starts_at"] is not None
    assert rows[0]["sent_by_name"] == "Front desk of alder"
    assert rows[1]["status"] == "expired"


def test_a_link_past_its_time_reads_expired_and_frees_the_rule(client, desk, db, clinic, rule):
    patient_id = clinic.records.patient_ids[0]
    link_id = send(client, desk, patient_id, rule["id"]).json()["link"]["id"]
    with transaction(db) as session:
        row = session.get(BookingLink, uuid.UUID(link_id))
        assert row is not None
        row.expires_at = utcnow() - timedelta(minutes=1)
    [shown] = client.get(links_url(patient_id), headers=desk).json()
    assert shown["status"] == "expired"
    assert link_row(db, link_id).status is BookingLinkStatus.SENT  # a read wrote nothing
    events = client.get(f"{links_url(patient_id)}/{link_id}/events", headers=desk).json()
    assert [e["status"] for e in events] == ["sent", "expired"]
    assert client.post(f"{links_url(patient_id)}/{link_id}/expire", headers=desk).status_code == 409
    # Sending again under the rule writes the time-out down, with its event.
    assert send(client, desk, patient_id, rule["id"]).status_code == 201
    assert link_row(db, link_id).status is BookingLinkStatus.EXPIRED
    with db() as session:
        written = session.scalars(
            select(BookingLinkEvent).where(BookingLinkEvent.link_id == uuid.UUID(link_id))
        ).all()
        assert [e.status for e in written] == [BookingLinkStatus.SENT, BookingLinkStatus.EXPIRED]


def test_another_clinics_patient_and_link_are_not_found(client, desk, db, factory, clinic, rule):
    patient_id = clinic.records.patient_ids[0]
    link_id = send(client, desk, patient_id, rule["id"]).json()["link"]["id"]
    other = factory.clinic("birch", patients=1)
    theirs = factory.staff_headers(other.front_desk)
    their_patient = other.records.patient_ids[0]
    for response in (
        client.get(links_url(patient_id), headers=theirs),
        send(client, theirs, patient_id, rule["id"]),
        client.post(f"{links_url(their_patient)}/{link_id}/expire", headers=theirs),
        client.post(f"{links_url(their_patient)}/{link_id}/resend", headers=theirs),
        client.delete(f"{links_url(their_patient)}/{link_id}", headers=theirs),
        client.get(f"{links_url(their_patient)}/{link_id}/events", headers=theirs),
        # The right clinic but another of its patients: not found either.
        client.get(f"{links_url(clinic.records.patient_ids[1])}/{link_id}/events", headers=desk),
    ):
        assert response.status_code == 404, response.text
    assert link_row(db, link_id).status is BookingLinkStatus.SENT


def test_read_only_staff_may_look_but_not_send(client, factory, desk, clinic, rule):
    reader = factory.staff_headers(clinic.staff[Role.READ_ONLY])
    patient_id = clinic.records.patient_ids[0]
    assert send(client, reader, patient_id, rule["id"]).status_code == 403
    link_id = send(client, desk, patient_id, rule["id"]).json()["link"]["id"]
    assert (
        client.post(f"{links_url(patient_id)}/{link_id}/expire", headers=reader).status_code == 403
    )
    assert client.get(links_url(patient_id), headers=reader).status_code == 200


def test_reads_and_changes_leave_audit_rows(client, desk, db, clinic, rule):
    patient_id = clinic.records.patient_ids[0]
    link_id = send(client, desk, patient_id, rule["id"]).json()["link"]["id"]
    client.get(links_url(patient_id), headers=desk)
    client.get(f"{links_url(patient_id)}/{link_id}/events", headers=desk)
    client.post(f"{links_url(patient_id)}/{link_id}/expire", headers=desk)
    with db() as session:
        rows = session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity_id == patient_id,
                AuditEvent.staff_id == clinic.front_desk.staff_id,
            )
        ).all()
    actions = sorted((row.action, row.reason) for row in rows)
    assert ("booking_link_sent", "booking link “Annual check-up”") in actions
    assert ("booking_link_expired", "booking link expired by staff") in actions
    assert ("read", "booking links of the patient's file") in actions
    assert ("read", "history of a booking link") in actions


def test_nonsense_is_refused_in_words(client, desk, clinic):
    patient_id = clinic.records.patient_ids[0]
    bad_rule = send(client, desk, patient_id, "not-a-uuid")
    assert bad_rule.status_code == 422
    assert "rule_id" in bad_rule.json()["message"]
    missing = send(client, desk, uuid.uuid4(), str(uuid.uuid4()))
    assert missing.status_code == 404
    assert inspect(BookingLink).columns["token_hash"].type.length == 64
