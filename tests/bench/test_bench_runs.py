"""``make bench`` itself is not part of ``make test`` (it takes a minute and its figures
are for people), but it must keep working: this runs it on a tiny clinic. No timing is
asserted here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.sync_bench import run


@pytest.mark.slow
def test_the_benchmark_runs_end_to_end_on_a_small_clinic(tmp_path: Path) -> None:
    rows = run(tmp_path, {"providers": 2, "patients": 40, "appointments": 120})

    figures = {row.name: row for row in rows}
    staff = 1  # whoever the bench signs in as
    assert figures["first sync: rows"].value == 2 + 40 + 120 + staff
    for name in (
        "first sync: time",
        "no-op sync, round trip p50",
        "sync 500 changed rows",
        "local booking + outbox p95",
        "SQLCipher / plain SQLite",
    ):
        assert figures[name].value > 0, name
        assert figures[name].ok is not None, f"{name} is compared with its target"
