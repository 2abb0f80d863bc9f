from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.roles import Role
from server.db import ClinicScoped, StrEnumColumn, Synced, feed_index


class StaffUser(Synced):
    """A staff member. Synced (name, role, active only) so that every desk learns when
    someone is deactivated, and stops letting them sign in offline."""

    __tablename__ = "staff_users"
    __table_args__ = (
        UniqueConstraint("clinic_id", "email", name="uq_staff_users_clinic_email"),
        feed_index("staff_users"),
    )

    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(StrEnumColumn(Role, 32))
    active: Mapped[bool] = mapped_column(default=True)


class Device(ClinicScoped):
    """An enrolled workstation. Only the SHA-256 of its token is kept."""

    __tablename__ = "devices"

    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    enrolled_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class StaffSession(ClinicScoped):
    """One staff member signed in on one device."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"), index=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), index=True)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class SigningKey(ClinicScoped):
    """The public half of the key a staff member signs their changes with on one
    workstation, registered at an online sign-in (the private half stays on the desk,
    wrapped by their password). Changes signed with it are accepted while the person is
    active, the workstation enrolled, and the key not revoked; it is kept after sign-out,
    because changes made offline under it may still be on their way."""

    __tablename__ = "signing_keys"

    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"), index=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), index=True)
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_sessions.id"), default=None
    )
    public_key: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
