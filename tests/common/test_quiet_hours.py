"""Sending windows: examples for the daylight-saving corners, then a property over every
IANA zone checked minute by minute with the standard library's own conversions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.quiet_hours import QuietHours, is_allowed, next_allowed

DAYTIME = QuietHours()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- examples --------------------------------------------------------------------------


def test_default_window_is_eight_to_eight() -> None:
    assert QuietHours(time(8), time(20)) == DAYTIME


def test_inside_the_window_is_now() -> None:
    now = utc(2026, 1, 15, 12, 0, 7, 123)
    assert next_allowed(now, "Europe/London", DAYTIME) == now
    assert is_allowed(now, "Europe/London", DAYTIME)


def test_before_the_window_waits_for_the_opening() -> None:
    assert next_allowed(utc(2026, 1, 15, 7, 0), "Europe/London", DAYTIME) == utc(2026, 1, 15, 8)


def test_window_closes_at_its_end_and_reopens_next_morning() -> None:
    assert is_allowed(utc(2026, 1, 15, 19, 59, 59, 999_999), "Europe/London", DAYTIME)
    assert not is_allowed(utc(2026, 1, 15, 20), "Europe/London", DAYTIME)
    assert next_allowed(utc(2026, 1, 15, 20), "Europe/London", DAYTIME) == utc(2026, 1, 16, 8)


def test_summer_time_moves_the_opening_in_utc() -> None:
    assert next_allowed(utc(2026, 7, 1, 3), "Europe/London", DAYTIME) == utc(2026, 7, 1, 7)
    assert is_allowed(utc(2026, 7, 1, 7, 30), "Europe/London", DAYTIME)


def test_result_is_utc_for_a_now_given_in_another_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    now = datetime(2026, 1, 15, 6, 0, tzinfo=paris)
    result = next_allowed(now, "Europe/Paris", DAYTIME)
    assert result == datetime(2026, 1, 15, 8, 0, tzinfo=paris)
    assert result.tzinfo is UTC


def test_patient_far_east_of_utc_is_already_on_tomorrow() -> None:
    # Kiritimati is UTC+14: 07:00 UTC on the 15th is 21:00 there, 19:00 UTC is 09:00 on the 16th.
    assert next_allowed(utc(2026, 1, 15, 7), "Pacific/Kiritimati", DAYTIME) == utc(2026, 1, 15, 18)
    assert is_allowed(utc(2026, 1, 15, 19), "Pacific/Kiritimati", DAYTIME)


def test_patient_far_west_of_utc_is_still_on_yesterday() -> None:
    # Pago Pago is UTC-11: 08:00 UTC on the 16th is 21:00 on the 15th there.
    assert next_allowed(utc(2026, 1, 16, 8), "Pacific/Pago_Pago", DAYTIME) == utc(2026, 1, 16, 19)
    assert is_allowed(utc(2026, 1, 16, 5), "Pacific/Pago_Pago", DAYTIME)


def test_opening_in_a_spring_forward_gap_opens_when_the_clocks_jump() -> None:
    # London, 29 March 2026: at 01:00 UTC the clock goes from 01:00 to 02:00; 01:30 never is.
    hours = QuietHours(time(1, 30), time(4))
    assert next_allowed(utc(2026, 3, 29, 0, 10), "Europe/London", hours) == utc(2026, 3, 29, 1)
    assert not is_allowed(utc(2026, 3, 29, 0, 59), "Europe/London", hours)


def test_window_wholly_in_the_gap_waits_for_the_next_day() -> None:
    # New York, 8 March 2026: 02:00 EST jumps to 03:00 EDT, so 02:15–02:45 does not happen.
    hours = QuietHours(time(2, 15), time(2, 45))
    result = next_allowed(utc(2026, 3, 8, 5), "America/New_York", hours)
    assert result == utc(2026, 3, 9, 6, 15)  # 02:15 EDT


def test_half_hour_daylight_saving_gap() -> None:
    # Lord Howe Island, 4 October 2026: 02:00 (+10:30) jumps to 02:30 (+11) at 15:30 UTC.
    hours = QuietHours(time(2, 15), time(6))
    assert next_allowed(utc(2026, 10, 3, 14), "Australia/Lord_Howe", hours) == utc(
        2026, 10, 3, 15, 30
    )


def test_ambiguous_opening_takes_its_first_occurrence() -> None:
    # London, 25 October 2026: 02:00 BST goes back to 01:00 GMT at 01:00 UTC.
    hours = QuietHours(time(1, 30), time(5))
    assert next_allowed(utc(2026, 10, 24, 23, 30), "Europe/London", hours) == utc(
        2026, 10, 25, 0, 30
    )


def test_clocks_going_back_into_the_window_reopen_it() -> None:
    # 01:45 BST is past a 01:00–01:30 window, but at 01:00 UTC the clock reads 01:00 again.
    hours = QuietHours(time(1), time(1, 30))
    assert next_allowed(utc(2026, 10, 25, 0, 45), "Europe/London", hours) == utc(2026, 10, 25, 1)
    # ... and a window that opens at 01:30 opens for the second time at 01:30 GMT.
    later = QuietHours(time(1, 30), time(1, 45))
    assert next_allowed(utc(2026, 10, 25, 0, 50), "Europe/London", later) == utc(
        2026, 10, 25, 1, 30
    )


@pytest.mark.parametrize(("start", "end"), [(time(20), time(8)), (time(9), time(9))])
def test_window_must_open_before_it_closes(start: time, end: time) -> None:
    with pytest.raises(ValueError, match="must open before it closes") as caught:
        QuietHours(start, end)
    assert f"from {start:%H:%M} until {end:%H:%M}" in str(caught.value)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_allowed(datetime(2026, 1, 1, 12), "Europe/London", DAYTIME)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "Europe", "../etc/passwd"])
def test_unknown_zone_is_refused_in_words(zone: str) -> None:
    with pytest.raises(ValueError, match="not a time zone we know"):
        next_allowed(utc(2026, 1, 1), zone, DAYTIME)
    with pytest.raises(ValueError, match="not a time zone we know"):
        is_allowed(utc(2026, 1, 1), zone, DAYTIME)


# --- property ------------------------------------------------------------------------

ZONES = sorted(available_timezones())
FIRST, LAST = utc(2020, 1, 1), utc(2035, 12, 31)


@cache
def offset_change_days(zone: str, year: int) -> tuple[date, ...]:
    """The days (UTC) on which the zone's offset changes, found by reading it at noon."""
    tz = ZoneInfo(zone)
    days, previous = [], None
    day = date(year, 1, 1)
    while day.year == year:
        offset = datetime(day.year, day.month, day.day, 12, tzinfo=UTC).astimezone(tz).utcoffset()
        if previous is not None and offset != previous:
            days.append(day)
        previous, day = offset, day + timedelta(days=1)
    return tuple(days)


@st.composite
def moments(draw: st.DrawFn, zone: str) -> datetime:
    """Any instant, or one within two days of one of the zone's offset changes."""
    year = draw(st.integers(2020, 2035))
    changes = offset_change_days(zone, year)
    if changes and draw(st.booleans()):
        day = draw(st.sampled_from(changes))
        around = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return around + timedelta(seconds=draw(st.integers(-2 * 86400, 2 * 86400)))
    return draw(st.datetimes(FIRST.replace(tzinfo=None), LAST.replace(tzinfo=None))).replace(
        tzinfo=UTC
    )


@st.composite
def windows(draw: st.DrawFn) -> QuietHours:
    """The default, any window, or a short one in the small hours where clocks change."""
    kind = draw(st.sampled_from(["default", "any", "small hours"]))
    if kind == "default":
        return DAYTIME
    if kind == "any":
        start = draw(st.integers(0, 23 * 60 + 58))
        end = draw(st.integers(start + 1, 23 * 60 + 59))
    else:
        start = draw(st.integers(0, 4 * 60))
        end = start + draw(st.sampled_from([1, 15, 30, 60, 90, 180]))
    return QuietHours(time(*divmod(start, 60)), time(*divmod(end, 60)))


def oracle(now: datetime, zone: str, hours: QuietHours) -> datetime:
    """The first allowed instant, by reading the local clock at ``now`` and then at every
    whole minute after it (windows open on whole minutes; offsets change on whole minutes)."""
    tz = ZoneInfo(zone)

    def inside(moment: datetime) -> bool:
        return hours.start <= moment.astimezone(tz).time() < hours.end

    if inside(now):
        return now
    moment = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while not inside(moment):
        moment += timedelta(minutes=1)
    return moment


@settings(max_examples=300, deadline=None)
@given(data=st.data(), zone=st.sampled_from(ZONES), hours=windows())
def test_next_allowed_is_the_first_allowed_instant(
    data: st.DataObject, zone: str, hours: QuietHours
) -> None:
    now = data.draw(moments(zone))
    result = next_allowed(now, zone, hours)
    assert result.tzinfo is UTC
    assert result >= now
    assert is_allowed(result, zone, hours)
    if result != now:
        assert not is_allowed(result - timedelta(minutes=1), zone, hours)
    assert result == oracle(now, zone, hours)
