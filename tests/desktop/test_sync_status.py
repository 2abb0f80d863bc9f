"""The sync controller: what the status bar says, and how patiently it retries."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.kit.tasks import TaskRunner
from desktop.mainwindow import MainWindow
from desktop.sync_status import MAX_BACKOFF_SECONDS, Connection, SyncController, SyncState
from sync import account
from sync.client import ServerClient
from sync.engine import SyncEngine
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt


def test_offline_retries_back_off_and_a_success_resets_them(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, tmp_path: Path
) -> None:
    desk = account.sign_in(
        tmp_path, live_server.url, "demo", "frontdesk@demo.clinic", "frontdesk-demo-1"
    )
    dead = SyncEngine(desk.store, ServerClient("http://127.0.0.1:9", device_token="x"))
    controller = SyncController(runner, dead, None, interval_seconds=15)
    controller.start()  # the first attempt
    intervals = []
    for _ in range(5):
        qtbot.waitUntil(lambda: controller.state.connection is Connection.OFFLINE, timeout=10_000)
        intervals.append(controller.timer.interval())
        controller.sync_now()  # as the timer would, at the longer interval
    assert intervals[:3] == [30_000, 60_000, 120_000]
    assert max(intervals) == MAX_BACKOFF_SECONDS * 1000

    qtbot.waitUntil(lambda: controller.state.connection is Connection.OFFLINE, timeout=10_000)
    controller.engine = SyncEngine(desk.store, account.sync_client(desk))  # the line is back
    with qtbot.waitSignal(controller.synced, timeout=10_000):
        controller.sync_now()
    assert controller.timer.interval() == 15_000
    assert controller.state.connection is Connection.ONLINE
    controller.stop()
    desk.store.close()


@pytest.mark.parametrize(
    ("state", "text"),
    [
        (SyncState(Connection.ONLINE, None), "Online · synced never"),
        (
            SyncState(Connection.OFFLINE, None, pending=2),
            "Offline · last synced never · working from the local copy · 2 pending",
        ),
        (
            SyncState(Connection.ONLINE, None, attention=1),
            "Online · synced never · 1 needs attention",
        ),
        (
            SyncState(Connection.ONLINE, None, attention=3),
            "Online · synced never · 3 need attention",
        ),
        (
            SyncState(Connection.SYNCING, datetime(2026, 7, 1, 9, 5, tzinfo=UTC)),
            "Syncing… · last synced 01 Jul 10:05",
        ),
    ],
)
def test_the_status_bar_says_where_the_desk_is(state: SyncState, text: str) -> None:
    assert state.describe(ZoneInfo("Europe/London")) == text


def test_a_request_during_a_run_is_not_lost_but_runs_right_after(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, tmp_path: Path
) -> None:
    desk = account.sign_in(
        tmp_path, live_server.url, "demo", "frontdesk@demo.clinic", "frontdesk-demo-1"
    )
    engine = SyncEngine(desk.store, account.sync_client(desk))
    controller = SyncController(runner, engine, None, interval_seconds=3600)  # no ticks
    reports = []
    controller.synced.connect(reports.append)

    controller.start()
    assert controller._running
    controller.sync_now()  # e.g. a booking made while the first sync is under way

    qtbot.waitUntil(lambda: len(reports) == 2, timeout=20_000)
    assert not controller._running
    controller.stop()
    desk.store.close()


# --- the server comes back: the desk says so at once, not after its back-off ------------------

# Online again within one sync of the stream reconnecting, not after the timer's back-off
# (a minute and more by now): the margin is for a loaded machine, far below that back-off.
BACK_WITHIN_S = 10.0
STREAM_BACK_WITHIN_S = 7.0  # the live stream's longest wait between tries, and then some


def _window_backed_off(qtbot: QtBot, live_server: LiveServer, tmp_path: Path) -> MainWindow:
    """A signed-in window whose server went away long enough for the timer to back off."""
    desk = account.sign_in(
        tmp_path, live_server.url, "demo", "frontdesk@demo.clinic", "frontdesk-demo-1"
    )
    runner = TaskRunner()
    window = MainWindow(desk, runner, SyncEngine(desk.store, account.sync_client(desk)))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Online"), timeout=10_000)
    qtbot.waitUntil(window.live.connected.is_set, timeout=10_000)

    live_server.stop()
    qtbot.waitUntil(lambda: not window.live.connected.is_set(), timeout=10_000)
    for _ in range(3):  # three failed runs, as the timer would make them
        window.sync.sync_now()
        qtbot.waitUntil(
            lambda: window.sync.state.connection is Connection.OFFLINE and not window.sync._running,
            timeout=10_000,
        )
    assert window.sync.timer.interval() >= 60_000, "the desk is waiting out a back-off"
    assert window.sync_label.text().startswith("Offline")
    return window


def _close(window: MainWindow) -> None:
    window.close()
    window.runner.shutdown()
    window.desk.store.close()


def test_the_desk_is_online_within_moments_of_the_live_stream_reconnecting(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    window = _window_backed_off(qtbot, live_server, tmp_path)

    back = time.monotonic()
    live_server.start_again()  # same address, as after a restart or a line coming back
    qtbot.waitUntil(window.live.connected.is_set, timeout=40_000)
    reconnected = time.monotonic()
    # The stream retries every few seconds at most, however long the server was away.
    assert reconnected - back < STREAM_BACK_WITHIN_S
    qtbot.waitUntil(
        lambda: window.sync_label.text().startswith("Online"), timeout=BACK_WITHIN_S * 1000
    )
    assert time.monotonic() - reconnected < BACK_WITHIN_S
    assert window.sync.timer.interval() == 15_000, "the back-off is over"
    _close(window)


@pytest.mark.parametrize("how", ["button", "F5"])
def test_sync_now_tries_at_once_and_ends_the_back_off(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path, how: str
) -> None:
    window = _window_backed_off(qtbot, live_server, tmp_path)
    attempts: list[SyncState] = []
    window.sync.state_changed.connect(
        lambda s: attempts.append(s) if s.connection is Connection.SYNCING else None
    )

    if how == "button":
        qtbot.mouseClick(window.sync_now_button, Qt.MouseButton.LeftButton)
    else:
        window.activateWindow()
        qtbot.keyClick(window, Qt.Key.Key_F5)
    assert len(attempts) == 1, "it tried at once"
    qtbot.waitUntil(lambda: not window.sync._running, timeout=10_000)
    # Still offline, and the status bar says it tried just now, so the press was not lost.
    tried = window.sync_label.text()
    assert tried.startswith("Offline")
    assert re.search(r"· last tried \d\d:\d\d:\d\d", tried), tried
    assert window.sync.timer.interval() == 30_000, "the waiting started over from the first step"

    live_server.start_again()
    window.live.stop()  # only the button may explain what follows
    qtbot.mouseClick(window.sync_now_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Online"), timeout=10_000)
    _close(window)
