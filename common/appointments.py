"""Appointment statuses and what counts as occupying a provider's time."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

# The longest appointment the diary accepts. Also lets a day's query be an index range:
# nothing starting more than this before the day can reach into it.
LONGEST_APPOINTMENT = timedelta(hours=12)


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
