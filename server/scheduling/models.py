"""Providers, their weeks, appointment types, rooms, booking rules and appointments.

Every table here is synced to the clinic's desks (``Synced``), so the diary, the free-slot
finder and the admin settings work offline from the desk's copy.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.appointments import AppointmentSource, AppointmentStatus, CancelledBy
from common.scheduling import ExceptionKind
from server.db import StrEnumColumn, Synced, feed_index


class Provider(Synced):
    __tablename__ = "providers"
    __table_args__ = (feed_index("providers"),)

    display_name: Mapped[str] = mapped_column(String(200))
    colour: Mapped[str] = mapped_column(String(7), default="#4a90d9")
    active: Mapped[bool] = mapped_column(default=True)
    # The usual week: [{"weekday": 0, "start": "09:00", "end": "13:00", "location_id": …}].
    # Kept on the provider (one small list, always read and replaced whole) rather than in
    # a table of its own, so editing a week is one versioned change.
    working_hours: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Location(Synced):
    """A room or site appointments take place in."""

    __tablename__ = "locations"
    __table_args__ = (feed_index("locations"),)

    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(default=True)


class AppointmentType(Synced):
    __tablename__ = "appointment_types"
    __table_args__ = (feed_index("appointment_types"),)

    name: Mapped[str] = mapped_column(String(120))
    colour: Mapped[str] = mapped_column(String(7), default="#4a90d9")
    duration_minutes: Mapped[int]
    buffer_before_minutes: Mapped[int] = mapped_column(default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(default=0)
    # Which providers offer it, as id strings; empty means every provider.
    provider_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    bookable_online: Mapped[bool] = mapped_column(default=True)
    requires_confirmation: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    # A video consultation: each booking of it gets a room (``server.forms.onboarding``).
    video: Mapped[bool] = mapped_column(default=False)


class ScheduleException(Synced):
    """Time off, extra hours or a clinic closure, on local days and local times."""

    __tablename__ = "schedule_exceptions"
    __table_args__ = (feed_index("schedule_exceptions"),)

    provider_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("providers.id"))
    kind: Mapped[ExceptionKind] = mapped_column(StrEnumColumn(ExceptionKind, 16))
    first_day: Mapped[date]
    last_day: Mapped[date]
    start_time: Mapped[time | None]
    end_time: Mapped[time | None]
    note: Mapped[str] = mapped_column(String(200), default="")


class BookingRules(Synced):
    """A clinic's online booking rules; at most one row per clinic (absent: defaults)."""

    __tablename__ = "booking_rules"
    __table_args__ = (
        feed_index("booking_rules"),
        UniqueConstraint("clinic_id", name="uq_booking_rules_clinic"),
    )

    horizon_days: Mapped[int]
    min_notice_minutes: Mapped[int]
    slot_rounding: Mapped[int]
    allow_any_provider: Mapped[bool]
    daily_cap: Mapped[int | None]
    patient_cancel_cutoff_hours: Mapped[int]
    patient_reschedule_cutoff_hours: Mapped[int]
    patients_may_cancel: Mapped[bool]


class Appointment(Synced):
    __tablename__ = "appointments"
    __table_args__ = (
        feed_index("appointments"),
        Index("ix_appointments_provider_start", "provider_id", "starts_at"),
    )

    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("providers.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    appointment_type_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointment_types.id"), default=None
    )
    location_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("locations.id"), default=None)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[AppointmentStatus] = mapped_column(
        StrEnumColumn(AppointmentStatus, 16), default=AppointmentStatus.BOOKED
    )
    source: Mapped[AppointmentSource] = mapped_column(
        StrEnumColumn(AppointmentSource, 16), default=AppointmentSource.DESK
    )
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_by: Mapped[CancelledBy | None] = mapped_column(
        StrEnumColumn(CancelledBy, 16), default=None
    )
    # Cancelled inside the patient cancellation cut-off (a late cancellation).
    cancelled_late: Mapped[bool] = mapped_column(default=False)
    # When the patient checked in, went in to the provider and was done: the moments the
    # status changed (as made at the desk, offline perhaps), so every desk shows the same
    # waiting time, and shows it after a restart.
    arrived_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # A video consultation's room, made from the server's room template when booked.
    video_url: Mapped[str | None] = mapped_column(String(300), default=None)
