"""Enrollment, sign-in and resolving a request's credentials to an ``AuthContext``."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import (
    DeviceRevoked,
    DeviceTokenExpired,
    NotAuthenticated,
    SessionExpired,
    WrongCredentials,
)
from common.validation import canonical_email
from server.auth.context import AuthContext
from server.auth.hashing import CheckedPassword
from server.auth.security import hash_token, new_token
from server.clinics import repository as clinics
from server.clinics.models import Clinic
from server.config import Settings
from server.db import utcnow
from server.staff.models import Device, SigningKey, StaffSession, StaffUser

LAST_SEEN_GRANULARITY = timedelta(minutes=1)
WRONG_CREDENTIALS = "The e-mail address or password is not right. Check them and try again."


def login_staff(session: Session, clinic: Clinic | None, email: str) -> StaffUser | None:
    """The staff member who may sign in as ``email`` at ``clinic``, if any."""
    if clinic is None:
        return None
    return session.scalar(
        select(StaffUser).where(
            StaffUser.clinic_id == clinic.id,
            StaffUser.email == canonical_email(email),
            StaffUser.active.is_(True),
        )
    )


def _authenticate(
    session: Session, clinic: Clinic | None, email: str, password: CheckedPassword
) -> StaffUser:
    staff = login_staff(session, clinic, email)
    # The password was checked before this transaction, under the sign-in guard
    # (server.auth.guard), against the hash stored then, or a dummy one when there was
    # no such user, so timing does not tell an attacker which clinics and addresses
    # exist. It counts only if that is still this account's hash.
    if staff is None or not password.matches(staff.password_hash):
        raise WrongCredentials(WRONG_CREDENTIALS)
    return staff


def enroll_device(
    session: Session,
    settings: Settings,
    *,
    clinic_slug: str,
    email: str,
    password: CheckedPassword,
    name: str,
) -> tuple[Device, str, Clinic, StaffUser]:
    """A staff login enrolls a workstation; the plain token is returned exactly once."""
    clinic = clinics.by_slug(session, clinic_slug)
    staff = _authenticate(session, clinic, email, password)
    assert clinic is not None
    token = new_token()
    device = Device(
        clinic_id=clinic.id,
        name=name,
        token_hash=hash_token(token),
        enrolled_by_id=staff.id,
        expires_at=utcnow() + timedelta(days=settings.device_token_days),
    )
    session.add(device)
    session.flush()
    return device, token, clinic, staff


def device_for_token(session: Session, token: str) -> Device:
    device = session.scalar(select(Device).where(Device.token_hash == hash_token(token)))
    if device is None:
        raise NotAuthenticated(
            "This workstation is not enrolled with the server. Sign in to enroll it."
        )
    _ensure_usable(device)
    now = utcnow()
    # Note the device's last contact, but not on every poll: a write per request would
    # serialise every desk's sync behind one lock on SQLite.
    if device.last_seen_at is None or now - device.last_seen_at > LAST_SEEN_GRANULARITY:
        device.last_seen_at = now
    return device


def _ensure_usable(device: Device) -> None:
    _ensure_usable_until(device.revoked_at, device.expires_at)


def _ensure_usable_until(revoked_at: datetime | None, expires_at: datetime) -> None:
    if revoked_at is not None:
        raise DeviceRevoked(
            "A clinic admin removed this workstation from the clinic. Sign in again to "
            "enroll it afresh (ask an admin if you are not sure why it was removed)."
        )
    if expires_at <= utcnow():
        raise DeviceTokenExpired(
            "This workstation's enrollment has expired. Sign in again to re-enroll it."
        )


def sign_in(
    session: Session,
    settings: Settings,
    *,
    device: Device,
    email: str,
    password: CheckedPassword,
    signing_key: str | None = None,
) -> tuple[StaffSession, str, Clinic, StaffUser, SigningKey | None]:
    """A staff member signs in on an enrolled device of their own clinic, registering
    the public key they will sign their changes with there."""
    clinic = session.get(Clinic, device.clinic_id)
    staff = _authenticate(session, clinic, email, password)
    assert clinic is not None
    token = new_token()
    staff_session = StaffSession(
        clinic_id=clinic.id,
        token_hash=hash_token(token),
        staff_id=staff.id,
        device_id=device.id,
        expires_at=utcnow() + timedelta(hours=settings.session_hours),
    )
    session.add(staff_session)
    session.flush()
    key = None
    if signing_key is not None:
        key = SigningKey(
            clinic_id=clinic.id,
            staff_id=staff.id,
            device_id=device.id,
            session_id=staff_session.id,
            public_key=signing_key,
        )
        session.add(key)
        session.flush()
    return staff_session, token, clinic, staff, key


def context_for_session_token(session: Session, token: str) -> AuthContext:
    """The staff member behind a bearer token. Read on every request, so it reads only
    the columns it needs, in one statement, and builds no ORM objects."""
    found = session.execute(
        select(
            StaffSession.id,
            StaffSession.clinic_id,
            StaffSession.device_id,
            StaffSession.ended_at,
            StaffSession.expires_at,
            StaffUser.id.label("staff_id"),
            StaffUser.role,
            StaffUser.active,
            Device.revoked_at,
            Device.expires_at.label("device_expires_at"),
        )
        .join(StaffUser, StaffUser.id == StaffSession.staff_id)
        .join(Device, Device.id == StaffSession.device_id)
        .where(StaffSession.token_hash == hash_token(token))
    ).first()
    if found is None:
        raise NotAuthenticated("You are not signed in. Sign in again.")
    # A lost or retired workstation takes its sessions with it.
    _ensure_usable_until(found.revoked_at, found.device_expires_at)
    if not found.active:
        raise SessionExpired(
            "Your account was deactivated by a clinic admin, so your sign-in has ended. "
            "Sign in again as someone else, or ask an admin."
        )
    if found.ended_at:
        raise SessionExpired(
            "Your sign-in was ended (signed out, or by a clinic admin). Sign in again."
        )
    if found.expires_at <= utcnow():
        raise SessionExpired("Your sign-in has expired. Sign in again.")
    return AuthContext(
        clinic_id=found.clinic_id,
        device_id=found.device_id,
        staff_id=found.staff_id,
        role=found.role,
        session_id=found.id,
    )


def context_for_device(device: Device) -> AuthContext:
    return AuthContext(clinic_id=device.clinic_id, device_id=device.id, staff_id=None, role=None)
