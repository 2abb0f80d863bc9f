from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from common.appointments import AppointmentSource, AppointmentStatus
from server.db import StrEnumColumn, Synced, feed_index


class Provider(Synced):
    __tablename__ = "providers"
    __table_args__ = (feed_index("providers"),)

    display_name: Mapped[str] = mapped_column(String(200))
    colour: Mapped[str] = mapped_column(String(7), default="#4a90d9")
    active: Mapped[bool] = mapped_column(default=True)


class Appointment(Synced):
    __tablename__ = "appointments"
    __table_args__ = (
        feed_index("appointments"),
        Index("ix_appointments_provider_start", "provider_id", "starts_at"),
    )

    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("providers.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[AppointmentStatus] = mapped_column(
        StrEnumColumn(AppointmentStatus, 16), default=AppointmentStatus.BOOKED
    )
    source: Mapped[AppointmentSource] = mapped_column(
        StrEnumColumn(AppointmentSource, 16), default=AppointmentSource.DESK
    )
