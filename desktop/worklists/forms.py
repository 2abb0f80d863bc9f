"""Worklists → "Incomplete forms": patients whose forms are still open, new patients
first (the clinic knows nothing of them but what the forms will say), each with their
next appointment and the forms outstanding, to ring or remind before they come. "Open
file" (or a double click) opens the patient's file on its Forms tab, where the rest is.

Read from the desk's copy (forms sent are synced), so it works offline; it is read again
whenever forms, appointments or patients change, a sync's included.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.kit.ops import ChangeHub, Changes, Topic
from desktop.kit.table_model import ColumnsModel, own_selection
from sync.forms import IncompleteForms
from sync.store import Store

SHOWN_TOPICS = (Topic.FORMS, Topic.APPOINTMENTS, Topic.PATIENTS)
EMPTY = "Every form sent to a patient is complete (as far as this desk's copy knows)."


def next_words(row: IncompleteForms, zone: ZoneInfo) -> str:
    if row.next_appointment is None:
        return "None booked"
    return f"{row.next_appointment.astimezone(zone):%a %d %b %Y %H:%M}"


class IncompleteModel(ColumnsModel):
    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(
            ["Patient", "New or returning", "Next appointment", "Forms outstanding", ""]
        )
        self.zone = zone

    def cell(self, row: IncompleteForms, column: int, role: int) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return (
                row.name,
                "New patient" if row.new_patient else "Returning",
                next_words(row, self.zone),
                ", ".join(row.outstanding),
                "",
            )[column]
        if role == Qt.ItemDataRole.FontRole and row.new_patient and column == 1:
            bold = QFont()
            bold.setBold(True)
            return bold
        return None


class IncompleteFormsPage(QWidget):
    open_patient = Signal(object)  # patient id: their file, on its Forms tab
    count_changed = Signal(int)  # patients with forms outstanding

    def __init__(self, hub: ChangeHub, store: Store, zone: ZoneInfo) -> None:
        super().__init__()
        self.hub, self.runner, self.store = hub, hub.runner, store
        self.model = IncompleteModel(zone)
        self.table = QTableView()
        self.table.setObjectName("incompleteForms")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        own_selection(self.table)
        self.table.doubleClicked.connect(self.open_row)
        self.open_buttons: list[QPushButton] = []
        self.empty = QLabel(EMPTY)
        self.empty.setObjectName("incompleteFormsEmpty")
        self.empty.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Incomplete forms</b>, new patients first"))
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        hub.changed.connect(self._changes_heard)
        self.reload()

    def _changes_heard(self, changes: Changes) -> None:
        if changes.touch(*SHOWN_TOPICS):
            self.reload()

    def reload(self) -> None:
        store = self.store
        self.runner.run("db", lambda: store.incomplete_forms(datetime.now(UTC)), self._loaded)

    def _loaded(self, rows: list[IncompleteForms]) -> None:
        self.model.set_rows(rows)
        self.empty.setVisible(not rows)
        self.open_buttons = []
        for n, row in enumerate(rows):
            button = QPushButton("Open file")
            button.clicked.connect(lambda _=False, r=row: self.open_patient.emit(r.patient_id))
            self.table.setIndexWidget(self.model.index(n, 4), button)
            self.open_buttons.append(button)
        self.count_changed.emit(len(rows))

    def open_row(self, index: QModelIndex | QPersistentModelIndex) -> None:
        row = self.model.row_at(index.row())
        if isinstance(row, IncompleteForms):
            self.open_patient.emit(row.patient_id)
