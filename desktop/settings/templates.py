"""The wording of the clinic's messages: each kind of message, by text and by e-mail.

An admin sees what patients would read while typing: the message filled with sample
details, what a text costs (segments, and whether one character outside the GSM alphabet
halves what each holds), and every problem the server would refuse the template for, in
the same words, since both run ``common.message_templates``. Save stays off while there
is a problem, so only a template the server can send is ever queued.

Checking and filling in are pure and fast, so they run on the UI thread, a moment after
the last key press rather than on every one. The clinic's saved templates come from a
``templates`` source and a saved one leaves through ``save``: the page decides where they
live (the desk's store and outbox), and this editor never touches the store itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from common.message_templates import (
    SAMPLE_CLINIC,
    VARIABLES,
    ClinicFacts,
    CommunicationType,
    Rendered,
    TemplateProblem,
    check,
    defaults_for,
    render,
    render_html,
    sample_context,
)
from common.messaging import Channel
from common.sms import SINGLE_GSM, SINGLE_UCS2, is_gsm7, segments
from desktop.kit.errors import words
from desktop.kit.tasks import TaskRunner
from desktop.settings.dialogs import problem_label, say
from sync.protocol import SUBJECT_LENGTH, MessageTemplateRecord, SaveMessageTemplate

# Where the clinic's saved templates come from (read on the db lane) …
TemplatesSource = Callable[[], list[MessageTemplateRecord]]
# … and where a saved one goes: ``save(command, done)`` queues it and calls ``done`` once
# it is queued (then the editor forgets the draft and reads the templates again).
SaveTemplate = Callable[[SaveMessageTemplate, Callable[[], None]], None]

PREVIEW_DELAY_MS = 150
CHANNEL_NAMES = {Channel.SMS: "SMS", Channel.EMAIL: "E-mail"}
OWN, STANDARD, EDITED = "Clinic's own", "Standard", "Edited, not saved"

Key = tuple[CommunicationType, Channel]


def no_templates() -> list[MessageTemplateRecord]:
    """Until the desk keeps the clinic's templates, every message shows its standard
    wording."""
    return []


@dataclass(frozen=True, slots=True)
class Wording:
    subject: str  # e-mail only; "" for a text
    body: str


def size_text(text: str) -> str:
    """What a text costs, as the editor says it: "2 SMS · GSM-7 · 37 characters left"."""
    size = segments(text)
    return f"{size.segments} SMS · {size.encoding} · {size.remaining} characters left"


def ucs2_warning(text: str) -> str:
    """Why a text is UCS-2, naming the characters that make it so; "" for a GSM-7 one."""
    outside = list(dict.fromkeys(ch for ch in text if not is_gsm7(ch)))
    if not outside:
        return ""
    shown = " ".join(f"“{ch}”" for ch in outside[:5])
    return (
        f"{shown} {'is' if len(outside) == 1 else 'are'} not in the GSM alphabet, so the "
        f"whole text is sent as UCS-2: {SINGLE_UCS2} characters fit in one text instead of "
        f"{SINGLE_GSM}."
    )


class TemplateEditor(QWidget):
    """A list of every kind of message by channel, the wording of the chosen one, the
    blanks it may use, and what a patient would read."""

    def __init__(
        self,
        runner: TaskRunner,
        *,
        templates: TemplatesSource = no_templates,
        save: SaveTemplate | None = None,
        clinic: ClinicFacts = SAMPLE_CLINIC,
    ) -> None:
        super().__init__()
        self.runner = runner
        self.templates = templates
        self.save_to = save
        self.clinic = clinic
        self.editable = True
        self.records: dict[Key, MessageTemplateRecord] = {}
        self.drafts: dict[Key, Wording] = {}  # typed and not saved, kept across choices
        self.pending: dict[Key, Wording] = {}  # handed to ``save``, not yet queued
        self.current: Key | None = None
        self.problems: list[str] = []
        self._filling = False

        self.list = QTreeWidget()
        self.list.setHeaderLabels(["Message", "Wording"])
        self.list.setRootIsDecorated(True)
        self.items: dict[Key, QTreeWidgetItem] = {}
        for kind in CommunicationType:
            parent = QTreeWidgetItem([kind.label, ""])
            parent.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.list.addTopLevelItem(parent)
            for channel in Channel:
                item = QTreeWidgetItem([CHANNEL_NAMES[channel], STANDARD])
                item.setData(0, Qt.ItemDataRole.UserRole, (kind, channel))
                parent.addChild(item)
                self.items[kind, channel] = item
        self.list.expandAll()
        for column in (0, 1):
            self.list.header().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.list.header().setStretchLastSection(False)

        self.heading = QLabel()
        self.subject_label = QLabel("Subject")
        self.subject = QLineEdit()
        self.subject.setMaxLength(SUBJECT_LENGTH)
        self.body = QPlainTextEdit()
        self.body.setTabChangesFocus(True)
        self.problem = problem_label()
        self.problem.setObjectName("templateProblems")
        self.variables = QListWidget()
        for name, said in VARIABLES.items():
            entry = QListWidgetItem(f"{{{{ {name} }}}}  {said}")
            entry.setData(Qt.ItemDataRole.UserRole, name)
            entry.setToolTip(f"Double-click to put {{{{ {name} }}}} where the cursor is.")
            self.variables.addItem(entry)
        self.state = QLabel()
        self.restore_button = QPushButton("Restore default")
        self.save_button = QPushButton("Save wording")

        self.preview_subject = QLabel()
        self.preview_subject.setWordWrap(True)
        self.preview_subject.setTextFormat(Qt.TextFormat.PlainText)
        self.preview_subject.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview = QTextBrowser()
        self.preview.setOpenLinks(False)
        self.sms_size = QLabel()
        self.sms_size.setObjectName("smsSize")
        self.sms_size.setToolTip(
            "Counted with the sample details: a longer name or link may need another text."
        )
        self.encoding_warning = QLabel()
        self.encoding_warning.setWordWrap(True)
        self.encoding_warning.setStyleSheet("color: #8a5300;")
        self.preview_problem = QLabel()
        self.preview_problem.setWordWrap(True)
        self.preview_problem.setStyleSheet("color: #8a5300;")

        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(PREVIEW_DELAY_MS)
        self.timer.timeout.connect(self.refresh_preview)
        self._target: QLineEdit | QPlainTextEdit = self.body
        for editor in (self.subject, self.body):
            editor.installEventFilter(self)

        self._lay_out()
        self.list.currentItemChanged.connect(self._chosen)
        self.subject.textChanged.connect(self._typed)
        self.body.textChanged.connect(self._typed)
        self.variables.itemDoubleClicked.connect(self._insert)
        self.restore_button.clicked.connect(self.restore_default)
        self.save_button.clicked.connect(self.save)
        self.list.setCurrentItem(self.items[CommunicationType.CONFIRMATION, Channel.SMS])

    def _lay_out(self) -> None:
        wording = QFormLayout()
        wording.addRow(self.subject_label, self.subject)
        wording.addRow("Message", self.body)
        buttons = QHBoxLayout()
        buttons.addWidget(self.state, 1)
        buttons.addWidget(self.restore_button)
        buttons.addWidget(self.save_button)
        editing = QWidget()
        column = QVBoxLayout(editing)
        column.addWidget(self.heading)
        column.addLayout(wording, 3)
        column.addWidget(self.problem)
        column.addLayout(buttons)
        column.addWidget(QLabel("Blanks you can use (double-click to put one in):"))
        column.addWidget(self.variables, 2)
        preview = QWidget()
        side = QVBoxLayout(preview)
        side.addWidget(QLabel("<b>What the patient reads</b> (with sample details)"))
        side.addWidget(self.preview_subject)
        side.addWidget(self.preview, 1)
        side.addWidget(self.sms_size)
        side.addWidget(self.encoding_warning)
        side.addWidget(self.preview_problem)
        split = QSplitter()
        split.addWidget(self.list)
        split.addWidget(editing)
        split.addWidget(preview)
        split.setStretchFactor(1, 2)
        split.setStretchFactor(2, 2)
        split.setSizes([320, 520, 460])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    # --- what is saved, and what is shown -----------------------------------------------

    def reload(self) -> None:
        """Read the clinic's templates again (on the db lane): after a save or a sync."""
        self.runner.run("db", self.templates, self.show_templates, self._unreadable)

    def show_templates(self, records: list[MessageTemplateRecord]) -> None:
        known = {kind.value: kind for kind in CommunicationType}
        self.records = {(known[r.kind], r.channel): r for r in records if r.kind in known}
        self._forget_saved_drafts()
        self._show_current()

    def set_clinic(self, clinic: ClinicFacts) -> None:
        """The clinic's details and language: the samples are filled with them, and the
        standard wording is written in that language."""
        self.clinic = clinic
        self._forget_saved_drafts()
        self._show_current()

    def _forget_saved_drafts(self) -> None:
        """A draft that now reads as what is saved is no draft any more."""
        self.drafts = {key: typed for key, typed in self.drafts.items() if typed != self.saved(key)}

    def saved(self, key: Key) -> Wording:
        """The clinic's own wording if it has one, else the standard one in its language."""
        record = self.records.get(key)
        if record is not None:
            return Wording(record.subject, record.body)
        return self.standard(key)

    def standard(self, key: Key) -> Wording:
        kind, channel = key
        wording = defaults_for(self.clinic.language)[kind].for_channel(channel)
        return Wording(wording.subject or "", wording.body)

    def typed(self) -> Wording:
        """What is typed, as the server would keep it (a subject without spaces around)."""
        subject = self.subject.text().strip() if self._channel() is Channel.EMAIL else ""
        return Wording(subject, self.body.toPlainText())

    def _channel(self) -> Channel:
        return self.current[1] if self.current else Channel.SMS

    def _chosen(self, item: QTreeWidgetItem | None) -> None:
        key = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        if key is None:  # a kind of message, not one of its channels: keep the choice
            return
        self.current = key
        self._show_current()

    def _show_current(self) -> None:
        for key in self.items:
            self._mark(key)
        if self.current is None:
            return
        kind, channel = self.current
        wording = self.drafts.get(self.current) or self.saved(self.current)
        self.heading.setText(f"<b>{kind.label}</b> · {CHANNEL_NAMES[channel]}")
        email = channel is Channel.EMAIL
        self.subject_label.setVisible(email)
        self.subject.setVisible(email)
        self.preview_subject.setVisible(email)
        self.sms_size.setVisible(not email)
        self._filling = True
        self.subject.setText(wording.subject)
        if self.body.toPlainText() != wording.body:  # keep the cursor when nothing moved
            self.body.setPlainText(wording.body)
        self._filling = False
        self.refresh_preview()

    def _mark(self, key: Key) -> None:
        said = EDITED if key in self.drafts else OWN if key in self.records else STANDARD
        self.items[key].setText(1, said)

    def _typed(self) -> None:
        if self._filling or self.current is None:
            return
        typed = self.typed()
        if typed == self.saved(self.current):
            self.drafts.pop(self.current, None)
        else:
            self.drafts[self.current] = typed
        self._mark(self.current)
        self._enable()
        self.timer.start()  # restarts: the preview follows a moment after the last key

    # --- checking and the preview -------------------------------------------------------

    def refresh_preview(self) -> None:
        self.timer.stop()
        channel = self._channel()
        typed = self.typed()
        subject = typed.subject if channel is Channel.EMAIL else None
        self.problems = check(subject, typed.body, channel=channel)
        say(self.problem, "\n".join(f"• {p}" for p in self.problems))
        rendered: Rendered | None = None
        trouble = ""
        if self.problems:
            trouble = "The preview shows again once the problems are put right."
        else:
            try:
                fill = render_html if channel is Channel.EMAIL else render
                rendered = fill(subject, typed.body, sample_context(self.clinic))
            except TemplateProblem as problem:
                trouble = f"With this clinic's details: {problem}"
        self.preview_problem.setText(trouble)
        self.preview_subject.setText(
            f"Subject: {rendered.subject}" if rendered and rendered.subject else ""
        )
        if rendered is None:
            self.preview.clear()
        elif rendered.html is not None:
            self.preview.setHtml(rendered.html)
        else:
            self.preview.setPlainText(rendered.text)
        text = rendered.text if rendered and channel is Channel.SMS else ""
        self.sms_size.setText(size_text(text) if rendered else "")
        self.encoding_warning.setText(ucs2_warning(text))
        self._enable()

    def _enable(self) -> None:
        dirty = self.current in self.drafts
        handed_over = self.current is not None and self.pending.get(self.current) == self.typed()
        self.save_button.setEnabled(
            self.editable
            and self.save_to is not None
            and dirty
            and not handed_over
            and not self.problems
        )
        self.restore_button.setEnabled(self.editable)
        self.state.setText("Unsaved changes" if dirty else "")

    # --- editing ---------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802  (Qt's name)
        """Remember which of subject and message had the cursor last: a blank chosen from
        the list goes there."""
        if event.type() == QEvent.Type.FocusIn:
            if watched is self.subject:
                self._target = self.subject
            elif watched is self.body:
                self._target = self.body
        return super().eventFilter(watched, event)

    def _insert(self, item: QListWidgetItem) -> None:
        if not self.editable:
            return
        blank = f"{{{{ {item.data(Qt.ItemDataRole.UserRole)} }}}}"
        target = self._target if self._channel() is Channel.EMAIL else self.body
        if isinstance(target, QLineEdit):
            target.insert(blank)
        else:
            target.insertPlainText(blank)
        target.setFocus()

    def restore_default(self) -> None:
        if self.current is None or not self.editable:
            return
        standard = self.standard(self.current)
        self.subject.setText(standard.subject)
        self.body.setPlainText(standard.body)
        self.refresh_preview()

    def save(self) -> None:
        """Hand the wording over as a ``SaveMessageTemplate``: the template's own id and
        the version it was based on, or a new id when it replaces the standard wording."""
        self.refresh_preview()  # the check, now, not as it was a moment ago
        key = self.current
        if key is None or self.save_to is None or not self.save_button.isEnabled():
            return
        kind, channel = key
        typed = self.typed()
        record = self.records.get(key)
        try:
            command = SaveMessageTemplate(
                template_id=record.id if record else uuid.uuid4(),
                base_version=record.version if record else None,
                message_kind=kind.value,
                channel=channel,
                subject=typed.subject,
                body=typed.body,
            )
        except ValidationError as error:
            say(self.problem, words(error))
            return
        self.pending[key] = typed  # Save rests until it is queued, or typed over
        self._enable()
        self.save_to(command, lambda: self._saved(key, typed))

    def _saved(self, key: Key, typed: Wording) -> None:
        if self.pending.get(key) == typed:
            del self.pending[key]
        if self.drafts.get(key) == typed:  # not typed over since
            del self.drafts[key]
        self._enable()
        self.reload()

    def set_editable(self, editable: bool) -> None:
        """Others read the wording and its preview; only clinic admins change it."""
        self.editable = editable
        self.subject.setReadOnly(not editable)
        self.body.setReadOnly(not editable)
        self._enable()

    def _unreadable(self, error: BaseException) -> None:
        said = words(error)
        say(self.problem, f"The clinic's templates could not be read from this desk: {said}")
