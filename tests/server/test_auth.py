"""Enrolling a workstation, signing staff in, and refusing everything else with words."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from common.roles import Role
from server.db import transaction, utcnow
from server.staff.models import Device, StaffSession, StaffUser
from sync.protocol import API_PREFIX, DEVICE_TOKEN_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION

DEVICES = f"{API_PREFIX}/devices"
SESSIONS = f"{API_PREFIX}/sessions"
CHANGES = f"{API_PREFIX}/sync/changes"
PROVIDERS = f"{API_PREFIX}/providers"


def enroll_body(login, **changes):
    body = {
        "clinic": login.clinic_slug,
        "email": login.email,
        "password": login.password,
        "device_name": "Reception 1",
    }
    body.update(changes)
    return body


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    # Words a person can act on, not an empty string or a repeat of the code.
    assert len(body["message"]) > 15
    assert body["message"] != body["code"]
    return body


@pytest.fixture
def clinic(factory):
    return factory.clinic("riverside")


# --- enrollment --------------------------------------------------------------------------


def test_enrolling_keeps_only_the_sha256_of_the_device_token(client, db, clinic):
    login = clinic.front_desk
    response = client.post(DEVICES, json=enroll_body(login, device_name="Front desk PC"))

    assert response.status_code == 201, response.text
    body = response.json()
    token = body["device_token"]
    assert len(token) >= 32
    assert body["clinic"]["slug"] == clinic.slug
    assert body["staff"]["email"] == login.email
    assert body["staff"]["role"] == Role.FRONT_DESK.value
    with db() as session:
        device = session.scalars(select(Device)).one()
        stored = [getattr(device, column.key) for column in Device.__table__.columns]
    assert str(device.id) == body["device_id"]
    assert device.clinic_id == clinic.id
    assert device.enrolled_by_id == login.staff_id
    assert device.name == "Front desk PC"
    assert device.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not any(token in str(value) for value in stored), "the plain token was stored"
    assert device.expires_at > utcnow() + timedelta(days=1)


def test_enrolled_device_lets_staff_sign_in_and_keeps_only_the_session_token_hash(
    client, db, factory, clinic
):
    login = clinic.front_desk
    device_token = factory.enroll(login)

    response = client.post(
        SESSIONS,
        headers={DEVICE_TOKEN_HEADER: device_token},
        json={"email": login.email.upper(), "password": login.password},
    )

    assert response.status_code == 201, response.text
    body = response.json()
    token = body["session_token"]
    assert body["staff"]["id"] == str(login.staff_id)
    assert body["clinic"]["id"] == str(clinic.id)
    with db() as session:
        staff_session = session.scalars(select(StaffSession)).one()
        device = session.scalars(select(Device)).one()
    assert staff_session.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert staff_session.staff_id == login.staff_id
    assert staff_session.device_id == device.id
    assert device.last_seen_at is not None
    providers = client.get(PROVIDERS, headers={"Authorization": f"Bearer {token}"})
    assert providers.status_code == 200, providers.text


def test_wrong_password_unknown_clinic_and_unknown_email_get_the_same_answer(client, db, clinic):
    login = clinic.front_desk
    wrong_password = client.post(DEVICES, json=enroll_body(login, password="not-the-password"))
    unknown_clinic = client.post(DEVICES, json=enroll_body(login, clinic="no-such-clinic"))
    unknown_email = client.post(DEVICES, json=enroll_body(login, email="nobody@riverside.example"))

    body = assert_error(wrong_password, 401, "wrong_credentials")
    assert "password" in body["message"].lower()
    # No enumeration: which part was wrong is not revealed.
    assert unknown_clinic.status_code == unknown_email.status_code == 401
    assert unknown_clinic.json() == unknown_email.json() == body
    with db() as session:
        assert session.scalars(select(Device)).all() == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"clinic": "Riverside Physio"}, "clinic"),
        ({"clinic": "-riverside"}, "clinic"),
        ({"email": ""}, "email"),
        ({"password": ""}, "password"),
        ({"device_name": ""}, "device_name"),
        ({"device_name": None}, "device_name"),
    ],
)
def test_malformed_enrollment_is_invalid_and_names_the_field(client, clinic, changes, field):
    response = client.post(DEVICES, json=enroll_body(clinic.front_desk, **changes))

    body = assert_error(response, 422, "invalid")
    assert field in body["message"]


def test_enrollment_with_missing_fields_names_them(client):
    response = client.post(DEVICES, json={"clinic": "riverside"})

    body = assert_error(response, 422, "invalid")
    for missing in ("email", "password", "device_name"):
        assert missing in body["message"]


def test_enrollment_with_a_body_that_is_not_json_is_invalid(client):
    response = client.post(
        DEVICES, content=b"clinic=riverside", headers={"Content-Type": "application/json"}
    )

    assert_error(response, 422, "invalid")


def test_inactive_staff_can_neither_enroll_nor_sign_in(client, db, factory, clinic):
    device_token = factory.enroll(clinic.front_desk)
    leaver = factory.staff(clinic, Role.CLINICAL_STAFF, active=False)

    enroll = client.post(DEVICES, json=enroll_body(leaver))
    sign_in = client.post(
        SESSIONS,
        headers={DEVICE_TOKEN_HEADER: device_token},
        json={"email": leaver.email, "password": leaver.password},
    )

    assert_error(enroll, 401, "wrong_credentials")
    assert_error(sign_in, 401, "wrong_credentials")
    with db() as session:
        devices = session.scalars(select(Device)).all()
        assert [device.enrolled_by_id for device in devices] == [clinic.front_desk.staff_id]
        assert session.scalars(select(StaffSession)).all() == []


# --- signing in on a workstation ------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {DEVICE_TOKEN_HEADER: "not-a-device-token"}], ids=["missing", "unknown"]
)
def test_sign_in_needs_an_enrolled_device(client, clinic, headers):
    login = clinic.front_desk
    response = client.post(
        SESSIONS, headers=headers, json={"email": login.email, "password": login.password}
    )

    assert_error(response, 401, "not_authenticated")


def lapse_the_device(db, how):
    """Expire or revoke the one enrolled workstation, as time or an admin would."""
    with transaction(db) as session:
        device = session.scalars(select(Device)).one()
        if how == "expired":
            device.expires_at = utcnow() - timedelta(minutes=1)
        else:
            device.revoked_at = utcnow() - timedelta(minutes=1)


@pytest.mark.parametrize("how", ["expired", "revoked"])
def test_an_expired_or_revoked_device_must_re_enroll(client, db, factory, clinic, how):
    login = clinic.front_desk
    device_token = factory.enroll(login)
    lapse_the_device(db, how)

    sign_in = client.post(
        SESSIONS,
        headers={DEVICE_TOKEN_HEADER: device_token},
        json={"email": login.email, "password": login.password},
    )
    feed = client.get(CHANGES, headers={DEVICE_TOKEN_HEADER: device_token})

    expected = "device_token_expired" if how == "expired" else "device_revoked"
    assert_error(sign_in, 401, expected)
    assert_error(feed, 401, expected)


def test_staff_of_another_clinic_cannot_sign_in_on_this_workstation(client, factory, clinic):
    other = factory.clinic("hillside")
    device_token = factory.enroll(clinic.front_desk)

    response = client.post(
        SESSIONS,
        headers={DEVICE_TOKEN_HEADER: device_token},
        json={"email": other.front_desk.email, "password": other.front_desk.password},
    )

    assert_error(response, 401, "wrong_credentials")


# --- staff sessions -------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["expired", "ended", "staff deactivated"])
def test_a_finished_session_is_refused_as_expired(client, db, factory, clinic, how):
    headers = factory.staff_headers(clinic.front_desk)
    assert client.get(PROVIDERS, headers=headers).status_code == 200
    with transaction(db) as session:
        staff_session = session.scalars(select(StaffSession)).one()
        if how == "expired":
            staff_session.expires_at = utcnow() - timedelta(seconds=1)
        elif how == "ended":
            staff_session.ended_at = utcnow()
        else:
            session.get(StaffUser, staff_session.staff_id).active = False

    assert_error(client.get(PROVIDERS, headers=headers), 401, "session_expired")
    assert_error(client.get(CHANGES, headers=headers), 401, "session_expired")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-session"}, {"Authorization": "Basic abc"}],
    ids=["none", "unknown token", "not bearer"],
)
def test_staff_endpoints_need_a_session(client, clinic, headers):
    assert_error(client.get(PROVIDERS, headers=headers), 401, "not_authenticated")


def test_a_device_token_alone_does_not_open_staff_endpoints(client, factory, clinic):
    headers = factory.issue_device(clinic.front_desk)

    assert client.get(CHANGES, headers=headers).status_code == 200
    assert_error(client.get(PROVIDERS, headers=headers), 401, "not_authenticated")


def test_a_device_token_is_not_a_session_token(client, factory, clinic):
    device_token = factory.issue_device(clinic.front_desk)[DEVICE_TOKEN_HEADER]

    response = client.get(PROVIDERS, headers={"Authorization": f"Bearer {device_token}"})

    assert_error(response, 401, "not_authenticated")


# --- protocol versions ----------------------------------------------------------------------


@pytest.mark.parametrize("version", [PROTOCOL_VERSION, PROTOCOL_VERSION - 1])
def test_current_and_previous_protocol_versions_are_served(client, factory, clinic, version):
    headers = factory.issue_device(clinic.front_desk)

    response = client.get(CHANGES, headers={**headers, PROTOCOL_HEADER: str(version)})

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "version", [str(PROTOCOL_VERSION + 98), str(PROTOCOL_VERSION + 1), "abc", "-1", "9" * 5000]
)
def test_other_protocol_versions_are_told_to_upgrade(client, factory, clinic, version):
    headers = factory.issue_device(clinic.front_desk)

    response = client.get(CHANGES, headers={**headers, PROTOCOL_HEADER: version})

    body = assert_error(response, 426, "upgrade_required")
    assert "Install the version your clinic's server expects" in body["message"]
    assert len(body["message"]) < 300, "a 5000-digit header is not echoed back whole"


# --- operations -------------------------------------------------------------------------------


def test_healthz_answers_without_credentials(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("how", ["expired", "revoked"])
def test_a_lapsed_device_takes_its_staff_sessions_with_it(client, db, factory, clinic, how):
    login = clinic.front_desk
    device_token = factory.enroll(login)
    bearer = {"Authorization": f"Bearer {factory.sign_in(device_token, login)}"}
    assert client.get(PROVIDERS, headers=bearer).status_code == 200
    lapse_the_device(db, how)

    expected = "device_token_expired" if how == "expired" else "device_revoked"
    assert_error(client.get(PROVIDERS, headers=bearer), 401, expected)


def test_a_body_that_is_not_json_is_named_as_such(client):
    response = client.post(
        DEVICES, content=b"clinic=demo", headers={"Content-Type": "application/json"}
    )

    assert_error(response, 422, "invalid")
    assert response.json()["message"] == "The request body is not valid JSON."


@pytest.mark.parametrize("field", ["email", "password", "device_name"])
def test_control_characters_are_refused_before_they_reach_the_database(client, clinic, field):
    body = enroll_body(clinic.front_desk) | {field: "robin\x00@example.com"}

    response = client.post(DEVICES, json=body)

    assert_error(response, 422, "invalid")
    assert field in response.json()["message"]
    assert "control characters" in response.json()["message"]
