from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import ClinicScoped


class AppliedMutation(ClinicScoped):
    """A mutation the server has answered, with the answer, so a replay (a retried
    request, a desk that crashed before reading the reply) gets the same answer and
    changes nothing."""

    __tablename__ = "applied_mutations"
    __table_args__ = (
        UniqueConstraint("device_id", "mutation_id", name="uq_applied_mutations_device_mutation"),
    )

    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"))
    mutation_id: Mapped[uuid.UUID]
    seq: Mapped[int] = mapped_column(BigInteger)
    staff_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    result: Mapped[str] = mapped_column(Text)
