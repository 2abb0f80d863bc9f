"""Worklists → "Portal invites": every invitation to the patient portal and where it
stands (sent, opened, account created, expired, withdrawn), to follow up on those that
were never opened. A double click opens the patient's file.

Invitations live on the server only: like leads, the list is fetched over the API on
the net lane when the tab is shown or refreshed, and offline the page says so and keeps
the last list on screen. The state filter works on the list fetched, on the desk.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
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

from common.portal import InviteStatus
from desktop.kit import errors
from desktop.kit.table_model import ColumnsModel, own_selection
from desktop.kit.tasks import TaskRunner
from sync.client import ServerClient
from sync.protocol import PortalInviteRecord

ALL = "All"
FILTERS: tuple[tuple[str, InviteStatus | None], ...] = (
    (ALL, None),
    *((status.label, status) for status in InviteStatus),
)


def when(moment: datetime | None, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%a %d %b %Y %H:%M}" if moment else ""


class InvitesModel(ColumnsModel):
    """Newest first, as the server lists them."""

    COLUMNS = ("Patient", "E-mail", "State", "Sent", "Opened", "Account created")

    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(self.COLUMNS)
        self.zone = zone

    def cell(self, row: PortalInviteRecord, column: int, role: int) -> Any:
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        return (
            row.patient_name,
            row.email,
            row.status.label,
            when(row.sent_at, self.zone),
            when(row.opened_at, self.zone),
            when(row.accepted_at, self.zone),
        )[column]


class PortalInvitesPage(QWidget):
    open_patient = Signal(object)  # patient id: their file

    def __init__(
        self, runner: TaskRunner, client: Callable[[], ServerClient], zone: ZoneInfo
    ) -> None:
        super().__init__()
        self.runner, self.client = runner, client
        self.model = InvitesModel(zone)
        self.everyone: list[PortalInviteRecord] = []
        self.fetched_at: datetime | None = None
        self._loading = False
        self._again = False

        self.filter = QComboBox()
        self.filter.setObjectName("portalInvitesFilter")
        for label, status in FILTERS:
            self.filter.addItem(label, status.value if status else "")
        self.filter.currentIndexChanged.connect(lambda _i: self._filtered())
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.reload)
        self.table = QTableView()
        self.table.setObjectName("portalInvitesTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        own_selection(self.table)
        self.table.doubleClicked.connect(self.open_row)
        self.notice = QLabel()
        self.notice.setObjectName("portalInvitesNotice")
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        self.empty = QLabel(
            "No invitations here. Invite a patient from their file (Portal tab), or everyone "
            "at once in Settings → Patient portal."
        )

        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Portal invitations</b>"))
        top.addStretch(1)
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.filter)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.notice)
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)

    def status(self) -> InviteStatus | None:
        chosen = self.filter.currentData()  # Qt hands the enum back as its plain value
        return InviteStatus(chosen) if chosen else None

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.reload()  # opened or answered since: read when looked at

    def reload(self) -> None:
        """Fetch the list on the net lane, one fetch at a time; asked again during one, it
        fetches again after it."""
        if self._loading:
            self._again = True
            return
        self._loading = True
        client = self.client()
        self.runner.run("net", lambda: client.portal_invites(), self._loaded, self._unavailable)

    def _fetched(self) -> None:
        self._loading = False
        if self._again:
            self._again = False
            QTimer.singleShot(0, self, self.reload)  # not after the page is gone

    def _loaded(self, rows: list[PortalInviteRecord]) -> None:
        self._fetched()
        self.fetched_at = datetime.now(UTC)
        self.everyone = rows
        self.notice.setVisible(False)
        self._filtered()

    def _unavailable(self, error: BaseException) -> None:
        self._fetched()
        had = (
            f"The list below is as it was at {when(self.fetched_at, self.model.zone)}."
            if self.fetched_at
            else "No list has been fetched yet."
        )
        self.notice.setText(f"Portal invitations need the server. {had} ({errors.words(error)})")
        self.notice.setVisible(True)

    def _filtered(self) -> None:
        status = self.status()
        shown = [r for r in self.everyone if status is None or r.status is status]
        self.model.set_rows(shown)
        self.empty.setVisible(not shown)

    def open_row(self, index: QModelIndex | QPersistentModelIndex) -> None:
        row = self.model.row_at(index.row())
        if isinstance(row, PortalInviteRecord):
            self.open_patient.emit(row.patient_id)
