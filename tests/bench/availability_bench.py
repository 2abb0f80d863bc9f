"""Availability engine speed: a busy clinic's 90 days of free starts, as table rows.

A generated clinic in Europe/London (so the range crosses a daylight-saving change):
10 providers on split shifts Monday to Friday and Saturday mornings, each with about 15
bookings a working day, a clinic closure and some time off. ``available_slots`` answers a
patient's "30 minutes, any provider, the next 90 days" and the same for one provider.
Nothing here asserts: the figures and their targets are for people to read.
"""

from __future__ import annotations

import random
import statistics
import time as clock
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from common.availability import Interval, OfferedSlot, available_slots
from common.scheduling import (
    AppointmentTypeRules,
    BookingRules,
    ExceptionKind,
    ProviderSchedule,
    ScheduleException,
    Weekday,
    WorkingRange,
)
from tests.bench.sync_bench import Row

ZONE = ZoneInfo("Europe/London")
FIRST_DAY = date(2026, 3, 2)  # the range holds the spring-forward of 2026-03-29
DAYS = 90
PROVIDERS = 10
BOOKINGS_PER_DAY = 15
RUNS = 20
TARGET_MS = 50.0


def clinic(
    providers: int = PROVIDERS, days: int = DAYS, seed: int = 7
) -> tuple[list[ProviderSchedule], dict[uuid.UUID, list[Interval]]]:
    """Schedules and busy diaries, the same for the same seed."""
    rng = random.Random(seed)
    shifts = [(d, time(8, 0), time(12, 30)) for d in range(5)]
    shifts += [(d, time(13, 30), time(18, 0)) for d in range(5)]
    shifts.append((Weekday.SATURDAY, time(9, 0), time(13, 0)))
    week = tuple(WorkingRange(Weekday(d), start, end) for d, start, end in shifts)
    closure = ScheduleException(
        uuid.UUID(int=1), ExceptionKind.CLOSURE, date(2026, 4, 3), date(2026, 4, 6)
    )
    schedules: list[ProviderSchedule] = []
    busy: dict[uuid.UUID, list[Interval]] = {}
    for n in range(providers):
        provider = uuid.UUID(int=1000 + n)
        away = FIRST_DAY + timedelta(days=rng.randrange(days))
        time_off = ScheduleException(
            uuid.UUID(int=2000 + n),
            ExceptionKind.TIME_OFF,
            away,
            away + timedelta(days=rng.randrange(3)),
            provider_id=provider,
        )
        schedules.append(ProviderSchedule(provider, week, (closure, time_off)))
        diary: list[Interval] = []
        for d in range(days):
            day = FIRST_DAY + timedelta(days=d)
            ranges = [r for r in week if r.weekday == day.weekday()]
            if not ranges:
                continue
            quarters = [
                datetime.combine(day, r.start, tzinfo=ZONE) + timedelta(minutes=15 * q)
                for r in ranges
                for q in range(_minutes(r.start, r.end) // 15 - 1)
            ]
            per_day = BOOKINGS_PER_DAY if len(quarters) > 20 else BOOKINGS_PER_DAY // 2
            for start in rng.sample(quarters, per_day):
                length = timedelta(minutes=rng.choice((15, 30, 30, 45)))
                diary.append((start.astimezone(UTC), (start + length).astimezone(UTC)))
        rng.shuffle(diary)  # the engine must not rely on the caller's order
        busy[provider] = diary
    return schedules, busy


def _minutes(start: time, end: time) -> int:
    return (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)


def median_ms(run: Callable[[], object], runs: int = RUNS) -> tuple[float, float]:
    """(first run, median of the rest) in milliseconds: the first pays the zone cache."""
    samples = []
    for _ in range(runs + 1):
        began = clock.perf_counter()
        run()
        samples.append((clock.perf_counter() - began) * 1000)
    return samples[0], statistics.median(samples[1:])


def rows(providers: int = PROVIDERS, days: int = DAYS, runs: int = RUNS) -> list[Row]:
    schedules, busy = clinic(providers, days)
    kind = AppointmentTypeRules(uuid.UUID(int=3), timedelta(minutes=30))
    rules = BookingRules(horizon_days=days + 30, slot_rounding=15)
    now = datetime.combine(FIRST_DAY, time(7, 0), tzinfo=ZONE).astimezone(UTC)
    last_day = FIRST_DAY + timedelta(days=days - 1)

    def ask(provider_id: uuid.UUID | None) -> Callable[[], list[OfferedSlot]]:
        return lambda: available_slots(
            schedules,
            busy,
            kind,
            rules,
            zone=ZONE,
            now=now,
            first_day=FIRST_DAY,
            last_day=last_day,
            provider_id=provider_id,
        )

    out: list[Row] = []
    for name, provider_id in (
        (f"{providers} providers × {days} days", None),
        (f"1 provider × {days} days", schedules[0].provider_id),
    ):
        first, median = median_ms(ask(provider_id), runs)
        out.append(
            Row(f"availability: {name}", median, "ms", f"≤ {TARGET_MS:g}", median <= TARGET_MS)
        )
        if provider_id is None:  # the only run that finds the zone's days uncached
            out.append(Row(f"availability: {name}, first run", first, "ms"))
    offered = len(ask(None)())
    out.append(Row("availability: slots offered (any provider)", offered, "slots"))
    return out


def main() -> None:
    figures = rows()
    width = max(len(r.name) for r in figures)
    print(f"{'measure':<{width}}  {'value':>12}  unit    target    met")
    print("-" * (width + 40))
    for r in figures:
        met = "" if r.ok is None else ("yes" if r.ok else "NO")
        print(f"{r.name:<{width}}  {r.value:>12,.2f}  {r.unit:<6}  {r.target:<8}  {met}")


if __name__ == "__main__":
    main()
