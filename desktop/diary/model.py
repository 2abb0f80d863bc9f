"""What the diary shows, as data: a range of days (one, or a week), the providers shown in
column order, their appointments and their working hours; and ``DiaryModel``, the table
the diary views and the printed day list read.

Loading runs on the ``db`` lane (``load_range``); everything here is plain data once it
reaches the UI thread.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from common.appointments import AppointmentSource, AppointmentStatus, Verdict, status_change_allowed
from common.scheduling import ExceptionKind, ProviderSchedule
from desktop.kit.table_model import ColumnsModel
from desktop.patients.alerts import alert_lines
from sync.protocol import STATUS_OF, AppointmentRecord
from sync.scheduling import AppointmentTypeRow, ClinicSchedule
from sync.store import DiaryEntry, ProviderRow, Store

Minutes = tuple[int, int]  # [start, end) in minutes after local midnight
DAY_MINUTES = 24 * 60
WEEK_DAYS = 7
ONLINE_SOURCES = {AppointmentSource.WIDGET, AppointmentSource.LINK, AppointmentSource.PORTAL}
ENTRY_ROLE = Qt.ItemDataRole.UserRole  # the row's DiaryEntry
# An appointment of no particular type: a grey no type or provider has, dark enough for
# white words (contrast 5.8:1).
UNTYPED = "#5f6673"


def allowed(kind: str, entry: DiaryEntry, zone: ZoneInfo, now: datetime) -> Verdict:
    """Whether the status change ``kind`` ("check_in", …) is one the server will accept
    now, and if not, why (the same rule the server applies)."""
    if kind not in STATUS_OF:
        return Verdict(False, "That is not a change of status.")
    return status_change_allowed(
        entry.status,
        STATUS_OF[kind],
        starts_at=entry.starts_at,
        ends_at=entry.ends_at,
        zone=zone,
        now=now,
    )


class Mode(StrEnum):
    DAY = "day"
    WEEK = "week"

    @property
    def days(self) -> int:
        return 1 if self is Mode.DAY else WEEK_DAYS


@dataclass(frozen=True)
class DiaryRange:
    """What the views draw: ``days`` local days from ``day``, the providers shown (in
    column order) and their appointments. ``working`` holds each shown provider's working
    time per day; a missing key means no hours are set up for them (nothing is greyed:
    unknown is not closed)."""

    day: date
    days: int
    zone: ZoneInfo
    providers: list[ProviderRow]
    entries: list[DiaryEntry]
    all_providers: list[ProviderRow] = field(default_factory=list)
    appointment_types: list[AppointmentTypeRow] = field(default_factory=list)
    working: dict[tuple[uuid.UUID, date], list[Minutes]] = field(default_factory=dict)
    fetched: bool = False  # outside the desk's window: fetched from the server just now

    @property
    def dates(self) -> list[date]:
        return [self.day + timedelta(days=n) for n in range(self.days)]

    @property
    def mode(self) -> Mode:
        return Mode.DAY if self.days == 1 else Mode.WEEK

    def provider(self, provider_id: uuid.UUID) -> ProviderRow | None:
        return next((p for p in self.all_providers or self.providers if p.id == provider_id), None)


FetchRange = Callable[[datetime, datetime], list[AppointmentRecord]]


def first_day_shown(day: date, mode: Mode) -> date:
    """The day itself, or the Monday of its week."""
    return day if mode is Mode.DAY else day - timedelta(days=day.weekday())


def range_bounds(day: date, days: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=days), time.min, tzinfo=zone)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return range_bounds(day, 1, zone)


def load_range(
    store: Store, day: date, days: int, zone: ZoneInfo, hidden: frozenset[uuid.UUID] = frozenset()
) -> DiaryRange:
    """Runs on the ``db`` lane: the range's bounds in UTC, then one range query."""
    start, end = range_bounds(day, days, zone)
    return _shown(store, day, days, zone, hidden, store.diary(start, end))


def fetch_range(
    store: Store,
    fetch: FetchRange,
    day: date,
    days: int,
    zone: ZoneInfo,
    hidden: frozenset[uuid.UUID] = frozenset(),
) -> DiaryRange:
    """Runs on the ``net`` lane, for days outside the window the desk keeps."""
    start, end = range_bounds(day, days, zone)
    entries = store.entries_for(fetch(start, end))
    return _shown(store, day, days, zone, hidden, entries, fetched=True)


def _shown(
    store: Store,
    day: date,
    days: int,
    zone: ZoneInfo,
    hidden: frozenset[uuid.UUID],
    entries: list[DiaryEntry],
    *,
    fetched: bool = False,
) -> DiaryRange:
    everyone = store.providers()
    shown = [p for p in everyone if p.id not in hidden]
    ids = {p.id for p in shown}
    schedule = store.schedule()
    return DiaryRange(
        day=day,
        days=days,
        zone=zone,
        providers=shown,
        entries=sorted((e for e in entries if e.provider_id in ids), key=lambda e: e.starts_at),
        all_providers=everyone,
        appointment_types=[t for t in schedule.appointment_types if t.active],
        working=working_time(schedule, ids, [day + timedelta(days=n) for n in range(days)]),
        fetched=fetched,
    )


# --- working hours, as wall-clock minutes for shading ------------------------------------


def working_time(
    schedule: ClinicSchedule, provider_ids: Iterable[uuid.UUID], days: list[date]
) -> dict[tuple[uuid.UUID, date], list[Minutes]]:
    wanted = set(provider_ids)
    out: dict[tuple[uuid.UUID, date], list[Minutes]] = {}
    for week in schedule.schedules():
        if week.provider_id not in wanted:
            continue
        for day in days:
            minutes = working_minutes(week, day)
            if minutes is not None:
                out[week.provider_id, day] = minutes
    return out


def working_minutes(schedule: ProviderSchedule, day: date) -> list[Minutes] | None:
    """The provider's working time on ``day`` by the clock (the rules of
    ``common.availability``: their week plus timed extra hours, minus time off and
    closures). None when they have no hours set up at all, unless the clinic is closed."""
    mine = [
        e
        for e in schedule.exceptions
        if e.covers(day) and e.provider_id in (None, schedule.provider_id)
    ]
    removals = [e for e in mine if e.kind is not ExceptionKind.EXTRA_HOURS]
    if any(e.all_day for e in removals):
        return []
    extra = [e for e in schedule.exceptions if e.kind is ExceptionKind.EXTRA_HOURS]
    if not schedule.week and not extra:
        return None
    windows = [
        (_minute(r.start), _minute(r.end)) for r in schedule.week if r.weekday == day.weekday()
    ]
    windows += [
        _window(e.start, e.end)
        for e in mine
        if e.kind is ExceptionKind.EXTRA_HOURS and e.start is not None and e.end is not None
    ]
    merged: list[Minutes] = []
    for start, end in sorted(w for w in windows if w[0] < w[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    for e in removals:
        if e.start is None or e.end is None:
            continue
        cut_start, cut_end = _window(e.start, e.end)
        kept: list[Minutes] = []
        for start, end in merged:
            if cut_end <= start or end <= cut_start:
                kept.append((start, end))
                continue
            if start < cut_start:
                kept.append((start, cut_start))
            if cut_end < end:
                kept.append((cut_end, end))
        merged = kept
    return merged


def _minute(clock: time) -> int:
    return clock.hour * 60 + clock.minute


def _window(start: time, end: time) -> Minutes:
    """An exception ending at 00:00 runs to the end of its day."""
    return _minute(start), _minute(end) or DAY_MINUTES


# --- words shown for an appointment -------------------------------------------------------


def booked_how(entry: DiaryEntry) -> str:
    return "Booked online" if entry.source in ONLINE_SOURCES else "Booked at the desk"


def status_text(entry: DiaryEntry) -> str:
    text = entry.status.label
    if entry.status is AppointmentStatus.ARRIVED:
        text = "✓ Arrived"
    return text + (" · not yet sent" if entry.pending else "")


def summary(entry: DiaryEntry, zone: ZoneInfo) -> str:
    """The hover text: who (and the staff alerts on their file), when, what, what state,
    how it was booked, how far the forms it waits for are filled in, and a video
    consultation's room."""
    start, end = entry.starts_at.astimezone(zone), entry.ends_at.astimezone(zone)
    lines = [entry.patient_name]
    if entry.patient_alerts:
        lines.append(alert_lines(entry.patient_alerts))
    lines.append(f"{start:%H:%M}–{end:%H:%M}")
    if entry.type_name:
        lines.append(entry.type_name)
    lines += [f"Status: {entry.status.label}", booked_how(entry)]
    forms = entry.forms.words()
    if forms:
        lines.append(forms)
    if entry.video_url:
        lines.append(f"Video: {entry.video_url}")
    if entry.pending:
        lines.append("Changed here, not yet sent to the server")
    return "\n".join(lines)


def time_text(entry: DiaryEntry, zone: ZoneInfo, *, with_day: bool = False) -> str:
    start, end = entry.starts_at.astimezone(zone), entry.ends_at.astimezone(zone)
    day = f"{start:%a %d %b} " if with_day else ""
    return f"{day}{start:%H:%M}–{end:%H:%M}"


# --- the table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    title: str
    value: Callable[[DiaryEntry, DiaryRange], str]


def _provider_name(entry: DiaryEntry, shown: DiaryRange) -> str:
    provider = shown.provider(entry.provider_id)
    return provider.display_name if provider else "Unknown provider"


COLUMNS = (
    Column("Time", lambda e, r: time_text(e, r.zone, with_day=r.days > 1)),
    Column("Provider", _provider_name),
    Column("Patient", lambda e, _r: e.patient_name),
    Column("Type", lambda e, _r: e.type_name or "—"),
    Column("Status", lambda e, _r: e.status.label),
    Column("Sent", lambda e, _r: "Not yet sent" if e.pending else "Sent"),
)
TYPE_COLUMN = 3


class DiaryModel(ColumnsModel):
    """The shown range's appointments, one row each, in time order then column order;
    columns are declared in ``COLUMNS``. ``ENTRY_ROLE`` gives a row's ``DiaryEntry``."""

    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__([c.title for c in COLUMNS])
        self.shown = DiaryRange(date.today(), 1, zone, [], [])
        self.rows: list[DiaryEntry] = []

    def set_range(self, shown: DiaryRange) -> None:
        order = {p.id: n for n, p in enumerate(shown.providers)}
        self.shown = shown
        self.set_rows(
            sorted(shown.entries, key=lambda e: (e.starts_at, order.get(e.provider_id, len(order))))
        )

    def cell(self, row: DiaryEntry, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[column].value(row, self.shown)
        if role == Qt.ItemDataRole.ToolTipRole:
            return summary(row, self.shown.zone)
        if role == Qt.ItemDataRole.DecorationRole and column == TYPE_COLUMN:
            return QColor(row.type_colour or UNTYPED)
        if role == ENTRY_ROLE:
            return row
        return None
