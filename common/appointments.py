"""Appointment statuses and what counts as occupying a provider's time."""

from __future__ import annotations

from enum import StrEnum


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CONFIRMED = "confirmed"
    ARRIVED = "arrived"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def occupies_time(self) -> bool:
        """Active appointments block the provider's time; cancelled ones free it."""
        return self is not AppointmentStatus.CANCELLED


class AppointmentSource(StrEnum):
    DESK = "desk"
    WIDGET = "widget"
    LINK = "link"
    PORTAL = "portal"
