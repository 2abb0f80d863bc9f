"""``make bench`` itself is not part of ``make test`` (it takes a minute and its figures
are for people), but it must keep working: this runs it on a tiny clinic. No timing is
asserted here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench import server_bench
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


@pytest.mark.slow
def test_the_server_load_bench_runs_briefly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A three-second run with a few clients, on SQLite: every figure is there and the
    load was answered (no figure is held to its target here)."""
    monkeypatch.delenv("CLINICDESK_BENCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("CLINICDESK_TEST_DATABASE_URL", raising=False)

    rows = server_bench.rows(tmp_path, clients=5, seconds=3)

    figures = {row.name: row for row in rows}
    label = "server, SQLite, 1 process"
    assert figures[f"{label}: requests/s"].value > 0
    assert figures[f"{label}: errors"].value == 0
    assert figures[f"{label}: p95"].value > 0
    assert figures[f"{label}: share of a bare FastAPI endpoint"].value > 0
    assert f"{label}: signed-in p95, 40 wrong logins" in figures


@pytest.mark.slow
@pytest.mark.browser
def test_the_web_bench_runs_briefly(tmp_path: Path) -> None:
    """A one-second load on the widget and each patient page's weight: every figure is
    there, no page loads anything from another origin (no figure held to its target)."""
    from tests.bench import web_bench

    rows = web_bench.rows(tmp_path, clients=3, seconds=1.0)
    figures = {row.name: row for row in rows}
    assert figures["web, widget first page: requests/s"].value > 0
    weights = [row for row in rows if row.name.startswith("web page weight")]
    assert len(weights) == 10
    assert all(row.value > 0 for row in weights)
    assert not [row for row in rows if "other origins" in row.name]


@pytest.mark.slow
def test_the_portal_bench_runs_briefly(tmp_path: Path) -> None:
    """A one-second load on the portal's appointment list: every signed-in request was
    answered with the page (none sent to sign in, none failed)."""
    from tests.bench import portal_bench

    rows = portal_bench.rows(tmp_path, clients=3, seconds=1.0)
    figures = {row.name: row for row in rows}
    rate = figures["portal, appointment list (3 signed-in patients): requests/s"]
    assert rate.value > 0
    assert figures["portal, appointment list: answers other than the page"].value == 0
