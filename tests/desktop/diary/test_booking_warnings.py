"""The appointment dialog warns, without refusing, when the time chosen is outside the
provider's working hours (their week, time off, closures: the rules the server's
availability uses), and offers only the types the chosen provider gives."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pytestqt.qtbot import QtBot

from common.scheduling import ExceptionKind
from desktop.diary.booking_dialog import AppointmentDialog
from desktop.kit.combo import choose
from desktop.kit.tasks import TaskRunner
from sync.protocol import ScheduleExceptionRecord
from sync.store import Store
from tests.support import records

pytestmark = pytest.mark.qt
ZONE = ZoneInfo("Europe/London")
MONDAY = date(2031, 3, 3)  # before the clocks change: local time is UTC
WAIT_MS = 20_000  # a deadline for what must happen, with room for a loaded CI worker

DR_A = records.provider_with_hours("Dr A", weekdays=range(5), hours=("09:00", "17:00"))
DR_B = records.provider_with_hours("Dr B", weekdays=range(5), hours=("08:00", "20:00"))
ONLY_A = records.appointment_type("Physio", minutes=45, providers=(DR_A,))
ANYONE = records.appointment_type("Consultation", minutes=30)
ONLY_B = records.appointment_type("Scan", minutes=20, providers=(DR_B,))
COURSE = ScheduleExceptionRecord(
    id=uuid.uuid4(),
    version=9,
    provider_id=DR_A.id,
    kind=ExceptionKind.TIME_OFF,
    first_day=MONDAY + timedelta(days=1),
    last_day=MONDAY + timedelta(days=1),
    start_time=time(13),
    end_time=time(15),
    note="Course",
)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE).astimezone(UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    assert MONDAY.weekday() == 0
    opened = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    opened.apply_page(
        records.page(
            providers=[DR_A, DR_B],
            appointment_types=[ONLY_A, ANYONE, ONLY_B],
            schedule_exceptions=[COURSE],
        ),
        synced_at=datetime.now(UTC),
    )
    yield opened
    opened.close()


def dialog_for(
    qtbot: QtBot, runner: TaskRunner, store: Store, provider_id: uuid.UUID, starts: datetime
) -> AppointmentDialog:
    dialog = AppointmentDialog(
        runner,
        store,
        records.author(),
        ZONE,
        store.providers(),
        store.schedule().appointment_types,
        provider_id=provider_id,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.schedules is not None, timeout=WAIT_MS)
    return dialog


def warned(dialog: AppointmentDialog) -> bool:
    return dialog.hours_warning.isVisible() and "working hours" in dialog.hours_warning.text()


def test_a_booking_running_past_closing_is_warned_of_but_may_still_be_made(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    dialog = dialog_for(qtbot, runner, store, DR_A.id, at(MONDAY, 16, 30))
    assert not warned(dialog), "16:30–17:00 is inside Dr A's day"

    dialog.length.setValue(60)  # now it runs to 17:30, past closing
    assert warned(dialog)
    assert "Dr A" in dialog.hours_warning.text()
    assert dialog.ok_button.isEnabled(), "a warning, not a refusal"

    choose(dialog.provider, DR_B.id)  # Dr B works until 20:00
    assert not warned(dialog)


def test_closed_time_and_time_off_are_warned_of(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    early = dialog_for(qtbot, runner, store, DR_A.id, at(MONDAY, 7, 0))  # a double-click at 7
    assert warned(early)

    saturday = dialog_for(qtbot, runner, store, DR_B.id, at(MONDAY + timedelta(days=5), 10))
    assert warned(saturday)

    course = dialog_for(qtbot, runner, store, DR_A.id, at(MONDAY + timedelta(days=1), 13, 30))
    assert warned(course), "Dr A is on a course that afternoon"
    course.start.setDateTime(course.start.dateTime().addSecs(2 * 3600))  # 15:30: back
    assert not warned(course)


def test_the_types_offered_follow_the_provider_and_the_choice_is_kept_where_it_can_be(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    dialog = dialog_for(qtbot, runner, store, DR_A.id, at(MONDAY, 10))

    def offered() -> list[uuid.UUID | None]:
        return [dialog.type.itemData(n) for n in range(dialog.type.count())]

    assert offered() == [None, ANYONE.id, ONLY_A.id]  # by name
    choose(dialog.type, ANYONE.id)

    choose(dialog.provider, DR_B.id)
    assert offered() == [None, ANYONE.id, ONLY_B.id]
    assert dialog.type.currentData() == ANYONE.id, "Dr B gives it too: still chosen"

    choose(dialog.type, ONLY_B.id)
    assert dialog.length.value() == 20
    choose(dialog.provider, DR_A.id)
    assert offered() == [None, ANYONE.id, ONLY_A.id]  # by name
    assert dialog.type.currentData() is None, "Dr A does not give scans"
    assert dialog.length.value() == 20, "the length typed stays"


def test_a_new_booking_at_a_time_already_past_is_warned_of(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    future = dialog_for(qtbot, runner, store, DR_A.id, at(MONDAY, 10))
    assert "already passed" not in future.hours_warning.text()

    yesterday = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    past = dialog_for(qtbot, runner, store, DR_B.id, yesterday)
    assert past.hours_warning.isVisible()
    assert "has already passed" in past.hours_warning.text()
    assert past.ok_button.isEnabled(), "a warning: a visit that happened may be recorded"
