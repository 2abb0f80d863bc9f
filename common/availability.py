"""The availability engine: which appointment starts to offer, as a pure function.

The server calls it to answer patients (the widget, links, the portal) and to re-check a
booking; the desk calls it offline to find free time. Both must get the same answer from
the same facts, so everything it needs comes in as arguments: the providers' weeks and
exceptions (``common.scheduling``), their busy intervals, the appointment type, the
clinic's booking rules, its time zone and "now". Nothing here reads a clock or a database.

The rules
---------

1. **Working time.** A provider works, on a local day, the ``WorkingRange``s of that
   weekday plus the timed ``EXTRA_HOURS`` exceptions covering the day, minus the
   ``TIME_OFF`` and ``CLOSURE`` exceptions covering it (all-day ones remove the whole
   day, timed ones their window). An exception applies to a provider when its
   ``provider_id`` is that provider or None (the whole clinic); one naming another
   provider is ignored even if it was passed in. All-day extra hours are ignored: "works
   all day" is not a shift anyone means, and guessing 24 hours would offer 3 a.m. slots.
   A timed exception ending at 00:00 runs to the end of its day; one otherwise ending
   before it starts is ignored.
2. **Starts and fit.** Candidate starts are local wall-clock times whose reading
   (hour × 60 + minute, counted on the clock from midnight, not in elapsed time) is a
   multiple of the rounding (``BookingRules.slot_rounding``), so starts read
   :00/:15/:30/:45 on the clinic's clock all year, also after a half-hour shift. The appointment
   ``[start, start + duration)`` must lie inside working time, measured in real elapsed
   time. Buffers (``[start - buffer_before, end + buffer_after)``) must not overlap any
   busy interval of the provider, but need not fit inside working hours: buffers keep
   other appointments away; they are not the patient's time, and a 09:00 first
   appointment with a 10-minute setup buffer is normal.
3. **Daylight saving.** A nonexistent local time (in a spring-forward gap) is never
   offered. An ambiguous local time (the repeated hour after a fall-back) is offered only
   at its first occurrence (fold=0), so a patient never sees the same clock time twice
   in one day. Working-range and exception boundaries: a boundary in a gap moves to the
   transition instant (the first real instant after the gap); an ambiguous start takes
   its first occurrence and an ambiguous end its second, so a range covers everything its
   clock times cover. Local times are always built as wall-clock values and mapped to UTC
   through the day's offsets, never by adding timedeltas to aware local datetimes.
4. **Patients versus staff.** Patients (``for_staff=False``) get starts at least
   ``min_notice`` after now, on local dates no later than today + ``horizon_days``;
   with a ``daily_cap``, a provider already holding that many busy intervals starting on
   a local day offers nothing more that day; a type not ``bookable_online`` offers
   nothing; "any provider" must be allowed by ``allow_any_provider``. Staff at the desk
   are exempt from all of that, but are never offered a start in the past. Rounding binds
   both.
5. Only providers who offer the appointment type (``offered_by``) are considered.
6. **Any provider.** Each distinct start instant is offered once, by the provider with
   the fewest busy intervals starting on that local day (real bookings only, not the
   slots handed out in the same answer), ties going to the order of ``schedules``: first
   available, spread fairly.
7. **Cut-offs.** Patients may cancel (or reschedule) while at least the cancel (or
   reschedule) cut-off remains before the start; a cancellation inside the cancel cut-off
   is a late one.

How it stays fast
-----------------

Instants are integer epoch seconds inside. Each provider's busy intervals are sorted and
merged once and turned into the set of starts they allow; each local day's offsets are
computed once (and cached per zone and date, since zone lookups are the slow part); the
grid starts of a day are arithmetic progressions in UTC, cut against working time and the
allowed starts with ``bisect``. ``datetime`` objects are built only for offered slots.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from math import ceil, floor
from zoneinfo import ZoneInfo

from common.errors import InvalidInput
from common.scheduling import (
    AppointmentTypeRules,
    BookingRules,
    ExceptionKind,
    ProviderSchedule,
    ScheduleException,
)

Interval = tuple[datetime, datetime]  # UTC-aware instants, half-open [start, end)

DAY = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_ONE_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# No zone's offset has ever reached 16 hours either way (LMT included), so every instant
# whose wall-clock date is a given day lies within these margins of that day's midnight.
_OFFSET_BOUND = 16 * 3600
# Offsets are sampled this far apart when looking for transitions around a day. The
# closest two transitions of one zone come in tzdb is about four days (Freetown, 1939),
# so a day-wide step never misses one and costs a handful of lookups per day.
_SAMPLE_STEP = 24 * 3600
_FAR = 2**62  # further than any instant, in seconds
_NO_WINDOW = (0, 0)


@dataclass(frozen=True, slots=True)
class OfferedSlot:
    provider_id: uuid.UUID
    starts_at: datetime  # UTC-aware
    ends_at: datetime  # UTC-aware; starts_at + type.duration


class AnyProviderNotAllowed(InvalidInput, ValueError):
    """A patient asked for "no preference" where the clinic wants them to choose.

    An ``InvalidInput`` so the server answers 422 with this message, and a ``ValueError``
    because it is one: the arguments were not acceptable for these rules.
    """


def available_slots(
    schedules: Sequence[ProviderSchedule],
    busy: Mapping[uuid.UUID, Sequence[Interval]],
    appointment_type: AppointmentTypeRules,
    rules: BookingRules,
    *,
    zone: ZoneInfo,
    now: datetime,
    first_day: date,
    last_day: date,
    provider_id: uuid.UUID | None = None,
    for_staff: bool = False,
    limit: int | None = None,
) -> list[OfferedSlot]:
    """The starts to offer for ``appointment_type`` on the local days ``first_day`` to
    ``last_day`` (inclusive), earliest first, by the rules of this module's docstring.

    ``provider_id`` None asks for any provider (one slot per start instant); ``limit``
    stops after that many slots, which lets "the next few free times" stay cheap.
    """
    if provider_id is None and not for_staff and not rules.allow_any_provider:
        raise AnyProviderNotAllowed(
            "This clinic asks patients to choose a provider: \u201cany provider\u201d is not "
            "offered for online booking."
        )
    _check_now(now)
    if not for_staff and not appointment_type.bookable_online:
        return []
    now_s = _ceil_seconds(now)
    if for_staff:
        earliest = now_s
    else:
        earliest = now_s + _ceil_seconds_delta(rules.min_notice)
        today = now.astimezone(zone).date()
        last_day = min(last_day, today + timedelta(days=rules.horizon_days))
    chosen = [
        s
        for s in schedules
        if appointment_type.offered_by(s.provider_id)
        and (provider_id is None or s.provider_id == provider_id)
    ]
    return _search(
        chosen,
        busy,
        duration=appointment_type.duration,
        buffer_before=appointment_type.buffer_before,
        buffer_after=appointment_type.buffer_after,
        rounding=rules.slot_rounding,
        daily_cap=None if for_staff else rules.daily_cap,
        zone=zone,
        earliest=earliest,
        first_day=first_day,
        last_day=last_day,
        limit=limit,
    )


def next_free(
    schedules: Sequence[ProviderSchedule],
    busy: Mapping[uuid.UUID, Sequence[Interval]],
    duration: timedelta,
    *,
    zone: ZoneInfo,
    now: datetime,
    provider_id: uuid.UUID | None = None,
    rounding: int = 15,
    search_days: int = 60,
) -> OfferedSlot | None:
    """The desk's free-slot finder: the first free ``duration`` from now with that
    provider (or any, spread fairly), on a ``rounding``-minute grid, looking at today and
    the next ``search_days - 1`` local days. Staff rules: no notice, horizon or caps, no
    buffers (there is no appointment type yet)."""
    if not 1 <= rounding <= 24 * 60:
        raise ValueError("rounding must be between 1 and 1440 minutes")
    if search_days < 1:
        return None
    _check_now(now)
    today = now.astimezone(zone).date()
    chosen = [s for s in schedules if provider_id is None or s.provider_id == provider_id]
    found = _search(
        chosen,
        busy,
        duration=duration,
        buffer_before=timedelta(0),
        buffer_after=timedelta(0),
        rounding=rounding,
        daily_cap=None,
        zone=zone,
        earliest=_ceil_seconds(now),
        first_day=today,
        last_day=today + timedelta(days=search_days - 1),
        limit=1,
    )
    return found[0] if found else None


def may_patient_cancel(rules: BookingRules, starts_at: datetime, now: datetime) -> bool:
    """Patients may cancel themselves only where the clinic allows it and early enough
    for the clinic to offer the time to someone else."""
    return rules.patients_may_cancel and starts_at - now >= rules.patient_cancel_cutoff


def may_patient_reschedule(rules: BookingRules, starts_at: datetime, now: datetime) -> bool:
    """Moving an appointment frees its time like a cancellation does, so it is only
    allowed where cancelling is, and early enough by the reschedule cut-off."""
    return rules.patients_may_cancel and starts_at - now >= rules.patient_reschedule_cutoff


def is_late_cancellation(rules: BookingRules, starts_at: datetime, now: datetime) -> bool:
    """Inside the cancel cut-off: too late to give the time to someone else (clinics
    track these, and some charge for them)."""
    return starts_at - now < rules.patient_cancel_cutoff


# --- the search ----------------------------------------------------------------------


def within_working_time(
    schedule: ProviderSchedule, zone: ZoneInfo, starts_at: datetime, ends_at: datetime
) -> bool:
    """True when ``[starts_at, ends_at)`` lies wholly inside the provider's working time
    (rule 1: their week, extra hours, time off and closures), measured as the search
    measures it. Staff may still book outside it; the desk warns them that it is."""
    _check_now(starts_at)
    start, end = floor(starts_at.timestamp()), _ceil_seconds(ends_at)
    if end <= start:
        return False
    # The local days the appointment touches, with a day either side for offsets.
    first_day = _utc_day(start) - timedelta(days=1)
    last_day = _utc_day(end) + timedelta(days=1)
    provider = _Provider.build(0, schedule, (), 1, 0, 0, first_day, last_day)
    spans = sorted(
        span
        for ordinal in range(first_day.toordinal(), last_day.toordinal() + 1)
        for span in provider.working(ordinal, _day_clock(zone, ordinal))
    )
    reached = None  # the end of the working stretch that holds ``start``, so far
    for a, b in spans:
        if reached is None:
            if a <= start < b:
                reached = b
        elif a <= reached:
            reached = max(reached, b)  # working on across midnight
        if reached is not None and reached >= end:
            return True
    return False


def _search(
    schedules: Sequence[ProviderSchedule],
    busy: Mapping[uuid.UUID, Sequence[Interval]],
    *,
    duration: timedelta,
    buffer_before: timedelta,
    buffer_after: timedelta,
    rounding: int,
    daily_cap: int | None,
    zone: ZoneInfo,
    earliest: int,
    first_day: date,
    last_day: date,
    limit: int | None,
) -> list[OfferedSlot]:
    """Walks the local days in order; for each, every provider's grid starts that fit
    their working time and their allowed starts, then one slot per start instant."""
    if duration <= timedelta(0):
        raise ValueError("an appointment must last some time")
    if not schedules or first_day > last_day or (limit is not None and limit <= 0):
        return []
    # Nothing can start before ``earliest``: skip the days that end before it.
    first_day = max(first_day, _utc_day(earliest) - timedelta(days=2))
    if first_day > last_day:
        return []
    dur = _ceil_seconds_delta(duration)
    before = _ceil_seconds_delta(buffer_before)
    after = _ceil_seconds_delta(buffer_after)
    step = rounding * 60
    providers = [
        _Provider.build(
            index, s, busy.get(s.provider_id, ()), dur, before, after, first_day, last_day
        )
        for index, s in enumerate(schedules)
    ]
    found: list[tuple[int, int]] = []  # (start, provider index), earliest first
    ordinals = range(first_day.toordinal(), last_day.toordinal() + 1)
    for position, ordinal in enumerate(ordinals):
        clock = _day_clock(zone, ordinal)
        if not clock.pieces:
            continue  # a day the zone skipped entirely (Samoa, 2011-12-30)
        if clock.utc_end <= earliest:
            continue
        grid = clock.grid(step)
        spans = [
            (datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC))
            for a, b in clock.utc_spans
        ]
        offers: list[tuple[int, int, list[int]]] = []  # (bookings that day, index, starts)
        for p in providers:
            bookings = p.bookings_between(spans)
            if daily_cap is not None and bookings >= daily_cap:
                continue
            starts = p.starts_on(ordinal, clock, grid, step, earliest)
            if starts:
                offers.append((bookings, p.index, starts))
        if len(offers) == 1:
            _, index, starts = offers[0]
            found.extend((s, index) for s in starts)
        elif offers:
            offers.sort(key=lambda o: (o[0], o[1]))
            owner: dict[int, int] = {}
            for _, index, starts in offers:
                for s in starts:
                    owner.setdefault(s, index)
            found.extend(sorted(owner.items()))
        if limit is not None and len(found) >= limit:
            # Local days follow each other in UTC unless a clock goes back across
            # midnight: stop once the next day cannot start before the slots kept.
            found.sort()
            later = (_day_clock(zone, o) for o in ordinals[position + 1 :])
            following = next((c for c in later if c.pieces), None)
            if following is None or found[limit - 1][0] < following.utc_start:
                break
    found.sort()
    if limit is not None:
        del found[limit:]
    slots: list[OfferedSlot] = []
    for s, index in found:
        starts_at = datetime.fromtimestamp(s, UTC)
        slots.append(OfferedSlot(providers[index].provider_id, starts_at, starts_at + duration))
    return slots


@dataclass(slots=True)
class _Provider:
    """One provider, prepared for a search: their week as seconds after midnight, their
    exceptions by day, their bookings' starts (for caps and fairness) and the starts
    their busy intervals allow, as sorted disjoint closed ranges ``[lows[i], highs[i]]``.
    """

    index: int
    provider_id: uuid.UUID
    week: tuple[tuple[tuple[int, int], ...], ...]
    adds: dict[int, list[tuple[int, int]]]
    removes: dict[int, list[tuple[int, int]]]
    off_all_day: set[int]
    booking_starts: list[datetime]
    lows: list[int]
    highs: list[int]
    dur: int

    @classmethod
    def build(
        cls,
        index: int,
        schedule: ProviderSchedule,
        busy: Sequence[Interval],
        dur: int,
        before: int,
        after: int,
        first_day: date,
        last_day: date,
    ) -> _Provider:
        week: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for r in schedule.week:
            week[r.weekday].append((_seconds(r.start), _seconds(r.end)))
        adds: dict[int, list[tuple[int, int]]] = {}
        removes: dict[int, list[tuple[int, int]]] = {}
        off_all_day: set[int] = set()
        lo, hi = first_day.toordinal(), last_day.toordinal()
        for e in schedule.exceptions:
            if e.provider_id is not None and e.provider_id != schedule.provider_id:
                continue
            window = _window(e)
            adding = e.kind is ExceptionKind.EXTRA_HOURS
            if window == _NO_WINDOW or (adding and window is None):
                continue
            for ordinal in range(
                max(lo, e.first_day.toordinal()), min(hi, e.last_day.toordinal()) + 1
            ):
                if window is None:
                    off_all_day.add(ordinal)
                else:
                    (adds if adding else removes).setdefault(ordinal, []).append(window)

        # Sorting and merging compare datetimes (in C); only the merged intervals, far
        # fewer on a busy day, are turned into seconds.
        ordered = sorted(busy)
        booking_starts = [iv[0] for iv in ordered]
        lows: list[int] = []
        highs: list[int] = []
        # A start s is allowed when its buffered appointment [s - before, s + dur + after)
        # fits in a gap: s in [end of the previous busy + before, next busy - dur - after].
        low = -_FAR
        run_start: datetime | None = None
        run_end = _EPOCH
        for a, b in ordered:
            if b <= a:
                continue  # empty: blocks nothing
            if run_start is not None and a <= run_end:
                if b > run_end:
                    run_end = b
                continue
            if run_start is not None:
                high = floor(run_start.timestamp()) - dur - after
                if low <= high:
                    lows.append(low)
                    highs.append(high)
                low = ceil(run_end.timestamp()) + before
            run_start, run_end = a, b
        if run_start is not None:
            high = floor(run_start.timestamp()) - dur - after
            if low <= high:
                lows.append(low)
                highs.append(high)
            low = ceil(run_end.timestamp()) + before
        lows.append(low)
        highs.append(_FAR)
        return cls(
            index,
            schedule.provider_id,
            tuple(tuple(sorted(day)) for day in week),
            adds,
            removes,
            off_all_day,
            booking_starts,
            lows,
            highs,
            dur,
        )

    def bookings_between(self, spans: Sequence[Interval]) -> int:
        """Busy intervals starting within the day's stretches of UTC."""
        starts = self.booking_starts
        return sum(bisect_left(starts, b) - bisect_left(starts, a) for a, b in spans)

    def working(self, ordinal: int, clock: _DayClock) -> list[tuple[int, int]]:
        """The day's working time as sorted, disjoint UTC intervals."""
        if ordinal in self.off_all_day:
            return []
        windows = list(self.week[(ordinal + 6) % 7])  # ordinal 1 (0001-01-01) is a Monday
        extra = self.adds.get(ordinal)
        if extra:
            windows.extend(extra)
        if not windows:
            return []
        spans = sorted(clock.span(a, b) for a, b in windows)
        merged: list[tuple[int, int]] = []
        for a, b in spans:
            if a >= b:
                continue
            if merged and a <= merged[-1][1]:
                if b > merged[-1][1]:
                    merged[-1] = (merged[-1][0], b)
            else:
                merged.append((a, b))
        for ra, rb in (clock.span(a, b) for a, b in self.removes.get(ordinal, ())):
            if ra >= rb:
                continue
            kept: list[tuple[int, int]] = []
            for a, b in merged:
                if rb <= a or b <= ra:
                    kept.append((a, b))
                    continue
                if a < ra:
                    kept.append((a, ra))
                if rb < b:
                    kept.append((rb, b))
            merged = kept
        return merged

    def starts_on(
        self,
        ordinal: int,
        clock: _DayClock,
        grid: tuple[tuple[int, int], ...],
        step: int,
        earliest: int,
    ) -> list[int]:
        """The grid starts this provider can take on the day, sorted."""
        out: list[int] = []
        lows, highs = self.lows, self.highs
        count = len(lows)
        for a, b in self.working(ordinal, clock):
            x = a if a > earliest else earliest
            y = b - self.dur
            if x > y:
                continue
            i = bisect_left(highs, x)
            while i < count and lows[i] <= y:
                u = lows[i] if lows[i] > x else x
                v = highs[i] if highs[i] < y else y
                i += 1
                for first, last in grid:
                    if last < u:
                        continue
                    if first > v:
                        break
                    k0 = first if first >= u else first + -((first - u) // step) * step
                    k1 = last if last <= v else first + ((v - first) // step) * step
                    if k0 <= k1:
                        out.extend(range(k0, k1 + 1, step))
        return out


# --- local days ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _DayClock:
    """One local day of one zone: its wall clock as pieces ``(wall_lo, wall_hi, offset)``
    in UTC order, wall times in seconds since 1970-01-01 00:00 *local*, so that within a
    piece ``utc = wall - offset``. A normal day is one piece; a spring-forward day two with
    a gap between them; a fall-back day two whose wall ranges overlap (the repeated hour).
    """

    midnight: int
    pieces: tuple[tuple[int, int, int], ...]

    @property
    def utc_spans(self) -> tuple[tuple[int, int], ...]:
        return tuple((lo - off, hi - off) for lo, hi, off in self.pieces)

    @property
    def utc_start(self) -> int:
        lo, _, off = self.pieces[0]
        return lo - off

    @property
    def utc_end(self) -> int:
        _, hi, off = self.pieces[-1]
        return hi - off

    def span(self, start: int, end: int) -> tuple[int, int]:
        """A window of seconds after local midnight as a UTC interval: an ambiguous start
        at its first occurrence, an ambiguous end at its last, a time in a gap at the
        transition instant; ``end`` of a whole day (86,400) is the day's last instant."""
        return self._resolve(self.midnight + start, True), (
            self.utc_end if end >= DAY else self._resolve(self.midnight + end, False)
        )

    def _resolve(self, wall: int, first: bool) -> int:
        pieces = self.pieces
        if len(pieces) == 1:
            lo, hi, off = pieces[0]
            if lo <= wall < hi:
                return wall - off
        found: int | None = None
        for lo, hi, off in pieces:
            if lo <= wall < hi:
                if first:
                    return wall - off
                found = wall - off
        if found is not None:
            return found
        for lo, _, off in pieces:  # in a gap: the first instant after it
            if lo > wall:
                return lo - off
        return self.utc_end

    def grid(self, step: int) -> tuple[tuple[int, int], ...]:
        """The day's wall-clock grid times as UTC progressions ``(first, last)`` with
        ``step`` seconds between starts, each wall time once (its first occurrence) and
        never a time in a gap."""
        return _grid(self, step)


@lru_cache(maxsize=16_384)
def _grid(clock: _DayClock, step: int) -> tuple[tuple[int, int], ...]:
    midnight = clock.midnight
    covered: list[tuple[int, int]] = []  # wall ranges already offered by earlier pieces
    out: list[tuple[int, int]] = []
    for lo, hi, off in clock.pieces:
        fresh = [(lo, hi)]
        for c_lo, c_hi in covered:
            fresh = [
                part
                for f_lo, f_hi in fresh
                for part in ((f_lo, min(f_hi, c_lo)), (max(f_lo, c_hi), f_hi))
                if part[0] < part[1]
            ]
        covered.append((lo, hi))
        for f_lo, f_hi in fresh:
            first = midnight - ((midnight - f_lo) // step) * step  # first grid time ≥ f_lo
            last = midnight + ((f_hi - 1 - midnight) // step) * step  # last grid time < f_hi
            if first <= last:
                out.append((first - off, last - off))
    out.sort()
    return tuple(out)


@lru_cache(maxsize=16_384)
def _day_clock(zone: ZoneInfo, ordinal: int) -> _DayClock:
    """The day's pieces, from the zone's transitions around it (found by sampling the
    offset and bisecting to the second where it changes)."""
    midnight = (ordinal - _EPOCH_ORDINAL) * DAY
    lo, hi = midnight - _OFFSET_BOUND, midnight + DAY + _OFFSET_BOUND
    changes: list[tuple[int, int]] = [(lo, _offset(zone, lo))]  # (utc from, offset)
    t = lo
    while t < hi:
        u = min(t + _SAMPLE_STEP, hi)
        off = _offset(zone, u)
        if off != changes[-1][1]:
            a, b = t, u  # offset(a) is the old one, offset(b) the new one
            while b - a > 1:
                m = (a + b) // 2
                if _offset(zone, m) == off:
                    b = m
                else:
                    a = m
            changes.append((b, off))
        t = u
    pieces: list[tuple[int, int, int]] = []
    for i, (start, off) in enumerate(changes):
        end = changes[i + 1][0] if i + 1 < len(changes) else hi
        wall_lo, wall_hi = max(start + off, midnight), min(end + off, midnight + DAY)
        if wall_lo < wall_hi:
            pieces.append((wall_lo, wall_hi, off))
    return _DayClock(midnight, tuple(pieces))


def _offset(zone: ZoneInfo, utc: int) -> int:
    offset = datetime.fromtimestamp(utc, zone).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset // _ONE_SECOND


# --- small conversions ---------------------------------------------------------------


def _check_now(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime (UTC)")


def _ceil_seconds(instant: datetime) -> int:
    return ceil(instant.timestamp())


def _ceil_seconds_delta(delta: timedelta) -> int:
    return -(-delta // _ONE_SECOND)


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _utc_day(epoch: int) -> date:
    return date.fromordinal(epoch // DAY + _EPOCH_ORDINAL)


def _window(e: ScheduleException) -> tuple[int, int] | None:
    """A timed exception's seconds after midnight (an end of 00:00 is the end of the
    day); None when it is all day, ``_NO_WINDOW`` when it ends before it starts."""
    if e.start is None or e.end is None:
        return None
    start, end = _seconds(e.start), _seconds(e.end)
    if end == 0:
        end = DAY
    return (start, end) if end > start else _NO_WINDOW
