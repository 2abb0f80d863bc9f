"""Staff members and the workstations they use: creating staff, signing out, and what a
clinic admin does when a workstation is lost or a person leaves."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from common.errors import Conflict, InvalidInput
from common.roles import Permission, Role
from common.validation import check_password, normalise_email
from server import kit
from server.audit import service as audit
from server.auth.context import AuthContext
from server.auth.security import hash_password
from server.clinics.models import Clinic
from server.db import utcnow
from server.staff.models import Device, SigningKey, StaffSession, StaffUser


def create_staff_user(
    session: Session, clinic: Clinic, *, email: str, display_name: str, password: str, role: Role
) -> StaffUser:
    email = normalise_email(email)
    check_password(password)
    taken = session.scalar(
        select(StaffUser.id).where(StaffUser.clinic_id == clinic.id, StaffUser.email == email)
    )
    if taken is not None:
        raise Conflict(f"{email} already has an account at {clinic.name}.")
    user = StaffUser(
        clinic_id=clinic.id,
        email=email,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role=role,
    )
    session.add(user)
    session.flush()
    return user


# --- sign-out and revocation ------------------------------------------------------------


def end_session(session: Session, staff_session: StaffSession, *, revoke_key: bool) -> None:
    """End a sign-in. Its signing key stays valid after a plain sign-out (changes made
    offline under it may still be on their way); an admin ending it revokes the key too."""
    now = utcnow()
    if staff_session.ended_at is None:
        staff_session.ended_at = now
    if revoke_key:
        _revoke_keys(session, SigningKey.session_id == staff_session.id, now)


def revoke_device(session: Session, ctx: AuthContext, device_id: uuid.UUID) -> Device:
    """Remove a workstation: its token, every sign-in on it and every key made on it stop
    working at once. (It can be enrolled again by an online sign-in.)"""
    ctx.require(Permission.STAFF_MANAGE)
    device = kit.live(session, Device, ctx.clinic_id, device_id, what="workstation", lock=True)
    now = utcnow()
    device.revoked_at = device.revoked_at or now
    _end_sessions(session, StaffSession.device_id == device.id, now)
    _revoke_keys(session, SigningKey.device_id == device.id, now)
    audit.record(
        session,
        ctx,
        action="revoke",
        entity="workstations",
        entity_id=device.id,
        reason="an admin removed the workstation",
    )
    session.flush()
    return device


def revoke_session(session: Session, ctx: AuthContext, session_id: uuid.UUID) -> StaffSession:
    """End someone's sign-in on a workstation (say, they left it signed in)."""
    ctx.require(Permission.STAFF_MANAGE)
    staff_session = kit.live(
        session, StaffSession, ctx.clinic_id, session_id, what="sign-in", lock=True
    )
    end_session(session, staff_session, revoke_key=True)
    audit.record(
        session,
        ctx,
        action="revoke",
        entity="staff_sessions",
        entity_id=staff_session.id,
        reason="an admin ended the sign-in",
    )
    session.flush()
    return staff_session


def set_active(
    session: Session, ctx: AuthContext, staff_id: uuid.UUID, *, active: bool
) -> StaffUser:
    """Deactivate (or reactivate) a staff member. Deactivating ends their sign-ins and
    keys everywhere; desks forget their offline sign-in at their next sync."""
    ctx.require(Permission.STAFF_MANAGE)
    staff = kit.live(session, StaffUser, ctx.clinic_id, staff_id, what="staff member", lock=True)
    if staff.id == ctx.staff_id and not active:
        raise InvalidInput("You cannot deactivate yourself. Ask another clinic admin.")
    staff.active = active
    if not active:
        now = utcnow()
        _end_sessions(session, StaffSession.staff_id == staff.id, now)
        _revoke_keys(session, SigningKey.staff_id == staff.id, now)
    audit.record(
        session,
        ctx,
        action="reactivate" if active else "deactivate",
        entity="staff_users",
        entity_id=staff.id,
        reason="an admin changed who may sign in",
    )
    session.flush()
    return staff


def _end_sessions(session: Session, which: ColumnElement[bool], now: datetime) -> None:
    for found in session.scalars(
        select(StaffSession).where(which, StaffSession.ended_at.is_(None))
    ):
        found.ended_at = now


def _revoke_keys(session: Session, which: ColumnElement[bool], now: datetime) -> None:
    for key in session.scalars(select(SigningKey).where(which, SigningKey.revoked_at.is_(None))):
        key.revoked_at = now


def workstations(session: Session, ctx: AuthContext) -> list[tuple[Device, list[StaffSession]]]:
    """Every enrolled workstation of the clinic with its open sign-ins, newest first."""
    ctx.require(Permission.STAFF_MANAGE)
    devices = session.scalars(
        select(Device).where(Device.clinic_id == ctx.clinic_id).order_by(Device.created_at.desc())
    ).all()
    now = utcnow()
    open_sessions = session.scalars(
        select(StaffSession)
        .where(
            StaffSession.clinic_id == ctx.clinic_id,
            StaffSession.ended_at.is_(None),
            StaffSession.expires_at > now,
        )
        .order_by(StaffSession.created_at)
    ).all()
    by_device: dict[uuid.UUID, list[StaffSession]] = {}
    for found in open_sessions:
        by_device.setdefault(found.device_id, []).append(found)
    return [(device, by_device.get(device.id, [])) for device in devices]


def staff_members(session: Session, ctx: AuthContext) -> list[StaffUser]:
    ctx.require(Permission.STAFF_MANAGE)
    return list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.clinic_id == ctx.clinic_id)
            .order_by(StaffUser.display_name)
        )
    )
