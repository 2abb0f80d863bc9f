"""Choosing, among free times, the ones nearest a requested slot, for "that slot is taken
— how about…".

Pure. Which times are free at all is the availability engine's answer
(``common.availability``: the provider's working week, exceptions, the clinic's rounding,
busy times, never the past); this only ranks them by how close they are to what was
asked, so a suggestion is always a time the provider really works.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

Interval = tuple[datetime, datetime]

# How far either side of a taken slot suggestions are looked for.
SEARCH_DAYS = 7


def overlaps(a: Interval, b: Interval) -> bool:
    """Half-open intervals: an appointment ending at 10:00 does not clash with one at 10:00."""
    return a[0] < b[1] and b[0] < a[1]


def nearest(free: Iterable[Interval], requested: Interval, *, count: int = 3) -> list[Interval]:
    """The ``count`` free slots whose start is nearest the requested start (earlier or
    later; a tie goes to the later one, which the patient can still make), in that order.
    The requested slot itself is never among them."""

    def distance(slot: Interval) -> tuple[timedelta, bool]:
        return abs(slot[0] - requested[0]), slot[0] < requested[0]

    return sorted((s for s in free if s[0] != requested[0]), key=distance)[:count]
