"""Diary speed: drawing a busy week and a busy day, and reading a week from the store.

A generated clinic in Europe/London (the week holds the spring-forward of 29 March 2026):
20 providers working every day, 16 appointments a provider a day, in
six appointment types, with some arrivals, cancellations, no-shows and changes not yet
sent. "Render" is what the UI thread does when a range arrives: build the blocks and
paint the viewport (1600×900, Qt's offscreen platform). Nothing here asserts: the figures
and their targets are for people to read.
"""

from __future__ import annotations

import os
import random
import secrets
import statistics
import tempfile
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from common.appointments import AppointmentSource, AppointmentStatus
from common.scheduling import ProviderSchedule, working_range
from desktop.diary.model import DiaryRange, load_range, working_minutes
from desktop.diary.view import DiaryView
from sync.protocol import (
    AppointmentRecord,
    AppointmentTypeRecord,
    PatientRecord,
    ProviderRecord,
)
from sync.store import DiaryEntry, ProviderRow, Store
from tests.bench.sync_bench import Row, print_table
from tests.support import records

ZONE = ZoneInfo("Europe/London")
WEEK = date(2026, 3, 23)  # a Monday; the clocks go forward on Sunday 29 March
PROVIDERS = 20
PER_DAY = 16
RUNS = 15
TARGET_MS = 100.0
DAY_TARGET_MS = 50.0
SIZE = (1600, 900)
COLOURS = ("#3d7dd8", "#2e9e6a", "#c9702b", "#8e5bd0", "#d0457b", "#2b9db0", "#7d8a2e")
TYPES = (
    ("Consultation", 30, "#3d7dd8"),
    ("Follow-up", 15, "#2e9e6a"),
    ("Physio", 45, "#c9702b"),
    ("Review", 30, "#8e5bd0"),
)
NAMES = (
    "Amara Okafor",
    "Lukas Brenner",
    "Sam Ortiz",
    "Priya Natarajan",
    "Tom Becker",
    "Ines Duarte",
    "Kwame Mensah",
    "Hana Sato",
    "Oliver Grant",
    "Maya Levi",
    "Jonas Berg",
    "Leila Haddad",
    "Ruth Adeyemi",
    "Nils Lund",
    "Clara Vidal",
    "Farid Azimi",
    "Greta Holm",
    "Ana Costa",
    "Ben Carter",
    "Yara Saleh",
)
STATUSES = (AppointmentStatus.BOOKED,) * 10 + (
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.ARRIVED,
    AppointmentStatus.CANCELLED,
    AppointmentStatus.NO_SHOW,
)


@dataclass(frozen=True)
class Clinic:
    providers: list[ProviderRecord]
    appointment_types: list[AppointmentTypeRecord]
    patients: list[PatientRecord]
    appointments: list[AppointmentRecord]


def clinic(providers: int = PROVIDERS, per_day: int = PER_DAY, seed: int = 3) -> Clinic:
    """The clinic as sync records, the same for the same seed."""
    rng = random.Random(seed)
    doctors = [
        records.provider_with_hours(
            f"Dr {NAMES[n % len(NAMES)]}",
            colour=COLOURS[n % len(COLOURS)],
            weekdays=range(7),
            hours=("08:00", "12:30", "13:30", "18:30"),
        )
        for n in range(providers)
    ]
    kinds = [
        records.appointment_type(name, colour=colour, minutes=minutes)
        for name, minutes, colour in TYPES
    ]
    people = [records.patient(f"Pat{n}", f"Ient{n}") for n in range(400)]
    made = []
    for d in range(7):
        day = WEEK + timedelta(days=d)
        for doctor in doctors:
            at = datetime.combine(day, time(8, 0), tzinfo=ZONE)
            for _ in range(per_day):
                kind = rng.choice(kinds)
                at += timedelta(minutes=rng.choice((0, 0, 0, 5, 10)))
                source = rng.choice((AppointmentSource.DESK,) * 3 + (AppointmentSource.WIDGET,))
                booked = records.appointment(
                    doctor,
                    rng.choice(people),
                    at.astimezone(UTC),
                    minutes=kind.duration_minutes,
                    status=rng.choice(STATUSES),
                    source=source,
                )
                made.append(records.typed(booked, kind))
                at += timedelta(minutes=kind.duration_minutes)
    return Clinic(doctors, kinds, people, made)


def busy_range(days: int = 7, providers: int = PROVIDERS, per_day: int = PER_DAY) -> DiaryRange:
    """The clinic as the view receives it (what ``load_range`` would answer)."""
    made = clinic(providers, per_day)
    shown = [ProviderRow(p.id, p.display_name, p.colour) for p in made.providers]
    names = {p.id: f"{p.first_name} {p.last_name}" for p in made.patients}
    type_of = {k.id: k for k in made.appointment_types}
    end = WEEK + timedelta(days=days)
    entries = []
    for n, a in enumerate(made.appointments):
        kind = type_of[a.appointment_type_id] if a.appointment_type_id else None
        if a.starts_at.astimezone(ZONE).date() >= end:
            continue
        entries.append(
            DiaryEntry(
                id=a.id,
                provider_id=a.provider_id,
                starts_at=a.starts_at,
                ends_at=a.ends_at,
                status=a.status,
                source=a.source,
                patient_name=names[a.patient_id],
                pending=n % 40 == 0,
                patient_id=a.patient_id,
                appointment_type_id=a.appointment_type_id,
                type_name=kind.name if kind else None,
                type_colour=kind.colour if kind else None,
            )
        )
    weeks = [
        ProviderSchedule(
            p.id, tuple(working_range(h.weekday, h.start, h.end) for h in p.working_hours)
        )
        for p in made.providers
    ]
    working = {
        (week.provider_id, day): minutes
        for week in weeks
        for day in (WEEK + timedelta(days=n) for n in range(days))
        if (minutes := working_minutes(week, day)) is not None
    }
    return DiaryRange(WEEK, days, ZONE, shown, entries, all_providers=shown, working=working)


def median_ms(run: Callable[[], object], runs: int = RUNS) -> float:
    run()  # the first pays for fonts and caches
    samples = []
    for _ in range(runs):
        began = clock.perf_counter()
        run()
        samples.append((clock.perf_counter() - began) * 1000)
    return statistics.median(samples)


def render_ms(shown: DiaryRange, runs: int = RUNS) -> float:
    view = DiaryView()
    view.resize(*SIZE)
    view.show()
    QApplication.processEvents()

    def draw() -> None:
        view.show_range(shown)
        view.viewport().grab()

    figure = median_ms(draw, runs)
    view.close()
    return figure


def load_ms(providers: int = PROVIDERS, per_day: int = PER_DAY, runs: int = RUNS) -> float:
    made = clinic(providers, per_day)
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "desk.db", secrets.token_bytes(32))
        store.apply_page(
            records.page(
                providers=made.providers,
                appointment_types=made.appointment_types,
                patients=made.patients,
                appointments=made.appointments,
            ),
            synced_at=datetime.now(UTC),
        )
        figure = median_ms(lambda: load_range(store, WEEK, 7, ZONE), runs)
        store.close()
    return figure


def rows(providers: int = PROVIDERS, per_day: int = PER_DAY, runs: int = RUNS) -> list[Row]:
    QApplication.instance() or QApplication([])
    busy_week = busy_range(7, providers, per_day)
    week = render_ms(busy_week, runs)
    day = render_ms(busy_range(1, providers, per_day), runs)
    load = load_ms(providers, per_day, runs)
    return [
        Row(
            f"diary week render, {providers} providers",
            week,
            "ms",
            f"≤ {TARGET_MS:g}",
            week <= TARGET_MS,
        ),
        Row(
            f"diary day render, {providers} providers",
            day,
            "ms",
            f"≤ {DAY_TARGET_MS:g}",
            day <= DAY_TARGET_MS,
        ),
        Row("diary week read from the store (db lane)", load, "ms"),
        Row("diary week: appointments drawn", len(busy_week.entries), "blocks"),
    ]


def main() -> None:
    print_table(rows())


if __name__ == "__main__":
    main()
