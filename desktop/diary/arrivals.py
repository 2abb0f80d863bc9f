"""Today's arrivals: the waiting room. Patients checked in (and those with their provider)
today, how long they have waited, and Start / Complete.

How long someone has waited is measured from the appointment's ``arrived_at``: the moment
the check-in was made, recorded by the server and synced to every desk (a check-in made
here offline is stamped locally at once, with the same moment the server will keep). So
two desks show the same minutes, and a restarted desk shows the real ones.
"""

from __future__ import annotations

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
from desktop.diary.model import allowed, day_bounds
from desktop.kit.table_model import ColumnsModel, own_selection
from desktop.kit.tasks import TaskRunner
from desktop.patients.alerts import alert_lines
from sync.store import DiaryEntry, ProviderRow, Store

REFRESH_MS = 60_000
TIPS = {"start": "The patient goes in to see the provider", "complete": "The visit is over"}
WAITING = (AppointmentStatus.ARRIVED, AppointmentStatus.IN_PROGRESS)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Arrival:
    entry: DiaryEntry
    provider: str


def plain_name(name: str) -> str:
    """ "Dr Amara Okafor" as "Amara Okafor", "Sam Ortiz, Physio" as "Sam Ortiz": the list
    is narrow, and the waiting room knows who the doctors are."""
    words = name.split(",")[0].split()
    if len(words) > 1 and words[0].rstrip(".").lower() in {"dr", "prof", "mr", "mrs", "ms"}:
        words = words[1:]
    return " ".join(words)


def waiting_text(arrival: Arrival, now: datetime, zone: ZoneInfo) -> str:
    entry = arrival.entry
    if entry.status is AppointmentStatus.IN_PROGRESS:
        return f"in since {entry.started_at.astimezone(zone):%H:%M}" if entry.started_at else "in"
    if entry.arrived_at is None:
        return "—"  # checked in before arrival times were recorded
    minutes = max(0, int((now - entry.arrived_at).total_seconds() // 60))
    return f"{minutes} min"


@dataclass(frozen=True)
class Column:
    title: str
    value: Callable[[Arrival, ZoneInfo, datetime], str]
    usual: str  # as wide as what it usually shows: the panel starts that wide


COLUMNS = (
    Column("Due", lambda a, zone, _now: f"{a.entry.starts_at.astimezone(zone):%H:%M}", "00:00"),
    Column("Patient", lambda a, _zone, _now: _flagged(a.entry), "Bartholomew Montgomery"),
    Column("Waiting", lambda a, zone, now: waiting_text(a, now, zone), "in since 00:00"),
    Column("With", lambda a, _zone, _now: a.provider, "Amara Okafor-Whit"),
)
CELL_PADDING = 16  # a cell's margins and grid line, beyond its text


def _flagged(entry: DiaryEntry) -> str:
    """The name, marked when the file has staff alerts (the tooltip says which)."""
    return f"⚠ {entry.patient_name}" if entry.patient_alerts else entry.patient_name


class ArrivalsModel(ColumnsModel):
    def __init__(self, zone: ZoneInfo, clock: Clock) -> None:
        super().__init__([c.title for c in COLUMNS])
        self.zone, self.clock = zone, clock
        self.rows: list[Arrival] = []

    def cell(self, row: Arrival, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[column].value(row, self.zone, self.clock())
        if role == Qt.ItemDataRole.ToolTipRole:
            if COLUMNS[column].title == "Patient" and row.entry.patient_alerts:
                return alert_lines(row.entry.patient_alerts)
            arrived = row.entry.arrived_at
            if arrived is None:
                return "The time of arrival was not recorded."
            return f"Checked in at {arrived.astimezone(self.zone):%H:%M}"
        return None


def _waiting_order(arrival: Arrival) -> tuple[bool, datetime]:
    """Those waiting first, longest waiting first; then those with their provider."""
    entry = arrival.entry
    return (entry.status is AppointmentStatus.IN_PROGRESS, entry.arrived_at or entry.starts_at)


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
        self.model = ArrivalsModel(zone, self.clock)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # the patient
        header.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setWordWrap(False)
        own_selection(self.table).selectionChanged.connect(self._selected)
        self.title = QLabel("<b>Waiting room</b>")
        self.empty = QLabel("Nobody is waiting.")
        self.start_button = QPushButton("Start")
        self.complete_button = QPushButton("Complete")
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
        self._widest = 0  # the widest the panel has needed: it never narrows again
        self._fit()
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.reload)
        self.timer.start()
        self._selected()

    def reload(self) -> None:
        store, zone, now = self.store, self.zone, self.clock()
        self.runner.run("db", lambda: todays_arrivals(store, zone, now), self._loaded)

    def _loaded(self, found: tuple[list[DiaryEntry], list[ProviderRow]]) -> None:
        entries, providers = found
        chosen = self.current()
        names = {p.id: plain_name(p.display_name) for p in providers}
        rows = [Arrival(e, names.get(e.provider_id, "")) for e in entries]
        rows.sort(key=_waiting_order)
        self.model.set_rows(rows)
        self._fit()
        waiting = sum(1 for a in rows if a.entry.status is AppointmentStatus.ARRIVED)
        self.title.setText(f"<b>Waiting room</b> · {waiting} waiting")
        self.empty.setVisible(not rows)
        for n, arrival in enumerate(rows):
            if chosen is not None and arrival.entry.id == chosen.entry.id:
                self.table.selectRow(n)
        self._selected()

    def _fit(self) -> None:
        """Keep every column wide enough for its heading and its widest text: the table
        never scrolls sideways, so a column squeezed below that cuts names ("Ar…") and
        headings. The patient column takes what is left over; the panel asks for the
        width of all of them (the splitter beside the diary gives it at least that).

        The width asked for starts at what the columns usually show and never shrinks:
        were it to follow each check-in, start and finish, the diary beside it would
        jump wider and narrower all day."""
        header, metrics = self.table.horizontalHeader(), self.table.fontMetrics()
        needed = sum(
            max(
                header.sectionSizeHint(c),
                self.table.sizeHintForColumn(c),
                metrics.horizontalAdvance(column.usual) + CELL_PADDING,
            )
            for c, column in enumerate(COLUMNS)
        )
        frame = 2 * self.table.frameWidth()
        scroll = self.table.verticalScrollBar().sizeHint().width()
        self._widest = max(self._widest, needed + frame + scroll)
        self.table.setMinimumWidth(self._widest)

    def current(self) -> Arrival | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.rows[rows[0].row()] if rows else None

    def _selected(self) -> None:
        chosen = self.current()
        now = self.clock()
        for button, kind in ((self.start_button, "start"), (self.complete_button, "complete")):
            verdict = allowed(kind, chosen.entry, self.zone, now) if chosen else None
            button.setEnabled(bool(verdict))
            button.setToolTip(verdict.reason if verdict else TIPS[kind])

    def _ask(self, kind: str) -> None:
        chosen = self.current()
        if chosen is not None:
            self.status_change_requested.emit(chosen.entry.id, kind)
