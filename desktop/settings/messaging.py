"""Settings → Messages: how the clinic sends, and the wording of each message.

How the clinic sends messages: the name and contact details patients see, the language
of the default wording, when texts may go out, how often marketing may reach one patient,
and whether bookings are confirmed.

These settings live on the server only (the dispatcher reads them as it sends), so unlike
the rest of Settings the form works online only: it is filled from the server, and Save
replaces them there at once. When the server refuses, or cannot be reached, the form
says why and keeps everything typed, so nothing has to be typed again. A Save that changes
nothing sends nothing. The wording is edited in ``desktop.settings.templates``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import time

from pydantic import ValidationError
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from common.errors import InvalidInput
from common.message_templates import LANGUAGES, ClinicFacts
from common.patients import normalise_phone
from common.roles import Permission, can
from desktop.kit.combo import choose, find
from desktop.kit.errors import words
from desktop.kit.tasks import TaskRunner
from desktop.settings.dialogs import clock, qtime, time_edit
from desktop.settings.online import on_server
from desktop.settings.templates import SaveTemplate, TemplateEditor, TemplatesSource, no_templates
from sync.account import Desk
from sync.client import ServerClient, ServerUnreachable
from sync.protocol import MessagingSettingsBody

NEEDS_SERVER = "Messaging settings need a connection to the server."
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español"}
SENDER_LENGTH = 100  # what the server keeps of a sender name
UNSAVED = "Unsaved changes"
NOT_LOADED = "Not loaded from the server yet"


class MessagingSettingsForm(QWidget):
    """The clinic's messaging settings, filled from the server and saved back to it."""

    # What the server holds now (after each load and each save): the wording editor
    # writes its defaults in this language and fills its samples with these details.
    settled = Signal(object)  # MessagingSettingsBody

    def __init__(self, runner: TaskRunner, desk: Desk) -> None:
        super().__init__()
        self.runner = runner
        self.desk = desk
        self.can_edit = False
        self.loaded: MessagingSettingsBody | None = None  # as the server last said
        self.busy = False
        self.dialog: QMessageBox | None = None  # the last refusal shown, for tests

        self.sender_name = QLineEdit()
        self.sender_name.setMaxLength(SENDER_LENGTH)
        self.phone = QLineEdit()
        self.phone.setMaxLength(32)
        self.email = QLineEdit()
        self.email.setMaxLength(254)
        self.sms_number = QLineEdit()
        self.sms_number.setMaxLength(16)
        self.sms_number.setPlaceholderText("the server's number")
        self.language = QComboBox()
        for code in LANGUAGES:
            self.language.addItem(LANGUAGE_NAMES.get(code, code), code)
        self.texts_from = time_edit(time(8))
        self.texts_until = time_edit(time(20))
        self.marketing_cap = QSpinBox()
        self.marketing_cap.setRange(0, 100)
        self.marketing_cap.setSuffix(" messages")
        self.marketing_cap.setSpecialValueText("No marketing messages")
        self.marketing_cap_days = QSpinBox()
        self.marketing_cap_days.setRange(1, 365)
        self.marketing_cap_days.setSuffix(" days")
        self.send_confirmations = QCheckBox("Send booking confirmations")
        self.fields: list[QWidget] = [
            self.sender_name,
            self.phone,
            self.email,
            self.sms_number,
            self.language,
            self.texts_from,
            self.texts_until,
            self.marketing_cap,
            self.marketing_cap_days,
            self.send_confirmations,
        ]

        self.message = QLabel()
        self.message.setObjectName("messagingMessage")
        self.message.setWordWrap(True)
        self.state = QLabel(NOT_LOADED)
        self.load_button = QPushButton("Load again")
        self.undo_button = QPushButton("Undo changes")
        self.save_button = QPushButton("Save messaging settings")

        window = QHBoxLayout()
        window.addWidget(QLabel("from"))
        window.addWidget(self.texts_from)
        window.addWidget(QLabel("until"))
        window.addWidget(self.texts_until)
        window.addStretch(1)
        cap = QHBoxLayout()
        cap.addWidget(QLabel("at most"))
        cap.addWidget(self.marketing_cap)
        cap.addWidget(QLabel("in"))
        cap.addWidget(self.marketing_cap_days)
        cap.addStretch(1)
        form = QFormLayout()
        form.addRow("Sender name", self.sender_name)
        form.addRow("Clinic phone", self.phone)
        form.addRow("Clinic e-mail", self.email)
        form.addRow("", _hint("The phone and e-mail go into messages and the reply to HELP."))
        form.addRow("Texts come from", self.sms_number)
        form.addRow("", _hint("The clinic's own SMS number (+44…), if it has one."))
        form.addRow("Language", self.language)
        form.addRow("", _hint("The language of the standard wording and of dates."))
        form.addRow("Texts are sent", window)
        form.addRow("", _hint("Texts that can wait are held outside these hours."))
        form.addRow("Marketing per patient", cap)
        form.addRow("", self.send_confirmations)
        buttons = QHBoxLayout()
        buttons.addWidget(self.state, 1)
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addLayout(form)
        layout.addStretch(1)
        layout.addLayout(buttons)

        for line in (self.sender_name, self.phone, self.email, self.sms_number):
            line.textChanged.connect(self._edited)
        self.language.currentIndexChanged.connect(self._edited)
        for edit in (self.texts_from, self.texts_until):
            edit.timeChanged.connect(self._edited)
        for spin in (self.marketing_cap, self.marketing_cap_days):
            spin.valueChanged.connect(self._edited)
        self.send_confirmations.toggled.connect(self._edited)
        self.load_button.clicked.connect(self.load)
        self.undo_button.clicked.connect(self._undo)
        self.save_button.clicked.connect(self.save)
        self.set_desk(desk)

    def set_desk(self, desk: Desk) -> None:
        """Only clinic admins change how the clinic sends; anyone may look."""
        self.desk = desk
        self.can_edit = can(desk.staff.role, Permission.COMMS_MANAGE_TEMPLATES)
        self.sender_name.setPlaceholderText(desk.clinic_name)
        self._enable()

    # --- what is on the form ----------------------------------------------------------

    def body(self) -> MessagingSettingsBody:
        """What the form says now; ``ValidationError`` for a field the server would refuse."""
        return MessagingSettingsBody(
            sender_name=self.sender_name.text().strip(),
            phone=self.phone.text().strip(),
            email=self.email.text().strip(),
            sms_number=normalise_phone(self.sms_number.text(), self.desk.country) or "",
            language=self.language.currentData(),
            texts_from=clock(self.texts_from),
            texts_until=clock(self.texts_until),
            marketing_cap=self.marketing_cap.value(),
            marketing_cap_days=self.marketing_cap_days.value(),
            send_confirmations=self.send_confirmations.isChecked(),
        )

    def dirty(self) -> bool:
        if self.loaded is None:
            return False
        try:
            return self.body() != self.loaded
        except (ValidationError, InvalidInput):
            return True

    def _fill(self, settings: MessagingSettingsBody) -> None:
        for widget in self.fields:
            widget.blockSignals(True)
        self.sender_name.setText(settings.sender_name)
        self.phone.setText(settings.phone)
        self.email.setText(settings.email)
        self.sms_number.setText(settings.sms_number)
        if find(self.language, settings.language) < 0:  # one the desk has no wording in
            self.language.addItem(settings.language, settings.language)
        choose(self.language, settings.language)
        self.texts_from.setTime(qtime(settings.texts_from))
        self.texts_until.setTime(qtime(settings.texts_until))
        self.marketing_cap.setValue(settings.marketing_cap)
        self.marketing_cap_days.setValue(settings.marketing_cap_days)
        self.send_confirmations.setChecked(settings.send_confirmations)
        for widget in self.fields:
            widget.blockSignals(False)
        self._edited()

    def _edited(self) -> None:
        self.message.setText("")  # what was said of the last save no longer holds
        self.state.setText(NOT_LOADED if self.loaded is None else UNSAVED if self.dirty() else "")
        self._enable()

    def _enable(self) -> None:
        """Nothing is typed before the server's settings are shown: a Save over values
        never loaded would overwrite the clinic's real ones."""
        ready = self.can_edit and self.loaded is not None
        for widget in self.fields:
            widget.setEnabled(ready)
        self.save_button.setEnabled(ready and not self.busy)
        dirty = self.dirty()
        self.undo_button.setEnabled(ready and dirty)
        self.load_button.setEnabled(not self.busy and not dirty)  # Undo throws typing away

    def _undo(self) -> None:
        if self.loaded is not None:
            self._fill(self.loaded)

    # --- the server -------------------------------------------------------------------

    def refresh(self) -> None:
        """Load what the server has, unless something typed here is not saved yet."""
        if not self.dirty():
            self.load()

    def load(self) -> None:
        self._say("Asking the server…")
        self._call(lambda client: client.messaging_settings(), self._settled, self._unloaded)

    def save(self) -> None:
        if not self.can_edit or self.loaded is None:
            return
        try:
            body = self.body()
        except (ValidationError, InvalidInput) as error:
            self._refused(error)
            return
        if body == self.loaded:
            self._say("Nothing has changed, so nothing was sent.")
            return
        self._say("Saving…")
        self._call(lambda client: client.save_messaging_settings(body), self._saved, self._refused)

    def _call(
        self,
        work: Callable[[ServerClient], MessagingSettingsBody],
        then: Callable[[MessagingSettingsBody], None],
        failed: Callable[[BaseException], None],
    ) -> None:
        self.busy = True
        self._enable()
        if not on_server(self.runner, self.desk, work, then, failed):
            self.busy = False
            self._enable()
            self._say(
                f"{NEEDS_SERVER} You signed in while offline: sign out and in again once the "
                "connection is back."
            )

    def _settled(self, settings: MessagingSettingsBody) -> None:
        self.busy = False
        if self.dirty():  # typed while the answer was on its way: keep what was typed
            self._say("")
            self._enable()
            return
        self.loaded = settings
        self._fill(settings)
        self._say("")
        self.settled.emit(settings)

    def _saved(self, settings: MessagingSettingsBody) -> None:
        self.busy = False
        self.loaded = settings
        self._fill(settings)
        self._say("Saved. Messages from now on use these settings.")
        self.settled.emit(settings)

    def _unloaded(self, error: BaseException) -> None:
        self.busy = False
        self._enable()
        if isinstance(error, ServerUnreachable):
            self._say(f"{NEEDS_SERVER} It cannot be reached just now: press Load again later.")
        else:
            self._say(f"The messaging settings could not be loaded: {words(error)}")

    def _refused(self, error: BaseException) -> None:
        """Said on the form and in a dialog; every field keeps what was typed."""
        self.busy = False
        self._enable()
        if isinstance(error, ServerUnreachable):
            text = (
                f"{NEEDS_SERVER} It cannot be reached just now. What you typed is still "
                "here: press Save again when the connection is back."
            )
        else:
            text = words(error)
        self._say(text)
        box = QMessageBox(
            QMessageBox.Icon.Warning, "The messaging settings were not saved", text, parent=self
        )
        box.setObjectName("errorMessage")
        box.open()
        self.dialog = box

    def _say(self, text: str) -> None:
        self.message.setText(text)


def _hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(mid);")
    return label


class MessagesTab(QWidget):
    """The messaging settings (online only) and the wording editor, which writes its
    standard wording in the clinic's language and fills its samples with the clinic's
    details as the server holds them."""

    def __init__(
        self,
        runner: TaskRunner,
        desk: Desk,
        *,
        templates: TemplatesSource = no_templates,
        save: SaveTemplate | None = None,
    ) -> None:
        super().__init__()
        self.desk = desk
        self.form = MessagingSettingsForm(runner, desk)
        self.editor = TemplateEditor(
            runner, templates=templates, save=save, clinic=self.clinic_facts(None)
        )
        self.tabs = QTabWidget()
        self.tabs.addTab(self.form, "Sending")
        self.tabs.addTab(self.editor, "Wording")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        self.form.settled.connect(lambda found: self.editor.set_clinic(self.clinic_facts(found)))
        self.set_desk(desk)

    def clinic_facts(self, settings: MessagingSettingsBody | None) -> ClinicFacts:
        """The clinic as its messages name it (what the server fills templates with)."""
        if settings is None:
            return ClinicFacts(self.desk.clinic_name, None, None, self.desk.time_zone)
        return ClinicFacts(
            settings.sender_name or self.desk.clinic_name,
            settings.phone or None,
            settings.email or None,
            self.desk.time_zone,
            settings.language,
        )

    def set_desk(self, desk: Desk) -> None:
        self.desk = desk
        self.form.set_desk(desk)
        self.editor.set_editable(can(desk.staff.role, Permission.COMMS_MANAGE_TEMPLATES))

    def refresh(self) -> None:
        """When the tab is opened: the server's settings, and the desk's templates."""
        self.form.refresh()
        self.editor.reload()
