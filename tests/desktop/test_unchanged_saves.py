"""Open a dialog on an existing record, save it without touching anything, sync: the
server's records are exactly as they were and nothing was queued at all.

A receptionist who opens an appointment to look at it and presses Save must not move it
(the dialog once showed the first provider and "No particular type" for every
appointment, so Save moved it to that provider); an admin who opens a settings form and
presses Save must not send a change that changes nothing (it would bump the record's
version and make every other desk's pending edit of it "changed meanwhile").

Each case runs against a real server, signed in as the demo clinic's admin in the real
main window; the server's records are read afresh through its change feed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTableView
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from common.appointments import MOVABLE
from common.scheduling import ExceptionKind
from desktop.kit.tasks import TaskRunner
from desktop.mainwindow import MainWindow
from server.demo import ADMIN, DEMO_TIME_ZONE
from sync import account
from sync.account import Desk
from sync.engine import SyncEngine
from sync.protocol import Cursor, SaveScheduleException
from sync.store import DiaryEntry
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
WAIT_MS = 20_000
LEFT = Qt.MouseButton.LeftButton
ZONE = ZoneInfo(DEMO_TIME_ZONE)


@dataclass
class Opened:
    window: MainWindow
    desk: Desk
    runner: TaskRunner


def server_records(desk: Desk) -> dict[tuple[str, uuid.UUID], dict[str, Any]]:
    """Every record of the clinic as the server has it now, read through its change feed
    from the start (a fresh sync), keyed by kind and id."""
    client = account.sync_client(desk)
    found: dict[tuple[str, uuid.UUID], dict[str, Any]] = {}
    cursor = Cursor.start()
    try:
        while True:
            page = client.changes(cursor)
            for kind in (
                "providers",
                "appointments",
                "locations",
                "appointment_types",
                "schedule_exceptions",
                "booking_rules",
            ):
                for record in getattr(page, kind):
                    found[(kind, record.id)] = record.model_dump()
            cursor = Cursor.parse(page.next_cursor)
            if not page.has_more:
                return found
    finally:
        client.close()


def outbox_sequence(desk: Desk) -> int:
    """The last number the outbox handed out: any change queued since raises it, even
    one already sent and acknowledged."""
    with desk.store.engine.connect() as conn:
        value = conn.execute(
            text("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'")
        ).scalar_one_or_none()
    return int(value or 0)


def settled(qtbot: QtBot, runner: TaskRunner) -> None:
    """Wait until everything the click started on the desk's lanes has finished."""
    qtbot.waitUntil(lambda: runner.running == 0, timeout=WAIT_MS)


def synced(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.sync.synced, timeout=WAIT_MS):
        window.sync.sync_now()


@pytest.fixture
def opened(qtbot: QtBot, live_server: LiveServer, tmp_path: Path) -> Iterator[Opened]:
    desk = account.sign_in(tmp_path, live_server.url, "demo", ADMIN.email, ADMIN.password)
    SyncEngine(desk.store, account.sync_client(desk)).sync()
    # The demo clinic has no time off: give one provider some, so there is one to open.
    providers = desk.store.providers()
    today = datetime.now(ZONE).date()
    desk.store.change_settings(
        desk.author,
        SaveScheduleException(
            exception_id=uuid.uuid4(),
            base_version=None,
            provider_id=providers[1].id,
            exception_kind=ExceptionKind.TIME_OFF,
            first_day=today + timedelta(days=20),
            last_day=today + timedelta(days=21),
            start_time=time(13),
            end_time=time(17),
            note="Course",
        ),
    )
    SyncEngine(desk.store, account.sync_client(desk)).sync()
    runner = TaskRunner()
    window = MainWindow(
        desk, runner, SyncEngine(desk.store, account.sync_client(desk)), sync_interval=3600
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Online"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.settings.schedule is not None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.diary.view.day is not None, timeout=WAIT_MS)
    settled(qtbot, runner)
    yield Opened(window, desk, runner)
    window.close()
    runner.shutdown()
    desk.store.close()


def press_ok(qtbot: QtBot, dialog: QDialog) -> None:
    buttons = dialog.findChild(QDialogButtonBox)
    assert buttons is not None
    ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.isEnabled(), "the dialog can be saved"
    with qtbot.waitSignal(dialog.finished, timeout=WAIT_MS) as closing:
        qtbot.mouseClick(ok, LEFT)
    assert closing.args == [QDialog.DialogCode.Accepted.value], "saved, not refused"


def select_row(table: QTableView, row: int) -> None:
    table.selectionModel().select(
        table.model().index(row, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )


def an_appointment_of_a_later_provider(opened: Opened) -> DiaryEntry:
    """A movable appointment in the coming fortnight whose provider is not the first one
    the dialog lists (with the first, showing the wrong provider would go unnoticed)."""
    store = opened.desk.store
    first = store.providers()[0].id
    now = datetime.now(UTC)
    entries = store.diary(now + timedelta(hours=1), now + timedelta(days=14))
    return next(
        e
        for e in entries
        if e.status in MOVABLE and e.provider_id != first and e.appointment_type_id is not None
    )


def save_appointment(qtbot: QtBot, opened: Opened) -> None:
    entry = an_appointment_of_a_later_provider(opened)
    dialog = opened.window.diary.open_appointment(entry)
    assert dialog is not None
    assert dialog.provider.currentData() == entry.provider_id
    assert dialog.type.currentData() == entry.appointment_type_id
    press_ok(qtbot, dialog)


def save_working_hours(qtbot: QtBot, opened: Opened) -> None:
    tab = opened.window.settings.hours
    for index in range(tab.provider.count()):
        tab.provider.setCurrentIndex(index)
        assert tab.state.text() == ""
        qtbot.mouseClick(tab.save_button, LEFT)
        settled(qtbot, opened.runner)


def save_time_off(qtbot: QtBot, opened: Opened) -> None:
    tab = opened.window.settings.exceptions
    assert tab.model.rowCount() == 1
    select_row(tab.table, 0)
    dialog = tab.edit()
    assert dialog is not None
    press_ok(qtbot, dialog)


def save_appointment_types(qtbot: QtBot, opened: Opened) -> None:
    tab = opened.window.settings.types
    assert tab.model.rowCount() >= 2
    for row in range(tab.model.rowCount()):
        select_row(tab.table, row)
        dialog = tab.edit()
        assert dialog is not None
        press_ok(qtbot, dialog)
        settled(qtbot, opened.runner)


def save_rooms(qtbot: QtBot, opened: Opened) -> None:
    tab = opened.window.settings.rooms
    assert tab.model.rowCount() >= 1
    for row in range(tab.model.rowCount()):
        select_row(tab.table, row)
        assert tab.name.text() == tab.model.row_at(row).name  # type: ignore[union-attr]
        qtbot.mouseClick(tab.rename_button, LEFT)
        settled(qtbot, opened.runner)


def save_booking_rules(qtbot: QtBot, opened: Opened) -> None:
    tab = opened.window.settings.rules
    assert tab.state.text() == ""
    qtbot.mouseClick(tab.save_button, LEFT)


SAVES: dict[str, Callable[[QtBot, Opened], None]] = {
    "appointment": save_appointment,
    "working hours": save_working_hours,
    "time off": save_time_off,
    "appointment types": save_appointment_types,
    "rooms": save_rooms,
    "booking rules": save_booking_rules,
}


@pytest.mark.parametrize("what", list(SAVES))
def test_saving_unchanged_changes_nothing_on_the_server_and_queues_nothing(
    qtbot: QtBot, opened: Opened, what: str
) -> None:
    before = server_records(opened.desk)
    sequence = outbox_sequence(opened.desk)

    SAVES[what](qtbot, opened)
    settled(qtbot, opened.runner)
    synced(qtbot, opened.window)

    queued = outbox_sequence(opened.desk) - sequence
    assert queued == 0, "an unchanged save queued a change"
    after = server_records(opened.desk)
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    assert not changed, f"the server's records changed: {sorted(changed)}"
    assert opened.desk.store.outbox_counts() == {"pending": 0, "attention": 0}
