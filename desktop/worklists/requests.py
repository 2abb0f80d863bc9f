"""Worklists. "Booking requests": times patients asked for on the web, waiting for staff
to confirm (which books them, on the server, through the booking guarantee) or reject
with a reason the patient is told.

Requests are not cached in the desk's store: the page lists them over the API on the net
lane, again whenever the server says they changed. Offline it says plainly that they
need the server, and shows the last list it had with the time it was fetched; nothing
can be decided until the server answers again.
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
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from common.booking_requests import REASON_LENGTH, check_reason
from common.errors import DomainError, NotAuthenticated
from desktop.kit import errors
from desktop.kit.ops import ChangeHub, Changes, Topic
from desktop.kit.table_model import ColumnsModel
from desktop.kit.tasks import TaskRunner
from sync.client import ServerClient, ServerUnreachable, TimeTaken
from sync.protocol import BookingRequestRecord, ConfirmedRequest, Slot

ANY_PROVIDER = "Any provider"
REFRESH_WAITING_MS = 30_000  # "how long it has waited" moves on by itself


def waited(since: datetime, now: datetime) -> str:
    """How long a request has waited, as staff say it: "just now", "12 min", "3 h"."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


def when(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%a %d %b %H:%M}"


@dataclass(frozen=True)
class Column:
    title: str
    value: Callable[[BookingRequestRecord, ZoneInfo, datetime], str]


COLUMNS = (
    Column("Patient", lambda r, _z, _n: r.patient_name),
    Column("Type", lambda r, _z, _n: r.type_name or "—"),
    Column(
        "Provider",
        lambda r, _z, _n: ANY_PROVIDER if r.provider_id is None else r.provider_name or "—",
    ),
    Column("Requested time", lambda r, zone, _n: when(r.starts_at, zone)),
    Column("Note", lambda r, _z, _n: r.note or "—"),
    Column("Waiting", lambda r, _z, now: waited(r.created_at, now)),
)


class RequestsModel(ColumnsModel):
    """Pending requests, oldest first: the one that has waited longest is on top."""

    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__([c.title for c in COLUMNS])
        self.zone = zone
        self.now = datetime.now(UTC)
        self.rows: list[BookingRequestRecord] = []

    def set_requests(self, rows: list[BookingRequestRecord]) -> None:
        self.now = datetime.now(UTC)
        self.set_rows(sorted(rows, key=lambda r: (r.created_at, r.id)))

    def tick(self) -> None:
        self.now = datetime.now(UTC)
        if self.rows:
            last = len(COLUMNS) - 1
            self.dataChanged.emit(self.index(0, last), self.index(len(self.rows) - 1, last))

    def cell(self, row: BookingRequestRecord, column: int, role: int) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return COLUMNS[column].value(row, self.zone, self.now)
        return None


class RejectDialog(QDialog):
    """Asks for the reason (required: the patient is told it). A missing or unusable one
    is refused here, in words, and the dialog stays open."""

    def __init__(self, request: BookingRequestRecord, zone: ZoneInfo, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWindowTitle("Reject the booking request")
        self.reason_edit = QLineEdit()
        self.reason_edit.setMaxLength(REASON_LENGTH)
        self.reason_edit.setPlaceholderText("For example: the clinic is closed that morning")
        self.message = QLabel()
        self.message.setObjectName("rejectMessage")
        self.message.setStyleSheet("color: #b00020;")
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Reject")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                f"{request.patient_name} asked for {when(request.starts_at, zone)}. "
                "Why is it rejected? The patient is told."
            )
        )
        layout.addWidget(self.reason_edit)
        layout.addWidget(self.message)
        layout.addWidget(buttons)

    def reason(self) -> str:
        return self.reason_edit.text().strip()

    def accept(self) -> None:
        try:
            check_reason(self.reason_edit.text())
        except DomainError as error:
            self.message.setText(errors.words(error))
            self.message.setVisible(True)
            self.reason_edit.setFocus()
            return
        super().accept()


class TakenDialog(QDialog):
    """The asked-for time was taken meanwhile: the server's words, and the nearest free
    times to confirm at instead. Closing it leaves the request pending."""

    def __init__(
        self,
        request: BookingRequestRecord,
        error: TimeTaken,
        zone: ZoneInfo,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("The time was taken")
        self.message = QLabel(errors.words(error))
        self.message.setObjectName("takenMessage")
        self.message.setWordWrap(True)
        self.times = QListWidget()
        for slot in error.slots:
            who = request.provider_name if slot.provider_id == request.provider_id else None
            text = when(slot.starts_at, zone) + (f" with {who}" if who else "")
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, slot)
            self.times.addItem(item)
        if self.times.count():
            self.times.setCurrentRow(0)
        buttons = QDialogButtonBox()
        self.confirm_button = buttons.addButton(
            "Confirm at this time", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.confirm_button.setEnabled(self.times.count() > 0)
        self.leave_button = buttons.addButton(
            "Leave it pending", QDialogButtonBox.ButtonRole.RejectRole
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        if self.times.count():
            layout.addWidget(QLabel(f"Nearest free times for {request.patient_name}:"))
            layout.addWidget(self.times)
        layout.addWidget(buttons)

    def chosen(self) -> Slot | None:
        item = self.times.currentItem()
        found = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return found if isinstance(found, Slot) else None


class RequestsPage(QWidget):
    """The list, and for the selected request: confirm it, or reject it with a reason."""

    count_changed = Signal(int)  # pending requests, for the navigation's count

    def __init__(
        self,
        hub: ChangeHub,
        client: Callable[[], ServerClient],
        zone: ZoneInfo,
        sync_now: Callable[[], None],
    ) -> None:
        super().__init__()
        self.hub = hub
        self.runner: TaskRunner = hub.runner
        self.client = client
        self.sync_now = sync_now
        self.model = RequestsModel(zone)
        self.fetched_at: datetime | None = None
        self.online = False
        self.busy = False  # a decision is on its way: one at a time
        self._loading = False
        self._again = False

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(self._selected)
        self.notice = QLabel()
        self.notice.setObjectName("requestsNotice")
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        self.outcome = QLabel()
        self.outcome.setObjectName("requestsOutcome")
        self.outcome.setWordWrap(True)
        self.empty = QLabel(
            "No booking requests are waiting. Requests patients make on the web appear here."
        )
        self.confirm_button = QPushButton("Confirm")
        self.confirm_button.setToolTip("Book the requested time; the patient is told")
        self.reject_button = QPushButton("Reject…")
        # Not ``connect(self.confirm)``: Qt would pass ``checked`` as the other time.
        self.confirm_button.clicked.connect(lambda: self.confirm())
        self.reject_button.clicked.connect(self.ask_reason)

        actions = QHBoxLayout()
        actions.addWidget(self.outcome, 1)
        actions.addWidget(self.confirm_button)
        actions.addWidget(self.reject_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Booking requests</b>"))
        layout.addWidget(self.notice)
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)

        self.ticker = QTimer(self)
        self.ticker.setInterval(REFRESH_WAITING_MS)
        self.ticker.timeout.connect(self.model.tick)
        self.ticker.start()
        hub.changed.connect(self._heard)
        self._selected()

    # --- the list -----------------------------------------------------------------------

    def _heard(self, changes: Changes) -> None:
        if changes.touch(Topic.BOOKING_REQUESTS):
            self.reload()

    def reload(self) -> None:
        """Fetch the pending requests on the net lane (one fetch at a time; a poke during
        one fetches again after it)."""
        if self._loading:
            self._again = True
            return
        self._loading = True
        client = self.client()
        self.runner.run("net", client.booking_requests, self._loaded, self._unavailable)

    def _fetched(self) -> None:
        self._loading = False
        if self._again:
            self._again = False
            QTimer.singleShot(0, self.reload)

    def _loaded(self, rows: list[BookingRequestRecord]) -> None:
        self._fetched()
        chosen = self.current()
        self.online = True
        self.fetched_at = datetime.now(UTC)
        self.model.set_requests(rows)
        ids = [r.id for r in self.model.rows]
        # Only the request staff chose stays chosen: after a decision nothing is, so a
        # second click on Confirm cannot book the next patient.
        if chosen is not None and chosen.id in ids:
            self.table.selectRow(ids.index(chosen.id))
        else:
            self.table.clearSelection()
        self.notice.setVisible(False)
        self.empty.setVisible(not rows)
        self._selected()
        self.count_changed.emit(len(rows))

    def _unavailable(self, error: BaseException) -> None:
        self._fetched()
        self.went_offline(errors.words(error))

    def went_offline(self, why: str | None = None) -> None:
        """Say plainly that requests need the server, and keep the last list on screen
        with the time it was fetched."""
        self.online = False
        had = (
            f"The list below is as it was at {when(self.fetched_at, self.model.zone)}."
            if self.fetched_at
            else "No list has been fetched yet."
        )
        self.notice.setText(
            "Booking requests need the server: they can be seen and decided only while "
            f"it can be reached. {had}" + (f" ({why})" if why else "")
        )
        self.notice.setVisible(True)
        self._selected()

    def connection_changed(self, online: bool) -> None:
        """The sync found the server gone, or back: say so, or fetch again."""
        if online and not self.online:
            self.reload()
        elif not online and self.online:
            self.went_offline()

    def current(self) -> BookingRequestRecord | None:
        rows = self.table.selectionModel().selectedRows()
        found: BookingRequestRecord | None = self.model.row_at(rows[0].row()) if rows else None
        return found

    def _selected(self) -> None:
        can = self.online and not self.busy and self.current() is not None
        self.confirm_button.setEnabled(can)
        self.reject_button.setEnabled(can)

    # --- deciding -------------------------------------------------------------------------

    def confirm(self, instead: Slot | None = None) -> None:
        """Confirm the selected request (at ``instead`` when the asked time was taken):
        the server books it; the diary shows it after the sync this starts."""
        request = self.current()
        if request is None or not self.online or self.busy:
            return
        client = self.client()
        self._busy(True)
        self.runner.run(
            "net",
            lambda: client.confirm_booking_request(request.id, instead),
            self._confirmed,
            lambda error: self._not_confirmed(request, error),
        )

    def _confirmed(self, answer: ConfirmedRequest) -> None:
        self._busy(False)
        request, appointment = answer.request, answer.appointment
        self.outcome.setText(
            f"Booked {request.patient_name} for {when(appointment.starts_at, self.model.zone)}."
        )
        self._decided(request.id)

    def _not_confirmed(self, request: BookingRequestRecord, error: BaseException) -> None:
        self._busy(False)
        if isinstance(error, TimeTaken):
            self.taken = TakenDialog(request, error, self.model.zone, self)
            self.taken.accepted.connect(lambda: self._confirm_instead(request.id))
            self.taken.open()
            return
        self._refused("The request was not confirmed", error)

    def _confirm_instead(self, request_id: uuid.UUID) -> None:
        slot = self.taken.chosen()
        ids = [r.id for r in self.model.rows]
        if slot is None or request_id not in ids:
            return
        self.table.selectRow(ids.index(request_id))
        self.confirm(slot)

    def ask_reason(self) -> None:
        request = self.current()
        if request is None or not self.online or self.busy:
            return
        self.reject_dialog = RejectDialog(request, self.model.zone, self)
        self.reject_dialog.accepted.connect(
            lambda: self.reject_request(request.id, self.reject_dialog.reason())
        )
        self.reject_dialog.open()

    def reject_request(self, request_id: uuid.UUID, reason: str) -> None:
        client = self.client()
        self._busy(True)
        self.runner.run(
            "net",
            lambda: client.reject_booking_request(request_id, reason),
            self._rejected,
            lambda error: self._refused("The request was not rejected", error),
        )

    def _rejected(self, request: BookingRequestRecord) -> None:
        self._busy(False)
        self.outcome.setText(f"Rejected {request.patient_name}'s request: {request.reason}")
        self._decided(request.id)

    def _decided(self, request_id: uuid.UUID) -> None:
        """Drop it from the list at once, tell every page, and sync (the diary shows a
        confirmed booking after the sync brings it in)."""
        self.model.set_requests([r for r in self.model.rows if r.id != request_id])
        self.table.clearSelection()
        self.empty.setVisible(not self.model.rows)
        self._selected()
        self.count_changed.emit(len(self.model.rows))
        self.hub.announce({Topic.BOOKING_REQUESTS, Topic.APPOINTMENTS}, origin=self)
        self.sync_now()

    def _refused(self, title: str, error: BaseException) -> None:
        """In words: another desk decided it first, the server is gone, the time has
        passed. The list is fetched again, so it shows what is still waiting."""
        self._busy(False)
        if isinstance(error, ServerUnreachable | NotAuthenticated):
            self.went_offline(errors.words(error))
        self.box = errors.show(self, title, error)
        self.reload()

    def _busy(self, busy: bool) -> None:
        self.busy = busy
        self._selected()
