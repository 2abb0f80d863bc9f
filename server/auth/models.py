"""Sign-in throttling in the database, so every worker process of a server shares it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, RecordBase


class SignInCounter(Base):
    """Recent failed sign-ins for one account or one client address, and its lock.

    ``key`` is what was typed (clinic short name and e-mail) or the client's address,
    never a staff row: an account that does not exist is counted exactly like one that
    does, so the answers cannot tell them apart. A row is worth nothing after
    ``forget_at`` and is pruned.
    """

    __tablename__ = "sign_in_counters"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)  # "account" or "address"
    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)  # attempts counted in this window
    window_started_at: Mapped[datetime]
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    lockouts: Mapped[int] = mapped_column(default=0)  # locks in a row: each doubles the next
    forget_at: Mapped[datetime] = mapped_column(index=True)


class SignInLockout(RecordBase):
    """An account or address that was locked, kept for the clinic's admins to see.

    ``clinic_id`` is the clinic the attempt named, when it exists (a lock on a made-up
    clinic is kept too, for whoever runs the server, but no clinic sees it).
    """

    __tablename__ = "sign_in_lockouts"
    __table_args__ = (Index("ix_sign_in_lockouts_clinic_at", "clinic_id", "at"),)

    clinic_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clinics.id"))
    scope: Mapped[str] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    until: Mapped[datetime]
