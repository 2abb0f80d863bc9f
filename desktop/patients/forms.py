"""The "Forms" tab of a patient's file: the forms sent to them (intake questionnaires,
consents, forms for an appointment), where each stands, and their answers.

The list comes from the desk's copy (forms sent are synced without their answers), so it
shows offline. The answers stay on the server: "Read answers" asks for them on the
network lane (the server records who read them) and shows them with the questions of
the version the patient answered; offline it says so, calmly, and the list stays.
"Withdraw" takes back a form not yet completed, after asking. A completed consent form
is the patient's consent as this clinic records it, and the tab says so.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from common.errors import NotAuthenticated
from common.forms import FormKind
from common.roles import Permission, can
from desktop.kit import errors
from desktop.kit.ops import ChangeHub, Changes, Topic
from desktop.kit.table_model import ColumnsModel, own_selection
from desktop.settings.online import SIGNED_IN_OFFLINE, on_server
from sync.account import Desk
from sync.client import ServerClient, ServerUnreachable
from sync.forms import FormRequestView
from sync.protocol import FormRequestRecord, FormResponseRecord
from sync.store import Store

SHOWN_TOPICS = (Topic.FORMS,)  # the page reopens the file for the rest
OFFLINE = (
    "The answers are kept on the server, and it cannot be reached just now. The list "
    "above is this desk's copy; try again once the connection is back."
)
KIND_WORDS = {
    FormKind.INTAKE: "Intake",
    FormKind.CONSENT: "Consent",
    FormKind.SERVICE: "For an appointment",
}


def when(moment: datetime | None, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%d %b %Y %H:%M}" if moment else ""


def consent_words(forms: list[FormRequestView], zone: ZoneInfo) -> str:
    """The patient's consent records of this clinic: its consent forms they signed."""
    signed = [f for f in forms if f.consent_record]
    if not signed:
        return "No consent form signed with this clinic."
    listed = "; ".join(f"“{f.title}”, signed {when(f.completed_at, zone)}" for f in signed)
    return f"Consent records of this clinic: {listed}."


class FormsModel(ColumnsModel):
    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(["Form", "Kind", "Status", "Sent", "Completed"])
        self.zone = zone

    def cell(self, row: FormRequestView, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            status = "Consent given" if row.consent_record else row.status.label
            return (
                row.title,
                KIND_WORDS[row.kind],
                status,
                when(row.sent_at, self.zone),
                when(row.completed_at, self.zone),
            )[column]
        return None


class AnswersDialog(QDialog):
    """A form's answers under the questions the patient answered (its version)."""

    def __init__(self, record: FormResponseRecord, zone: ZoneInfo, parent: QWidget) -> None:
        super().__init__(parent)
        request = record.request
        self.setWindowTitle(f"Answers — {request.title}")
        self.setObjectName("formAnswers")
        self.questions: dict[str, QLabel] = {}  # question id: its wording
        self.answers: dict[str, QLabel] = {}  # question id: the answer shown
        state = request.status.label
        if request.completed_at is not None:
            state += f" on {when(request.completed_at, zone)}"
        if record.completed_by:
            state += f", by {record.completed_by}"
        self.heading = QLabel(
            f"<b>{html.escape(request.title)}</b> · version {record.version} · {html.escape(state)}"
        )
        self.heading.setObjectName("formAnswersHeading")
        self.heading.setWordWrap(True)
        # Each question above its answer, in one column: a long wording wraps to the
        # dialog's width and takes the height it needs (a form layout's label column
        # does not grow with its wrapped text, and cut questions short).
        body = QWidget()
        body.setObjectName("formAnswersBody")
        column = QVBoxLayout(body)
        for answer in record.answers:
            question = QLabel(answer.label)
            question.setObjectName(f"question_{answer.question_id}")
            question.setWordWrap(True)
            question.setTextFormat(Qt.TextFormat.PlainText)
            bold = question.font()
            bold.setBold(True)
            question.setFont(bold)
            shown = QLabel(answer.answer)
            shown.setObjectName(f"answer_{answer.question_id}")
            shown.setWordWrap(True)
            shown.setTextFormat(Qt.TextFormat.PlainText)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            shown.setIndent(16)
            column.addWidget(question)
            column.addWidget(shown)
            column.addSpacing(8)
            self.questions[answer.question_id] = question
            self.answers[answer.question_id] = shown
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("formAnswersScroll")
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        self.area = scroll
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        self.resize(620, 520)


class PatientFormsTab(QWidget):
    """The tab. ``show_patient`` reads the file's forms from the store; ``set_desk``
    says who is signed in (reading answers needs the server and a session)."""

    def __init__(self, hub: ChangeHub, store: Store, zone: ZoneInfo) -> None:
        super().__init__()
        self.hub, self.runner, self.store, self.zone = hub, hub.runner, store, zone
        self.desk: Desk | None = None
        self.patient_id: uuid.UUID | None = None
        self.busy = False
        self.dialog: AnswersDialog | None = None
        self.box: QMessageBox | None = None  # the last question or refusal (tests read it)

        self.model = FormsModel(zone)
        self.table = QTableView()
        self.table.setObjectName("patientForms")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        own_selection(self.table).selectionChanged.connect(lambda *_: self._enable())
        self.table.doubleClicked.connect(lambda _index: self.read_answers())
        self.consent = QLabel()
        self.consent.setObjectName("patientFormConsents")
        self.consent.setWordWrap(True)
        self.consent.setTextFormat(Qt.TextFormat.PlainText)
        self.message = QLabel()
        self.message.setObjectName("patientFormsMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setVisible(False)
        self.read_button = QPushButton("Read answers…")
        self.read_button.setObjectName("formReadAnswers")
        self.read_button.clicked.connect(self.read_answers)
        self.withdraw_button = QPushButton("Withdraw…")
        self.withdraw_button.setObjectName("formWithdraw")
        self.withdraw_button.setToolTip("Take back a form the patient has not completed")
        self.withdraw_button.clicked.connect(self.ask_withdraw)
        buttons = QHBoxLayout()
        buttons.addWidget(self.read_button)
        buttons.addWidget(self.withdraw_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.consent)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        hub.changed.connect(self._changes_heard)
        self.set_desk(None)

    def set_desk(self, desk: Desk | None) -> None:
        self.desk = desk
        role = desk.staff.role if desk else None
        self.withdraw_button.setVisible(role is not None and can(role, Permission.PATIENTS_WRITE))
        self._enable()

    # --- the list, from the desk's copy --------------------------------------------------

    def show_patient(self, patient_id: uuid.UUID | None) -> None:
        if patient_id != self.patient_id:
            self.model.set_rows([])
            self._say("")
        self.patient_id = patient_id
        self.reload()

    def reload(self) -> None:
        patient_id, store = self.patient_id, self.store
        if patient_id is None:
            self._listed(None, [])
            return
        self.runner.run(
            "db",
            lambda: store.form_requests(patient_id),
            lambda found: self._listed(patient_id, found),
        )

    def _changes_heard(self, changes: Changes) -> None:
        if changes.touch(*SHOWN_TOPICS) and self.patient_id is not None:
            self.reload()

    def _listed(self, patient_id: uuid.UUID | None, forms: list[FormRequestView]) -> None:
        if patient_id != self.patient_id:
            return  # another file was opened meanwhile
        chosen = self.chosen()
        self.model.set_rows(forms)
        if chosen is not None:
            row = next((n for n, f in enumerate(forms) if f.id == chosen.id), None)
            if row is not None:
                self.table.selectRow(row)
        self.consent.setText(consent_words(forms, self.zone) if patient_id else "")
        self.consent.setVisible(bool(forms))
        if patient_id is not None and not forms:
            self._say("No forms have been sent to this patient.")
        elif self.message.text() == "No forms have been sent to this patient.":
            self._say("")
        self._enable()

    def chosen(self) -> FormRequestView | None:
        rows = self.table.selectionModel().selectedRows()
        found: FormRequestView | None = self.model.row_at(rows[0].row()) if rows else None
        return found

    def _enable(self) -> None:
        chosen = self.chosen()
        ready = self.desk is not None and not self.busy and chosen is not None
        self.read_button.setEnabled(ready)
        self.withdraw_button.setEnabled(ready and chosen is not None and chosen.open)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # --- the server --------------------------------------------------------------------

    def _online(
        self,
        work: Callable[[ServerClient], Any],
        then: Callable[[Any], None],
        failed: Callable[[BaseException], None],
    ) -> bool:
        if self.desk is None:
            self._say("Sign in to read a form's answers.")
            return False
        self.busy = True
        self._enable()
        if not on_server(self.runner, self.desk, work, then, failed):
            self.busy = False
            self._enable()
            self._say(SIGNED_IN_OFFLINE)
            return False
        return True

    def read_answers(self) -> None:
        """The chosen form's answers, from the server (each read is recorded there)."""
        form = self.chosen()
        if form is None or self.busy:
            return
        self._say("Asking the server for the answers…")
        self._online(lambda c: c.form_answers(form.id), self._answers, self._not_read)

    def _answers(self, record: FormResponseRecord) -> None:
        self.busy = False
        self._enable()
        self._say("")
        dialog = AnswersDialog(record, self.zone, self)
        self.dialog = dialog
        dialog.open()

    def _not_read(self, error: BaseException) -> None:
        self.busy = False
        self._enable()
        if isinstance(error, ServerUnreachable):
            self._say(OFFLINE)
            return
        self._say(errors.words(error))
        if not isinstance(error, NotAuthenticated):
            self.box = errors.show(self, "The answers could not be read", error)

    def ask_withdraw(self) -> QMessageBox | None:
        """Asked first, Cancel by default: a withdrawn form cannot be sent back."""
        form = self.chosen()
        if form is None or not form.open or self.busy:
            return None
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Withdraw this form?",
            f"Withdraw “{form.title}”? The patient will no longer be asked to fill it in "
            "and cannot send it. Answers they saved so far stay readable here.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("formWithdrawConfirm")
        yes = box.button(QMessageBox.StandardButton.Yes)
        yes.setText("Withdraw the form")
        yes.clicked.connect(lambda: self.withdraw(form.id))
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.open()
        self.box = box
        return box

    def withdraw(self, request_id: uuid.UUID) -> None:
        self._say("Withdrawing the form…")
        self._online(lambda c: c.withdraw_form(request_id), self._withdrawn, self._not_withdrawn)

    def _withdrawn(self, record: FormRequestRecord) -> None:
        """Kept in the desk's copy at once, so the file and the worklist say so now."""
        self.busy = False
        self._say(f"“{record.title}” was withdrawn.")
        store = self.store
        self.runner.run(
            "db",
            lambda: store.take_form_request(record),
            lambda _none: self.hub.announce({Topic.FORMS}, origin=self),
        )

    def _not_withdrawn(self, error: BaseException) -> None:
        self.busy = False
        self._enable()
        if isinstance(error, ServerUnreachable):
            self._say(
                "A form is withdrawn on the server, and it cannot be reached just now: try "
                "again once the connection is back."
            )
            return
        self._say(errors.words(error))
        if not isinstance(error, NotAuthenticated):
            self.box = errors.show(self, "The form was not withdrawn", error)
        self.reload()
