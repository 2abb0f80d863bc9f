"""The day view draws what the store holds, where and when it belongs."""

from __future__ import annotations

import secrets
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from common.appointments import AppointmentSource, AppointmentStatus
from desktop.diary.page import PX_PER_MINUTE, DiaryPage, summary
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from sync.protocol import AppointmentRecord, ProviderRecord
from sync.store import DiaryEntry, Store
from tests.support import records

pytestmark = pytest.mark.qt
ZONE = ZoneInfo("America/New_York")
DAY = date(2026, 3, 9)  # the Monday after the spring-forward Sunday


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    a, b = records.provider("Dr A"), records.provider("Dr B", colour="#993366")
    patient = records.patient()

    def at(day: date, hour: int, provider: ProviderRecord) -> AppointmentRecord:
        start = datetime(day.year, day.month, day.day, hour, tzinfo=ZONE)
        return records.appointment(
            provider, patient, start, minutes=45, source=AppointmentSource.WIDGET
        )

    opened.apply_page(
        records.page(
            providers=[a, b],
            patients=[patient],
            appointments=[
                at(DAY, 9, a),
                at(DAY, 14, b),
                at(DAY + timedelta(days=1), 10, a),
                at(DAY - timedelta(days=1), 23, b),
            ],
        ),
        synced_at=datetime.now(UTC),
    )
    yield opened
    opened.close()


def test_day_view_puts_each_appointment_in_its_providers_column_at_local_time(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = DiaryPage(ChangeHub(runner), store, ZONE)
    qtbot.addWidget(page)
    page.resize(900, 700)
    page.show()
    with qtbot.waitSignal(page.day_shown, timeout=5000):
        page.go_to(DAY)
    items = sorted(page.view.appointment_items(), key=lambda i: i.entry.starts_at)
    assert [i.entry.starts_at.astimezone(ZONE).hour for i in items] == [9, 14]
    first, second = items
    assert first.rect().left() < second.rect().left(), "Dr A's column is left of Dr B's"
    assert second.rect().top() - first.rect().top() == pytest.approx(5 * 60 * 1.2, abs=1)
    assert "Booked online" in first.toolTip()
    assert "Ada Lovelace" in first.toolTip()
    assert "2 appointments" in page.title.text()


def test_date_navigation_and_today(qtbot: QtBot, runner: TaskRunner, store: Store) -> None:
    page = DiaryPage(ChangeHub(runner), store, ZONE)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.day_shown, timeout=5000):
        page.go_to(DAY)
    with qtbot.waitSignal(page.day_shown, timeout=5000):
        qtbot.mouseClick(page.next_button, Qt.MouseButton.LeftButton)
    assert page.current == DAY + timedelta(days=1)
    assert len(page.view.appointment_items()) == 1
    with qtbot.waitSignal(page.day_shown, timeout=5000):
        qtbot.mouseClick(page.previous_button, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(page.previous_button, Qt.MouseButton.LeftButton)
    assert page.current == DAY - timedelta(days=1)
    assert [i.entry.starts_at.astimezone(ZONE).hour for i in page.view.appointment_items()] == [23]
    with qtbot.waitSignal(page.day_shown, timeout=5000):
        qtbot.mouseClick(page.today_button, Qt.MouseButton.LeftButton)
    assert page.current == datetime.now(ZONE).date()
    assert page.date_edit.date().toPython() == page.current


def test_summary_says_how_it_was_booked() -> None:
    start = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    entry = DiaryEntry(
        id=uuid.uuid4(),
        provider_id=uuid.uuid4(),
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        status=AppointmentStatus.CONFIRMED,
        source=AppointmentSource.DESK,
        patient_name="Ada Lovelace",
    )
    text = summary(entry, ZoneInfo("Europe/London"))
    assert text.splitlines() == [
        "Ada Lovelace",
        "15:00–15:30",
        "Status: Confirmed",
        "Booked at the desk",
    ]


def test_on_a_daylight_saving_day_blocks_sit_on_their_hour_lines(
    qtbot: QtBot, runner: TaskRunner, tmp_path: Path
) -> None:
    """New York springs forward at 2:00 on 8 March 2026: from 1:00 to 9:00 is seven real
    hours but eight hour lines. The 9:00 appointment must sit on the 9:00 line."""
    zone = ZoneInfo("America/New_York")
    store = Store.open(tmp_path / "dst.db", secrets.token_bytes(32))
    provider, patient = records.provider(), records.patient()
    starts = [datetime(2026, 3, 8, 1, 0, tzinfo=zone), datetime(2026, 3, 8, 9, 0, tzinfo=zone)]
    store.apply_page(
        records.page(
            providers=[provider],
            patients=[patient],
            appointments=[records.appointment(provider, patient, start) for start in starts],
        ),
        synced_at=datetime.now(UTC),
    )
    page = DiaryPage(ChangeHub(runner), store, zone)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.day_shown, timeout=5000):
        page.go_to(date(2026, 3, 8))
    tops = sorted(item.rect().top() for item in page.view.appointment_items())
    one_hour = 60 * PX_PER_MINUTE
    assert tops[1] - tops[0] == pytest.approx(8 * one_hour, abs=2)
    store.close()


def test_a_failed_fetch_for_a_day_left_behind_does_not_blank_the_day_shown(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    """A day outside the desk's window is fetched on the net lane; the person moves back
    before the (slow) fetch fails. The failure must not empty the day now shown."""
    start = datetime.combine(DAY - timedelta(days=7), datetime.min.time(), tzinfo=ZONE)
    store.keep_window((start, start + timedelta(days=21)), [])
    answer = threading.Event()

    def fetch(_start: datetime, _end: datetime) -> list[AppointmentRecord]:
        answer.wait(10)
        raise OSError("the line is down")

    page = DiaryPage(ChangeHub(runner), store, ZONE, fetch=fetch)
    qtbot.addWidget(page)
    far = DAY + timedelta(days=60)
    page.go_to(far)
    qtbot.waitUntil(lambda: "fetching from the server" in page.title.text(), timeout=5000)
    with qtbot.waitSignal(page.day_shown, timeout=5000):
        page.go_to(DAY)
    answer.set()
    qtbot.waitUntil(lambda: runner.running == 0, timeout=5000)
    assert "could not be fetched" not in page.title.text()
    assert "2 appointments" in page.title.text()
    assert len(page.view.appointment_items()) == 2

    page.go_to(far)  # still wanted when it fails: said, and shown empty
    qtbot.waitUntil(lambda: "could not be fetched" in page.title.text(), timeout=5000)
    assert page.view.appointment_items() == []


def test_settings_this_version_does_not_know_fall_back_to_the_defaults(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    from PySide6.QtCore import QSettings

    from desktop.diary.model import Mode
    from desktop.diary.page import HIDDEN, MODE, SNAP

    settings = QSettings()
    settings.setValue(MODE.key, "fortnight")
    settings.setValue(SNAP.key, "7")
    settings.setValue(HIDDEN.key, ["not-an-id"])
    settings.sync()
    page = DiaryPage(ChangeHub(runner), store, ZONE)
    qtbot.addWidget(page)
    assert page.mode is Mode.DAY
    assert page.view.snap_minutes == 5
    assert page.snap.currentData() == 5
    assert page.hidden == frozenset()
