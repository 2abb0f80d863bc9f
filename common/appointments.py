"""Appointment statuses, what counts as occupying a provider's time, and which status
change fits which moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

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


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a status change may be made now and, if not, why, in words for the desk's
    message or the server's refusal."""

    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Verdict(True)
# What each status is called when staff ask for it, for the reasons below.
_ACTION = {
    AppointmentStatus.CONFIRMED: "confirmed",
    AppointmentStatus.ARRIVED: "checked in",
    AppointmentStatus.IN_PROGRESS: "started",
    AppointmentStatus.COMPLETED: "completed",
    AppointmentStatus.NO_SHOW: "marked no-show",
    AppointmentStatus.CANCELLED: "cancelled",
}


def status_change_allowed(
    current: AppointmentStatus,
    wanted: AppointmentStatus,
    *,
    starts_at: datetime,
    ends_at: datetime,
    zone: ZoneInfo,
    now: datetime,
) -> Verdict:
    """Whether an appointment in ``current`` may become ``wanted`` at ``now``: the same
    answer on the desk (its menus offer only what this allows) and on the server (which
    refuses the rest), so staff are never offered a change that will be turned down.

    The rule, in the clinic's wall-clock days (``zone``), and why:

    - **Check in** (arrived) only on the appointment's own day. A patient is in the
      waiting room today; checking in tomorrow's appointment is a mis-click on the wrong
      row, and checking in a past day's rewrites history (the patient did not come, or
      came and the visit was never recorded: neither is an arrival now). Arriving early
      in the morning for an afternoon slot, or late, is still that day's visit.
    - **Start** (in progress) only on the day too: the patient is going in to see the
      provider now, which can only be today's appointment.
    - **Complete** not before the appointment's day. On its day, or afterwards: a visit
      someone forgot to close is tidied up next morning, and refusing that would leave
      it "in progress" for ever; completing a visit on a day before it happens is the
      same mis-click as checking in tomorrow's.
    - **No-show** only once the appointment's start has passed: until then the patient
      may still come, and a no-show marked early records them as having missed an
      appointment they are on their way to (and nothing turns a no-show back). After
      that it may be marked any time (the day's list is often reconciled at closing
      time or the next day).
    - Confirm and cancel are not tied to a moment here (cancellation has the clinic's
      own cut-offs for patients; staff may cancel any time).

    An appointment spanning midnight belongs to both its days. ``now`` is the moment the
    change was made: for a change made offline at the desk, the time it was made there,
    not the time it reached the server.
    """
    if not may_become(current, wanted):
        return Verdict(
            False,
            f"A {current.label.lower()} appointment cannot be {_ACTION[wanted]}.",
        )
    local_now = now.astimezone(zone)
    today = local_now.date()
    first_day = starts_at.astimezone(zone).date()
    last_day = max(first_day, (ends_at - timedelta(microseconds=1)).astimezone(zone).date())
    when = _day_words(first_day, today)
    if wanted in (AppointmentStatus.ARRIVED, AppointmentStatus.IN_PROGRESS):
        if not first_day <= today <= last_day:
            return Verdict(
                False,
                f"An appointment can only be {_ACTION[wanted]} on its day; this one is {when}.",
            )
    elif wanted is AppointmentStatus.COMPLETED:
        if today < first_day:
            return Verdict(
                False, f"An appointment cannot be completed before its day; this one is {when}."
            )
    elif wanted is AppointmentStatus.NO_SHOW and now < starts_at:
        return Verdict(
            False,
            "A patient can only be marked no-show once the appointment has started "
            f"(at {starts_at.astimezone(zone):%H:%M} {when}).",
        )
    return ALLOWED


def _day_words(day: date, today: date) -> str:
    """ "today", "tomorrow", "yesterday" or the date, as a receptionist would say it."""
    offset = (day - today).days
    named = {0: "today", 1: "tomorrow", -1: "yesterday"}.get(offset)
    return named or f"on {day:%a %d %b %Y}"


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
