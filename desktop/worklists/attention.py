"""Worklists. "Needs attention": changes made at this desk that the
server turned down (a slot taken meanwhile, a record someone else changed), each with the
reason and what can be done about it. Nothing is dropped without a person deciding."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import (
    QDate,
    QDateTime,
    Qt,
    QTime,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.kit.combo import choose
from desktop.kit.ops import ChangeHub, Changes, Topic
from desktop.kit.table_model import ColumnsModel, own_selection
from sync.account import Desk
from sync.outbox import Attention, describe
from sync.protocol import BookAppointment, MoveAppointment, Slot
from sync.scheduling import AppointmentTypeRow
from sync.store import ProviderRow

REASONS = {
    "slot_taken": "The time was taken meanwhile",
    "stale_version": "Someone else changed it first",
    "forbidden": "Not allowed",
    "invalid": "Not possible",
    "not_found": "No longer exists",
    "unverified": "Not proven to be yours",
}


@dataclass(frozen=True)
class Column:
    title: str
    value: Callable[[Attention, ZoneInfo], str]


def _slot_text(slot: Slot, zone: ZoneInfo) -> str:
    return f"{slot.starts_at.astimezone(zone):%a %d %b %H:%M}"


COLUMNS = (
    Column("Change", lambda a, zone: describe(a.command, zone, a.about)),
    Column("Why", lambda a, _zone: REASONS.get(a.result.code or "", "Turned down")),
    Column("Details", lambda a, _zone: a.result.message or ""),
    Column(
        "Free times nearby",
        lambda a, zone: ", ".join(_slot_text(s, zone) for s in a.result.suggestions) or "—",
    ),
)


class AttentionModel(ColumnsModel):
    """Rows are outbox entries the server rejected; columns are declared in ``COLUMNS``."""

    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__([c.title for c in COLUMNS])
        self.zone = zone
        self.rows: list[Attention] = []

    def cell(self, row: Attention, column: int, role: int) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return COLUMNS[column].value(row, self.zone)
        return None


def _wanted(item: Attention | None) -> Slot | None:
    """The time a turned-down booking or move asked for (None for other changes)."""
    command = item.command if item else None
    if isinstance(command, BookAppointment | MoveAppointment):
        return Slot(
            provider_id=command.provider_id, starts_at=command.starts_at, ends_at=command.ends_at
        )
    return None


class ChooseTimeDialog(QDialog):
    """Another time (and perhaps another provider) for a turned-down booking or move. It
    opens on the change's own provider and shows the appointment's own type (kept: the
    retried change is the same change at another time)."""

    def __init__(
        self,
        providers: list[ProviderRow],
        zone: ZoneInfo,
        wanted: Slot,
        parent: QWidget | None = None,
        *,
        types: list[AppointmentTypeRow] | None = None,
        appointment_type_id: uuid.UUID | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose another time")
        self.zone = zone
        self.length = wanted.ends_at - wanted.starts_at
        self.provider = QComboBox()
        for provider in providers:
            self.provider.addItem(provider.display_name, provider.id)
        choose(self.provider, wanted.provider_id)
        self.type = QComboBox()
        self.type.addItem("No particular type", None)
        for kind in types or []:
            self.type.addItem(kind.name, kind.id)
        choose(self.type, appointment_type_id)
        self.type.setEnabled(False)
        self.type.setToolTip("The appointment keeps its type; open it to change the type.")
        local = wanted.starts_at.astimezone(zone)
        self.start = QDateTimeEdit(
            QDateTime(QDate(local.year, local.month, local.day), QTime(local.hour, local.minute))
        )
        self.start.setCalendarPopup(True)
        self.start.setDisplayFormat("ddd d MMM yyyy HH:mm")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Provider", self.provider)
        form.addRow("Type", self.type)
        form.addRow("Starts", self.start)
        form.addRow(buttons)

    def slot(self) -> Slot:
        chosen = self.start.dateTime()
        day, clock = chosen.date(), chosen.time()
        local = datetime(
            day.year(), day.month(), day.day(), clock.hour(), clock.minute(), tzinfo=self.zone
        )
        starts = local.astimezone(UTC)  # the length is real time: add it in UTC
        return Slot(
            provider_id=self.provider.currentData(),
            starts_at=starts,
            ends_at=starts + self.length,
        )


class AttentionPage(QWidget):
    """The list, and for the selected change: book a suggested time, or discard it."""

    def __init__(self, hub: ChangeHub, desk: Desk, zone: ZoneInfo) -> None:
        super().__init__()
        self.hub, self.runner = hub, hub.runner
        self.desk = desk
        self.model = AttentionModel(zone)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        own_selection(self.table).selectionChanged.connect(self._selected)
        self.suggestions = QComboBox()
        self.book_button = QPushButton("Book this time instead")
        self.other_time_button = QPushButton("Choose another time…")
        self.discard_button = QPushButton("Discard the change")
        self.book_button.clicked.connect(self.book_suggestion)
        self.other_time_button.clicked.connect(self.choose_time)
        self.discard_button.clicked.connect(self.discard)
        self.empty = QLabel("Nothing needs attention. Changes the server turns down appear here.")

        actions = QHBoxLayout()
        actions.addWidget(self.suggestions, 1)
        actions.addWidget(self.book_button)
        actions.addWidget(self.other_time_button)
        actions.addWidget(self.discard_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Needs attention</b>"))
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        hub.changed.connect(self._changes_heard)
        self._selected()

    def _changes_heard(self, changes: Changes) -> None:
        if changes.touch(Topic.ATTENTION):
            self.reload()

    def reload(self) -> None:
        self.runner.run("db", self.desk.store.needs_attention, self._loaded)

    def _loaded(self, rows: list[Attention]) -> None:
        # Keep the change the person is looking at selected through a reload (a sync
        # reloads this list): "Discard" must never land on another change.
        chosen = self.current()
        seqs = [row.seq for row in rows]
        self.model.set_rows(rows)
        self.empty.setVisible(not rows)
        if rows:
            self.table.selectRow(seqs.index(chosen.seq) if chosen and chosen.seq in seqs else 0)
        self._selected()

    def current(self) -> Attention | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.rows[rows[0].row()] if rows else None

    def _selected(self) -> None:
        item = self.current()
        self.suggestions.clear()
        for slot in item.result.suggestions if item else []:
            self.suggestions.addItem(_slot_text(slot, self.model.zone), slot)
        self.book_button.setEnabled(bool(item and item.result.suggestions))
        self.other_time_button.setEnabled(_wanted(item) is not None)
        self.discard_button.setEnabled(item is not None)

    def book_suggestion(self) -> None:
        item, slot = self.current(), self.suggestions.currentData()
        if item is not None and slot is not None:
            self._retry(item, slot)

    def choose_time(self) -> None:
        """Open the time chooser once the providers are read (on the db lane)."""
        item = self.current()
        wanted = _wanted(item)
        if item is None or wanted is None:
            return
        store = self.desk.store

        def read() -> tuple[list[ProviderRow], list[AppointmentTypeRow]]:
            return store.providers(), store.schedule().appointment_types

        self.runner.run("db", read, lambda found: self._open_chooser(item, wanted, *found))

    def _open_chooser(
        self,
        item: Attention,
        wanted: Slot,
        providers: list[ProviderRow],
        types: list[AppointmentTypeRow],
    ) -> None:
        self.chooser = ChooseTimeDialog(
            providers,
            self.model.zone,
            wanted,
            self,
            types=types,
            appointment_type_id=item.about.appointment_type_id,
        )
        self.chooser.accepted.connect(lambda: self._retry(item, self.chooser.slot()))
        self.chooser.open()

    def _retry(self, item: Attention, slot: Slot) -> None:
        store, staff = self.desk.store, self.desk.author
        self._change(lambda: store.retry_at(item.seq, staff, slot), Topic.APPOINTMENTS)

    def discard(self) -> None:
        item = self.current()
        if item is None:
            return
        store = self.desk.store
        # A discarded message leaves its conversation too.
        self._change(lambda: store.discard(item.seq), Topic.APPOINTMENTS, Topic.MESSAGES)

    def _change(self, work: Callable[[], object], *topics: Topic) -> None:
        """Retrying or discarding changes this list, the outbox and what the diary shows
        (a discarded change's local effect is undone)."""
        self.hub.change(self, work, {Topic.ATTENTION, *topics})
