"""Running late, from the diary: the provider's column heading (or the toolbar) asks how
late, says how many later patients of the day will be told (counted in this desk's
diary), and queues the request for the server, which writes to them."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.appointments import AppointmentStatus
from desktop.diary.page import DiaryPage
from desktop.diary.running_late import RunningLateDialog
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from sync.schema import outbox
from sync.store import Store
from tests.support import records

pytestmark = pytest.mark.qt
ZONE = ZoneInfo("Europe/London")
DAY = date(2031, 3, 4)
WAIT_MS = 20_000  # a deadline for what must happen, with room for a loaded CI worker
ADAMS = records.provider_with_hours("Dr Adams")
BROOK = records.provider_with_hours("Dr Brook")


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE).astimezone(UTC)


NOW = at(10, 30)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    opened.clock = lambda: NOW
    ada = records.patient_with("Ada", "Lovelace", phone="+447700900001")
    alan = records.patient_with("Alan", "Turing", phone="+447700900002")
    grace = records.patient_with("Grace", "Hopper", phone="+447700900003")
    hedy = records.patient("Hedy", "Lamarr")  # no number: cannot be told by text
    opened.apply_page(
        records.page(
            providers=[ADAMS, BROOK],
            patients=[ada, alan, grace, hedy],
            appointments=[
                records.appointment(ADAMS, ada, at(9)),  # seen already: not told
                records.appointment(ADAMS, alan, at(11)),
                records.appointment(ADAMS, grace, at(14), status=AppointmentStatus.CONFIRMED),
                records.appointment(ADAMS, hedy, at(15)),
                records.appointment(ADAMS, ada, at(12), status=AppointmentStatus.CANCELLED),
                records.appointment(BROOK, ada, at(9, 30)),
                records.appointment(BROOK, hedy, at(11)),
            ],
        ),
        synced_at=NOW,
    )
    yield opened
    opened.close()


@pytest.fixture
def page(qtbot: QtBot, runner: TaskRunner, store: Store) -> DiaryPage:
    shown = DiaryPage(ChangeHub(runner), store, ZONE, author=records.author(), clock=lambda: NOW)
    qtbot.addWidget(shown)
    shown.resize(1300, 900)
    shown.show()
    qtbot.waitUntil(lambda: shown.view.grid is not None, timeout=WAIT_MS)
    return shown


def from_heading(page: DiaryPage, provider: str) -> RunningLateDialog:
    """The "running late" action of the provider's column heading."""
    grid = page.view.grid
    assert grid is not None
    lane = next(ln for ln in grid.lanes if ln.provider.display_name == provider)
    menu = page.view.provider_menu(lane.provider)
    [action] = menu.actions()
    assert action.text() == f"{provider} is running late…"
    action.trigger()
    dialog = page.late_dialog
    assert dialog is not None
    return dialog


def queued(store: Store) -> list[dict[str, object]]:
    with store.engine.connect() as conn:
        return [json.loads(r.command) for r in conn.execute(select(outbox.c.command))]


def test_the_heading_asks_how_late_says_who_is_told_and_queues_it(
    qtbot: QtBot, page: DiaryPage, store: Store
) -> None:
    dialog = from_heading(page, "Dr Adams")
    qtbot.waitUntil(dialog.ok_button.isEnabled, timeout=WAIT_MS)
    dialog.minutes.setValue(20)
    assert dialog.summary.text() == (
        "2 patients expected with Dr Adams after 10:30 today will get a text that the clinic "
        "is running about 20 minutes late. 1 patient with no mobile number on file cannot "
        "be told."
    )
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: bool(queued(store)), timeout=WAIT_MS)
    [command] = queued(store)
    assert command["kind"] == "running_late"
    assert command["provider_id"] == str(ADAMS.id)
    assert command["minutes"] == 20
    assert datetime.fromisoformat(str(command["after"])) == NOW
    qtbot.waitUntil(page.notice.isVisible, timeout=WAIT_MS)
    assert page.notice.text() == (
        "Dr Adams is running about 20 minutes late: 2 patients will be told."
    )


def test_nobody_to_tell_is_said_and_nothing_can_be_sent(
    qtbot: QtBot, page: DiaryPage, store: Store
) -> None:
    qtbot.mouseClick(page.late_button, Qt.MouseButton.LeftButton)
    dialog = page.late_dialog
    assert dialog is not None
    dialog.provider.setCurrentIndex(dialog.provider.findText("Dr Brook"))
    qtbot.waitUntil(lambda: "Dr Brook" in dialog.summary.text(), timeout=WAIT_MS)
    assert dialog.summary.text() == (
        "1 patient is expected with Dr Brook after 10:30 today, with no mobile number on "
        "file: nobody can be told by text."
    )
    assert not dialog.ok_button.isEnabled()
    assert (dialog.minutes.minimum(), dialog.minutes.maximum()) == (5, 240)
    dialog.reject()
    assert queued(store) == []
