"""The sign-in dialog: every failure is shown in the dialog, in words, and the form keeps
what was typed."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from common.errors import TooManyAttempts
from desktop.config import SignInDefaults
from desktop.kit.errors import words
from desktop.kit.tasks import TaskRunner
from sync import account
from sync.account import Desk


class SignInDialog(QDialog):
    refused = Signal(str)  # why a sign-in did not happen, in words

    def __init__(
        self,
        runner: TaskRunner,
        data_dir: Path,
        defaults: SignInDefaults,
        parent: QWidget | None = None,
        *,
        same_clinic: bool = False,
    ) -> None:
        """``same_clinic`` fixes the server and clinic, for signing in again to the clinic
        whose local copy is already open."""
        super().__init__(parent)
        self.setWindowTitle("Sign in to Clinicdesk")
        self.setMinimumWidth(420)
        self.runner = runner
        self.data_dir = data_dir
        self.desk: Desk | None = None
        self._said, self._left = "", 0  # a refusal being waited out, and seconds left

        self.server = QLineEdit(defaults.server_url)
        self.clinic = QLineEdit(defaults.clinic)
        self.clinic.setPlaceholderText("the clinic's short name, e.g. demo")
        self.email = QLineEdit(defaults.email)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        if same_clinic:
            for fixed in (self.server, self.clinic):
                # Looks like the text it is, not a field to type in: no frame, no focus.
                fixed.setReadOnly(True)
                fixed.setFrame(False)
                fixed.setFocusPolicy(Qt.FocusPolicy.NoFocus)
                fixed.setStyleSheet("background: transparent;")
                fixed.setToolTip("This desk's copy belongs to this server and clinic.")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setObjectName("signInMessage")
        self.message.setStyleSheet("color: #b00020;")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        form = QFormLayout()
        form.addRow("Server", self.server)
        form.addRow("Clinic", self.clinic)
        form.addRow("E-mail", self.email)
        form.addRow("Password", self.password)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.sign_in_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.sign_in_button.setText("Sign in")
        # Enter signs in, whatever has the focus: while a sign-in runs the fields are
        # disabled and the focus lands on Cancel, and Enter there must not close the desk.
        self.sign_in_button.setDefault(True)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setAutoDefault(False)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        (self.password if defaults.email else self.clinic).setFocus()

    def _missing(self) -> str | None:
        for field, what in (
            (self.server, "the server's address"),
            (self.clinic, "the clinic's short name"),
            (self.email, "your e-mail address"),
            (self.password, "your password"),
        ):
            if not field.text().strip():
                field.setFocus()
                return f"Please enter {what}."
        return None

    def submit(self) -> None:
        problem = self._missing()
        if problem:
            self.show_error(problem)
            return
        self.message.setText("Signing in…")
        self.message.setStyleSheet("color: palette(text);")
        self._set_busy(True)
        server, clinic = self.server.text(), self.clinic.text()
        email, password = self.email.text(), self.password.text()
        self.runner.run(
            "net",
            lambda: account.sign_in(self.data_dir, server, clinic, email, password),
            self._signed_in,
            self._failed,
        )

    def _signed_in(self, desk: Desk) -> None:
        self.desk = desk
        SignInDefaults(desk.server_url, desk.clinic_slug, self.email.text().strip()).save()
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self._set_busy(False)
        self.show_error(words(error))
        if isinstance(error, TooManyAttempts) and error.retry_after > 0:
            self._wait_out(words(error), error.retry_after)

    def _wait_out(self, said: str, seconds: int) -> None:
        """Signing in is refused for ``seconds``: the button stays off and counts down,
        so nobody types the password again only to be refused again."""
        self._said, self._left = said, seconds
        self._tick()

    def _tick(self) -> None:
        if self._left <= 0:
            self.sign_in_button.setText("Sign in")
            self.sign_in_button.setEnabled(True)
            self.message.setText(f"{self._said}\nYou can try again now.")
            return
        self.sign_in_button.setEnabled(False)
        self.sign_in_button.setText(f"Sign in ({self._left} s)")
        self._left -= 1
        QTimer.singleShot(1000, self, self._tick)

    def show_error(self, text: str) -> None:
        """Say what went wrong and put the cursor back in the password, selected, so the
        next thing typed replaces it."""
        self.message.setStyleSheet("color: #b00020;")
        self.message.setText(text)
        self.password.setFocus()
        self.password.selectAll()
        self.refused.emit(text)

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.server, self.clinic, self.email, self.password, self.sign_in_button):
            widget.setEnabled(not busy)
