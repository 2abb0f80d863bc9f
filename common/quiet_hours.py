"""When a non-urgent text may be handed to the carrier: only inside the clinic's sending
window, by the clock of the zone the patient lives in (a reminder at 06:00 wakes people).
The server takes the clinic's zone as its patients' (a patient's own zone is not kept).

The window is a wall-clock range ``[start, end)``: a moment is allowed when the patient's
clock reads at least ``start`` and less than ``end``. Everything follows from that one
definition, including the daylight-saving corner cases:

- an opening time that does not exist that day (it falls in a spring-forward gap) opens
  the window at the first instant after it, the moment the clocks jump;
- an opening time that happens twice (in a fall-back overlap) opens it the first time;
- when clocks go back into the window, it is open again from that instant.

The server calls ``next_allowed`` to decide when to hand a held message over. Time is
followed in UTC through the zone's offset changes, never by adding hours to a local time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Offset changes are months apart in every zone; sampling the offset this often finds each
# one, which is then pinned to the second by bisection.
_SCAN_STEP = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Texts go out from ``start`` (inclusive) until ``end`` (exclusive), local time."""

    start: time = time(8, 0)
    end: time = time(20, 0)

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("Sending hours are clock times, without a time zone.")
        if not self.start < self.end:
            raise ValueError(
                f"Texts cannot go out from {self.start:%H:%M} until {self.end:%H:%M}: the "
                "sending window must open before it closes on the same day, for example "
                "08:00 until 20:00."
            )

    def contains(self, clock: time) -> bool:
        return self.start <= clock < self.end


def is_allowed(moment: datetime, zone: str, hours: QuietHours) -> bool:
    return hours.contains(moment.astimezone(_zone(zone)).time())


def next_allowed(now: datetime, zone: str, hours: QuietHours) -> datetime:
    """``now`` (in UTC) if a text may go out now, else the first instant it may, in UTC.

    Walks forward one stretch of constant UTC offset at a time: inside a stretch the local
    clock runs evenly, so the first allowed instant in it is plain arithmetic; when that
    instant lies beyond the next offset change, the search goes on from the change.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    tz = _zone(zone)
    moment = now.astimezone(UTC)
    while True:
        offset = _offset(tz, moment)
        candidate = _first_allowed_at_offset(moment, offset, hours)
        change = _next_change(tz, moment, offset, until=candidate)
        if change is None:
            return candidate
        moment = change


def _first_allowed_at_offset(moment: datetime, offset: timedelta, hours: QuietHours) -> datetime:
    """The first instant at or after ``moment`` whose local clock, read at a fixed offset,
    is inside the window."""
    wall = (moment + offset).replace(tzinfo=None)
    if hours.contains(wall.time()):
        return moment
    day = wall.date() if wall.time() < hours.start else wall.date() + timedelta(days=1)
    opening = datetime.combine(day, hours.start)
    return (opening - offset).replace(tzinfo=UTC)


def _next_change(
    tz: ZoneInfo, after: datetime, offset: timedelta, *, until: datetime
) -> datetime | None:
    """The first instant in ``(after, until]`` at which the zone's offset is no longer
    ``offset``, or None. Offset changes happen on whole seconds."""
    lo = after
    while lo < until:
        hi = min(lo + _SCAN_STEP, until)
        if _offset(tz, hi) != offset:
            return _bisect_change(tz, lo, hi, offset)
        lo = hi
    return None


def _bisect_change(tz: ZoneInfo, lo: datetime, hi: datetime, offset: timedelta) -> datetime:
    """Pin the change between ``lo`` (still ``offset``) and ``hi`` (not) to its second."""
    a = int(lo.timestamp())  # a change at or before ``lo`` would be at or before this too
    b = int(hi.timestamp()) + (hi.microsecond > 0)
    while b - a > 1:
        middle = (a + b) // 2
        if _offset(tz, datetime.fromtimestamp(middle, UTC)) == offset:
            a = middle
        else:
            b = middle
    return datetime.fromtimestamp(b, UTC)


def _offset(tz: ZoneInfo, moment: datetime) -> timedelta:
    offset = moment.astimezone(tz).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"{name!r} is not a time zone we know: use an IANA name such as 'Europe/London'."
        ) from None
