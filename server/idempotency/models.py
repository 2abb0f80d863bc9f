"""The stored keys and their answers (the ``idempotency_keys`` table)."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import ClinicScoped


class IdempotencyKey(ClinicScoped):
    """A request's ``Idempotency-Key`` and the answer it got.

    Inserted *before* the request's change runs: a duplicate sent at the same moment
    waits on the unique key, then reads the stored answer. Not cached by the desks
    (``ClinicScoped``, not ``Synced``): keys only matter to the server.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("clinic_id", "key", name="uq_idempotency_keys_clinic_key"),)

    key: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the canonical request (operation and body): the same key with another
    # request is a client bug, refused rather than answered with the wrong booking.
    fingerprint: Mapped[str] = mapped_column(String(64))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL"), default=None
    )
    # None only inside the transaction that claimed the key; committed rows have one.
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    # A refusal's JSON body, replayed as it was; a success is replayed with the
    # appointment as it stands now.
    response: Mapped[str] = mapped_column(Text, default="")
