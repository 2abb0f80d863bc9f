"""``make bench``'s diary figures must keep working: this runs them on a tiny clinic. No
timing is asserted here."""

from __future__ import annotations

import pytest

from tests.bench import diary_bench

pytestmark = pytest.mark.qt


def test_the_diary_bench_runs_on_a_small_clinic() -> None:
    rows = {row.name: row for row in diary_bench.rows(providers=2, per_day=3, runs=1)}
    assert rows["diary week: appointments drawn"].value == 2 * 3 * 7
    for name in ("diary week render, 2 providers", "diary day render, 2 providers"):
        assert rows[name].value > 0
        assert rows[name].ok is not None, f"{name} is compared with its target"
    assert rows["diary week read from the store (db lane)"].value > 0


def test_the_busy_week_is_the_one_the_bench_describes() -> None:
    week = diary_bench.busy_range(7)
    assert len(week.providers) == 20
    assert len(week.entries) == 20 * 16 * 7
    assert {e.starts_at.astimezone(diary_bench.ZONE).date() for e in week.entries} == set(
        week.dates
    )
