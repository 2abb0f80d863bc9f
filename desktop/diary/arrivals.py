"""Today's arrivals: the waiting room. Patients checked in (and those with their provider)
today, how long they have waited, and Start / Complete.

How long someone has waited is measured from the moment this desk first saw them
arrived: the server sends an appointment's status, not when it changed. A check-in made
at this desk is timed from the click; one seen in a sync, from that sync (at most a
minute or so late); one already arrived when this desk opened gets "≥", because they may
have been waiting longer. The times live in memory only, so a restart starts them again
(with "≥").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from common.appointments import AppointmentStatus
from desktop.diary.model import day_bounds
from desktop.kit.table_model import ColumnsModel
from desktop.kit.tasks import TaskRunner
from sync.store import DiaryEntry, ProviderRow, Store

REFRESH_MS = 60_000
WAITING = (AppointmentStatus.ARRIVED, AppointmentStatus.IN_PROGRESS)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Arrival:
    entry: DiaryEntry
    provider: str
    seen_at: datetime  # when this desk first saw (or made) the check-in
    witnessed: bool  # False: already arrived when this desk first looked


class ArrivalClock:
    """When each arrival was first seen here."""

    def __init__(self) -> None:
        self.seen: dict[uuid.UUID, tuple[datetime, bool]] = {}
        self.looked = False  # whether a list has been read since the desk opened

    def checked_in_here(self, appointment_id: uuid.UUID, at: datetime) -> None:
        self.seen[appointment_id] = (at, True)

    def stamp(
        self, entries: list[DiaryEntry], now: datetime
    ) -> list[tuple[DiaryEntry, datetime, bool]]:
        out = []
        for entry in entries:
            if entry.id not in self.seen:
                self.seen[entry.id] = (now, self.looked)
            at, witnessed = self.seen[entry.id]
            out.append((entry, at, witnessed))
        self.looked = True
        return out


def plain_name(name: str) -> str:
    """ "Dr Amara Okafor" as "Amara Okafor", "Sam Ortiz, Physio" as "Sam Ortiz": the list
    is narrow, and the waiting room knows who the doctors are."""
    words = name.split(",")[0].split()
    if len(words) > 1 and words[0].rstrip(".").lower() in {"dr", "prof", "mr", "mrs", "ms"}:
        words = words[1:]
    return " ".join(words)


def waiting_text(arrival: Arrival, now: datetime) -> str:
    if arrival.entry.status is AppointmentStatus.IN_PROGRESS:
        return "with the provider"
    minutes = max(0, int((now - arrival.seen_at).total_seconds() // 60))
    return f"{'' if arrival.witnessed else '≥ '}{minutes} min"


@dataclass(frozen=True)
class Column:
    title: str
    value: Callable[[Arrival, ZoneInfo, datetime], str]


COLUMNS = (
    Column("Due", lambda a, zone, _now: f"{a.entry.starts_at.astimezone(zone):%H:%M}"),
    Column("Patient", lambda a, _zone, _now: a.entry.patient_name),
    Column("Waiting", lambda a, _zone, now: waiting_text(a, now)),
    Column("With", lambda a, _zone, _now: a.provider),
)


class ArrivalsModel(ColumnsModel):
    def __init__(self, zone: ZoneInfo, clock: Clock) -> None:
        super().__init__([c.title for c in COLUMNS])
        self.zone, self.clock = zone, clock
        self.rows: list[Arrival] = []

    def cell(self, row: Arrival, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[column].value(row, self.zone, self.clock())
        if role == Qt.ItemDataRole.ToolTipRole:
            how = (
                "checked in at this desk"
                if row.witnessed
                else "already arrived when this desk opened"
            )
            return f"Waiting since {row.seen_at.astimezone(self.zone):%H:%M} ({how})"
        return None


def todays_arrivals(
    store: Store, zone: ZoneInfo, now: datetime
) -> tuple[list[DiaryEntry], list[ProviderRow]]:
    """Runs on the ``db`` lane."""
    entries = store.diary(*day_bounds(now.astimezone(zone).date(), zone))
    return [e for e in entries if e.status in WAITING], store.providers()


class ArrivalsPanel(QWidget):
    """The waiting room list, refreshed every minute and after every change."""

    status_change_requested = Signal(object, str)  # appointment id, "start" | "complete"

    def __init__(
        self, runner: TaskRunner, store: Store, zone: ZoneInfo, clock: Clock | None = None
    ) -> None:
        super().__init__()
        self.runner, self.store, self.zone = runner, store, zone
        self.clock = clock or (lambda: datetime.now(UTC))
        self.arrivals = ArrivalClock()
        self.model = ArrivalsModel(zone, self.clock)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # the patient
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setWordWrap(False)
        self.table.selectionModel().selectionChanged.connect(self._selected)
        self.title = QLabel("<b>Waiting room</b>")
        self.empty = QLabel("Nobody is waiting.")
        self.start_button = QPushButton("Start")
        self.complete_button = QPushButton("Complete")
        self.start_button.setToolTip("The patient goes in to see the provider")
        self.start_button.clicked.connect(lambda: self._ask("start"))
        self.complete_button.clicked.connect(lambda: self._ask("complete"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.complete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.reload)
        self.timer.start()
        self._selected()

    def checked_in_here(self, appointment_id: uuid.UUID) -> None:
        self.arrivals.checked_in_here(appointment_id, self.clock())

    def reload(self) -> None:
        store, zone, now = self.store, self.zone, self.clock()
        self.runner.run("db", lambda: todays_arrivals(store, zone, now), self._loaded)

    def _loaded(self, found: tuple[list[DiaryEntry], list[ProviderRow]]) -> None:
        entries, providers = found
        chosen = self.current()
        names = {p.id: plain_name(p.display_name) for p in providers}
        stamped = self.arrivals.stamp(entries, self.clock())
        rows = [Arrival(e, names.get(e.provider_id, ""), at, seen) for e, at, seen in stamped]
        rows.sort(key=lambda a: (a.entry.status is AppointmentStatus.IN_PROGRESS, a.seen_at))
        self.model.set_rows(rows)
        waiting = sum(1 for a in rows if a.entry.status is AppointmentStatus.ARRIVED)
        self.title.setText(f"<b>Waiting room</b> · {waiting} waiting")
        self.empty.setVisible(not rows)
        for n, arrival in enumerate(rows):
            if chosen is not None and arrival.entry.id == chosen.entry.id:
                self.table.selectRow(n)
        self._selected()

    def current(self) -> Arrival | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.rows[rows[0].row()] if rows else None

    def _selected(self) -> None:
        chosen = self.current()
        status = chosen.entry.status if chosen else None
        self.start_button.setEnabled(status is AppointmentStatus.ARRIVED)
        self.complete_button.setEnabled(status in WAITING)

    def _ask(self, kind: str) -> None:
        chosen = self.current()
        if chosen is not None:
            self.status_change_requested.emit(chosen.entry.id, kind)
