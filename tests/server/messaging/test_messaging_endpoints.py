"""The clinic's messaging settings (admins change them, in words when refused) and the
development outbox (as JSON for the desk, as a page for developers; neither in
production)."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from common.roles import Role
from server.app import create_app
from server.config import Settings
from server.db import transaction
from server.messaging.dispatcher import Dispatcher
from server.patients.models import Patient
from sync.protocol import API_PREFIX
from tests.server.test_mutations import mutation, push

SETTINGS = f"{API_PREFIX}/messaging/settings"


@pytest.fixture
def clinic(factory):
    return factory.clinic("alder", roles=(Role.FRONT_DESK, Role.CLINIC_ADMIN), patients=1)


@pytest.mark.quiet_hours
def test_settings_start_from_the_defaults_and_only_admins_change_them(client, factory, clinic):
    desk = factory.staff_headers(clinic.front_desk)
    admin = factory.staff_headers(clinic.staff[Role.CLINIC_ADMIN])
    defaults = client.get(SETTINGS, headers=desk).json()
    assert defaults["sender_name"] == "Alder Clinic"
    assert (defaults["texts_from"], defaults["texts_until"]) == ("08:00:00", "20:00:00")
    changed = defaults | {"texts_from": "09:00", "phone": "+44 20 7946 0123"}
    refused = client.put(SETTINGS, json=changed, headers=desk)
    assert refused.status_code == 403
    saved = client.put(SETTINGS, json=changed, headers=admin)
    assert saved.status_code == 200, saved.text
    assert saved.json()["texts_from"] == "09:00:00"
    assert client.get(SETTINGS, headers=desk).json() == saved.json()


def test_a_window_that_never_opens_is_refused_in_words(client, factory, clinic):
    admin = factory.staff_headers(clinic.staff[Role.CLINIC_ADMIN])
    body = client.get(SETTINGS, headers=admin).json() | {
        "texts_from": "21:00",
        "texts_until": "08:00",
    }
    answer = client.put(SETTINGS, json=body, headers=admin)
    assert answer.status_code == 422
    assert "must be before" in answer.json()["message"]
    too_long = client.put(SETTINGS, json=body | {"sender_name": "x" * 101}, headers=admin)
    assert too_long.status_code == 422


def test_the_development_outbox_shows_what_was_sent(client, factory, clinic, db, app):
    with transaction(db) as session:
        session.get(Patient, clinic.records.patient_ids[0]).email = "pat@example.org"
    headers = factory.signed_desk(clinic.front_desk)
    command = {
        "kind": "send_message",
        "message_id": str(uuid.uuid4()),
        "patient_id": str(clinic.records.patient_ids[0]),
        "channels": ["email"],
        "body": "Hello <there> & welcome",
    }
    push(client, headers, mutation(clinic.front_desk.staff_id, command))
    Dispatcher(app.state.database, {}).drain()
    staff = factory.staff_headers(clinic.front_desk)
    [item] = client.get(f"{API_PREFIX}/messaging/dev-outbox", headers=staff).json()
    assert item["to_address"] == "pat@example.org"
    assert client.get("/dev/outbox").status_code == 404  # not from another machine
    with TestClient(app, client=("127.0.0.1", 50123)) as local:
        page = local.get("/dev/outbox")
    assert page.status_code == 200
    assert "pat@example.org" in page.text
    assert "Hello &lt;there&gt; &amp; welcome" in page.text  # escaped, not markup


def test_production_has_no_development_outbox(database_url):
    settings = Settings(
        database_url=database_url,
        environment="production",
        secret_key="x" * 40,
        dispatch_in_server=False,
    )
    with TestClient(create_app(settings, run_migrations=False)) as production:
        assert production.get("/dev/outbox").status_code == 404


def test_the_clinics_own_sms_number_must_be_in_international_form(client, factory, clinic):
    admin = factory.staff_headers(clinic.staff[Role.CLINIC_ADMIN])
    body = client.get(SETTINGS, headers=admin).json()
    assert body["sms_number"] == ""
    refused = client.put(SETTINGS, json=body | {"sms_number": "07700 900123"}, headers=admin)
    assert refused.status_code == 422
    assert "sms_number" in refused.json()["message"]
    saved = client.put(SETTINGS, json=body | {"sms_number": "+447700900123"}, headers=admin)
    assert saved.json()["sms_number"] == "+447700900123"


def test_two_clinics_cannot_text_from_one_number(client, factory, clinic):
    other = factory.clinic("birch", roles=(Role.CLINIC_ADMIN,))
    ours = factory.staff_headers(clinic.staff[Role.CLINIC_ADMIN])
    theirs = factory.staff_headers(other.staff[Role.CLINIC_ADMIN])
    body = client.get(SETTINGS, headers=ours).json() | {"sms_number": "+447700900123"}
    assert client.put(SETTINGS, json=body, headers=ours).status_code == 200
    assert client.put(SETTINGS, json=body, headers=ours).status_code == 200  # its own again
    refused = client.put(
        SETTINGS,
        json=client.get(SETTINGS, headers=theirs).json() | {"sms_number": "+447700900123"},
        headers=theirs,
    )
    assert refused.status_code == 422
    assert "another clinic" in refused.json()["message"]
