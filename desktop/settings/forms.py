"""Settings → Forms, for clinic admins: the clinic's forms (intake questionnaires,
consents, forms for some kinds of appointment), the builder that writes them, and where
video consultations take place.

Forms live on the server (patients answer them in the portal), so this tab works online
only, with the signed-in person's session, and says so in words otherwise. The builder
checks the questions with the server's own rules (``common.forms``) before anything is
sent, and says beside the question what is wrong with it. Saving changed questions (or
title) publishes a new version: forms patients have already begun keep the version they
began, so what a patient agreed to is never rewritten. A Save that changes nothing sends
nothing; a form someone else published meanwhile is refused, in a dialog, rather than
overwritten.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from common import forms as rules
from common.errors import InvalidInput, StaleVersion
from common.forms import FormInvalid, FormKind, QuestionKind
from common.roles import Permission, can
from common.video import DEFAULT_ROOM_TEMPLATE, TEMPLATE_LENGTH, check_room_template
from desktop.kit import errors
from desktop.kit.combo import choose
from desktop.kit.table_model import ColumnsModel, own_selection
from desktop.kit.tasks import TaskRunner
from desktop.settings.dialogs import problem_label, say
from desktop.settings.online import SIGNED_IN_OFFLINE, on_server
from sync.account import Desk
from sync.client import ServerClient
from sync.protocol import (
    FormQuestionBody,
    FormsSettingsRecord,
    FormTemplateRecord,
    SaveFormTemplate,
)
from sync.scheduling import AppointmentTypeRow, ClinicSchedule

PUBLISH_NOTE = (
    "Saving changed questions or a changed title publishes a new version of the form. "
    "Forms patients have already begun keep the version they began; new ones get this one."
)
NOTHING_CHANGED = "Nothing has changed: there is nothing to publish."
ADDRESS_UNCHANGED = "Nothing has changed, so nothing was sent."
DISCARD_TITLE = "Discard your changes to this form?"
NO_FORMS = "No forms yet: write the first with “New form…”."
UNREADABLE = "The forms could not be read from the server"
READ_ONLY = "Only clinic admins can change the clinic's forms."
STALE_TITLE = "Someone else published this form"
NO_WORDING = "(no wording yet)"
Draft = dict[str, Any]  # one question as the builder holds it (FormQuestionBody's fields)


def when(moment: datetime | None, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%d %b %Y %H:%M}" if moment else ""


def sent_with(record: FormTemplateRecord, type_names: dict[uuid.UUID, str]) -> str:
    """When the form goes out, in a few words: "Once per patient, with a first booking
    of Physio" / "With each booking of any type"."""
    named = [type_names.get(t, "a type no longer in use") for t in record.appointment_type_ids]
    types = ", ".join(named) if named else "any type"
    if record.kind.once_per_patient:
        what = "Intake" if record.kind is FormKind.INTAKE else "Consent"
        return f"{what}: once per patient, with a first booking of {types}"
    return f"With each booking of {types}"


class FormsModel(ColumnsModel):
    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(["Title", "Sent", "Version", "Published", "In use", "Sent to patients"])
        self.zone = zone
        self.type_names: dict[uuid.UUID, str] = {}

    def cell(self, row: FormTemplateRecord, column: int, role: int) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return (
                row.title,
                sent_with(row, self.type_names),
                str(row.version),
                when(row.published_at, self.zone),
                "Yes" if row.active else "No",
                str(row.sent),
            )[column]
        return None


def published_words(saved: FormTemplateRecord, before: FormTemplateRecord | None) -> str:
    """What a save did: a new version published, or (only when it is in use or which
    bookings it goes with changed) the same version kept."""
    if before is None or saved.version != before.version:
        return f"Published version {saved.version} of “{saved.title}”."
    return (
        f"Saved “{saved.title}”. Its questions and title are unchanged, so patients still "
        f"get version {saved.version}."
    )


def new_question_id(taken: set[str]) -> str:
    """An id the server accepts (``[a-z0-9_-]``), not yet used in this form."""
    while True:
        made = f"q{secrets.token_hex(4)}"
        if made not in taken:
            return made


def blank(kind: QuestionKind, taken: set[str]) -> Draft:
    return {
        "id": new_question_id(taken),
        "kind": kind.value,
        "label": "",
        "help": "",
        "required": True,
        "choices": [],
        "multiple": False,
    }


def normalised(
    title: str, kind: FormKind, type_ids: list[uuid.UUID], active: bool, questions: list[Draft]
) -> tuple[Any, ...]:
    """A form as the server would keep it, to tell whether a save changes anything.
    Raises ``FormInvalid`` as ``common.forms`` does."""
    return (
        rules.check_title(title),
        kind,
        sorted(type_ids),
        active,
        [q.to_json() for q in rules.check_questions(questions)],
    )


def kind_of(draft: Draft) -> QuestionKind:
    try:
        return QuestionKind(draft.get("kind", ""))
    except ValueError:
        return QuestionKind.TEXT


class FormBuilderDialog(QDialog):
    """A form's title, when it is sent, and its questions. Save checks everything with
    ``common.forms`` first and shows a refusal at the question it is about; only then
    is the form sent (through ``save``), and the dialog closes once the server has it.
    ``sent`` says afterwards whether anything was sent (an unchanged form is not).

    A refusal shown at a question (or the title) is checked again as it is corrected, so
    it goes as soon as it no longer holds. Cancel, Escape or closing the window ask
    before throwing away what was changed here."""

    def __init__(
        self,
        types: list[AppointmentTypeRow],
        record: FormTemplateRecord | None,
        save: Callable[
            [
                SaveFormTemplate,
                Callable[[FormTemplateRecord], None],
                Callable[[BaseException], None],
            ],
            None,
        ],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Edit form — {record.title}" if record else "New form")
        self.record, self.save = record, save
        self.sent = False
        self.saved: FormTemplateRecord | None = None
        self.box: QMessageBox | None = None  # the 409 dialog or the question (tests read it)
        self.drafts: list[Draft] = [q.model_dump() for q in record.questions] if record else []
        self.refused: dict[int, str] = {}  # question index: what is wrong with it
        self.form_refused = False  # the form's questions as a whole (none, too many)
        self._loading = False

        self.title = QLineEdit(record.title if record else "")
        self.title.setObjectName("formTitle")
        self.title.setMaxLength(rules.TITLE_LENGTH)
        self.title.setPlaceholderText("For example: New patient questionnaire")
        self.title_problem = problem_label()
        self.title.textEdited.connect(lambda _t: self._title_edited())
        self.kind = QComboBox()
        self.kind.setObjectName("formKind")
        for form_kind in FormKind:
            self.kind.addItem(form_kind.label, form_kind.value)
        choose(self.kind, (record.kind if record else FormKind.INTAKE).value)
        self.types = QListWidget()
        self.types.setObjectName("formTypes")
        self.types.setMaximumHeight(96)
        chosen = set(record.appointment_type_ids) if record else set()
        known = {t.id for t in types}
        listed = [(t.id, t.name) for t in types if t.active or t.id in chosen]
        listed += [(t, "A type no longer on this desk") for t in chosen - known]
        for type_id, name in listed:
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, type_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if type_id in chosen else Qt.CheckState.Unchecked
            )
            self.types.addItem(item)
        self.active = QCheckBox("In use: sent with new bookings")
        self.active.setObjectName("formActive")
        self.active.setChecked(record.active if record else True)

        self.questions = QListWidget()
        self.questions.setObjectName("formQuestions")
        # A long wording is cut short with "…" (its whole text is in the tooltip).
        self.questions.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.questions.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.add_kind = QComboBox()
        self.add_kind.setObjectName("formAddKind")
        for each in QuestionKind:
            self.add_kind.addItem(each.label, each.value)
        self.add_button = QPushButton("Add question")
        self.add_button.setObjectName("formAddQuestion")
        self.add_button.clicked.connect(lambda: self.add_question(self._add_kind()))
        self.up_button = QPushButton("Move up")
        self.up_button.clicked.connect(lambda: self.move_question(-1))
        self.down_button = QPushButton("Move down")
        self.down_button.clicked.connect(lambda: self.move_question(1))
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove)

        self.editor = QGroupBox("Question")
        self.editor.setObjectName("formQuestionEditor")
        self.q_kind = QComboBox()
        self.q_kind.setObjectName("questionKind")
        for each in QuestionKind:
            self.q_kind.addItem(each.label, each.value)
        self.q_label = QLineEdit()
        self.q_label.setObjectName("questionWording")
        self.q_label.setMaxLength(rules.LABEL_LENGTH)
        self.q_label.setPlaceholderText("What the patient is asked")
        self.q_help = QLineEdit()
        self.q_help.setObjectName("questionHint")
        self.q_help.setMaxLength(rules.HELP_LENGTH)
        self.q_help.setPlaceholderText("A hint shown under it (optional)")
        self.q_required = QCheckBox("An answer is required")
        self.q_choices = QPlainTextEdit()
        self.q_choices.setObjectName("questionChoices")
        self.q_choices.setPlaceholderText("One choice per line")
        self.q_choices.setTabChangesFocus(True)
        self.q_choices.setMaximumHeight(110)
        self.q_choices_label = QLabel("Choices")
        self.q_multiple = QCheckBox("More than one answer may be chosen")
        self.question_problem = problem_label()
        self.question_problem.setObjectName("questionProblem")
        editor_form = QFormLayout(self.editor)
        editor_form.addRow(self.question_problem)
        editor_form.addRow("Kind", self.q_kind)
        editor_form.addRow("Wording", self.q_label)
        editor_form.addRow("Hint", self.q_help)
        editor_form.addRow("", self.q_required)
        editor_form.addRow(self.q_choices_label, self.q_choices)
        editor_form.addRow("", self.q_multiple)

        self.note = QLabel(PUBLISH_NOTE)
        self.note.setObjectName("formPublishNote")
        self.note.setWordWrap(True)
        self.problem = problem_label()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setText("Save and publish")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        self.discarding = False  # the admin said to throw the changes away
        self.asking: QMessageBox | None = None  # "Discard your changes…?", while open

        head = QFormLayout()
        head.addRow("Title", self.title)
        head.addRow("", self.title_problem)
        head.addRow("Sent", self.kind)
        head.addRow("For appointment types\n(none ticked: every type)", self.types)
        head.addRow("", self.active)
        adding = QHBoxLayout()
        adding.addWidget(self.add_kind, 1)
        adding.addWidget(self.add_button)
        moving = QHBoxLayout()
        for button in (self.up_button, self.down_button, self.remove_button):
            moving.addWidget(button)
        left = QVBoxLayout()
        left.addWidget(QLabel("<b>Questions</b>, in the order patients see them"))
        left.addWidget(self.questions, 1)
        left.addLayout(adding)
        left.addLayout(moving)
        middle = QHBoxLayout()
        middle.addLayout(left, 1)
        middle.addWidget(self.editor, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(middle, 1)
        layout.addWidget(self.note)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

        self.questions.currentRowChanged.connect(self._chosen)
        self.q_kind.currentIndexChanged.connect(lambda _i: self._edited())
        self.q_label.textEdited.connect(lambda _t: self._edited())
        self.q_help.textEdited.connect(lambda _t: self._edited())
        self.q_required.toggled.connect(lambda _on: self._edited())
        self.q_choices.textChanged.connect(self._edited)
        self.q_multiple.toggled.connect(lambda _on: self._edited())
        self._relist()
        self.questions.setCurrentRow(0 if self.drafts else -1)
        self._chosen(self.questions.currentRow())
        self.opened_as = self.state()
        self.resize(880, 660)

    # --- the questions -------------------------------------------------------------------

    def _add_kind(self) -> QuestionKind:
        return QuestionKind(self.add_kind.currentData())

    def add_question(self, kind: QuestionKind) -> int:
        """A new, empty question of ``kind`` at the end, chosen for its wording."""
        self.drafts.append(blank(kind, {str(d.get("id")) for d in self.drafts}))
        self.refused.clear()
        self._form_checked_again()
        self._relist()
        row = len(self.drafts) - 1
        self.questions.setCurrentRow(row)
        self.q_label.setFocus()
        return row

    def move_question(self, step: int) -> None:
        row = self.questions.currentRow()
        other = row + step
        if row < 0 or not 0 <= other < len(self.drafts):
            return
        self.drafts[row], self.drafts[other] = self.drafts[other], self.drafts[row]
        self.refused.clear()  # the numbers the refusals spoke of have moved
        self._relist()
        self.questions.setCurrentRow(other)

    def remove(self) -> None:
        row = self.questions.currentRow()
        if row < 0:
            return
        del self.drafts[row]
        self.refused.clear()
        self._form_checked_again()
        self._relist()
        self.questions.setCurrentRow(min(row, len(self.drafts) - 1))
        self._chosen(self.questions.currentRow())

    def _line(self, row: int) -> str:
        draft = self.drafts[row]
        label = " ".join(str(draft.get("label", "")).split()) or NO_WORDING
        flag = "⚠ " if row in self.refused else ""
        return f"{flag}{row + 1}. {label} — {kind_of(draft).label}"

    def _relist(self) -> None:
        row = self.questions.currentRow()
        self.questions.blockSignals(True)
        self.questions.clear()
        for n in range(len(self.drafts)):
            item = QListWidgetItem()
            self.questions.addItem(item)
            self._paint(n)
        self.questions.setCurrentRow(min(row, len(self.drafts) - 1))
        self.questions.blockSignals(False)
        self._enable()

    def _paint(self, row: int) -> None:
        """Question ``row``'s line in the list: in red, with what is wrong in its tooltip,
        while it is refused."""
        item = self.questions.item(row)
        if item is None:
            return
        item.setText(self._line(row))
        refused = self.refused.get(row)
        item.setToolTip(refused or self._line(row))
        item.setData(
            Qt.ItemDataRole.ForegroundRole, QColor("#b00020") if refused is not None else None
        )

    def _chosen(self, row: int) -> None:
        """Show the chosen question in the editor, with what is wrong with it, if anything."""
        self._loading = True
        draft = self.drafts[row] if 0 <= row < len(self.drafts) else None
        self.editor.setEnabled(draft is not None)
        self.editor.setTitle(f"Question {row + 1}" if draft is not None else "Question")
        kind = kind_of(draft) if draft else QuestionKind.TEXT
        choose(self.q_kind, kind.value)
        self.q_label.setText(str(draft.get("label", "")) if draft else "")
        self.q_help.setText(str(draft.get("help", "")) if draft else "")
        self.q_required.setChecked(bool(draft.get("required", True)) if draft else True)
        self.q_choices.setPlainText("\n".join(draft.get("choices") or []) if draft else "")
        self.q_multiple.setChecked(bool(draft.get("multiple", False)) if draft else False)
        self._loading = False
        self._kind_shown(kind)
        say(self.question_problem, self.refused.get(row, ""))
        self._enable()

    def _kind_shown(self, kind: QuestionKind) -> None:
        choice = kind is QuestionKind.CHOICE
        self.q_choices.setVisible(choice)
        self.q_choices_label.setVisible(choice)
        self.q_multiple.setVisible(choice)
        signature = kind is QuestionKind.SIGNATURE
        self.q_required.setEnabled(not signature)
        self.q_required.setToolTip(
            "A signature is always required: an optional one would sign nothing."
            if signature
            else ""
        )
        if signature:
            self.q_required.setChecked(True)

    def _edited(self) -> None:
        """The editor's fields, written back to the chosen question as they are typed."""
        row = self.questions.currentRow()
        if self._loading or not 0 <= row < len(self.drafts):
            return
        kind = QuestionKind(self.q_kind.currentData())
        self._kind_shown(kind)
        lines = self.q_choices.toPlainText().splitlines()
        self.drafts[row].update(
            kind=kind.value,
            label=self.q_label.text(),
            help=self.q_help.text(),
            required=self.q_required.isChecked() or kind is QuestionKind.SIGNATURE,
            choices=[line.strip() for line in lines if line.strip()],
            multiple=self.q_multiple.isChecked(),
        )
        if row in self.refused:
            self._check_again(row)
        self._paint(row)

    def _check_again(self, row: int) -> None:
        """A refused question, checked again as it is corrected: its words follow what
        is still wrong with it, and go (with the ⚠) once nothing is. Other questions are
        left alone until Save: typing here should not bring up warnings elsewhere."""
        try:
            rules.check_question(self.drafts[row], row + 1)
        except FormInvalid as still:
            self.refused[row] = still.message
        else:
            del self.refused[row]
        say(self.question_problem, self.refused.get(row, ""))

    def _title_edited(self) -> None:
        """A refused title, checked again as it is corrected."""
        if self.title_problem.isHidden():
            return
        try:
            rules.check_title(self.title.text())
        except FormInvalid as still:
            say(self.title_problem, still.message)
        else:
            say(self.title_problem, "")

    def _enable(self) -> None:
        row = self.questions.currentRow()
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < len(self.drafts) - 1)
        self.remove_button.setEnabled(row >= 0)
        self.add_button.setEnabled(len(self.drafts) < rules.MAX_QUESTIONS)

    # --- saving ------------------------------------------------------------------------------

    def form_kind(self) -> FormKind:
        return FormKind(self.kind.currentData())

    def type_ids(self) -> list[uuid.UUID]:
        return [
            item.data(Qt.ItemDataRole.UserRole)
            for item in (self.types.item(n) for n in range(self.types.count()))
            if item.checkState() == Qt.CheckState.Checked
        ]

    def body(self) -> SaveFormTemplate:
        return SaveFormTemplate(
            title=self.title.text(),
            kind=self.form_kind(),
            appointment_type_ids=self.type_ids(),
            active=self.active.isChecked(),
            questions=[FormQuestionBody(**draft) for draft in self.drafts],
            base_version=self.record.version if self.record else None,
        )

    def _show_refusal(self, refused: FormInvalid) -> None:
        """The refusal where it belongs: beside the title, at question N (chosen, so its
        editor shows it), or for the form as a whole."""
        if refused.field == "title":
            say(self.title_problem, refused.message)
            self.title.setFocus()
            return
        if refused.field.startswith("q") and refused.field[1:].isdigit():
            row = int(refused.field[1:]) - 1
            self.refused = {row: refused.message}
            self._relist()
            self.questions.setCurrentRow(row)
            self._chosen(row)
            self.q_label.setFocus()
            return
        say(self.problem, refused.message)
        self.form_refused = True

    def _form_checked_again(self) -> None:
        """A refusal of the questions as a whole (none yet, too many), checked again as
        questions are added or removed."""
        if not self.form_refused:
            return
        try:
            rules.check_questions(self.drafts)
        except FormInvalid as still:
            if still.field == "questions":
                say(self.problem, still.message)
                return
        self.form_refused = False
        say(self.problem, "")

    def _clear_refusals(self) -> None:
        say(self.title_problem, "")
        say(self.problem, "")
        self.form_refused = False
        if self.refused:
            self.refused.clear()
            self._relist()
        say(self.question_problem, "")

    def state(self) -> tuple[Any, ...]:
        """Everything this window holds, as typed, to tell whether anything changed."""
        return (
            self.title.text(),
            self.form_kind(),
            sorted(self.type_ids()),
            self.active.isChecked(),
            copy.deepcopy(self.drafts),
        )

    def changed(self) -> bool:
        return self.state() != self.opened_as

    def reject(self) -> None:
        """Cancel, Escape or the window's close button: asked first, "Keep editing" by
        default, if anything was changed here (the changes exist nowhere else)."""
        if self.discarding or not self.changed():
            super().reject()
            return
        if self.asking is not None and self.asking.isVisible():
            return  # already asked
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Unsaved changes",
            DISCARD_TITLE,
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setInformativeText("What you changed here has not been saved, and will be lost.")
        box.setObjectName("formDiscard")
        box.button(QMessageBox.StandardButton.Discard).setText("Discard changes")
        box.button(QMessageBox.StandardButton.Cancel).setText("Keep editing")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setEscapeButton(QMessageBox.StandardButton.Cancel)
        box.button(QMessageBox.StandardButton.Discard).clicked.connect(self.discard)
        box.open()
        self.box = self.asking = box

    def discard(self) -> None:
        self.discarding = True
        self.reject()

    def unchanged(self) -> bool:
        """Whether saving would keep the form exactly as the server has it."""
        record = self.record
        if record is None:
            return False
        try:
            before = normalised(
                record.title,
                record.kind,
                list(record.appointment_type_ids),
                record.active,
                [q.model_dump() for q in record.questions],
            )
        except InvalidInput:
            return False  # a form the rules of today would refuse: let the server decide
        now = normalised(
            self.title.text(),
            self.form_kind(),
            self.type_ids(),
            self.active.isChecked(),
            self.drafts,
        )
        return before == now

    def submit(self) -> None:
        self._clear_refusals()
        try:
            rules.check_title(self.title.text())
            rules.check_questions(self.drafts)
        except FormInvalid as refused:
            self._show_refusal(refused)
            return
        if self.unchanged():
            self.sent = False
            self.accept()  # saved as it was: nothing to publish, nothing to send
            return
        try:
            body = self.body()
        except ValidationError as error:
            say(self.problem, errors.words(error))
            return
        say(self.problem, "Publishing…" if self.record is None else "Saving…")
        self.save_button.setEnabled(False)
        self.save(body, self._saved, self._refused)

    def _saved(self, record: FormTemplateRecord) -> None:
        self.sent = True
        self.saved = record
        self.accept()

    def _refused(self, error: BaseException) -> None:
        """The server's refusal: someone else's newer version in a dialog (what was
        typed stays here, to be copied into the form opened afresh), the rest beside the
        buttons."""
        self.save_button.setEnabled(True)
        if isinstance(error, StaleVersion):
            say(self.problem, "Not saved: someone else published a newer version meanwhile.")
            box = QMessageBox(
                QMessageBox.Icon.Warning,
                STALE_TITLE,
                f"{error.message}\n\nNothing of yours was saved. What you typed is still in "
                "this window, so you can copy it across.",
                QMessageBox.StandardButton.Ok,
                self,
            )
            box.setObjectName("formStale")
            box.open()
            self.box = box
            return
        say(self.problem, errors.words(error))


class FormsTab(QWidget):
    """The clinic's forms, with New form…, Edit… and Refresh, and the video room
    address. Read from the server whenever the tab is shown, and again while it is on
    screen when a sync brings forms sent to patients (``forms_sent``: the counts move)."""

    settled = Signal()  # the list (and the video address) as the server has them now

    def __init__(self, runner: TaskRunner, desk: Desk, zone: ZoneInfo) -> None:
        super().__init__()
        self.runner, self.desk, self.zone = runner, desk, zone
        self.schedule: ClinicSchedule | None = None
        self.settings: FormsSettingsRecord | None = None
        self.builder: FormBuilderDialog | None = None
        self.about_list = False  # the status line speaks of reading the list (or not)
        self.model = FormsModel(zone)
        self.table = QTableView()
        self.table.setObjectName("forms")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda index: self.edit(index.row()))
        own_selection(self.table)
        self.message = QLabel()
        self.message.setObjectName("formsMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.new_button = QPushButton("New form…")
        self.new_button.setObjectName("formsNew")
        self.new_button.clicked.connect(lambda: self.add())
        self.edit_button = QPushButton("Edit…")
        self.edit_button.clicked.connect(lambda: self.edit())
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)

        self.video = QLineEdit()
        self.video.setObjectName("videoRoomTemplate")
        self.video.setMaxLength(TEMPLATE_LENGTH)
        self.video.setPlaceholderText(DEFAULT_ROOM_TEMPLATE)
        self.video_button = QPushButton("Save address")
        self.video_button.setObjectName("videoRoomSave")
        self.video_button.clicked.connect(self.save_video)
        self.video_problem = problem_label()
        self.video_problem.setObjectName("videoRoomProblem")
        self.video_message = QLabel()
        self.video_message.setObjectName("videoRoomMessage")
        self.video_message.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.edit_button)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        video_row = QHBoxLayout()
        video_row.addWidget(self.video, 1)
        video_row.addWidget(self.video_button)
        hint = QLabel(
            "The forms patients are sent with their bookings, to fill in on the portal "
            "before they come. Double-click a form to change it."
        )
        hint.setWordWrap(True)
        video_hint = QLabel(
            "Where video consultations take place: the address with {room} where each "
            "booking's own room name goes. Empty: the default shown. Rooms already booked "
            "keep their address."
        )
        video_hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("<b>Video consultations</b>"))
        layout.addWidget(video_hint)
        layout.addLayout(video_row)
        layout.addWidget(self.video_problem)
        layout.addWidget(self.video_message)
        self.set_desk(desk)

    def set_desk(self, desk: Desk) -> None:
        self.desk = desk
        editable = can(desk.staff.role, Permission.SETTINGS_MANAGE)
        for widget in (self.new_button, self.edit_button, self.video, self.video_button):
            widget.setEnabled(editable)

    def show_schedule(self, schedule: ClinicSchedule) -> None:
        """The desk's appointment types: the builder's choices and the list's words."""
        self.schedule = schedule
        self.model.type_names = {t.id: t.name for t in schedule.appointment_types}
        self.model.layoutChanged.emit()

    # --- the server ----------------------------------------------------------------------

    def _online(
        self,
        work: Callable[[ServerClient], Any],
        then: Callable[[Any], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> bool:
        if not can(self.desk.staff.role, Permission.SETTINGS_MANAGE):
            self._say(READ_ONLY, about_list=True)
            return False
        if not on_server(self.runner, self.desk, work, then, failed or self._failed):
            self._say(SIGNED_IN_OFFLINE, about_list=True)
            return False
        return True

    def _failed(self, error: BaseException) -> None:
        self._say(f"{UNREADABLE}: {errors.words(error)}", about_list=True)

    def _say(self, text: str, *, about_list: bool = False) -> None:
        """The status line. What it says of reading the list goes at the next good read;
        what it says of a save (published, nothing to publish) stays until something
        else is said, through the reads that follow."""
        self.message.setText(text)
        self.about_list = about_list

    def refresh(self) -> None:
        self._online(lambda c: (c.forms(), c.forms_settings()), self._read)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Read afresh each time the tab comes on screen: forms go out all day."""
        super().showEvent(event)
        self.refresh()

    def forms_sent(self) -> None:
        """A sync brought forms sent to patients: the "Sent to patients" counts have
        moved. Read again if the list is on screen (it is read when shown otherwise)."""
        if self.isVisible():
            self.refresh()

    def _read(self, found: tuple[list[FormTemplateRecord], FormsSettingsRecord]) -> None:
        forms, settings = found
        chosen = self.chosen()
        self.model.set_rows(forms)
        if chosen is not None:
            row = next((n for n, f in enumerate(forms) if f.id == chosen.id), None)
            if row is not None:
                self.table.selectRow(row)
        if not forms:
            self._say(NO_FORMS, about_list=True)
        elif self.about_list:
            self._say("")
        self._show_settings(settings)
        self.settled.emit()

    def _show_settings(self, settings: FormsSettingsRecord) -> None:
        self.settings = settings
        self.video.setText(settings.video_room_template)
        self.video.setPlaceholderText(settings.default_video_room_template or DEFAULT_ROOM_TEMPLATE)

    def chosen(self) -> FormTemplateRecord | None:
        rows = self.table.selectionModel().selectedRows()
        found: FormTemplateRecord | None = self.model.row_at(rows[0].row()) if rows else None
        return found

    # --- the builder ---------------------------------------------------------------------

    def add(self) -> FormBuilderDialog | None:
        return self._open(None)

    def edit(self, row: int | None = None) -> FormBuilderDialog | None:
        record = self.model.row_at(row) if row is not None else self.chosen()
        if record is None:
            self._say("Choose a form in the list first.")
            return None
        return self._open(record)

    def _open(self, record: FormTemplateRecord | None) -> FormBuilderDialog | None:
        if not can(self.desk.staff.role, Permission.SETTINGS_MANAGE):
            self._say(READ_ONLY)
            return None
        template_id = record.id if record else None

        def save(
            body: SaveFormTemplate,
            done: Callable[[FormTemplateRecord], None],
            refused: Callable[[BaseException], None],
        ) -> None:
            def call(client: ServerClient) -> FormTemplateRecord:
                if template_id is None:
                    return client.create_form(body)
                return client.save_form(template_id, body)

            if not self._online(call, done, refused):
                refused(InvalidInput(self.message.text()))

        types = self.schedule.appointment_types if self.schedule else []
        dialog = FormBuilderDialog(types, record, save, self)
        dialog.accepted.connect(lambda: self._closed(dialog))
        self.builder = dialog
        dialog.open()
        return dialog

    def _closed(self, dialog: FormBuilderDialog) -> None:
        if not dialog.sent:
            self._say(NOTHING_CHANGED)
            return
        saved = dialog.saved
        if saved is not None:
            self._say(published_words(saved, dialog.record))
        self.refresh()

    # --- the video room address ------------------------------------------------------------

    def save_video(self) -> None:
        """Check the address as the server will, send it if it changed."""
        say(self.video_problem, "")
        self.video_message.setText("")
        try:
            cleaned = check_room_template(self.video.text())
        except InvalidInput as refused:
            say(self.video_problem, refused.message)
            return
        if self.settings is not None and cleaned == self.settings.video_room_template:
            self.video_message.setText(ADDRESS_UNCHANGED)
            return
        self.video_button.setEnabled(False)
        self.video_message.setText("Saving…")
        if not self._online(
            lambda c: c.save_forms_settings(cleaned), self._video_saved, self._video_refused
        ):
            self.video_button.setEnabled(True)
            self.video_message.setText("")

    def _video_saved(self, settings: FormsSettingsRecord) -> None:
        self.video_button.setEnabled(True)
        self._show_settings(settings)
        where = settings.video_room_template or "the default address"
        self.video_message.setText(
            f"Saved. New video consultations take place at {where}; rooms already booked "
            "keep theirs."
        )

    def _video_refused(self, error: BaseException) -> None:
        self.video_button.setEnabled(True)
        self.video_message.setText("")
        say(self.video_problem, errors.words(error))
