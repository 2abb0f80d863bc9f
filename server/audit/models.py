from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import ClinicScoped, utcnow


class AuditEvent(ClinicScoped):
    """Who read or changed which patient data, from where, and why. Never updated."""

    __tablename__ = "audit_events"

    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    staff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id"))
    # A patient acting in the portal or through a link of theirs. With ``staff_id`` set
    # as well, a clinic admin acted as that patient (impersonation): both are named.
    acting_patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patients.id"), default=None
    )
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    record_count: Mapped[int] = mapped_column(default=1)
    reason: Mapped[str] = mapped_column(String(200))
