"""Ranking free times by how near they are to a taken slot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from common.slots import nearest

TEN = datetime(2031, 3, 4, 10, tzinfo=UTC)


def at(minutes: int) -> tuple[datetime, datetime]:
    start = TEN + timedelta(minutes=minutes)
    return start, start + timedelta(minutes=30)


def test_nearest_first_a_tie_to_the_later_and_never_the_slot_asked_for() -> None:
    free = [at(-240), at(-45), at(0), at(45), at(60), at(24 * 60)]
    assert nearest(free, at(0)) == [at(45), at(-45), at(60)]
    assert nearest(free, at(0), count=5)[-1] == at(24 * 60)


def test_only_what_is_free_is_offered() -> None:
    """Nothing is invented: no free time, no suggestion (the old 08:00-18:00 stand-in
    made times up for providers who were not working)."""
    assert nearest([], at(0)) == []
    assert nearest([at(-30)], at(0)) == [at(-30)]
