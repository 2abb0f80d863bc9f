"""Worklists. "Leads": enquiries from the clinic's public new-patient form, worked from
new to contacted to converted (linked to a patient, on file or registered from the
enquiry) or discarded with a note saying why.

Leads are not cached in the desk's store: like booking requests, the page lists them
over the API on the net lane, again whenever the server says they changed. Offline it
says so plainly and keeps the last list on screen; nothing can be changed until the
server answers again. Finding a patient on file to link to searches the desk's own copy
on the db lane.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from common.errors import DomainError, NotAuthenticated
from common.leads import NOTE_MAX, LeadStatus, check_note, may_move
from common.patients import show_phone
from desktop.kit import errors
from desktop.kit.ops import ChangeHub, Changes, Topic
from desktop.kit.table_model import ColumnsModel, own_selection
from desktop.kit.tasks import TaskRunner
from desktop.messages.attach import SEARCH_DELAY_MS, match_line
from sync.client import ServerClient, ServerUnreachable
from sync.protocol import ConvertedLead, LeadDuplicate, LeadRecord
from sync.scheduling import PatientMatch
from sync.store import Store

ALL = "All"
FILTERS: tuple[tuple[str, LeadStatus | None], ...] = (
    *((status.label, status) for status in LeadStatus),
    (ALL, None),
)


def when(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%a %d %b %H:%M}"


def spam_hint(lead: LeadRecord) -> str:
    """What staff weigh before calling back: a trap caught it, or the same address sent
    several enquiries."""
    hints = []
    if lead.spam:
        hints.append("caught by the spam trap")
    if lead.same_address > 1:
        hints.append(f"same address seen {lead.same_address} times")
    return "; ".join(hints)


class LeadsModel(ColumnsModel):
    """Newest first."""

    COLUMNS = ("Received", "Name", "Channel", "Status", "Contact by", "Spam hints")

    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(self.COLUMNS)
        self.zone = zone
        self.rows: list[LeadRecord] = []

    def set_leads(self, rows: list[LeadRecord]) -> None:
        self.set_rows(sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True))

    def cell(self, row: LeadRecord, column: int, role: int) -> Any:
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        return (
            when(row.created_at, self.zone),
            row.name,
            row.channel.label,
            row.status.label,
            row.preferred_contact.label,
            spam_hint(row) or "—",
        )[column]


class NoteDialog(QDialog):
    """Asks for a note (required to discard: say why). Refused here in words when empty
    or too long; the dialog stays open."""

    def __init__(self, title: str, question: str, action: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.note_edit = QLineEdit()
        self.note_edit.setMaxLength(NOTE_MAX)
        self.message = QLabel()
        self.message.setObjectName("noteMessage")
        self.message.setStyleSheet("color: #b00020;")
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(action)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        asked = QLabel(question)
        asked.setTextFormat(Qt.TextFormat.PlainText)
        asked.setWordWrap(True)
        layout.addWidget(asked)
        layout.addWidget(self.note_edit)
        layout.addWidget(self.message)
        layout.addWidget(buttons)

    def note(self) -> str:
        return self.note_edit.text().strip()

    def accept(self) -> None:
        try:
            check_note(self.note_edit.text())
        except DomainError as error:
            self.message.setText(errors.words(error))
            self.message.setVisible(True)
            self.note_edit.setFocus()
            return
        super().accept()


class ConvertDialog(QDialog):
    """Connect the lead to a patient: possible duplicates first (asked of the server),
    a search of the desk's copy for anyone else on file, or a new patient registered
    from the lead's details. A duplicate is a warning, never a refusal."""

    def __init__(
        self,
        lead: LeadRecord,
        runner: TaskRunner,
        client: ServerClient,
        store: Store,
        country: str | None,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Convert {lead.name}")
        self.setMinimumWidth(560)
        self.lead, self.runner, self.store, self.country = lead, runner, store, country
        self.duplicates: list[LeadDuplicate] = []
        self.register_new = False
        born = f", born {lead.date_of_birth:%d/%m/%Y}" if lead.date_of_birth else ""
        contact = ", ".join(
            part for part in (show_phone(lead.phone, country), lead.email or "") if part
        )
        self.prefill = QLabel(
            f"A new patient would be registered as: {lead.name}{born}"
            + (f" ({contact})" if contact else "")
            + "."
        )
        self.prefill.setTextFormat(Qt.TextFormat.PlainText)
        self.prefill.setWordWrap(True)
        self.warning = QLabel("Looking for patients already on file…")
        self.warning.setObjectName("duplicateWarning")
        self.warning.setTextFormat(Qt.TextFormat.PlainText)
        self.warning.setWordWrap(True)
        self.search = QLineEdit()
        self.search.setObjectName("convertSearch")
        self.search.setPlaceholderText("Find a patient on file: name, date of birth, phone")
        self.results = QListWidget()
        self.results.setObjectName("convertResults")
        self.link_button = QPushButton("Link to the chosen patient")
        self.link_button.setEnabled(False)
        self.new_button = QPushButton("Register a new patient")
        cancel = QPushButton("Cancel")
        self.results.currentItemChanged.connect(
            lambda item, _old: self.link_button.setEnabled(item is not None)
        )
        self.link_button.clicked.connect(self.accept)
        self.new_button.clicked.connect(self._register)
        cancel.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.link_button)
        buttons.addWidget(self.new_button)
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.warning)
        layout.addWidget(self.search)
        layout.addWidget(self.results)
        layout.addWidget(self.prefill)
        layout.addLayout(buttons)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.run_search)
        self.search.textChanged.connect(lambda _text: self._timer.start())
        runner.run(
            "net",
            lambda: client.lead_duplicates(lead.id),
            self._found_duplicates,
            lambda error: self.warning.setText(
                f"Could not check for patients already on file: {errors.words(error)}"
            ),
        )

    def _found_duplicates(self, found: list[LeadDuplicate]) -> None:
        self.duplicates = found
        if not found:
            self.warning.setText("No patient on file looks like this person.")
            return
        lines = [
            f"{d.name}"
            + (f", born {d.date_of_birth:%d/%m/%Y}" if d.date_of_birth else "")
            + f" ({', '.join(d.reasons)})"
            for d in found
        ]
        self.warning.setText(
            "Possible duplicate: check before registering a new patient.\n" + "\n".join(lines)
        )
        if not self.search.text():
            self.results.clear()
            for duplicate in found:
                match = PatientMatch(
                    id=duplicate.patient_id,
                    first_name=duplicate.name,
                    last_name="",
                    date_of_birth=duplicate.date_of_birth,
                    phone=duplicate.phone,
                    email=duplicate.email,
                )
                item = QListWidgetItem("Possible duplicate: " + match_line(match, self.country))
                item.setData(Qt.ItemDataRole.UserRole, duplicate.patient_id)
                self.results.addItem(item)
            self.results.setCurrentRow(-1)

    def run_search(self) -> None:
        text, store = self.search.text(), self.store
        self.runner.run(
            "db", lambda: store.search_patients(text, 50), lambda found: self._found(text, found)
        )

    def _found(self, text: str, found: list[PatientMatch]) -> None:
        if text != self.search.text():
            return
        self.results.clear()
        for match in found:
            item = QListWidgetItem(match_line(match, self.country))
            item.setData(Qt.ItemDataRole.UserRole, match.id)
            self.results.addItem(item)
        self.results.setCurrentRow(-1)

    def chosen(self) -> uuid.UUID | None:
        if self.register_new:
            return None
        item = self.results.currentItem()
        found = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return found if isinstance(found, uuid.UUID) else None

    def _register(self) -> None:
        self.register_new = True
        self.accept()


class LeadsPage(QWidget):
    """The list with its status filter, and for the selected lead: its details, notes,
    and the moves the rules allow from where it is."""

    count_changed = Signal(int)  # new leads, for the tab's and the navigation's counts

    def __init__(
        self,
        hub: ChangeHub,
        client: Callable[[], ServerClient],
        zone: ZoneInfo,
        sync_now: Callable[[], None],
        store: Store,
        country: str | None,
    ) -> None:
        super().__init__()
        self.hub = hub
        self.runner: TaskRunner = hub.runner
        self.client = client
        self.sync_now = sync_now
        self.store = store
        self.country = country
        self.model = LeadsModel(zone)
        self.fetched_at: datetime | None = None
        self.online = False
        self.busy = False
        self._loading = False
        self._again = False

        self.filter = QComboBox()
        self.filter.setObjectName("leadsFilter")
        for label, status in FILTERS:
            self.filter.addItem(label, status.value if status else "")
        self.filter.currentIndexChanged.connect(self._filtered)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        own_selection(self.table).selectionChanged.connect(self._selected)
        self.notice = QLabel()
        self.notice.setObjectName("leadsNotice")
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        self.empty = QLabel("No leads here. Enquiries from the clinic's web form appear here.")
        self.outcome = QLabel()
        self.outcome.setObjectName("leadsOutcome")
        self.outcome.setWordWrap(True)

        self.details = QPlainTextEdit()
        self.details.setObjectName("leadDetails")
        self.details.setReadOnly(True)
        self.notes = QListWidget()
        self.notes.setObjectName("leadNotes")
        self.note_edit = QLineEdit()
        self.note_edit.setMaxLength(NOTE_MAX)
        self.note_edit.setPlaceholderText("Add a note: what was said, what happens next")
        self.note_button = QPushButton("Add note")
        self.contacted_button = QPushButton("Contacted")
        self.discard_button = QPushButton("Discard…")
        self.convert_button = QPushButton("Convert…")
        self.note_button.clicked.connect(self.add_note)
        self.note_edit.returnPressed.connect(self.add_note)
        self.contacted_button.clicked.connect(self.mark_contacted)
        self.discard_button.clicked.connect(self.ask_discard)
        self.convert_button.clicked.connect(self.ask_convert)

        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Leads</b>"))
        top.addStretch(1)
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.filter)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.empty)
        left_layout.addWidget(self.table, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.details, 2)
        right_layout.addWidget(QLabel("Notes"))
        right_layout.addWidget(self.notes, 1)
        adding = QHBoxLayout()
        adding.addWidget(self.note_edit, 1)
        adding.addWidget(self.note_button)
        right_layout.addLayout(adding)
        actions = QHBoxLayout()
        actions.addWidget(self.contacted_button)
        actions.addWidget(self.discard_button)
        actions.addWidget(self.convert_button)
        right_layout.addLayout(actions)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.notice)
        layout.addWidget(split, 1)
        layout.addWidget(self.outcome)
        hub.changed.connect(self._heard)
        self._selected()

    # --- the list -----------------------------------------------------------------------

    def status(self) -> LeadStatus | None:
        chosen = self.filter.currentData()  # Qt hands the enum back as its plain value
        return LeadStatus(chosen) if chosen else None

    def _filtered(self, index: int) -> None:
        # -1: the box is being emptied (the page is closing), not a choice.
        if index >= 0:
            self.reload()

    def _heard(self, changes: Changes) -> None:
        if changes.touch(Topic.LEADS) and changes.origin is not self:
            self.reload()

    def reload(self) -> None:
        """Fetch the new leads (for the count) and the chosen status's on the net lane,
        one fetch at a time; a poke during one fetches again after it."""
        if self._loading:
            self._again = True
            return
        self._loading = True
        client, status = self.client(), self.status()

        def fetch() -> tuple[list[LeadRecord], list[LeadRecord]]:
            new = client.leads(LeadStatus.NEW)
            return new, new if status is LeadStatus.NEW else client.leads(status)

        self.runner.run("net", fetch, self._loaded, self._unavailable)

    def _fetched(self) -> None:
        self._loading = False
        if self._again:
            self._again = False
            QTimer.singleShot(0, self, self.reload)  # not after the page is gone

    def _loaded(self, answer: tuple[list[LeadRecord], list[LeadRecord]]) -> None:
        self._fetched()
        new, rows = answer
        chosen = self.current()
        self.online = True
        self.fetched_at = datetime.now(UTC)
        self.model.set_leads(rows)
        ids = [r.id for r in self.model.rows]
        if chosen is not None and chosen.id in ids:
            self.table.selectRow(ids.index(chosen.id))
        else:
            self.table.clearSelection()
        self.notice.setVisible(False)
        self.empty.setVisible(not rows)
        self._selected()
        self.count_changed.emit(len(new))

    def _unavailable(self, error: BaseException) -> None:
        self._fetched()
        self.went_offline(errors.words(error))

    def went_offline(self, why: str | None = None) -> None:
        self.online = False
        had = (
            f"The list below is as it was at {when(self.fetched_at, self.model.zone)}."
            if self.fetched_at
            else "No list has been fetched yet."
        )
        self.notice.setText(
            "Leads need the server: they can be seen and worked only while it can be "
            f"reached. {had}" + (f" ({why})" if why else "")
        )
        self.notice.setVisible(True)
        self._selected()

    def connection_changed(self, online: bool) -> None:
        if online and not self.online:
            self.reload()
        elif not online and self.online:
            self.went_offline()

    def current(self) -> LeadRecord | None:
        rows = self.table.selectionModel().selectedRows()
        found: LeadRecord | None = self.model.row_at(rows[0].row()) if rows else None
        return found

    def _selected(self) -> None:
        lead = self.current()
        self._show(lead)
        can = self.online and not self.busy and lead is not None
        self.note_button.setEnabled(can)
        self.note_edit.setEnabled(can)
        for button, to in (
            (self.contacted_button, LeadStatus.CONTACTED),
            (self.discard_button, LeadStatus.DISCARDED),
            (self.convert_button, LeadStatus.CONVERTED),
        ):
            button.setEnabled(can and lead is not None and may_move(lead.status, to))

    def _show(self, lead: LeadRecord | None) -> None:
        self.notes.clear()
        if lead is None:
            self.details.setPlainText("Choose a lead to see its details.")
            return
        zone = self.model.zone
        lines = [
            lead.name,
            f"Born {lead.date_of_birth:%d/%m/%Y}" if lead.date_of_birth else "Birth date not given",
            f"Phone: {show_phone(lead.phone, self.country) or '—'}",
            f"E-mail: {lead.email or '—'}",
            f"Contact by: {lead.preferred_contact.label}",
            f"Channel: {lead.channel.label}"
            + (f" ({lead.source_detail})" if lead.source_detail else ""),
            f"Received: {when(lead.created_at, zone)}",
            f"Status: {lead.status.label}"
            + (f" by {lead.decided_by_name}" if lead.decided_by_name else "")
            + (f" at {when(lead.decided_at, zone)}" if lead.decided_at else ""),
        ]
        if lead.patient_id is not None:
            lines.append(f"Patient: {lead.patient_name or 'a patient on file'}")
        lines.append(f"Browser: {lead.user_agent_family or '—'}")
        hint = spam_hint(lead)
        if hint:
            lines.append(f"Spam hints: {hint}")
        lines += ["", "Message:", lead.message or "(no message)"]
        self.details.setPlainText("\n".join(lines))
        for note in lead.notes:
            self.notes.addItem(f"{when(note.at, zone)} · {note.staff_name}: {note.text}")

    # --- working a lead -------------------------------------------------------------------

    def _act(
        self, work: Callable[[ServerClient], Any], done: Callable[[Any], None], title: str
    ) -> None:
        if not self.online or self.busy:
            return
        client = self.client()
        self._busy(True)
        self.runner.run(
            "net",
            lambda: work(client),
            lambda answer: self._done(done, answer),
            lambda error: self._refused(title, error),
        )

    def _done(self, then: Callable[[Any], None], answer: Any) -> None:
        self._busy(False)
        then(answer)

    def add_note(self) -> None:
        lead, text = self.current(), self.note_edit.text()
        if lead is None:
            return
        try:
            check_note(text)
        except DomainError as error:
            self.outcome.setText(errors.words(error))
            return
        self._act(lambda c: c.add_lead_note(lead.id, text), self._noted, "The note was not added")

    def _noted(self, lead: LeadRecord) -> None:
        self.note_edit.clear()
        self.outcome.setText(f"Note added to {lead.name}.")
        self._replace(lead)

    def mark_contacted(self) -> None:
        lead = self.current()
        if lead is None:
            return
        self._act(
            lambda c: c.mark_lead_contacted(lead.id),
            lambda done: self._moved(done, f"Marked {done.name} as contacted."),
            "The lead was not marked contacted",
        )

    def ask_discard(self) -> None:
        lead = self.current()
        if lead is None or not self.online or self.busy:
            return
        self.discard_dialog = NoteDialog(
            "Discard the lead",
            f"Why is {lead.name}'s enquiry discarded? (Spam, not for this clinic, went elsewhere…)",
            "Discard",
            self,
        )
        self.discard_dialog.accepted.connect(
            lambda: self.discard(lead.id, self.discard_dialog.note())
        )
        self.discard_dialog.open()

    def discard(self, lead_id: uuid.UUID, note: str) -> None:
        self._act(
            lambda c: c.discard_lead(lead_id, note),
            lambda done: self._moved(done, f"Discarded {done.name}'s enquiry."),
            "The lead was not discarded",
        )

    def ask_convert(self) -> None:
        lead = self.current()
        if lead is None or not self.online or self.busy:
            return
        self.convert_dialog = ConvertDialog(
            lead, self.runner, self.client(), self.store, self.country, self
        )
        self.convert_dialog.accepted.connect(
            lambda: self.convert(lead.id, self.convert_dialog.chosen())
        )
        self.convert_dialog.open()

    def convert(self, lead_id: uuid.UUID, patient_id: uuid.UUID | None) -> None:
        self._act(
            lambda c: c.convert_lead(lead_id, patient_id),
            self._converted,
            "The lead was not converted",
        )

    def _converted(self, answer: ConvertedLead) -> None:
        patient = answer.patient
        self._moved(
            answer.lead,
            f"Converted {answer.lead.name}: linked to {patient.first_name} {patient.last_name}.",
        )
        # A newly registered patient reaches this desk's copy with the next sync.
        self.hub.announce({Topic.PATIENTS}, origin=self)
        self.sync_now()

    def _moved(self, lead: LeadRecord, words: str) -> None:
        self.outcome.setText(words)
        self._replace(lead)
        self.hub.announce({Topic.LEADS}, origin=self)
        self.reload()

    def _replace(self, lead: LeadRecord) -> None:
        rows = [lead if r.id == lead.id else r for r in self.model.rows]
        chosen = self.current()
        self.model.set_leads(rows)
        ids = [r.id for r in self.model.rows]
        if chosen is not None and chosen.id in ids:
            self.table.selectRow(ids.index(chosen.id))
        self._selected()

    def _refused(self, title: str, error: BaseException) -> None:
        """In words: another desk moved it first, the server is gone. The list is
        fetched again, so it shows where each lead stands now."""
        self._busy(False)
        if isinstance(error, ServerUnreachable | NotAuthenticated):
            self.went_offline(errors.words(error))
        self.box = errors.show(self, title, error)
        self.reload()

    def _busy(self, busy: bool) -> None:
        self.busy = busy
        self._selected()
