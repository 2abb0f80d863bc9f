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
    QFormLayout,
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
from common.patients import PatientDetails, clean, parse_birth_date, show_phone
from desktop.kit import errors
from desktop.kit.ops import ChangeHub, Changes, Topic
from desktop.kit.table_model import ColumnsModel, own_selection
from desktop.kit.tasks import TaskRunner
from sync.client import ServerClient, ServerUnreachable, TimeTaken
from sync.protocol import (
    BookingRequestRecord,
    ConfirmedRequest,
    PatientFields,
    PatientMatch,
    Slot,
)

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


def who(request: BookingRequestRecord) -> str:
    """The patient, or for someone who asked on the web and is not linked to a file yet,
    their name marked as such."""
    return (
        f"{request.patient_name} (new patient)"
        if request.patient_id is None
        else (request.patient_name)
    )


def applicant_text(request: BookingRequestRecord, country: str | None) -> str:
    """What the person who asked told the clinic, for staff to read before deciding."""
    if request.patient_id is None:
        head = f"New patient (not linked to a file yet): {request.patient_name}"
    else:
        head = f"Patient on file: {request.patient_name}"
    parts = [head]
    if request.first_name and request.patient_id is not None:
        parts.append(f"asked as {request.first_name} {request.last_name}")
    if request.date_of_birth:
        parts.append(f"born {request.date_of_birth:%d/%m/%Y}")
    if request.phone:
        parts.append(f"mobile {show_phone(request.phone, country)}")
    if request.email:
        parts.append(f"e-mail {request.email}")
    if request.insurance:
        parts.append(f"insurance {request.insurance}")
    if request.note:
        parts.append(f"reason: {request.note}")
    return " · ".join(parts)


COLUMNS = (
    Column("Patient", lambda r, _z, _n: who(r)),
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
        told = "The patient is told."
        if request.patient_id is None:
            # Typed on the public form by whoever sent it: staff see where the answer goes.
            where = " and ".join(filter(None, [request.phone, request.email]))
            told = f"The answer goes to {where}, as typed on the web." if where else ""
        question = QLabel(
            f"{request.patient_name} asked for {when(request.starts_at, zone)}. "
            f"Why is it rejected? {told}"
        )
        question.setTextFormat(Qt.TextFormat.PlainText)
        question.setWordWrap(True)
        layout.addWidget(question)
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


@dataclass(frozen=True)
class PatientChoice:
    """Whom an unlinked request is confirmed for: a patient on file, or a new one."""

    patient_id: uuid.UUID | None = None
    new_patient: PatientFields | None = None


class MatchDialog(QDialog):
    """Confirming a request from someone not linked to a patient: choose the patient on
    file who asked (possible matches by name and birth date, phone or e-mail), or
    register them, the form filled in from what they typed (with a warning when
    possible matches exist). Problems are said here, in words, and it stays open."""

    def __init__(
        self,
        request: BookingRequestRecord,
        matches: list[PatientMatch],
        country: str | None,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Who asked?")
        self.country = country
        self.choice: PatientChoice | None = None
        self.matches = QListWidget()
        self.matches.setObjectName("matches")
        for match in matches:
            facts = [match.name]
            if match.date_of_birth:
                facts.append(f"born {match.date_of_birth:%d/%m/%Y}")
            if match.phone:
                facts.append(show_phone(match.phone, country))
            if match.email:
                facts.append(match.email)
            item = QListWidgetItem(" · ".join(facts) + f" ({', '.join(match.reasons)})")
            item.setData(Qt.ItemDataRole.UserRole, match.patient_id)
            self.matches.addItem(item)
        self.use_button = QPushButton("Use this patient")
        self.use_button.setEnabled(False)
        self.matches.currentItemChanged.connect(
            lambda *_: self.use_button.setEnabled(self.matches.currentItem() is not None)
        )
        self.use_button.clicked.connect(self.use_match)

        self.first_name = QLineEdit(request.first_name)
        self.last_name = QLineEdit(request.last_name)
        self.date_of_birth = QLineEdit(
            f"{request.date_of_birth:%d/%m/%Y}" if request.date_of_birth else ""
        )
        self.phone = QLineEdit(show_phone(request.phone, country))
        self.email = QLineEdit(request.email or "")
        self.warning = QLabel(
            "Possible matches are on file above: check them before creating a new patient."
        )
        self.warning.setObjectName("matchWarning")
        self.warning.setWordWrap(True)
        self.warning.setVisible(bool(matches))
        self.create_button = QPushButton("Create new patient")
        self.create_button.clicked.connect(self.create_patient)
        self.message = QLabel()
        self.message.setObjectName("matchMessage")
        self.message.setStyleSheet("color: #b00020;")
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        cancel = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        cancel.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("First name", self.first_name)
        form.addRow("Last name", self.last_name)
        form.addRow("Date of birth", self.date_of_birth)
        form.addRow("Mobile", self.phone)
        form.addRow("E-mail", self.email)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                f"{request.patient_name} asked on the web and is not linked to a patient. "
                "Confirm it for the patient on file, or register them."
            )
        )
        if matches:
            layout.addWidget(QLabel("Possible matches on file:"))
            layout.addWidget(self.matches)
            layout.addWidget(self.use_button)
        else:
            layout.addWidget(
                QLabel("No patient on file has this name and birth date, phone or e-mail.")
            )
        layout.addWidget(QLabel("<b>New patient</b>"))
        layout.addLayout(form)
        layout.addWidget(self.warning)
        layout.addWidget(self.create_button)
        layout.addWidget(self.message)
        layout.addWidget(cancel)

    def use_match(self) -> None:
        item = self.matches.currentItem()
        if item is None:
            return
        self.choice = PatientChoice(patient_id=item.data(Qt.ItemDataRole.UserRole))
        self.accept()

    def create_patient(self) -> None:
        """Checked by the rules reception's patient form follows, then confirmed."""
        try:
            born = parse_birth_date(self.date_of_birth.text())
            details = clean(
                PatientDetails(
                    first_name=self.first_name.text(),
                    last_name=self.last_name.text(),
                    date_of_birth=born,
                    phone=self.phone.text(),
                    email=self.email.text(),
                ),
                country=self.country,
                today=datetime.now(UTC).date(),
            )
        except DomainError as error:
            self.message.setText(errors.words(error))
            self.message.setVisible(True)
            return
        fields = PatientFields(
            first_name=details.first_name,
            last_name=details.last_name,
            date_of_birth=details.date_of_birth,
            phone=details.phone,
            email=details.email,
        )
        self.choice = PatientChoice(new_patient=fields)
        self.accept()


class RequestsPage(QWidget):
    """The list, and for the selected request: confirm it, or reject it with a reason."""

    count_changed = Signal(int)  # pending requests, for the navigation's count

    def __init__(
        self,
        hub: ChangeHub,
        client: Callable[[], ServerClient],
        zone: ZoneInfo,
        sync_now: Callable[[], None],
        country: str | None = None,
    ) -> None:
        super().__init__()
        self.country = country
        # Whom each unlinked request is being confirmed for, kept while a taken time is
        # chosen again (so staff are not asked twice).
        self.chosen_patients: dict[uuid.UUID, PatientChoice] = {}
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
        own_selection(self.table).selectionChanged.connect(self._selected)
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
        self.applicant = QLabel()
        self.applicant.setObjectName("requestApplicant")
        self.applicant.setWordWrap(True)
        self.applicant.setTextFormat(Qt.TextFormat.PlainText)  # what the public typed
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
        layout.addWidget(self.applicant)
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
        chosen = self.current()
        self.applicant.setText(applicant_text(chosen, self.country) if chosen else "")
        can = self.online and not self.busy and chosen is not None
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
        choice = self.chosen_patients.get(request.id)
        if request.patient_id is None and choice is None:
            self._busy(True)
            self.runner.run(
                "net",
                lambda: client.booking_request_matches(request.id),
                lambda found: self._ask_who(request, found, instead),
                lambda error: self._refused("The request was not confirmed", error),
            )
            return
        self._busy(True)
        self.runner.run(
            "net",
            lambda: client.confirm_booking_request(
                request.id,
                instead,
                patient_id=choice.patient_id if choice else None,
                new_patient=choice.new_patient if choice else None,
            ),
            self._confirmed,
            lambda error: self._not_confirmed(request, error),
        )

    def _ask_who(
        self, request: BookingRequestRecord, found: list[PatientMatch], instead: Slot | None
    ) -> None:
        """The request has no patient yet: staff choose one, or register them."""
        self._busy(False)
        self.match_dialog = MatchDialog(request, found, self.country, self)
        self.match_dialog.accepted.connect(lambda: self._who_chosen(request.id, instead))
        self.match_dialog.open()

    def _who_chosen(self, request_id: uuid.UUID, instead: Slot | None) -> None:
        choice = self.match_dialog.choice
        ids = [r.id for r in self.model.rows]
        if choice is None or request_id not in ids:
            return
        self.chosen_patients[request_id] = choice
        self.table.selectRow(ids.index(request_id))
        self.confirm(instead)

    def _confirmed(self, answer: ConfirmedRequest) -> None:
        self._busy(False)
        self.chosen_patients.pop(answer.request.id, None)
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
        self.chosen_patients.pop(request.id, None)
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
        # A refusal may be about the patient chosen (a mistyped new patient): ask again.
        self.chosen_patients.clear()
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
