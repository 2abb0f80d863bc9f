"""The Patients page: find a patient as you type, open their file, register a new one.

The file shows their details, the staff alerts on it, their appointments from the
desk's copy (past and to come, with statuses) and the forms sent to them, and books for
them in the diary. All of it reads the local store on the ``db`` lane, so it works
offline; every change goes through the hub, and the page reloads when it hears that
patients or appointments changed.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from common.appointments import AppointmentStatus
from common.patients import show_phone
from desktop.kit.ops import ChangeHub, Changes, Topic
from desktop.kit.table_model import ColumnsModel, own_selection
from desktop.messages.conversation import ConversationView
from desktop.patients.alerts import alert_lines
from desktop.patients.bills import BillsTab
from desktop.patients.booking_links import OnlineBookingTab
from desktop.patients.consent import ConsentModel, HistoryModel, RecordConsentDialog
from desktop.patients.form import PatientForm, as_match, guess_from_search
from desktop.patients.forms import PatientFormsTab
from desktop.patients.portal import PortalTab
from desktop.patients.treatment import TreatmentTab
from sync.messages import Consents, MessageView
from sync.patients import PatientFile, Visit
from sync.scheduling import PatientMatch
from sync.signing import Author
from sync.store import Store

SEARCH_DELAY_MS = 150
SHOWN_TOPICS = (Topic.PATIENTS, Topic.APPOINTMENTS, Topic.MESSAGES)
HINT = "Type a name, date of birth (17/05/1980), phone number or e-mail address."


class MatchesModel(ColumnsModel):
    def __init__(self, country: str | None) -> None:
        super().__init__(["Name", "Born", "Phone", "E-mail"])
        self.country = country

    def cell(self, row: PatientMatch, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            born = f"{row.date_of_birth:%d/%m/%Y}" if row.date_of_birth else ""
            return (
                f"{row.last_name}, {row.first_name}",
                born,
                show_phone(row.phone, self.country),
                row.email or "",
            )[column]
        return None


class VisitsModel(ColumnsModel):
    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(["When", "Provider", "Type", "Status"])
        self.zone = zone

    def cell(self, row: Visit, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            start, end = row.starts_at.astimezone(self.zone), row.ends_at.astimezone(self.zone)
            status = row.status.label + (" · not yet sent" if row.pending else "")
            return (
                f"{start:%a %d %b %Y %H:%M}–{end:%H:%M}",
                row.provider_name,
                row.type_name or "—",
                status,
            )[column]
        return None


@dataclass(frozen=True)
class OpenFile:
    """A patient's file as read on the db lane."""

    patient: PatientFile | None
    visits: list[Visit]
    messages: list[MessageView] = field(default_factory=list)
    consents: Consents | None = None


def read_file(store: Store, patient_id: uuid.UUID) -> OpenFile:
    return OpenFile(
        store.patient(patient_id),
        store.patient_visits(patient_id),
        store.conversation(patient_id),
        store.consents(patient_id),
    )


def _table(model: ColumnsModel) -> QTableView:
    table = QTableView()
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    # Each column as wide as what it holds (an e-mail address is never cut), the last
    # taking what is left.
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


class PatientFileView(QWidget):
    """One patient's file: details, alerts, appointments, and what can be done."""

    def __init__(self, zone: ZoneInfo, country: str | None) -> None:
        super().__init__()
        self.zone, self.country = zone, country
        self.shown: OpenFile | None = None
        self.title = QLabel("No patient open")
        self.title.setObjectName("patientTitle")
        self.title.setStyleSheet("font-size: 16px; font-weight: bold;")
        self.alerts = QLabel()
        self.alerts.setObjectName("patientAlerts")
        self.alerts.setWordWrap(True)
        self.alerts.setStyleSheet("color: #b3261e; font-weight: bold;")
        self.alerts.setVisible(False)
        self.details: dict[str, QLabel] = {}
        details = QFormLayout()
        for key, title in (
            ("born", "Date of birth"),
            ("sex", "Sex"),
            ("phone", "Phone"),
            ("email", "E-mail"),
            ("address", "Address"),
        ):
            label = QLabel()
            label.setObjectName(f"patient_{key}")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            details.addRow(title, label)
            self.details[key] = label
        self.visits = VisitsModel(zone)
        self.visits_table = _table(self.visits)
        self.visits_title = QLabel("Appointments")
        self.edit_button = QPushButton("Edit details…")
        self.book_button = QPushButton("Book for this patient…")
        self.write_button = QPushButton("Write to patient…")
        self.write_button.setToolTip("Their conversation, on the Messages page")
        buttons = QHBoxLayout()
        buttons.addWidget(self.edit_button)
        buttons.addWidget(self.book_button)
        buttons.addWidget(self.write_button)
        buttons.addStretch(1)
        self.conversation = ConversationView(zone)
        self.consent = ConsentModel(zone)
        self.consent_table = _table(self.consent)
        self.history = HistoryModel(zone)
        self.history_table = _table(self.history)
        self.consent_button = QPushButton("Record consent…")
        self.consent_button.setToolTip("Record what the patient said about being contacted")
        consent_buttons = QHBoxLayout()
        consent_buttons.addStretch(1)
        consent_buttons.addWidget(self.consent_button)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._page(self.visits_title, self.visits_table), "Appointments")
        self.tabs.addTab(self.conversation, "Messages")
        self.tabs.addTab(
            self._page(
                self.consent_table,
                consent_buttons,
                QLabel("Decisions, newest first"),
                self.history_table,
            ),
            "Consent",
        )
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.alerts)
        layout.addLayout(details)
        layout.addLayout(buttons)
        layout.addWidget(self.tabs, 1)
        self.show_file(None)

    @staticmethod
    def _page(*parts: QWidget | QHBoxLayout) -> QWidget:
        """A tab: its parts one under the other, the tables taking the room."""
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 4, 0, 0)
        for part in parts:
            if isinstance(part, QHBoxLayout):
                column.addLayout(part)
            else:
                column.addWidget(part, 1 if isinstance(part, QTableView) else 0)
        return page

    def show_file(self, shown: OpenFile | None) -> None:
        self.shown = shown
        patient = shown.patient if shown else None
        for widget in (
            self.edit_button,
            self.book_button,
            self.write_button,
            self.consent_button,
        ):
            widget.setEnabled(patient is not None)
        if patient is None:
            self.title.setText(
                "No patient open" if shown is None else "This patient is not in this desk's copy"
            )
            self.alerts.setVisible(False)
            for label in self.details.values():
                label.setText("")
            self.visits.set_rows([])
            self._show_messaging([], None)
            return
        d = patient.details
        self.title.setText(d.name + (" · changed here, not yet sent" if patient.pending else ""))
        self.alerts.setText(alert_lines(d.alerts))
        self.alerts.setVisible(bool(d.alerts))
        self.details["born"].setText(
            f"{d.date_of_birth:%d %B %Y}" if d.date_of_birth else "not recorded"
        )
        self.details["sex"].setText(d.sex.label)
        self.details["phone"].setText(show_phone(d.phone, self.country) or "not recorded")
        self.details["email"].setText(d.email or "not recorded")
        address = ", ".join(
            part for part in (d.address_line1, d.address_line2, d.city, d.postcode) if part
        )
        self.details["address"].setText(html.escape(address) or "not recorded")
        visits = shown.visits if shown else []
        self.visits.set_rows(visits)
        now = datetime.now(UTC)
        coming = sum(
            1 for v in visits if v.starts_at >= now and v.status is not AppointmentStatus.CANCELLED
        )
        past = sum(1 for v in visits if v.starts_at < now)
        self.visits_title.setText(
            f"Appointments: {coming} to come, {past} past (as far as this desk keeps them)"
            if visits
            else "No appointments in this desk's copy"
        )
        self._show_messaging(shown.messages if shown else [], shown.consents if shown else None)

    def _show_messaging(self, messages: list[MessageView], consents: Consents | None) -> None:
        self.conversation.show_messages(
            messages, empty="No messages with this patient in this desk's copy."
        )
        unread = sum(1 for m in messages if m.unread)
        self.tabs.setTabText(1, f"Messages ({unread} unread)" if unread else "Messages")
        self.consent.set_rows(list(consents.states) if consents else [])
        self.history.set_rows(list(consents.history) if consents else [])


class PatientsPage(QWidget):
    book_requested = Signal(object)  # PatientMatch: book for them in the diary
    write_requested = Signal(object)  # patient id: their conversation, to write to them
    # An appointment booked through a link: (appointment id, its start), to show in the diary.
    appointment_requested = Signal(object, object)

    def __init__(
        self,
        hub: ChangeHub,
        store: Store,
        zone: ZoneInfo,
        *,
        author: Author | None,
        country: str | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        # Recording consent is a change to the patient's file (set by the main window).
        self.may_record_consent = True
        self.hub, self.runner, self.store = hub, hub.runner, store
        self.author, self.country = author, country
        self.opened: uuid.UUID | None = None
        self.form: PatientForm | None = None

        self.search = QLineEdit()
        self.search.setObjectName("patientSearch")
        self.search.setPlaceholderText("Name, date of birth, phone or e-mail")
        self.search.setClearButtonEnabled(True)
        self.new_button = QPushButton("New patient…")
        self.new_button.clicked.connect(lambda: self.new_patient())
        self.notice = QLabel(HINT)
        self.notice.setObjectName("patientsNotice")
        self.notice.setWordWrap(True)
        self.matches = MatchesModel(country)
        self.table = _table(self.matches)
        self.file = PatientFileView(zone, country)
        self.file.edit_button.clicked.connect(lambda: self.edit_patient())
        self.file.book_button.clicked.connect(self._book)
        self.file.write_button.clicked.connect(self._write)
        self.file.consent_button.clicked.connect(lambda: self.ask_consent())
        self.consent_dialog: RecordConsentDialog | None = None
        # Booking links live on the server: the main window says who may ask it (set_desk).
        self.links = OnlineBookingTab(self.runner, zone)
        self.links.open_appointment.connect(self.appointment_requested)
        self.file.tabs.addTab(self.links, "Online booking")
        # The patient portal lives on the server too (set_desk from the main window).
        self.portal = PortalTab(self.runner, zone)
        self.file.tabs.addTab(self.portal, "Portal")
        # The forms sent to the patient: listed from the desk's copy, answers read online.
        self.forms = PatientFormsTab(hub, store, zone)
        self.file.tabs.addTab(self.forms, "Forms")
        # Treatment plans live on the server too (set_desk from the main window).
        self.treatment = TreatmentTab(self.runner, zone)
        self.file.tabs.addTab(self.treatment, "Treatment")
        # Bills live on the server too (set_desk from the main window).
        self.bills = BillsTab(self.runner, zone)
        self.file.tabs.addTab(self.bills, "Bills")

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.new_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(top)
        left_layout.addWidget(self.notice)
        left_layout.addWidget(self.table, 1)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.file)
        splitter.setSizes([520, 560])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.run_search)
        self.search.textChanged.connect(lambda _text: self._timer.start())
        own_selection(self.table).currentRowChanged.connect(
            lambda current, _old: self._row_chosen(current.row())
        )
        hub.changed.connect(self._changes_heard)
        self._writable()

    def set_author(self, author: Author | None) -> None:
        self.author = author
        self._writable()

    def _writable(self) -> None:
        self.new_button.setEnabled(self.author is not None)
        self.file.edit_button.setVisible(self.author is not None)
        self.file.consent_button.setVisible(self.author is not None)

    # --- finding ---------------------------------------------------------------------------

    def run_search(self) -> None:
        text, store = self.search.text(), self.store
        self.runner.run(
            "db", lambda: store.search_patients(text, 100), lambda found: self._found(text, found)
        )

    def _found(self, text: str, found: list[PatientMatch]) -> None:
        if text != self.search.text():
            return  # typed on meanwhile: a newer search is coming
        self.matches.set_rows(found)
        if not text.strip():
            self.notice.setText(HINT)
        elif not found:
            self.notice.setText("No patient matches that. Register them with “New patient…”.")
        else:
            more = " (the first 100)" if len(found) == 100 else ""
            self.notice.setText(f"{len(found)} found{more}")
        if self.opened is not None:
            row = next((n for n, m in enumerate(found) if m.id == self.opened), None)
            if row is not None:
                self.table.selectRow(row)

    def _row_chosen(self, row: int) -> None:
        match = self.matches.row_at(row)
        if isinstance(match, PatientMatch) and match.id != self.opened:
            self.open_patient(match.id)

    # --- the file ------------------------------------------------------------------------

    def open_patient(self, patient_id: uuid.UUID) -> None:
        self.opened = patient_id
        self.links.show_patient(patient_id)
        self.portal.show_patient(patient_id)
        self.forms.show_patient(patient_id)
        self.treatment.show_patient(patient_id)
        self.bills.show_patient(patient_id)
        store = self.store
        self.runner.run(
            "db",
            lambda: read_file(store, patient_id),
            lambda shown: self._file_read(patient_id, shown),
        )

    def _file_read(self, patient_id: uuid.UUID, shown: OpenFile) -> None:
        if patient_id == self.opened:
            self.file.show_file(shown)
            if shown.patient is not None:
                self.treatment.patient_name = shown.patient.details.name

    def _changes_heard(self, changes: Changes) -> None:
        if not changes.touch(*SHOWN_TOPICS):
            return
        if self.search.text().strip():
            self.run_search()
        if self.opened is not None:
            self.open_patient(self.opened)  # the links too, when their tab is on screen

    def _book(self) -> None:
        shown = self.file.shown
        if shown is not None and shown.patient is not None:
            self.book_requested.emit(as_match(shown.patient.id, shown.patient.details))

    def _write(self) -> None:
        shown = self.file.shown
        if shown is not None and shown.patient is not None:
            self.write_requested.emit(shown.patient.id)

    # --- consent -------------------------------------------------------------------------

    def ask_consent(self) -> RecordConsentDialog | None:
        """What the patient said about being contacted, recorded through the outbox
        (offline too) and shown in their file at once."""
        shown, author = self.file.shown, self.author
        if author is None or shown is None or shown.patient is None:
            return None
        if not self.may_record_consent:
            self.file.consent_button.setToolTip("Your role may read consent, not record it.")
            return None
        patient = shown.patient
        row = self.file.consent_table.currentIndex().row()
        state = self.file.consent.row_at(row)
        dialog = RecordConsentDialog(
            patient.name,
            self,
            channel=state.channel if state else None,
            purpose=state.purpose if state else None,
            granted_now=state.granted if state else True,
        )
        dialog.accepted.connect(lambda: self._record_consent(patient.id, dialog))
        self.consent_dialog = dialog
        dialog.open()
        return dialog

    def _record_consent(self, patient_id: uuid.UUID, dialog: RecordConsentDialog) -> None:
        channel, purpose, granted, note = dialog.decision()
        store, author = self.store, self.author
        if author is None:
            return
        self.hub.change(
            self,
            lambda: store.record_consent(
                author, patient_id, channel=channel, purpose=purpose, granted=granted, note=note
            ),
            {Topic.MESSAGES},
            title="The consent was not recorded",
        )

    # --- registering and editing --------------------------------------------------------

    def new_patient(self, typed: str = "") -> PatientForm | None:
        if self.author is None:
            self.notice.setText("Sign in to register patients.")
            return None
        prefill = guess_from_search(typed or self.search.text())
        form = PatientForm(
            self.hub, self.store, self.author, self.country, prefill=prefill, parent=self
        )
        return self._open_form(form)

    def edit_patient(self) -> PatientForm | None:
        shown = self.file.shown
        if self.author is None or shown is None or shown.patient is None:
            return None
        form = PatientForm(
            self.hub, self.store, self.author, self.country, existing=shown.patient, parent=self
        )
        return self._open_form(form)

    def _open_form(self, form: PatientForm) -> PatientForm:
        self.form = form
        form.saved.connect(lambda match: self.open_patient(match.id))
        form.open_requested.connect(self.open_patient)
        form.open()
        return form
