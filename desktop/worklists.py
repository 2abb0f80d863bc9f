"""Worklists. This milestone brings "Needs attention": changes made at this desk that the
server turned down (a slot taken meanwhile, a record someone else changed), each with the
reason and what can be done about it. Nothing is dropped without a person deciding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.tasks import TaskRunner
from sync.account import Desk
from sync.outbox import Attention, describe
from sync.protocol import Slot

Index = QModelIndex | QPersistentModelIndex
REASONS = {
    "slot_taken": "The time was taken meanwhile",
    "stale_version": "Someone else changed it first",
    "forbidden": "Not allowed",
    "invalid": "Not possible",
    "not_found": "No longer exists",
}


@dataclass(frozen=True)
class Column:
    title: str
    value: Callable[[Attention, ZoneInfo], str]


def _slot_text(slot: Slot, zone: ZoneInfo) -> str:
    return f"{slot.starts_at.astimezone(zone):%a %d %b %H:%M}"


COLUMNS = (
    Column("Change", lambda a, zone: describe(a.command, zone)),
    Column("Why", lambda a, _zone: REASONS.get(a.result.code or "", "Turned down")),
    Column("Details", lambda a, _zone: a.result.message or ""),
    Column(
        "Free times nearby",
        lambda a, zone: ", ".join(_slot_text(s, zone) for s in a.result.suggestions) or "—",
    ),
)


class AttentionModel(QAbstractTableModel):
    """Rows are outbox entries the server rejected; columns are declared in ``COLUMNS``."""

    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__()
        self.zone = zone
        self.rows: list[Attention] = []

    def set_rows(self, rows: list[Attention]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt's API
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return COLUMNS[index.column()].value(self.rows[index.row()], self.zone)
        return None

    def headerData(  # noqa: N802 - Qt's name
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(COLUMNS)
        ):
            return COLUMNS[section].title
        return None


class AttentionPage(QWidget):
    """The list, and for the selected change: book a suggested time, or discard it."""

    changed = Signal()  # the outbox changed here: counts and diary need a refresh

    def __init__(self, runner: TaskRunner, desk: Desk, zone: ZoneInfo) -> None:
        super().__init__()
        self.runner = runner
        self.desk = desk
        self.model = AttentionModel(zone)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(self._selected)
        self.suggestions = QComboBox()
        self.book_button = QPushButton("Book this time instead")
        self.discard_button = QPushButton("Discard the change")
        self.book_button.clicked.connect(self.book_suggestion)
        self.discard_button.clicked.connect(self.discard)
        self.empty = QLabel("Nothing needs attention. Changes the server turns down appear here.")

        actions = QHBoxLayout()
        actions.addWidget(self.suggestions, 1)
        actions.addWidget(self.book_button)
        actions.addWidget(self.discard_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Needs attention</b>"))
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        self._selected()

    def reload(self) -> None:
        self.runner.run("db", self.desk.store.needs_attention, self._loaded)

    def _loaded(self, rows: list[Attention]) -> None:
        self.model.set_rows(rows)
        self.empty.setVisible(not rows)
        if rows:
            self.table.selectRow(0)
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
        self.discard_button.setEnabled(item is not None)

    def book_suggestion(self) -> None:
        item, slot = self.current(), self.suggestions.currentData()
        if item is None or slot is None:
            return
        store, staff = self.desk.store, self.desk.staff.id
        self.runner.run("db", lambda: store.retry_at(item.seq, staff, slot), self._done)

    def discard(self) -> None:
        item = self.current()
        if item is None:
            return
        store = self.desk.store
        self.runner.run("db", lambda: store.discard(item.seq), self._done)

    def _done(self, _result: object) -> None:
        self.reload()
        self.changed.emit()
