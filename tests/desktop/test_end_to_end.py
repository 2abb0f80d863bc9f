"""The desk against a real uvicorn server: sign in, sync, diary; then offline from cache."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop.config import SignInDefaults
from desktop.kit.tasks import TaskRunner
from desktop.mainwindow import MainWindow
from desktop.signin import SignInDialog
from server.demo import DEMO_TIME_ZONE
from server.scheduling.models import Appointment, Provider
from sync.account import Desk, sync_client
from sync.engine import SyncEngine
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
EMAIL, PASSWORD = "frontdesk@demo.clinic", "frontdesk-demo-1"
WAIT_MS = 20_000


def _sign_in(qtbot: QtBot, runner: TaskRunner, data_dir: Path, defaults: SignInDefaults) -> Desk:
    dialog = SignInDialog(runner, data_dir, defaults)
    qtbot.addWidget(dialog)
    dialog.password.setText(PASSWORD)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.desk is not None, timeout=WAIT_MS)
    assert dialog.desk is not None
    return dialog.desk


def _open(qtbot: QtBot, runner: TaskRunner, desk: Desk) -> MainWindow:
    window = MainWindow(desk, runner, SyncEngine(desk.store, sync_client(desk)))
    qtbot.addWidget(window)
    window.show()
    return window


def _todays_appointments_on_the_server(server: LiveServer) -> dict[uuid.UUID, list[uuid.UUID]]:
    zone = ZoneInfo(DEMO_TIME_ZONE)
    today = datetime.now(zone).date()
    start = datetime.combine(today, time.min, tzinfo=zone)
    with server.sessionmaker() as session:
        providers = session.scalars(select(Provider.id)).all()
        rows = session.scalars(
            select(Appointment)
            .where(
                Appointment.starts_at >= start, Appointment.starts_at < start + timedelta(days=1)
            )
            .order_by(Appointment.starts_at)
        ).all()
    expected: dict[uuid.UUID, list[uuid.UUID]] = {p: [] for p in providers}
    for row in rows:
        expected[row.provider_id].append(row.id)
    return expected


def _shown(window: MainWindow) -> dict[uuid.UUID, list[uuid.UUID]]:
    day = window.diary.view.day
    assert day is not None, "the diary has not drawn a day yet"
    shown: dict[uuid.UUID, list[uuid.UUID]] = {p.id: [] for p in day.providers}
    for provider_id, entries in window.diary.view.entries_by_provider().items():
        shown[provider_id] = [e.id for e in entries]
    return shown


def _diary_shows(window: MainWindow, expected: dict[uuid.UUID, list[uuid.UUID]]) -> None:
    """Raises until the diary shows exactly ``expected``; waitUntil reports the last diff."""
    assert _shown(window) == expected


def test_sign_in_sync_and_diary_then_the_same_diary_offline_after_a_restart(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    expected = _todays_appointments_on_the_server(live_server)
    assert len(expected) == 3
    assert all(expected.values()), "the demo gives every provider appointments today"

    first_runner = TaskRunner()
    desk = _sign_in(qtbot, first_runner, tmp_path, SignInDefaults(live_server.url, "demo", EMAIL))
    assert desk.online
    window = _open(qtbot, first_runner, desk)
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Online"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: _diary_shows(window, expected), timeout=WAIT_MS)
    assert window.diary.view.day is not None
    assert window.diary.view.day.day == datetime.now(ZoneInfo(DEMO_TIME_ZONE)).date()

    # The line goes down and the desk is restarted.
    window.close()
    first_runner.shutdown()
    desk.store.close()
    live_server.stop()

    runner = TaskRunner()
    remembered = SignInDefaults.load()
    assert (remembered.server_url, remembered.clinic, remembered.email) == (
        live_server.url,
        "demo",
        EMAIL,
    )
    offline = _sign_in(qtbot, runner, tmp_path, remembered)
    assert not offline.online
    window = _open(qtbot, runner, offline)
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Offline"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: _diary_shows(window, expected), timeout=WAIT_MS)
    assert "last synced" in window.sync_label.text()
    assert "never" not in window.sync_label.text()
    window.close()
    runner.shutdown()
    offline.store.close()


def test_check_in_from_the_diary_shows_at_once_and_reaches_the_server(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    runner = TaskRunner()
    desk = _sign_in(qtbot, runner, tmp_path, SignInDefaults(live_server.url, "demo", EMAIL))
    window = _open(qtbot, runner, desk)
    qtbot.waitUntil(lambda: bool(window.diary.view.appointment_items()), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Online"), timeout=WAIT_MS)
    booked = next(
        item.entry
        for item in window.diary.view.appointment_items()
        if item.entry.status in ("booked", "confirmed")
    )
    menu = window.diary.view.status_menu(booked)
    actions = {a.text(): a for a in menu.actions()}
    assert actions["Check in"].isEnabled()
    assert actions["Cancel appointment"].isEnabled()

    actions["Check in"].trigger()

    def arrived_on_the_server() -> None:
        with live_server.sessionmaker() as session:
            stored = session.get(Appointment, booked.id)
            assert stored is not None
            assert stored.status == "arrived"

    qtbot.waitUntil(arrived_on_the_server, timeout=WAIT_MS)

    def shown_arrived_and_settled() -> None:
        [entry] = [
            i.entry for i in window.diary.view.appointment_items() if i.entry.id == booked.id
        ]
        assert entry.status == "arrived"
        assert not entry.pending

    qtbot.waitUntil(shown_arrived_and_settled, timeout=WAIT_MS)
    arrived = window.diary.view.status_menu(
        next(i.entry for i in window.diary.view.appointment_items() if i.entry.id == booked.id)
    )
    assert not {a.text(): a for a in arrived.actions()}["Check in"].isEnabled()
    window.close()
    runner.shutdown()
    desk.store.close()


def test_days_outside_the_desks_window_are_fetched_from_the_server(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    from sync.engine import WindowPolicy

    runner = TaskRunner()
    desk = _sign_in(qtbot, runner, tmp_path, SignInDefaults(live_server.url, "demo", EMAIL))
    engine = SyncEngine(desk.store, sync_client(desk), window=WindowPolicy(1, 2))
    window = MainWindow(desk, runner, engine)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Online"), timeout=WAIT_MS)
    zone = ZoneInfo(DEMO_TIME_ZONE)
    far = datetime.now(zone).date() + timedelta(days=9)
    start = datetime.combine(far, time.min, tzinfo=zone)
    with live_server.sessionmaker() as session:
        expected = set(
            session.scalars(
                select(Appointment.id).where(
                    Appointment.starts_at >= start,
                    Appointment.starts_at < start + timedelta(days=1),
                )
            )
        )
    assert expected

    window.diary.go_to(far)

    def fetched() -> None:
        shown = {item.entry.id for item in window.diary.view.appointment_items()}
        assert shown == expected
        assert "fetched from the server" in window.diary.title.text()

    qtbot.waitUntil(fetched, timeout=WAIT_MS)

    live_server.stop()
    window.diary.go_to(far + timedelta(days=1))
    qtbot.waitUntil(
        lambda: "outside this desk's copy and could not be fetched" in window.diary.title.text(),
        timeout=WAIT_MS,
    )
    assert window.diary.view.appointment_items() == []
    window.close()
    runner.shutdown()
    desk.store.close()
