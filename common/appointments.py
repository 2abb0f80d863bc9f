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


_BOOKED, _CONFIRMED, _ARRIVED = (
    AppointmentStatus.BOOKED,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.ARRIVED,
)
# Which statuses each status may be reached from. The server enforces it; the desk asks
# first, so its menus offer only what the server will accept.
ALLOWED_FROM: dict[AppointmentStatus, tuple[AppointmentStatus, ...]] = {
    AppointmentStatus.CONFIRMED: (_BOOKED,),
    AppointmentStatus.ARRIVED: (_BOOKED, _CONFIRMED),
    AppointmentStatus.IN_PROGRESS: (_ARRIVED,),
    AppointmentStatus.COMPLETED: (_ARRIVED, AppointmentStatus.IN_PROGRESS),
    AppointmentStatus.NO_SHOW: (_BOOKED, _CONFIRMED),
    AppointmentStatus.CANCELLED: (_BOOKED, _CONFIRMED, _ARRIVED),
}
# Only appointments that have not started can be moved or resized.
MOVABLE = (_BOOKED, _CONFIRMED)


def may_become(current: AppointmentStatus, wanted: AppointmentStatus) -> bool:
    return current in ALLOWED_FROM.get(wanted, ())


class CancelledBy(StrEnum):
    """Who called it off: the clinic's staff, or the patient (portal, link, or by phone
    through the desk, which records it as the patient's)."""

    STAFF = "staff"
    PATIENT = "patient"


class AppointmentSource(StrEnum):
    DESK = "desk"
    WIDGET = "widget"
    LINK = "link"
    PORTAL = "portal"

    @property
    def online(self) -> bool:
        """Booked by the patient on the web rather than by staff at the desk."""
        return self is not AppointmentSource.DESK
