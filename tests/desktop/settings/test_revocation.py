"""What the desk shows when an admin removes its workstation or deactivates the person
signed in at it, and signing out: against a real server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop.kit.tasks import TaskRunner
from desktop.mainwindow import MainWindow
from server.staff.models import Device
from sync import account
from sync.account import Desk, sync_client
from sync.client import ServerClient, ServerUnreachable
from sync.engine import SyncEngine
from sync.protocol import API_PREFIX
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
WAIT_MS = 20_000
EMAIL, PASSWORD = "frontdesk@demo.clinic", "frontdesk-demo-1"
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@demo.clinic", "admin-demo-1"


def _open(qtbot: QtBot, runner: TaskRunner, desk: Desk) -> MainWindow:
    window = MainWindow(desk, runner, SyncEngine(desk.store, sync_client(desk)))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Online"), timeout=WAIT_MS)
    return window


def _as_admin(server: LiveServer, folder: Path, act: Callable[[ServerClient], object]) -> None:
    admin = account.sign_in(folder, server.url, "demo", ADMIN_EMAIL, ADMIN_PASSWORD)
    client = sync_client(admin)
    try:
        act(client)
    finally:
        client.close()
        admin.store.close()


def test_a_removed_workstation_says_why_and_no_longer_signs_anyone_in_offline(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, tmp_path: Path
) -> None:
    desk = account.sign_in(tmp_path / "desk", live_server.url, "demo", EMAIL, PASSWORD)
    window = _open(qtbot, runner, desk)
    with live_server.sessionmaker() as session:
        device_id = session.scalars(select(Device.id).order_by(Device.created_at)).first()
    assert device_id is not None
    _as_admin(live_server, tmp_path / "admin", lambda c: c.revoke_workstation(device_id))
    window.sync.sync_now()
    qtbot.waitUntil(lambda: "removed this workstation" in window.sync_label.text(), timeout=WAIT_MS)
    assert window.sign_in_again_button.isVisible()
    qtbot.waitUntil(lambda: desk.store.check_login(EMAIL, PASSWORD) is None, timeout=WAIT_MS)
    window.close()
    desk.store.close()
    live_server.stop()
    with pytest.raises(ServerUnreachable):
        account.sign_in(tmp_path / "desk", live_server.url, "demo", EMAIL, PASSWORD)


def test_a_deactivated_person_is_told_their_sign_in_ended(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, tmp_path: Path
) -> None:
    desk = account.sign_in(tmp_path / "desk", live_server.url, "demo", EMAIL, PASSWORD)
    window = _open(qtbot, runner, desk)
    _as_admin(live_server, tmp_path / "admin", lambda c: c.set_staff_active(desk.staff.id, False))
    window.sync.sync_now()
    qtbot.waitUntil(lambda: "deactivated" in window.sync_label.text(), timeout=WAIT_MS)
    assert window.sign_in_again_button.isVisible()
    window.close()
    desk.store.close()


def test_signing_out_hides_the_desk_and_the_next_person_signs_in(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, tmp_path: Path
) -> None:
    desk = account.sign_in(tmp_path / "desk", live_server.url, "demo", EMAIL, PASSWORD)
    window = _open(qtbot, runner, desk)
    qtbot.mouseClick(window.sign_out_button, Qt.MouseButton.LeftButton)
    assert not window.isVisible()
    assert window.diary.author is None  # nothing more is signed as them
    dialogs = [w for w in qtbot_top_levels() if w.windowTitle() == "Sign in to Clinicdesk"]
    assert dialogs
    dialog = dialogs[-1]
    dialog.email.setText(ADMIN_EMAIL)
    dialog.password.setText(ADMIN_PASSWORD)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(window.isVisible, timeout=WAIT_MS)
    assert window.desk.staff.email == ADMIN_EMAIL
    assert window.diary.author is not None
    assert window.diary.author.staff_id == window.desk.staff.id
    assert "admin" in window.who.text().lower()
    window.close()
    desk.store.close()


def qtbot_top_levels() -> list[QWidget]:
    return [w for w in QApplication.topLevelWidgets() if w.isVisible()]


def test_an_admin_sees_the_workstations_and_removes_one(
    qtbot: QtBot,
    runner: TaskRunner,
    live_server: LiveServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reception = account.sign_in(tmp_path / "reception", live_server.url, "demo", EMAIL, PASSWORD)
    reception.store.close()
    for _ in range(5):  # someone guessing the front desk's password
        httpx.post(
            f"{live_server.url}{API_PREFIX}/devices",
            json={"clinic": "demo", "email": EMAIL, "password": "guess", "device_name": "x"},
        )
    admin = account.sign_in(
        tmp_path / "office", live_server.url, "demo", ADMIN_EMAIL, ADMIN_PASSWORD
    )
    window = _open(qtbot, runner, admin)
    tab = window.settings.workstations
    window.settings.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.workstations.rowCount() == 2, timeout=WAIT_MS)
    assert sorted(row.staff_name for row in tab.sign_ins.rows) == sorted(
        [admin.staff.display_name, reception.staff.display_name]
    )
    assert {row.email for row in tab.staff.rows} >= {EMAIL, ADMIN_EMAIL}
    assert [(row.scope, row.email) for row in tab.lockouts.rows] == [("account", EMAIL)]
    names = [tab.workstations.index(n, 0).data() for n in range(2)]
    here = [w for w in tab.workstations.rows if w.this_workstation]
    assert len(here) == 1  # the admin's own desk is marked, so they do not remove it
    assert here[0].signed_in[0].staff_id == admin.staff.id
    assert sum(name.endswith("(this desk)") for name in names) == 1

    tab.remove_workstation()  # nothing chosen: says so, removes nothing
    assert "Choose a workstation" in tab.message.text()
    reception_row = next(
        n
        for n, w in enumerate(tab.workstations.rows)
        if not any(s.staff_id == admin.staff.id for s in w.signed_in)
    )
    tab.workstation_view.selectRow(reception_row)
    monkeypatch.setattr(QMessageBox, "question", lambda *_a, **_k: QMessageBox.StandardButton.Yes)
    tab.remove_workstation()
    qtbot.waitUntil(lambda: any(w.revoked_at for w in tab.workstations.rows), timeout=WAIT_MS)
    with live_server.sessionmaker() as session:
        revoked = session.scalars(select(Device).where(Device.revoked_at.is_not(None))).all()
    assert [d.id for d in revoked] == [tab.workstations.rows[reception_row].id]
    tab.workstation_view.selectRow(reception_row)
    tab.remove_workstation()  # twice: said, not done again
    assert "removed already" in tab.message.text()
    window.close()
    admin.store.close()


def test_front_desk_staff_cannot_manage_workstations(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, tmp_path: Path
) -> None:
    desk = account.sign_in(tmp_path / "desk", live_server.url, "demo", EMAIL, PASSWORD)
    window = _open(qtbot, runner, desk)
    tab = window.settings.workstations
    assert not tab.remove_button.isEnabled()
    assert "Only clinic admins" in tab.message.text()
    window.close()
    desk.store.close()
