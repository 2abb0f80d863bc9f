"""The availability engine: which starts a patient (or the desk) is offered.

The examples read like the feature; the properties check, across many time zones and
their real daylight-saving days, that every offered slot obeys every rule, and that on a
quiet day nothing that should be offered is missing. The properties check the engine with
the standard library's own wall-clock arithmetic, not with the engine's helpers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.availability import (
    Interval,
    OfferedSlot,
    available_slots,
    is_late_cancellation,
    may_patient_cancel,
    may_patient_reschedule,
    next_free,
)
from common.errors import InvalidInput
from common.scheduling import (
    SLOT_ROUNDINGS,
    AppointmentTypeRules,
    BookingRules,
    ExceptionKind,
    ProviderSchedule,
    ScheduleException,
    Weekday,
    WorkingRange,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")

ANNA = uuid.UUID(int=1)
BEN = uuid.UUID(int=2)
CLEO = uuid.UUID(int=3)

MONDAY = date(2026, 6, 1)
SATURDAY = date(2026, 6, 6)
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)
OPEN_RULES = BookingRules(horizon_days=730, min_notice=timedelta(0))
HALF_HOUR = AppointmentTypeRules(uuid.UUID(int=100), timedelta(minutes=30))


# --- helpers -------------------------------------------------------------------------


def hm(text: str) -> time:
    return time.fromisoformat(text)


def works(
    provider: uuid.UUID,
    day: date,
    *ranges: tuple[str, str],
    exceptions: Sequence[ScheduleException] = (),
) -> ProviderSchedule:
    """A provider who works ``ranges`` on ``day``'s weekday."""
    weekday = Weekday(day.weekday())
    return ProviderSchedule(
        provider,
        tuple(WorkingRange(weekday, hm(a), hm(b)) for a, b in ranges),
        tuple(exceptions),
    )


def exception(
    kind: ExceptionKind,
    first: date,
    last: date | None = None,
    window: tuple[str, str] | None = None,
    provider: uuid.UUID | None = None,
) -> ScheduleException:
    start, end = (hm(window[0]), hm(window[1])) if window else (None, None)
    return ScheduleException(
        uuid.uuid4(), kind, first, last or first, start, end, provider_id=provider
    )


def at(day: date, clock: str, zone: ZoneInfo = LONDON) -> datetime:
    """A local time that exists once, as a UTC instant."""
    return datetime.combine(day, hm(clock), tzinfo=zone).astimezone(UTC)


def booked(day: date, start: str, end: str, zone: ZoneInfo = LONDON) -> Interval:
    return at(day, start, zone), at(day, end, zone)


def offer(
    schedules: Sequence[ProviderSchedule],
    busy: dict[uuid.UUID, list[Interval]] | None = None,
    kind: AppointmentTypeRules = HALF_HOUR,
    rules: BookingRules = OPEN_RULES,
    *,
    day: date = MONDAY,
    last_day: date | None = None,
    zone: ZoneInfo = LONDON,
    now: datetime = LONG_AGO,
    provider: uuid.UUID | None = None,
    for_staff: bool = False,
    limit: int | None = None,
) -> list[OfferedSlot]:
    return available_slots(
        schedules,
        busy or {},
        kind,
        rules,
        zone=zone,
        now=now,
        first_day=day,
        last_day=last_day or day,
        provider_id=provider,
        for_staff=for_staff,
        limit=limit,
    )


def clock_times(slots: Sequence[OfferedSlot], zone: ZoneInfo = LONDON) -> list[str]:
    return [f"{s.starts_at.astimezone(zone):%H:%M}" for s in slots]


def clock_offsets(slots: Sequence[OfferedSlot], zone: ZoneInfo) -> list[str]:
    return [f"{s.starts_at.astimezone(zone):%H:%M%z}" for s in slots]


def every(start: str, last: str, minutes: int = 15) -> list[str]:
    """Clock times from ``start`` to ``last`` inclusive, ``minutes`` apart."""
    out, t = [], datetime.combine(MONDAY, hm(start))
    while t <= datetime.combine(MONDAY, hm(last)):
        out.append(f"{t:%H:%M}")
        t += timedelta(minutes=minutes)
    return out


# --- working time --------------------------------------------------------------------


def test_a_split_shift_offers_both_halves_and_nothing_over_lunch():
    slots = offer([works(ANNA, MONDAY, ("09:00", "12:00"), ("13:00", "15:00"))])

    assert clock_times(slots) == every("09:00", "11:30") + every("13:00", "14:30")
    assert {s.provider_id for s in slots} == {ANNA}
    assert all(s.ends_at - s.starts_at == timedelta(minutes=30) for s in slots)


def test_only_the_weekday_of_a_range_is_worked():
    schedule = works(ANNA, MONDAY, ("09:00", "10:00"))

    assert clock_times(offer([schedule], day=MONDAY + timedelta(days=1))) == []
    assert clock_times(offer([schedule], day=MONDAY + timedelta(days=7))) == every("09:00", "09:30")


def test_an_all_day_time_off_removes_the_day_and_only_that_day():
    schedule = works(
        ANNA,
        MONDAY,
        ("09:00", "10:00"),
        exceptions=[exception(ExceptionKind.TIME_OFF, MONDAY, provider=ANNA)],
    )

    assert offer([schedule]) == []
    assert clock_times(offer([schedule], day=MONDAY + timedelta(days=7))) == every("09:00", "09:30")


def test_a_timed_time_off_removes_its_window():
    schedule = works(
        ANNA,
        MONDAY,
        ("09:00", "12:00"),
        exceptions=[
            exception(ExceptionKind.TIME_OFF, MONDAY, window=("10:00", "11:00"), provider=ANNA)
        ],
    )

    assert clock_times(offer([schedule])) == every("09:00", "09:30") + every("11:00", "11:30")


def test_a_clinic_closure_closes_every_provider():
    closed = exception(ExceptionKind.CLOSURE, MONDAY - timedelta(days=2), MONDAY)
    schedules = [
        works(ANNA, MONDAY, ("09:00", "12:00"), exceptions=[closed]),
        works(BEN, MONDAY, ("09:00", "12:00"), exceptions=[closed]),
    ]

    assert offer(schedules) == []
    assert len(offer(schedules, day=MONDAY + timedelta(days=7))) == len(every("09:00", "11:30"))


def test_a_timed_closure_closes_its_window():
    schedule = works(
        ANNA,
        MONDAY,
        ("09:00", "12:00"),
        exceptions=[exception(ExceptionKind.CLOSURE, MONDAY, window=("09:00", "11:00"))],
    )

    assert clock_times(offer([schedule])) == every("11:00", "11:30")


def test_extra_hours_on_a_saturday_are_bookable():
    schedule = works(
        ANNA,
        MONDAY,
        ("09:00", "17:00"),
        exceptions=[
            exception(ExceptionKind.EXTRA_HOURS, SATURDAY, window=("10:00", "12:00"), provider=ANNA)
        ],
    )

    assert clock_times(offer([schedule], day=SATURDAY)) == every("10:00", "11:30")
    assert offer([schedule], day=SATURDAY + timedelta(days=7)) == []


def test_extra_hours_extend_a_usual_day_seamlessly():
    schedule = works(
        ANNA,
        MONDAY,
        ("09:00", "10:00"),
        exceptions=[
            exception(ExceptionKind.EXTRA_HOURS, MONDAY, window=("10:00", "11:00"), provider=ANNA)
        ],
    )

    assert clock_times(offer([schedule])) == every("09:00", "10:30")


def test_all_day_extra_hours_are_ignored():
    schedule = works(
        ANNA,
        MONDAY,
        ("09:00", "10:00"),
        exceptions=[exception(ExceptionKind.EXTRA_HOURS, SATURDAY, provider=ANNA)],
    )

    assert offer([schedule], day=SATURDAY) == []


def test_another_providers_exceptions_do_not_apply():
    schedule = works(
        ANNA,
        MONDAY,
        ("09:00", "10:00"),
        exceptions=[
            exception(ExceptionKind.TIME_OFF, MONDAY, provider=BEN),
            exception(ExceptionKind.CLOSURE, MONDAY, provider=BEN),
            exception(ExceptionKind.EXTRA_HOURS, SATURDAY, window=("10:00", "12:00"), provider=BEN),
        ],
    )

    assert clock_times(offer([schedule])) == every("09:00", "09:30")
    assert offer([schedule], day=SATURDAY) == []


def test_a_provider_closure_for_that_provider_applies():
    schedule = works(
        ANNA,
        MONDAY,
        ("09:00", "10:00"),
        exceptions=[exception(ExceptionKind.CLOSURE, MONDAY, provider=ANNA)],
    )

    assert offer([schedule]) == []


# --- busy time, buffers, rounding ----------------------------------------------------


def test_busy_time_is_not_offered_and_back_to_back_is_fine():
    schedule = works(ANNA, MONDAY, ("09:00", "11:00"))
    busy = {ANNA: [booked(MONDAY, "09:30", "10:00")]}

    assert clock_times(offer([schedule], busy)) == ["09:00", "10:00", "10:15", "10:30"]


def test_busy_intervals_may_come_unsorted_and_overlapping():
    schedule = works(ANNA, MONDAY, ("09:00", "12:00"))
    busy = {
        ANNA: [
            booked(MONDAY, "11:00", "11:30"),
            booked(MONDAY, "09:15", "10:00"),
            booked(MONDAY, "09:30", "10:15"),
            booked(MONDAY, "09:45", "09:50"),
        ]
    }

    assert clock_times(offer([schedule], busy)) == ["10:15", "10:30", "11:30"]


def test_buffers_keep_other_appointments_away_but_need_not_fit_in_working_hours():
    schedule = works(ANNA, MONDAY, ("09:00", "11:00"))
    kind = AppointmentTypeRules(
        uuid.UUID(int=101),
        timedelta(minutes=30),
        buffer_before=timedelta(minutes=10),
        buffer_after=timedelta(minutes=10),
    )
    busy = {ANNA: [booked(MONDAY, "10:00", "10:15")]}

    # 09:00 starts at opening although its setup buffer is before it; 09:30 would clean up
    # until 10:10, 10:15 would set up from 10:05, both into the 10:00 booking.
    assert clock_times(offer([schedule], busy, kind)) == ["09:00", "09:15", "10:30"]


@pytest.mark.parametrize("rounding", [15, 30, 60])
def test_starts_land_on_the_rounding_grid(rounding):
    schedule = works(ANNA, MONDAY, ("09:00", "12:00"))
    rules = BookingRules(horizon_days=730, min_notice=timedelta(0), slot_rounding=rounding)

    assert clock_times(offer([schedule], rules=rules)) == every("09:00", "11:30", rounding)


def test_the_grid_is_anchored_at_midnight_not_at_the_shift_start():
    schedule = works(ANNA, MONDAY, ("09:10", "11:00"))
    rules = BookingRules(horizon_days=730, min_notice=timedelta(0), slot_rounding=30)

    assert clock_times(offer([schedule], rules=rules)) == ["09:30", "10:00", "10:30"]


def test_a_type_longer_than_the_shift_is_never_offered():
    kind = AppointmentTypeRules(uuid.UUID(int=102), timedelta(hours=2))

    assert offer([works(ANNA, MONDAY, ("09:00", "10:30"))], kind=kind) == []


# --- patients' rules and staff exemptions --------------------------------------------


def test_patients_get_the_minimum_notice():
    schedule = works(ANNA, MONDAY, ("09:00", "13:00"))
    rules = BookingRules(min_notice=timedelta(hours=2))

    slots = offer([schedule], rules=rules, now=at(MONDAY, "09:10"))

    assert clock_times(slots) == every("11:15", "12:30")


def test_staff_get_everything_not_yet_started():
    schedule = works(ANNA, MONDAY, ("09:00", "11:00"))
    rules = BookingRules(min_notice=timedelta(hours=2))

    slots = offer([schedule], rules=rules, now=at(MONDAY, "09:10"), for_staff=True)

    assert clock_times(slots) == every("09:15", "10:30")
    assert clock_times(offer([schedule], now=at(MONDAY, "09:15"), for_staff=True))[0] == "09:15"


def test_patients_may_book_up_to_the_horizon_and_not_beyond():
    schedule = ProviderSchedule(
        ANNA, tuple(WorkingRange(Weekday(d), hm("09:00"), hm("09:30")) for d in range(7))
    )
    rules = BookingRules(horizon_days=3, min_notice=timedelta(0))
    now = at(MONDAY, "23:30")  # the horizon counts local days from today

    slots = offer([schedule], rules=rules, now=now, last_day=MONDAY + timedelta(days=10))
    staff = offer(
        [schedule], rules=rules, now=now, last_day=MONDAY + timedelta(days=10), for_staff=True
    )

    assert [s.starts_at.astimezone(LONDON).date() for s in slots] == [
        MONDAY + timedelta(days=n) for n in (1, 2, 3)
    ]
    assert len(staff) == 10


def test_a_daily_cap_stops_a_full_provider_for_patients_only():
    schedule = works(ANNA, MONDAY, ("09:00", "12:00"))
    busy = {ANNA: [booked(MONDAY, "09:00", "09:30"), booked(MONDAY, "11:00", "11:30")]}

    def with_cap(cap: int | None, for_staff: bool = False) -> list[str]:
        rules = BookingRules(horizon_days=730, min_notice=timedelta(0), daily_cap=cap)
        return clock_times(offer([schedule], busy, rules=rules, for_staff=for_staff))

    assert with_cap(2) == []
    assert with_cap(3) == [*every("09:30", "10:30"), "11:30"]
    assert with_cap(2, for_staff=True) == with_cap(None)


def test_the_cap_counts_bookings_by_local_day():
    schedule = works(ANNA, MONDAY, ("09:00", "10:00"))
    yesterday_late = booked(MONDAY - timedelta(days=1), "23:00", "23:30")  # 22:00 UTC
    rules = BookingRules(horizon_days=730, min_notice=timedelta(0), daily_cap=1)

    assert clock_times(offer([schedule], {ANNA: [yesterday_late]}, rules=rules)) == every(
        "09:00", "09:30"
    )


def test_a_type_is_offered_only_by_its_providers():
    kind = AppointmentTypeRules(
        uuid.UUID(int=103), timedelta(minutes=30), provider_ids=frozenset({BEN})
    )
    schedules = [
        works(ANNA, MONDAY, ("09:00", "10:00")),
        works(BEN, MONDAY, ("11:00", "12:00")),
    ]

    assert {s.provider_id for s in offer(schedules, kind=kind)} == {BEN}
    assert offer(schedules, kind=kind, provider=ANNA) == []
    assert clock_times(offer(schedules, kind=kind, provider=BEN)) == every("11:00", "11:30")


def test_a_type_not_bookable_online_is_for_the_desk_only():
    kind = AppointmentTypeRules(uuid.UUID(int=104), timedelta(minutes=30), bookable_online=False)
    schedules = [works(ANNA, MONDAY, ("09:00", "10:00"))]

    assert offer(schedules, kind=kind) == []
    assert clock_times(offer(schedules, kind=kind, for_staff=True)) == every("09:00", "09:30")


def test_any_provider_needs_the_clinic_to_allow_it():
    rules = BookingRules(horizon_days=730, min_notice=timedelta(0), allow_any_provider=False)
    schedules = [works(ANNA, MONDAY, ("09:00", "10:00"))]

    with pytest.raises(ValueError, match="choose a provider") as refused:
        offer(schedules, rules=rules)

    assert isinstance(refused.value, InvalidInput)  # the server answers 422 with the words
    assert clock_times(offer(schedules, rules=rules, provider=ANNA)) == every("09:00", "09:30")
    assert len(offer(schedules, rules=rules, for_staff=True)) == 3


# --- any provider --------------------------------------------------------------------


def test_any_provider_gives_each_start_once_to_the_less_busy_provider():
    schedules = [
        works(ANNA, MONDAY, ("09:00", "11:00")),
        works(BEN, MONDAY, ("09:00", "11:00")),
    ]
    busy = {
        ANNA: [booked(MONDAY, "10:30", "11:00"), booked(MONDAY, "16:00", "17:00")],
        BEN: [booked(MONDAY, "09:00", "09:30")],
    }

    slots = offer(schedules, busy)

    assert clock_times(slots) == every("09:00", "10:30")
    owner = {f"{s.starts_at.astimezone(LONDON):%H:%M}": s.provider_id for s in slots}
    assert owner["09:00"] == ANNA  # only Anna is free then
    assert owner["09:30"] == BEN  # both free: Ben has one booking today, Anna two
    assert owner["10:00"] == BEN
    assert owner["10:30"] == BEN


def test_any_provider_ties_go_to_the_order_of_the_schedules():
    schedules = [
        works(CLEO, MONDAY, ("09:00", "10:00")),
        works(ANNA, MONDAY, ("09:00", "10:00")),
    ]

    assert {s.provider_id for s in offer(schedules)} == {CLEO}
    assert {s.provider_id for s in offer(list(reversed(schedules)))} == {ANNA}


def test_any_provider_counts_real_bookings_not_slots_handed_out():
    schedules = [
        works(ANNA, MONDAY, ("09:00", "12:00")),
        works(BEN, MONDAY, ("09:00", "12:00")),
    ]
    busy = {BEN: [booked(MONDAY, "16:00", "16:30")]}

    assert {s.provider_id for s in offer(schedules, busy)} == {ANNA}


def test_results_are_sorted_across_providers_and_days():
    schedules = [
        works(ANNA, MONDAY, ("14:00", "15:00")),
        works(BEN, MONDAY, ("09:00", "10:00")),
    ]

    slots = offer(schedules, last_day=MONDAY + timedelta(days=7))
    starts = [s.starts_at for s in slots]

    assert starts == sorted(starts)
    assert len(starts) == len(set(starts)) == 12


def test_a_limit_returns_the_earliest_slots():
    schedules = [
        works(ANNA, MONDAY, ("14:00", "15:00")),
        works(BEN, MONDAY, ("09:00", "10:00")),
    ]
    full = offer(schedules, last_day=MONDAY + timedelta(days=14))

    assert offer(schedules, last_day=MONDAY + timedelta(days=14), limit=5) == full[:5]
    assert offer(schedules, limit=0) == []


# --- next free -------------------------------------------------------------------------


def test_next_free_finds_the_first_free_time_with_any_provider():
    schedules = [
        works(ANNA, MONDAY, ("09:00", "12:00")),
        works(BEN, MONDAY, ("09:00", "12:00")),
    ]
    busy = {
        ANNA: [booked(MONDAY, "09:00", "10:30")],
        BEN: [booked(MONDAY, "09:00", "10:00"), booked(MONDAY, "10:15", "11:00")],
    }

    found = next_free(schedules, busy, timedelta(minutes=30), zone=LONDON, now=at(MONDAY, "08:00"))

    assert found == OfferedSlot(ANNA, at(MONDAY, "10:30"), at(MONDAY, "11:00"))


def test_next_free_starts_from_now_on_its_own_grid_and_gives_up_after_its_days():
    schedules = [works(ANNA, MONDAY, ("09:00", "12:00"))]

    found = next_free(
        schedules, {}, timedelta(hours=1), zone=LONDON, now=at(MONDAY, "09:01"), rounding=20
    )
    tuesday = next_free(
        schedules,
        {},
        timedelta(hours=1),
        zone=LONDON,
        now=at(MONDAY + timedelta(days=1), "08:00"),
        search_days=6,
    )

    assert found is not None
    assert found.starts_at == at(MONDAY, "09:20")
    assert tuesday is None  # next Monday is the seventh day


def test_next_free_for_one_provider():
    schedules = [
        works(ANNA, MONDAY, ("09:00", "12:00")),
        works(BEN, MONDAY, ("14:00", "16:00")),
    ]

    found = next_free(
        schedules, {}, timedelta(minutes=30), zone=LONDON, now=at(MONDAY, "08:00"), provider_id=BEN
    )

    assert found == OfferedSlot(BEN, at(MONDAY, "14:00"), at(MONDAY, "14:30"))


# --- cut-offs --------------------------------------------------------------------------


def test_patients_may_cancel_and_reschedule_until_their_cut_offs():
    rules = BookingRules(
        patient_cancel_cutoff=timedelta(hours=24), patient_reschedule_cutoff=timedelta(hours=48)
    )
    start = at(MONDAY, "10:00")

    assert may_patient_cancel(rules, start, start - timedelta(hours=24))
    assert not may_patient_cancel(rules, start, start - timedelta(hours=23, minutes=59))
    assert may_patient_reschedule(rules, start, start - timedelta(hours=48))
    assert not may_patient_reschedule(rules, start, start - timedelta(hours=47))
    assert not is_late_cancellation(rules, start, start - timedelta(hours=24))
    assert is_late_cancellation(rules, start, start - timedelta(hours=23))


def test_clinics_may_stop_patients_cancelling_themselves():
    rules = BookingRules(patients_may_cancel=False)
    start = at(MONDAY, "10:00")

    assert not may_patient_cancel(rules, start, start - timedelta(days=30))
    assert not may_patient_reschedule(rules, start, start - timedelta(days=30))


# --- daylight saving, by example ---------------------------------------------------------


def staff_day(
    zone: ZoneInfo,
    day: date,
    *ranges: tuple[str, str],
    rounding: int = 15,
    minutes: int = 30,
) -> list[OfferedSlot]:
    kind = AppointmentTypeRules(uuid.UUID(int=105), timedelta(minutes=minutes))
    rules = BookingRules(slot_rounding=rounding)
    return offer(
        [works(ANNA, day, *ranges)], kind=kind, rules=rules, day=day, zone=zone, for_staff=True
    )


def test_london_spring_forward_skips_the_missing_hour():
    slots = staff_day(LONDON, date(2026, 3, 29), ("00:00", "04:00"))

    assert clock_offsets(slots, LONDON) == [
        "00:00+0000", "00:15+0000", "00:30+0000", "00:45+0000",
        "02:00+0100", "02:15+0100", "02:30+0100", "02:45+0100",
        "03:00+0100", "03:15+0100", "03:30+0100",
    ]  # fmt: skip
    # the 00:45 appointment runs through the jump and ends at 02:15 by the clock
    assert slots[3].ends_at.astimezone(LONDON).strftime("%H:%M") == "02:15"


def test_london_fall_back_offers_each_clock_time_once():
    slots = staff_day(LONDON, date(2026, 10, 25), ("00:00", "04:00"))

    assert clock_offsets(slots, LONDON) == [
        "00:00+0100", "00:15+0100", "00:30+0100", "00:45+0100",
        "01:00+0100", "01:15+0100", "01:30+0100", "01:45+0100",
        "02:00+0000", "02:15+0000", "02:30+0000", "02:45+0000",
        "03:00+0000", "03:15+0000", "03:30+0000",
    ]  # fmt: skip
    assert slots[-1].ends_at - slots[0].starts_at == timedelta(hours=5)  # a 5-hour shift


def test_new_york_spring_forward():
    slots = staff_day(NEW_YORK, date(2026, 3, 8), ("01:00", "04:00"), rounding=30)

    assert clock_offsets(slots, NEW_YORK) == [
        "01:00-0500", "01:30-0500", "03:00-0400", "03:30-0400",
    ]  # fmt: skip


def test_new_york_fall_back():
    slots = staff_day(NEW_YORK, date(2026, 11, 1), ("01:00", "03:00"), rounding=30)

    assert clock_offsets(slots, NEW_YORK) == [
        "01:00-0400", "01:30-0400", "02:00-0500", "02:30-0500",
    ]  # fmt: skip


def test_a_range_starting_in_the_gap_starts_at_the_transition():
    slots = staff_day(NEW_YORK, date(2026, 3, 8), ("02:30", "04:00"), rounding=30)

    assert clock_offsets(slots, NEW_YORK) == ["03:00-0400", "03:30-0400"]


def test_a_range_ending_in_the_gap_ends_at_the_transition():
    slots = staff_day(NEW_YORK, date(2026, 3, 8), ("01:00", "02:30"), rounding=30)

    assert clock_offsets(slots, NEW_YORK) == ["01:00-0500", "01:30-0500"]
    assert slots[-1].ends_at == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT


def test_an_ambiguous_range_end_means_its_second_occurrence():
    # 00:00–01:30 covers until 01:30 comes round the second time (EST), so the first
    # pass through 01:00–02:00 (EDT) is working time too.
    slots = staff_day(NEW_YORK, date(2026, 11, 1), ("00:00", "01:30"), rounding=30)

    assert clock_offsets(slots, NEW_YORK) == [
        "00:00-0400",
        "00:30-0400",
        "01:00-0400",
        "01:30-0400",
    ]
    assert slots[-1].ends_at == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)  # 01:00 EST


def test_an_ambiguous_range_start_means_its_first_occurrence():
    slots = staff_day(NEW_YORK, date(2026, 11, 1), ("01:30", "03:00"), rounding=30)

    assert clock_offsets(slots, NEW_YORK) == ["01:30-0400", "02:00-0500", "02:30-0500"]


def test_lord_howe_half_hour_spring_forward():
    slots = staff_day(LORD_HOWE, date(2026, 10, 4), ("01:00", "04:00"))

    assert clock_times(slots, LORD_HOWE) == [
        "01:00", "01:15", "01:30", "01:45", "02:30", "02:45", "03:00", "03:15", "03:30",
    ]  # fmt: skip


def test_lord_howe_half_hour_fall_back():
    slots = staff_day(LORD_HOWE, date(2026, 4, 5), ("01:00", "03:00"))

    assert clock_offsets(slots, LORD_HOWE) == [
        "01:00+1100", "01:15+1100", "01:30+1100", "01:45+1100",
        "02:00+1030", "02:15+1030", "02:30+1030",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "day", "rounding", "expected"),
    [
        # 02:00 becomes 02:30: the next start on the hourly grid is 03:00, not 02:30
        ("Australia/Lord_Howe", date(2026, 10, 4), 60, ["01:00", "03:00", "04:00"]),
        # 02:45 becomes 03:45: the half-hour grid resumes at 04:00 (02:30 runs through)
        (
            "Pacific/Chatham",
            date(2026, 9, 27),
            30,
            ["01:00", "01:30", "02:00", "02:30", "04:00", "04:30"],
        ),
    ],
)
def test_after_an_odd_sized_gap_the_grid_stays_on_the_clock(zone, day, rounding, expected):
    tz = ZoneInfo(zone)

    slots = staff_day(tz, day, ("01:00", "05:00"), rounding=rounding)

    assert clock_times(slots, tz) == expected


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("Europe/London", date(2026, 3, 29)),
        ("Europe/London", date(2026, 10, 25)),
        ("America/New_York", date(2026, 3, 8)),
        ("America/New_York", date(2026, 11, 1)),
        ("Australia/Lord_Howe", date(2026, 4, 5)),
        ("Australia/Lord_Howe", date(2026, 10, 4)),
        ("America/Havana", date(2026, 3, 8)),
        ("America/Santiago", date(2026, 9, 6)),
    ],
)
def test_afternoon_starts_on_transition_days_keep_their_clock_time(zone, day):
    tz = ZoneInfo(zone)

    slots = staff_day(tz, day, ("14:00", "15:00"), rounding=30)

    assert clock_offsets(slots, tz) == [
        f"14:00{datetime.combine(day, hm('14:00'), tzinfo=tz):%z}",
        f"14:30{datetime.combine(day, hm('14:30'), tzinfo=tz):%z}",
    ]
    assert slots[0].starts_at == datetime.combine(day, hm("14:00"), tzinfo=tz).astimezone(UTC)


def test_a_skipped_midnight_starts_the_day_at_the_transition():
    havana = ZoneInfo("America/Havana")  # 2026-03-08 00:00 becomes 01:00

    slots = staff_day(havana, date(2026, 3, 8), ("00:00", "02:00"), rounding=30)

    assert clock_offsets(slots, havana) == ["01:00-0400", "01:30-0400"]


def test_a_day_the_zone_skipped_has_no_slots():
    apia = ZoneInfo("Pacific/Apia")  # Samoa went from 2011-12-29 straight to 2011-12-31
    schedule = ProviderSchedule(
        ANNA, tuple(WorkingRange(Weekday(d), hm("09:00"), hm("10:00")) for d in range(7))
    )

    slots = offer(
        [schedule],
        day=date(2011, 12, 29),
        last_day=date(2011, 12, 31),
        zone=apia,
        now=datetime(2011, 1, 1, tzinfo=UTC),
        rules=BookingRules(slot_rounding=30),
        for_staff=True,
    )

    assert [f"{s.starts_at.astimezone(apia):%d %H:%M}" for s in slots] == [
        "29 09:00", "29 09:30", "31 09:00", "31 09:30",
    ]  # fmt: skip
    for now, first in (
        (datetime(2011, 12, 29, 18), "29 09:00"),
        (datetime(2011, 12, 29, 21), "31 09:00"),
    ):
        found = next_free(
            [schedule], {}, timedelta(minutes=30), zone=apia, now=now.replace(tzinfo=UTC)
        )
        assert found is not None
        assert f"{found.starts_at.astimezone(apia):%d %H:%M}" == first


# --- properties across zones ---------------------------------------------------------

# Southern hemisphere, half- and quarter-hour offsets, a two-hour shift, transitions at
# midnight, Ramadan suspensions, and zones without daylight saving as controls. Each with
# the year whose transitions to scan.
ZONES: dict[str, int] = {
    "UTC": 2026,
    "Asia/Kolkata": 2026,
    "Asia/Kathmandu": 2026,
    "Europe/London": 2026,
    "Europe/Dublin": 2026,
    "Europe/Berlin": 2026,
    "Europe/Chisinau": 2026,
    "America/New_York": 2026,
    "America/Los_Angeles": 2026,
    "America/St_Johns": 2026,
    "America/Havana": 2026,
    "America/Santiago": 2026,
    "America/Nuuk": 2026,
    "America/Sao_Paulo": 2018,
    "America/Asuncion": 2023,
    "Asia/Beirut": 2026,
    "Asia/Gaza": 2026,
    "Asia/Tehran": 2021,
    "Africa/Cairo": 2026,
    "Africa/Casablanca": 2026,
    "Australia/Lord_Howe": 2026,
    "Australia/Sydney": 2026,
    "Australia/Adelaide": 2026,
    "Pacific/Chatham": 2026,
    "Pacific/Auckland": 2026,
    "Antarctica/Troll": 2026,
}
assert len(ZONES) >= 20


@cache
def transition_days(name: str) -> tuple[date, ...]:
    """The local dates on which the zone's UTC offset changes in its year, found by
    scanning the offset hour by hour and bisecting to the second. Empty without DST."""
    zone = ZoneInfo(name)
    year = ZONES[name]
    begin = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())

    def offset(u: int) -> timedelta | None:
        return datetime.fromtimestamp(u, zone).utcoffset()

    days: set[date] = set()
    for hour in range(366 * 24):
        a, b = begin + hour * 3600, begin + (hour + 1) * 3600
        if offset(a) == offset(b):
            continue
        while b - a > 1:
            middle = (a + b) // 2
            a, b = (middle, b) if offset(middle) == offset(a) else (a, middle)
        days.add(datetime.fromtimestamp(a, zone).date())
        days.add(datetime.fromtimestamp(b, zone).date())
    return tuple(sorted(days))


def test_the_property_zones_really_change_their_clocks():
    changing = [name for name in ZONES if transition_days(name)]

    assert len(changing) >= 20
    assert not transition_days("UTC")
    assert date(2026, 3, 29) in transition_days("Europe/London")


def resolve(zone: ZoneInfo, day: date, clock: time | None, *, end: bool) -> datetime:
    """A working-range boundary as an instant, by the standard library: an existing time
    at its first (start) or last (end) occurrence; a time in a gap at the transition."""
    if clock is None:  # the end of the day
        return resolve(zone, day + timedelta(days=1), time(0), end=False)
    naive = datetime.combine(day, clock)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    exists = first.astimezone(zone).replace(tzinfo=None) == naive
    if exists:
        return second if end else first
    # zoneinfo maps a time in a gap with the offset before (fold=0) and after (fold=1):
    # the transition lies between the two readings.
    low, high = int(second.timestamp()), int(first.timestamp())
    before = datetime.fromtimestamp(low, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def minutes_between(a: datetime, b: datetime) -> set[int]:
    """The UTC minutes (epoch seconds) in [a, b)."""
    start, stop = int(a.timestamp()), int(b.timestamp())
    first = -(-start // 60) * 60
    return set(range(first, stop, 60))


def working_minutes(zone: ZoneInfo, schedule: ProviderSchedule, day: date) -> set[int]:
    """The provider's working time on ``day``, as UTC minutes."""
    mine = [
        e
        for e in schedule.exceptions
        if e.covers(day) and e.provider_id in (None, schedule.provider_id)
    ]
    if any(e.all_day and e.kind is not ExceptionKind.EXTRA_HOURS for e in mine):
        return set()
    windows = [(r.start, r.end) for r in schedule.week if r.weekday == day.weekday()]
    windows += [
        (e.start, e.end) for e in mine if e.kind is ExceptionKind.EXTRA_HOURS and not e.all_day
    ]
    out: set[int] = set()
    for a, b in windows:
        assert a is not None
        assert b is not None
        out |= minutes_between(resolve(zone, day, a, end=False), resolve(zone, day, b, end=True))
    for e in mine:
        if e.kind is not ExceptionKind.EXTRA_HOURS:
            assert e.start is not None
            assert e.end is not None
            out -= minutes_between(
                resolve(zone, day, e.start, end=False), resolve(zone, day, e.end, end=True)
            )
    return out


def local_day(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


@st.composite
def clock_windows(draw: st.DrawFn, *, low: int = 0) -> tuple[time, time]:
    """A window on one day, on whole minutes (often near the small hours, where clocks
    change), 00:00 at the earliest and 23:59 at the latest."""
    start = draw(st.one_of(st.integers(low, 6 * 60), st.integers(low, 23 * 60 + 58)))
    end = draw(st.integers(start + 1, min(start + 12 * 60, 23 * 60 + 59)))
    return time(start // 60, start % 60), time(end // 60, end % 60)


@dataclass(frozen=True)
class Scenario:
    zone: ZoneInfo
    days: tuple[date, date]
    schedules: list[ProviderSchedule]
    busy: dict[uuid.UUID, list[Interval]]
    kind: AppointmentTypeRules
    rules: BookingRules
    now: datetime
    for_staff: bool
    provider: uuid.UUID | None

    def run(self, provider: uuid.UUID | None, limit: int | None = None) -> list[OfferedSlot]:
        return available_slots(
            self.schedules,
            self.busy,
            self.kind,
            self.rules,
            zone=self.zone,
            now=self.now,
            first_day=self.days[0],
            last_day=self.days[1],
            provider_id=provider,
            for_staff=self.for_staff,
            limit=limit,
        )


@st.composite
def scenarios(draw: st.DrawFn, *, quiet: bool = False) -> Scenario:
    """A clinic around one of a zone's real transition days (or any day for zones that
    keep one offset): schedules, busy diaries, a type, rules and a "now". ``quiet``: one
    provider, no bookings and no exceptions, for the completeness check."""
    name = draw(st.sampled_from(sorted(ZONES)))
    zone = ZoneInfo(name)
    anchors = transition_days(name) or (date(ZONES[name], 3, 29), date(ZONES[name], 10, 25))
    day = draw(st.sampled_from(anchors)) + timedelta(days=draw(st.sampled_from([-1, 0, 0, 1])))
    days = (day, day + timedelta(days=1))
    providers = [uuid.UUID(int=10 + n) for n in range(1 if quiet else draw(st.integers(1, 3)))]
    schedules = []
    busy: dict[uuid.UUID, list[Interval]] = {}
    midnight = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    for p in providers:
        week = []
        for d in days:
            for _ in range(draw(st.integers(1, 2))):
                a, b = draw(clock_windows())
                week.append(WorkingRange(Weekday(d.weekday()), a, b))
        exceptions = []
        if not quiet:
            for _ in range(draw(st.integers(0, 2))):
                kind = draw(st.sampled_from(list(ExceptionKind)))
                on = draw(st.sampled_from(days))
                window = draw(st.one_of(st.none(), clock_windows()))
                who = draw(st.sampled_from([p, None, uuid.UUID(int=99)]))
                start, end = window or (None, None)
                exceptions.append(
                    ScheduleException(uuid.uuid4(), kind, on, on, start, end, provider_id=who)
                )
            diary: list[Interval] = []
            for _ in range(draw(st.integers(0, 8))):
                begins = midnight + timedelta(minutes=draw(st.integers(-120, 48 * 60)))
                diary.append((begins, begins + timedelta(minutes=draw(st.integers(5, 180)))))
            busy[p] = diary
        schedules.append(ProviderSchedule(p, tuple(week), tuple(exceptions)))
    duration = timedelta(minutes=draw(st.sampled_from([5, 15, 20, 30, 45, 60, 90])))
    kind = AppointmentTypeRules(
        uuid.UUID(int=200),
        duration,
        buffer_before=timedelta(minutes=0 if quiet else draw(st.sampled_from([0, 5, 15]))),
        buffer_after=timedelta(minutes=0 if quiet else draw(st.sampled_from([0, 10, 30]))),
        provider_ids=frozenset()
        if quiet or draw(st.booleans())
        else frozenset(draw(st.sets(st.sampled_from(providers), min_size=1))),
        bookable_online=quiet or draw(st.integers(0, 9)) > 0,
    )
    rules = BookingRules(
        horizon_days=draw(st.integers(1, 3)),
        min_notice=timedelta(minutes=draw(st.sampled_from([0, 30, 120, 24 * 60]))),
        slot_rounding=draw(st.sampled_from(SLOT_ROUNDINGS)),
        daily_cap=None if quiet else draw(st.one_of(st.none(), st.integers(1, 4))),
    )
    now = midnight + timedelta(minutes=draw(st.integers(-3 * 24 * 60, 30 * 60)))
    return Scenario(
        zone,
        days,
        schedules,
        busy,
        kind,
        rules,
        now,
        for_staff=draw(st.booleans()),
        provider=None if draw(st.booleans()) else draw(st.sampled_from(providers)),
    )


def bookings_on(busy: Sequence[Interval], day: date, zone: ZoneInfo) -> int:
    return sum(1 for a, _ in busy if local_day(a, zone) == day)


PROPERTY_SETTINGS = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(scenarios())
def test_every_offered_slot_obeys_every_rule(s: Scenario) -> None:
    zone, schedules, busy = s.zone, s.schedules, s.busy
    kind, rules, now, for_staff = s.kind, s.rules, s.now, s.for_staff
    by_id = {p.provider_id: p for p in schedules}
    order = [p.provider_id for p in schedules]

    slots = s.run(s.provider)

    if not for_staff and not kind.bookable_online:
        assert slots == []
    keys = [(slot.starts_at, order.index(slot.provider_id)) for slot in slots]
    assert keys == sorted(keys)
    assert len({(slot.provider_id, slot.starts_at) for slot in slots}) == len(slots)
    if s.provider is None:
        assert len({slot.starts_at for slot in slots}) == len(slots)
    else:
        assert {slot.provider_id for slot in slots} <= {s.provider}
    today = now.astimezone(zone).date()
    for slot in slots:
        assert slot.starts_at.tzinfo is not None
        assert slot.starts_at.utcoffset() == timedelta(0)
        assert slot.ends_at - slot.starts_at == kind.duration
        local = slot.starts_at.astimezone(zone)
        day = local.date()
        assert day in s.days
        # on the grid, a time that exists, and its first occurrence
        assert local.second == 0
        assert (local.hour * 60 + local.minute) % rules.slot_rounding == 0
        assert local.fold == 0
        rebuilt = datetime.combine(day, local.time(), tzinfo=zone)
        assert rebuilt.astimezone(UTC) == slot.starts_at
        assert rebuilt.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == rebuilt.replace(
            tzinfo=None
        )
        # inside working time, by the provider's own clock
        schedule = by_id[slot.provider_id]
        assert kind.offered_by(slot.provider_id)
        assert minutes_between(slot.starts_at, slot.ends_at) <= working_minutes(zone, schedule, day)
        # notice, horizon, cap, or just not in the past for staff
        assert slot.starts_at >= now
        if not for_staff:
            assert slot.starts_at >= now + rules.min_notice
            assert day <= today + timedelta(days=rules.horizon_days)
            mine = busy.get(slot.provider_id, [])
            if rules.daily_cap is not None:
                assert bookings_on(mine, day, zone) < rules.daily_cap
        # the buffered slot clashes with nothing
        guarded = (slot.starts_at - kind.buffer_before, slot.ends_at + kind.buffer_after)
        for a, b in busy.get(slot.provider_id, []):
            assert not (guarded[0] < b and a < guarded[1]), (slot, (a, b))


@PROPERTY_SETTINGS
@given(scenarios())
def test_any_provider_is_each_providers_offer_given_to_the_least_busy(s: Scenario) -> None:
    zone, busy = s.zone, s.busy
    order = [p.provider_id for p in s.schedules]

    anyone = s.run(None)
    each = {p: s.run(p) for p in order}

    candidates: dict[datetime, list[uuid.UUID]] = {}
    for p in order:
        for slot in each[p]:
            candidates.setdefault(slot.starts_at, []).append(p)
    expected = [
        min(
            candidates[start],
            key=lambda p: (
                bookings_on(busy.get(p, []), local_day(start, zone), zone),
                order.index(p),
            ),
        )
        for start in sorted(candidates)
    ]
    assert [slot.starts_at for slot in anyone] == sorted(candidates)
    assert [slot.provider_id for slot in anyone] == expected
    for limit in (1, 3):
        assert s.run(None, limit) == anyone[:limit]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(scenarios(quiet=True), scenarios()))
def test_every_grid_time_that_fits_is_offered(s: Scenario) -> None:
    """Brute force, minute by minute over real instants, for one provider at the desk:
    every instant whose local time is on the grid, at its first occurrence, not in the
    past, with the whole appointment in working time and its buffers clear of bookings.
    (Quiet days, without bookings or exceptions, are drawn half the time.)"""
    s = replace(s, for_staff=True)
    zone, rules, kind, now = s.zone, s.rules, s.kind, s.now
    schedule = s.schedules[0]
    busy = s.busy.get(schedule.provider_id, [])
    day = s.days[0]

    offered = {
        slot.starts_at
        for slot in s.run(schedule.provider_id)
        if local_day(slot.starts_at, zone) == day
    }

    working = working_minutes(zone, schedule, day)
    midnight = int(datetime.combine(day, time(0)).replace(tzinfo=UTC).timestamp())
    expected = set()
    for u in range(midnight - 16 * 3600, midnight + 40 * 3600, 60):
        local = datetime.fromtimestamp(u, zone)
        if local.date() != day or local.fold or local.second:
            continue
        if (local.hour * 60 + local.minute) % rules.slot_rounding:
            continue
        start = datetime.fromtimestamp(u, UTC)
        end = start + kind.duration
        if start < now or not kind.offered_by(schedule.provider_id):
            continue
        if not minutes_between(start, end) <= working:
            continue
        guarded = (start - kind.buffer_before, end + kind.buffer_after)
        if any(guarded[0] < b and a < guarded[1] for a, b in busy):
            continue
        expected.add(start)
    assert offered == expected
