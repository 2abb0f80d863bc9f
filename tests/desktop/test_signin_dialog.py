"""Every way sign-in can go wrong ends in a message in the dialog, never a crash."""

from __future__ import annotations

import re
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import update

from desktop.config import SignInDefaults
from desktop.kit.tasks import TaskRunner
from desktop.mainwindow import MainWindow
from desktop.signin import SignInDialog
from server.db import utcnow
from server.staff.models import Device
from sync.account import sync_client
from sync.engine import SyncEngine
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
WAIT_MS = 20_000


def _dialog(qtbot: QtBot, runner: TaskRunner, tmp_path: Path, server: str) -> SignInDialog:
    dialog = SignInDialog(runner, tmp_path, SignInDefaults(server, "demo", "frontdesk@demo.clinic"))
    qtbot.addWidget(dialog)
    return dialog


def _submit(qtbot: QtBot, dialog: SignInDialog, password: str) -> str:
    dialog.password.setText(password)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.sign_in_button.isEnabled, timeout=WAIT_MS)
    assert dialog.desk is None
    assert dialog.isVisible() or not dialog.result()
    return dialog.message.text()


def test_wrong_password(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, tmp_path: Path
) -> None:
    dialog = _dialog(qtbot, runner, tmp_path, live_server.url)
    message = _submit(qtbot, dialog, "not-the-password")
    assert "e-mail address or password is not right" in message
    assert dialog.email.text() == "frontdesk@demo.clinic", "what was typed is kept"


def test_malformed_server_address(qtbot: QtBot, runner: TaskRunner, tmp_path: Path) -> None:
    dialog = _dialog(qtbot, runner, tmp_path, "http://exa mple")
    message = _submit(qtbot, dialog, "frontdesk-demo-1")
    assert "is not a server address" in message
    assert "https://clinic.example.com" in message


def test_unreachable_server(qtbot: QtBot, runner: TaskRunner, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dialog = _dialog(qtbot, runner, tmp_path, f"http://127.0.0.1:{port}")
    message = _submit(qtbot, dialog, "frontdesk-demo-1")
    assert "Can't reach the server" in message
    assert "no local copy" in message


def test_blank_fields_are_named_without_a_request(
    qtbot: QtBot, runner: TaskRunner, tmp_path: Path
) -> None:
    dialog = _dialog(qtbot, runner, tmp_path, "http://127.0.0.1:9")
    dialog.clinic.setText("")
    dialog.submit()
    assert dialog.message.text() == "Please enter the clinic's short name."
    assert runner.running == 0


def test_an_expired_enrollment_is_explained_and_fixed_by_signing_in_again(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, tmp_path: Path
) -> None:
    dialog = _dialog(qtbot, runner, tmp_path, live_server.url)
    dialog.password.setText("frontdesk-demo-1")
    dialog.submit()
    qtbot.waitUntil(lambda: dialog.desk is not None, timeout=WAIT_MS)
    desk = dialog.desk
    assert desk is not None
    with live_server.sessionmaker.begin() as session:
        session.execute(update(Device).values(expires_at=utcnow() - timedelta(seconds=1)))
    window = MainWindow(desk, runner, SyncEngine(desk.store, sync_client(desk)))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: "Not connected" in window.sync_label.text(), timeout=WAIT_MS)
    assert "Sign in again to re-enroll" in window.sync_label.text()
    assert not window.sync.timer.isActive(), "no point retrying until someone signs in"
    assert window.sign_in_again_button.isVisible()

    again = window.sign_in_again()
    assert again.email.text() == "frontdesk@demo.clinic"
    assert again.server.isReadOnly(), "this window's store belongs to this server and clinic"
    assert again.clinic.isReadOnly()
    again.password.setText("frontdesk-demo-1")
    qtbot.mouseClick(again.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Online"), timeout=WAIT_MS)
    assert not window.sign_in_again_button.isVisible()
    assert window.sync.timer.isActive()
    with live_server.sessionmaker() as session:
        assert session.query(Device).count() == 2, "the workstation was enrolled afresh"
    window.close()
    desk.store.close()


def test_after_a_wrong_password_retyping_and_enter_signs_in_rather_than_closing(
    qtbot: QtBot, runner: TaskRunner, tmp_path: Path, live_server: LiveServer
) -> None:
    """While a sign-in runs the fields are disabled and the focus falls on Cancel. After
    a typo the password box must have the focus again, and Enter must sign in: before,
    the retyped password went nowhere and Enter pressed Cancel, closing the desk."""
    dialog = _dialog(qtbot, runner, tmp_path, live_server.url)
    dialog.show()
    _submit(qtbot, dialog, "frontdesk-demo-typo")
    assert dialog.focusWidget() is dialog.password
    assert dialog.password.selectedText() == "frontdesk-demo-typo"  # typing replaces it
    qtbot.keyClicks(dialog.focusWidget(), "frontdesk-demo-1")
    qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.desk is not None, timeout=WAIT_MS)
    assert dialog.result() == SignInDialog.DialogCode.Accepted
    dialog.desk.store.close()


def test_signing_in_again_shows_server_and_clinic_as_fixed_text_not_fields(
    qtbot: QtBot, runner: TaskRunner, tmp_path: Path
) -> None:
    defaults = SignInDefaults("http://127.0.0.1:1", "demo", "frontdesk@demo.clinic")
    dialog = SignInDialog(runner, tmp_path, defaults, same_clinic=True)
    qtbot.addWidget(dialog)
    for fixed in (dialog.server, dialog.clinic):
        assert fixed.isReadOnly()
        assert not fixed.hasFrame()  # it does not look like a box to type in
        assert fixed.focusPolicy() == Qt.FocusPolicy.NoFocus  # Tab skips it
    assert dialog.email.hasFrame()
    assert dialog.email.focusPolicy() != Qt.FocusPolicy.NoFocus


def test_a_locked_account_counts_down_to_when_signing_in_may_be_tried_again(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, tmp_path: Path
) -> None:
    dialog = _dialog(qtbot, runner, tmp_path, live_server.url)
    for _ in range(4):
        _submit(qtbot, dialog, "not-the-password")
    dialog.password.setText("not-the-password")
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Too many wrong passwords" in dialog.message.text(), timeout=WAIT_MS)
    assert not dialog.sign_in_button.isEnabled()  # a click now would only be refused again
    first = dialog.sign_in_button.text()
    assert re.fullmatch(r"Sign in \((\d+) s\)", first), first
    qtbot.waitUntil(lambda: dialog.sign_in_button.text() != first, timeout=3000)
    assert _seconds(dialog.sign_in_button.text()) < _seconds(first)
    assert dialog.email.isEnabled()  # what was typed can still be corrected meanwhile

    dialog._left = 1  # skip to the end of the wait
    qtbot.waitUntil(dialog.sign_in_button.isEnabled, timeout=3000)
    assert dialog.sign_in_button.text() == "Sign in"
    assert dialog.message.text().endswith("You can try again now.")


def _seconds(button_text: str) -> int:
    found = re.fullmatch(r"Sign in \((\d+) s\)", button_text)
    assert found, button_text
    return int(found.group(1))
