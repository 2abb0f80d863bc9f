"""Settings → Practice page: the clinic's public page, its logo, the switches that open
booking and enquiries, and the code for the clinic's own website.

The profile lives on the server only (patients' pages read it there), so like the
messaging settings this works online only: filled from the server, saved back at once,
refusals shown in the server's words with everything typed kept. A Save that changes
nothing sends nothing. The embed code is drawn from what the form says, by the same
function the tests check (``common.embed``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from common.embed import BUTTON_SIZES, button_code, iframe_code
from common.errors import InvalidInput
from common.roles import Permission, can
from desktop.kit.combo import choose
from desktop.kit.errors import words
from desktop.kit.tasks import TaskRunner
from desktop.settings.online import on_server
from sync.account import Desk
from sync.client import ServerClient, ServerUnreachable
from sync.protocol import PracticeProfileBody, PracticeProfileFields, PreviewLink

NEEDS_SERVER = "The practice page's settings need a connection to the server."
SIGNED_IN_OFFLINE = (
    f"{NEEDS_SERVER} You signed in while offline: sign out and in again once the connection "
    "is back."
)
NOT_LOADED = "Not loaded from the server yet"
UNSAVED = "Unsaved changes"
READ_ONLY = "Only clinic admins can change the practice page; you can look at it here."
LOGO_LARGEST = 2 * 1024 * 1024  # what is read from disk at most; the server's limit is lower


def _line(limit: int) -> QLineEdit:
    line = QLineEdit()
    line.setMaxLength(limit)
    return line


def _text(height: int = 70) -> QPlainTextEdit:
    edit = QPlainTextEdit()
    edit.setTabChangesFocus(True)
    edit.setMinimumHeight(height)
    return edit


def _hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(mid);")
    return label


def read_logo(path: str) -> bytes:
    """The chosen file's bytes (on the network lane, never the UI thread)."""
    file = Path(path)
    if file.stat().st_size > LOGO_LARGEST:
        raise InvalidInput("That file is far too large for a logo: choose a PNG or JPEG image.")
    return file.read_bytes()


class PracticePageTab(QWidget):
    """The practice page's settings, filled from the server and saved back to it."""

    settled = Signal(object)  # PracticeProfileBody: what the server holds now

    def __init__(self, runner: TaskRunner, desk: Desk) -> None:
        super().__init__()
        self.runner = runner
        self.desk = desk
        self.can_edit = False
        self.loaded: PracticeProfileBody | None = None
        self.busy = False
        self.dialog: QMessageBox | None = None  # the last refusal shown, for tests
        # How a preview link is opened (the system's browser); tests look instead.
        self.open_url: Callable[[QUrl], Any] = QDesktopServices.openUrl

        self.slug = _line(64)
        self.display_name = _line(200)
        self.specialty = _line(200)
        self.address = _text()
        self.phone = _line(40)
        self.email = _line(254)
        self.about = _text(110)
        self.insurances = _text()
        self.cancellation_policy = _text()
        self.brand_colour = _line(7)
        self.published = QCheckBox("Page published")
        self.booking_enabled = QCheckBox("Online booking")
        self.leads_enabled = QCheckBox("Enquiry form")
        self.button_size = QComboBox()
        for key, size in BUTTON_SIZES.items():
            self.button_size.addItem(size.label, key)
        self.button_colour = _line(7)
        self.lines = [
            self.slug,
            self.display_name,
            self.specialty,
            self.phone,
            self.email,
            self.brand_colour,
            self.button_colour,
        ]
        self.texts = [self.address, self.about, self.insurances, self.cancellation_policy]
        self.checks = [self.published, self.booking_enabled, self.leads_enabled]
        self.fields: list[QWidget] = [*self.lines, *self.texts, *self.checks, self.button_size]

        self.logo_state = QLabel("No logo")
        self.logo_button = QPushButton("Choose…")
        self.remove_logo_button = QPushButton("Remove")
        self.button_box = QPlainTextEdit()
        self.iframe_box = QPlainTextEdit()
        for box in (self.button_box, self.iframe_box):
            box.setReadOnly(True)
            box.setMaximumHeight(80)
        self.copy_button = QPushButton("Copy button code")
        self.copy_iframe = QPushButton("Copy widget code")
        self.address_label = QLabel()
        self.address_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = QLabel()
        self.message.setObjectName("practiceMessage")
        self.message.setWordWrap(True)
        self.state = QLabel(NOT_LOADED)
        self.preview_button = QPushButton("Preview")
        self.load_button = QPushButton("Load again")
        self.undo_button = QPushButton("Undo changes")
        self.save_button = QPushButton("Save practice page")

        logo = QHBoxLayout()
        logo.addWidget(self.logo_state, 1)
        logo.addWidget(self.logo_button)
        logo.addWidget(self.remove_logo_button)
        switches = QHBoxLayout()
        for check in self.checks:
            switches.addWidget(check)
        switches.addStretch(1)
        look = QHBoxLayout()
        look.addWidget(QLabel("Size"))
        look.addWidget(self.button_size)
        look.addWidget(QLabel("Colour"))
        look.addWidget(self.button_colour)
        look.addStretch(1)
        copy = QHBoxLayout()
        copy.addWidget(self.copy_button)
        copy.addWidget(self.copy_iframe)
        copy.addStretch(1)

        form = QFormLayout()
        form.addRow("", self.address_label)
        form.addRow("Page address", self.slug)
        form.addRow("", _hint("Lower-case letters, digits and hyphens: /practice/your-address."))
        form.addRow("Practice name", self.display_name)
        form.addRow("Specialty", self.specialty)
        form.addRow("Address", self.address)
        form.addRow("Phone", self.phone)
        form.addRow("E-mail", self.email)
        form.addRow("About", self.about)
        form.addRow("", _hint("A blank line starts a new paragraph."))
        form.addRow("Insurances accepted", self.insurances)
        form.addRow("", _hint("One per line, at most 30."))
        form.addRow("Cancellation policy", self.cancellation_policy)
        form.addRow("Page colour", self.brand_colour)
        form.addRow("Logo", logo)
        form.addRow("", _hint("A PNG or JPEG of at most 200 KB, saved at once."))
        form.addRow("Open to patients", switches)
        form.addRow("", _hint("Booking and enquiries open separately: either can come first."))
        form.addRow(QLabel("<b>Book Appointment button for your website</b>"))
        form.addRow("Button", look)
        form.addRow("Button code", self.button_box)
        form.addRow("Booking widget", self.iframe_box)
        form.addRow("", copy)
        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.addWidget(self.message)
        inner_layout.addLayout(form)
        inner_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        buttons = QHBoxLayout()
        buttons.addWidget(self.state, 1)
        buttons.addWidget(self.preview_button)
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)

        for line in self.lines:
            line.textChanged.connect(self._edited)
        for text in self.texts:
            text.textChanged.connect(self._edited)
        for check in self.checks:
            check.toggled.connect(self._edited)
        self.button_size.currentIndexChanged.connect(self._edited)
        self.copy_button.clicked.connect(lambda: self._copy(self.button_box))
        self.copy_iframe.clicked.connect(lambda: self._copy(self.iframe_box))
        self.logo_button.clicked.connect(self.choose_logo)
        self.remove_logo_button.clicked.connect(self.remove_logo)
        self.preview_button.clicked.connect(self.preview)
        self.load_button.clicked.connect(self.load)
        self.undo_button.clicked.connect(self._undo)
        self.save_button.clicked.connect(self.save)
        self.set_desk(desk)

    def set_desk(self, desk: Desk) -> None:
        """Only clinic admins change the page; anyone may look at it and its code."""
        self.desk = desk
        self.can_edit = can(desk.staff.role, Permission.SETTINGS_MANAGE)
        self._enable()

    # --- what is on the form ----------------------------------------------------------

    def fields_now(self) -> PracticeProfileFields:
        """What the form says (``ValidationError`` only for something far out of bounds;
        the server says what is wrong with the rest)."""
        insurances = [line.strip() for line in self.insurances.toPlainText().splitlines()]
        return PracticeProfileFields(
            slug=self.slug.text().strip().lower(),
            display_name=self.display_name.text().strip(),
            specialty=self.specialty.text().strip(),
            address=self.address.toPlainText().strip(),
            phone=self.phone.text().strip(),
            email=self.email.text().strip(),
            about=self.about.toPlainText().strip(),
            insurances=[item for item in insurances if item],
            cancellation_policy=self.cancellation_policy.toPlainText().strip(),
            brand_colour=self.brand_colour.text().strip().lower(),
            published=self.published.isChecked(),
            booking_enabled=self.booking_enabled.isChecked(),
            leads_enabled=self.leads_enabled.isChecked(),
            button_size=self.button_size.currentData(),
            button_colour=self.button_colour.text().strip().lower(),
        )

    def dirty(self) -> bool:
        if self.loaded is None:
            return False
        try:
            return self.fields_now() != self.loaded.fields()
        except ValidationError:
            return True

    def _fill(self, body: PracticeProfileBody) -> None:
        for widget in self.fields:
            widget.blockSignals(True)
        self.slug.setText(body.slug)
        self.display_name.setText(body.display_name)
        self.specialty.setText(body.specialty)
        self.address.setPlainText(body.address)
        self.phone.setText(body.phone)
        self.email.setText(body.email)
        self.about.setPlainText(body.about)
        self.insurances.setPlainText("\n".join(body.insurances))
        self.cancellation_policy.setPlainText(body.cancellation_policy)
        self.brand_colour.setText(body.brand_colour)
        self.published.setChecked(body.published)
        self.booking_enabled.setChecked(body.booking_enabled)
        self.leads_enabled.setChecked(body.leads_enabled)
        choose(self.button_size, body.button_size)
        self.button_colour.setText(body.button_colour)
        for widget in self.fields:
            widget.blockSignals(False)
        self.logo_state.setText("A logo is set" if body.has_logo else "No logo")
        self._edited()

    def _edited(self) -> None:
        self.message.setText("")
        self.state.setText(NOT_LOADED if self.loaded is None else UNSAVED if self.dirty() else "")
        self._show_code()
        self._enable()

    def _show_code(self) -> None:
        """The website code for what the form says now (saved or not: the note says)."""
        if self.loaded is None:
            self.button_box.setPlainText("")
            self.iframe_box.setPlainText("")
            self.address_label.setText("")
            return
        base = self.loaded.public_base_url
        slug = self.slug.text().strip().lower() or "your-address"
        name = self.display_name.text().strip() or self.desk.clinic_name
        size = self.button_size.currentData() or "medium"
        colour = self.button_colour.text().strip()
        self.button_box.setPlainText(button_code(base, slug, size=size, colour=colour))
        self.iframe_box.setPlainText(iframe_code(base, slug, name=name))
        page = f"{base.rstrip('/')}/practice/{slug}"
        self.address_label.setText(
            f"The page: {page}" + ("" if self.loaded.saved else " (once saved)")
        )

    def _enable(self) -> None:
        ready = self.can_edit and self.loaded is not None
        for widget in self.fields:
            widget.setEnabled(ready)
        self.save_button.setEnabled(ready and not self.busy)
        dirty = self.dirty()
        self.undo_button.setEnabled(ready and dirty)
        self.load_button.setEnabled(not self.busy and not dirty)
        saved = self.loaded is not None and self.loaded.saved
        self.logo_button.setEnabled(ready and saved and not self.busy)
        self.remove_logo_button.setEnabled(
            ready and saved and not self.busy and self.loaded is not None and self.loaded.has_logo
        )
        self.preview_button.setEnabled(saved and not self.busy)
        has_code = self.loaded is not None
        self.copy_button.setEnabled(has_code)
        self.copy_iframe.setEnabled(has_code)

    def _undo(self) -> None:
        if self.loaded is not None:
            self._fill(self.loaded)

    def _copy(self, box: QPlainTextEdit) -> None:
        QGuiApplication.clipboard().setText(box.toPlainText())
        self._say(
            "Copied. Paste it into your website's HTML."
            + (" Save first: the code uses the page's saved address." if self.dirty() else "")
        )

    # --- the server -------------------------------------------------------------------

    def refresh(self) -> None:
        """Load what the server has, unless something typed here is not saved yet."""
        if not self.dirty():
            self.load()

    def load(self) -> None:
        self._say("Asking the server…")
        self._call(lambda client: client.practice_profile(), self._settled, self._unloaded)

    def save(self) -> None:
        if not self.can_edit or self.loaded is None:
            return
        try:
            fields = self.fields_now()
        except ValidationError as error:
            self._refused(error)
            return
        if fields == self.loaded.fields():
            self._say("Nothing has changed, so nothing was sent.")
            return
        self._say("Saving…")
        self._call(lambda client: client.save_practice_profile(fields), self._saved, self._refused)

    def choose_logo(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose the practice's logo", "", "Images (*.png *.jpg *.jpeg)"
        )
        if path:
            self.upload_logo(path)

    def upload_logo(self, path: str) -> None:
        """Read the file and send it, both on the network lane."""
        if not self.can_edit:
            return
        self._say("Sending the logo…")
        self._call(
            lambda client: client.upload_practice_logo(read_logo(path)),
            self._logo_changed,
            self._refused,
        )

    def remove_logo(self) -> None:
        if not self.can_edit:
            return
        self._call(lambda client: client.remove_practice_logo(), self._logo_changed, self._refused)

    def preview(self) -> None:
        self._say("Asking the server for a preview…")
        self._call(
            lambda client: client.practice_preview_link(), self._preview_ready, self._refused
        )

    def _call(
        self,
        work: Callable[[ServerClient], Any],
        then: Callable[[Any], None],
        failed: Callable[[BaseException], None],
    ) -> None:
        self.busy = True
        self._enable()
        if not on_server(self.runner, self.desk, work, then, failed):
            self.busy = False
            self._enable()
            self._say(SIGNED_IN_OFFLINE)

    def _settled(self, body: PracticeProfileBody) -> None:
        self.busy = False
        if self.dirty():  # typed while the answer was on its way: keep what was typed
            self._say("")
            self._enable()
            return
        self.loaded = body
        self._fill(body)
        self._say("" if self.can_edit else READ_ONLY)
        self.settled.emit(body)

    def _saved(self, body: PracticeProfileBody) -> None:
        self.busy = False
        self.loaded = body
        self._fill(body)
        self._say("Saved. Patients see these details now." if body.published else "Saved.")
        self.settled.emit(body)

    def _logo_changed(self, body: PracticeProfileBody) -> None:
        """Only the logo changed: what is typed on the form stays as it is."""
        self.busy = False
        if self.loaded is not None:
            self.loaded = self.loaded.model_copy(
                update={"has_logo": body.has_logo, "logo_version": body.logo_version}
            )
        self.logo_state.setText("A logo is set" if body.has_logo else "No logo")
        self._enable()
        self._say("Logo saved." if body.has_logo else "Logo removed.")
        self.settled.emit(self.loaded)

    def _preview_ready(self, link: PreviewLink) -> None:
        self.busy = False
        self._enable()
        self.open_url(QUrl(link.url))
        self._say(
            "The preview opened in your browser; its link works for 15 minutes and shows the "
            "page as last saved."
        )

    def _unloaded(self, error: BaseException) -> None:
        self.busy = False
        self._enable()
        if isinstance(error, ServerUnreachable):
            self._say(f"{NEEDS_SERVER} It cannot be reached just now: press Load again later.")
        else:
            self._say(f"The practice page's settings could not be loaded: {words(error)}")

    def _refused(self, error: BaseException) -> None:
        """Said on the form and in a dialog; every field keeps what was typed."""
        self.busy = False
        self._enable()
        if isinstance(error, ServerUnreachable):
            text = (
                f"{NEEDS_SERVER} It cannot be reached just now. What you typed is still "
                "here: try again when the connection is back."
            )
        elif isinstance(error, OSError):
            text = f"That file could not be read: {error.strerror or error}."
        else:
            text = words(error)
        self._say(text)
        box = QMessageBox(
            QMessageBox.Icon.Warning, "The practice page was not saved", text, parent=self
        )
        box.setObjectName("errorMessage")
        box.open()
        self.dialog = box

    def _say(self, text: str) -> None:
        self.message.setText(text)
