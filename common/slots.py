"""Finding free time next to a requested slot, for "that slot is taken — how about…".

Pure: busy intervals and a request in, candidate starts out. Until providers have working
hours, candidates are confined to ``day_hours`` in the clinic's
local time and never start in the past.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]

STEP = timedelta(minutes=15)
DAY_HOURS = (time(8, 0), time(18, 0))
SEARCH_DAYS = 7


def overlaps(a: Interval, b: Interval) -> bool:
    """Half-open intervals: an appointment ending at 10:00 does not clash with one at 10:00."""
    return a[0] < b[1] and b[0] < a[1]


def nearest_free_slots(
    busy: Iterable[Interval],
    requested: Interval,
    *,
    now: datetime,
    zone: ZoneInfo,
    count: int = 3,
    step: timedelta = STEP,
    day_hours: tuple[time, time] = DAY_HOURS,
    search_days: int = SEARCH_DAYS,
) -> list[Interval]:
    """The ``count`` free slots of the requested length nearest to the requested start
    (earlier or later; ties go to the later one), on the step grid anchored at the request.
    """
    length = requested[1] - requested[0]
    taken = sorted(busy)
    candidates: list[tuple[timedelta, int, Interval]] = []
    limit = int(timedelta(days=search_days) / step)
    for n in range(1, limit + 1):
        for direction in (1, -1):
            start = requested[0] + direction * n * step
            slot = (start, start + length)
            if start < now or not _inside_day(slot, zone, day_hours):
                continue
            if any(overlaps(slot, b) for b in taken):
                continue
            candidates.append((abs(start - requested[0]), -direction, slot))
        if len(candidates) >= count:
            break
    candidates.sort(key=lambda c: (c[0], c[1]))
    return [slot for _, _, slot in candidates[:count]]


def _inside_day(slot: Interval, zone: ZoneInfo, day_hours: tuple[time, time]) -> bool:
    start, end = slot[0].astimezone(zone), slot[1].astimezone(zone)
    return (
        start.date() == end.date() and day_hours[0] <= start.time() and end.time() <= day_hours[1]
    )
