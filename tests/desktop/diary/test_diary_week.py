"""The week view, the provider chooser, how blocks look, the keyboard, and the model."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from common.appointments import AppointmentSource, AppointmentStatus
from desktop.diary.items import AppointmentItem
from desktop.diary.model import COLUMNS, ENTRY_ROLE, UNTYPED, Mode
from desktop.diary.page import DiaryPage
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from sync.protocol import AppointmentRecord, PatientRecord, ProviderRecord
from sync.store import Store
from tests.support import records

pytestmark = pytest.mark.qt
NEW_YORK = ZoneInfo("America/New_York")
SPRING_SUNDAY = date(2026, 3, 8)  # New York springs forward at 2:00
MONDAY = date(2026, 3, 2)
WAIT_MS = 20_000  # a deadline for what must happen, with room for a loaded CI worker


def ny(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=NEW_YORK).astimezone(UTC)


@pytest.fixture
def people() -> tuple[ProviderRecord, ProviderRecord, PatientRecord]:
    return (
        records.provider_with_hours("Dr Adams", colour="#3d7dd8", weekdays=range(7)),
        records.provider_with_hours(
            "Dr Brook",
            colour="#2e9e6a",
            weekdays=range(5),
            hours=("09:00", "13:00", "14:00", "17:00"),
        ),
        records.patient_with("Ada", "Lovelace"),
    )


@pytest.fixture
def store(
    tmp_path: Path, people: tuple[ProviderRecord, ProviderRecord, PatientRecord]
) -> Iterator[Store]:
    a, b, ada = people
    kind = records.appointment_type("Consultation", colour="#8e5bd0", minutes=30)

    def book(of: ProviderRecord, start: datetime, **extra: object) -> AppointmentRecord:
        return records.appointment(of, ada, start).model_copy(update=extra)

    opened = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    opened.apply_page(
        records.page(
            providers=[a, b],
            appointment_types=[kind],
            patients=[ada],
            appointments=[
                records.typed(book(a, ny(MONDAY, 9)), kind),
                book(b, ny(MONDAY, 10), status=AppointmentStatus.CANCELLED),
                book(b, ny(MONDAY, 10), source=AppointmentSource.WIDGET),  # took its time
                book(a, ny(MONDAY, 11)),
                book(b, ny(date(2026, 3, 4), 15), status=AppointmentStatus.NO_SHOW),
                book(b, ny(date(2026, 3, 7), 9)),
                book(a, ny(SPRING_SUNDAY, 1)),
                book(a, ny(SPRING_SUNDAY, 9)),
                book(a, ny(date(2026, 3, 9), 9)),  # the next week
            ],
        ),
        synced_at=datetime.now(UTC),
    )
    yield opened
    opened.close()


def open_page(qtbot: QtBot, runner: TaskRunner, store: Store, day: date, mode: Mode) -> DiaryPage:
    page = DiaryPage(ChangeHub(runner), store, NEW_YORK, author=records.author())
    qtbot.addWidget(page)
    page.resize(1500, 900)
    page.show()
    if page.mode is not mode:
        page.set_mode(mode)
    page.go_to(day)
    qtbot.waitUntil(
        lambda: (
            page.view.shown is not None
            and page.view.shown.days == mode.days
            and page.current == day
            and page.model.shown.day == page.view.shown.day
            # The grid is rebuilt after the range is shown: under load, a moment later.
            and page.view.grid is not None
            and page.view.grid.lanes[0].day == page.view.shown.day
        ),
        timeout=WAIT_MS,
    )
    return page


def where(page: DiaryPage, item: AppointmentItem) -> tuple[date, str]:
    grid = page.view.grid
    assert grid is not None
    lane = grid.lane_at(item.rect().center().x())
    assert lane is not None
    return lane.day, lane.provider.display_name


def test_week_view_has_seven_days_of_each_provider_and_puts_each_block_in_its_lane(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, store, date(2026, 3, 5), Mode.WEEK)
    shown = page.view.shown
    grid = page.view.grid
    assert shown is not None
    assert grid is not None
    assert shown.day == MONDAY
    assert shown.dates[-1] == SPRING_SUNDAY
    assert [(lane.day, lane.provider.display_name) for lane in grid.lanes] == [
        (MONDAY + timedelta(days=d), name) for d in range(7) for name in ("Dr Adams", "Dr Brook")
    ]
    assert all(a.right <= b.left + 0.01 for a, b in zip(grid.lanes, grid.lanes[1:], strict=False))
    items = page.view.appointment_items()
    assert len(items) == 8  # not the next Monday's
    for item in items:
        local = item.entry.starts_at.astimezone(NEW_YORK)
        provider = next(p for p in shown.providers if p.id == item.entry.provider_id)
        assert where(page, item) == (local.date(), provider.display_name)
    assert page.title.text() == "Week of 02 Mar – 08 Mar 2026 · 7 appointments"


def test_a_daylight_saving_week_keeps_blocks_on_their_clock_times(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, store, SPRING_SUNDAY, Mode.WEEK)
    grid = page.view.grid
    assert grid is not None
    top = {
        (
            i.entry.starts_at.astimezone(NEW_YORK).date(),
            i.entry.starts_at.astimezone(NEW_YORK).hour,
        ): i.rect().top()
        for i in page.view.appointment_items()
    }
    # 9:00 on the short Sunday sits on the same line as 9:00 on Saturday and Monday...
    assert top[SPRING_SUNDAY, 9] == pytest.approx(top[date(2026, 3, 7), 9])
    assert top[SPRING_SUNDAY, 9] == pytest.approx(top[MONDAY, 9])
    # ...eight hour lines below 1:00, though only seven real hours pass between them.
    assert top[SPRING_SUNDAY, 9] - top[SPRING_SUNDAY, 1] == pytest.approx(8 * 60 * grid.px, abs=1)
    assert grid.first_hour == 1


def test_overlapping_blocks_share_their_lane(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, store, MONDAY, Mode.DAY)
    at_ten = sorted(
        (i for i in page.view.appointment_items() if i.entry.starts_at == ny(MONDAY, 10)),
        key=lambda i: i.rect().left(),
    )
    assert [i.entry.status for i in at_ten] == [
        AppointmentStatus.BOOKED,
        AppointmentStatus.CANCELLED,
    ]
    assert at_ten[0].rect().right() <= at_ten[1].rect().left() + 0.01


def test_blocks_show_type_colour_status_and_source(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, store, date(2026, 3, 4), Mode.WEEK)
    by_start = {
        i.entry.starts_at: i for i in page.view.appointment_items() if i.entry.status.occupies_time
    }
    typed, untyped = by_start[ny(MONDAY, 9)], by_start[ny(MONDAY, 11)]
    assert typed.look.fill.color() == QColor("#8e5bd0")  # the appointment type's colour
    # No type: a neutral grey, not the provider's colour (it would read as a type's).
    assert untyped.look.fill.color() == QColor(UNTYPED)
    assert "Consultation" in typed.toolTip()
    no_show = by_start[ny(date(2026, 3, 4), 15)]
    assert no_show.look.fill.color().alpha() < 255  # faded
    cancelled = next(i for i in page.view.appointment_items() if not i.entry.status.occupies_time)
    assert cancelled.look.struck
    online = by_start[ny(MONDAY, 10)]
    assert "Booked online" in online.toolTip()
    assert "Booked at the desk" in untyped.toolTip()


def test_working_hours_are_shaded(qtbot: QtBot, runner: TaskRunner, store: Store) -> None:
    page = open_page(qtbot, runner, store, MONDAY, Mode.DAY)
    grid = page.view.grid
    assert grid is not None
    brook = next(lane for lane in grid.lanes if lane.provider.display_name == "Dr Brook")

    def closed(lane_left: float, minute: int) -> bool:
        y = grid.y(minute) + 1
        return any(r.left() == lane_left and r.top() <= y < r.bottom() for r in page.view.closed)

    assert closed(brook.left, 8 * 60)
    assert not closed(brook.left, 9 * 60)
    assert closed(brook.left, 13 * 60 + 30)  # lunch
    assert not closed(brook.left, 16 * 60 + 30)
    assert closed(brook.left, 17 * 60 + 30)
    assert page.model.shown.working[brook.provider.id, MONDAY] == [(540, 780), (840, 1020)]
    # Saturday: Dr Brook does not work at all.
    page.set_mode(Mode.WEEK)
    qtbot.waitUntil(
        lambda: page.view.shown is not None and page.view.shown.days == 7, timeout=WAIT_MS
    )
    assert page.model.shown.working[brook.provider.id, date(2026, 3, 7)] == []


def test_the_provider_chooser_is_remembered(qtbot: QtBot, runner: TaskRunner, store: Store) -> None:
    page = open_page(qtbot, runner, store, MONDAY, Mode.DAY)
    page.providers_button.fill()
    toggles = {a.text(): a for a in page.providers_button.menu_.actions() if a.isCheckable()}
    assert set(toggles) == {"Dr Adams", "Dr Brook"}
    assert all(a.isChecked() for a in toggles.values())
    toggles["Dr Brook"].trigger()
    qtbot.waitUntil(
        lambda: [p.display_name for p in page.model.shown.providers] == ["Dr Adams"],
        timeout=WAIT_MS,
    )
    assert {i.entry.provider_id for i in page.view.appointment_items()} == {
        page.model.shown.providers[0].id
    }

    again = open_page(qtbot, runner, store, MONDAY, Mode.DAY)
    qtbot.waitUntil(
        lambda: [p.display_name for p in again.model.shown.providers] == ["Dr Adams"],
        timeout=WAIT_MS,
    )
    assert [p.display_name for p in again.model.shown.all_providers] == ["Dr Adams", "Dr Brook"]
    again.set_hidden(frozenset())
    qtbot.waitUntil(lambda: len(again.model.shown.providers) == 2, timeout=WAIT_MS)


def test_the_model_passes_qtmodeltester(
    qtbot: QtBot, runner: TaskRunner, store: Store, qtmodeltester: ModelTester
) -> None:
    page = open_page(qtbot, runner, store, MONDAY, Mode.WEEK)
    model = page.model
    qtmodeltester.check(model)
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())] == [
        c.title for c in COLUMNS
    ]
    assert model.rowCount() == 8
    first = [model.index(0, c).data() for c in range(model.columnCount())]
    assert first == [
        "Mon 02 Mar 09:00–09:30",
        "Dr Adams",
        "Ada Lovelace",
        "Consultation",
        "Booked",
        "Sent",
    ]
    assert model.index(0, 0).data(ENTRY_ROLE).starts_at == ny(MONDAY, 9)
    assert isinstance(model.index(0, 3).data(Qt.ItemDataRole.DecorationRole), QColor)
    page.go_next()
    qtbot.waitUntil(lambda: model.shown.day == date(2026, 3, 9), timeout=WAIT_MS)
    qtmodeltester.check(model)
    assert model.rowCount() == 1


def test_keyboard_walks_appointments_days_and_views(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, store, MONDAY, Mode.DAY)
    view = page.view
    view.setFocus()
    # The day's appointments are placed once read: under load, after the grid is shown.
    qtbot.waitUntil(lambda: len(view.appointment_items()) >= 3, timeout=WAIT_MS)

    def selected() -> tuple[str, int] | None:
        entry = view.selected_entry()
        if entry is None:
            return None
        name = next(p.display_name for p in page.model.shown.providers if p.id == entry.provider_id)
        return name, entry.starts_at.astimezone(NEW_YORK).hour

    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert selected() == ("Dr Adams", 9)
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert selected() == ("Dr Adams", 11)
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert selected() == ("Dr Adams", 9)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert selected() == ("Dr Brook", 10)

    qtbot.keyClick(view, Qt.Key.Key_Return)  # opens it
    assert page.dialog is not None
    assert page.dialog.isVisible()
    assert page.dialog.entry is not None
    assert page.dialog.entry.starts_at == ny(MONDAY, 10)
    page.dialog.reject()

    qtbot.keyClick(view, Qt.Key.Key_Delete)  # asks to cancel it
    assert page.question is not None
    assert page.question.isVisible()
    page.question.keep_button.click()

    qtbot.keyClick(view, Qt.Key.Key_Right)  # past the last lane: the next day
    qtbot.waitUntil(lambda: page.current == MONDAY + timedelta(days=1), timeout=WAIT_MS)
    qtbot.keyClick(view, Qt.Key.Key_PageUp)
    qtbot.waitUntil(
        lambda: page.current == MONDAY and page.model.shown.day == MONDAY, timeout=WAIT_MS
    )

    qtbot.keyClick(view, Qt.Key.Key_W)
    qtbot.waitUntil(lambda: page.model.shown.days == 7, timeout=WAIT_MS)
    assert page.mode is Mode.WEEK
    assert page.week_button.isChecked()
    qtbot.keyClick(view, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: page.model.shown.day == date(2026, 3, 9), timeout=WAIT_MS)
    qtbot.keyClick(view, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: page.model.shown.days == 1, timeout=WAIT_MS)
    assert page.current == date(2026, 3, 9)
    qtbot.keyClick(view, Qt.Key.Key_T)
    qtbot.waitUntil(lambda: page.current == datetime.now(NEW_YORK).date(), timeout=WAIT_MS)

    # Ctrl+N books at the selected time: a click on free time chooses it.
    page.go_to(MONDAY)
    qtbot.waitUntil(lambda: page.model.shown.day == MONDAY, timeout=WAIT_MS)
    grid = view.grid
    assert grid is not None
    lane = grid.lanes[1]
    point = QPointF(lane.left + 10, grid.y(15 * 60 + 2))
    view.ensureVisible(point.x(), point.y(), 1, 1)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(point))
    qtbot.keyClick(view, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    dialog = page.dialog
    assert dialog is not None
    assert dialog.isVisible()
    assert dialog.entry is None
    assert dialog.provider.currentText() == "Dr Brook"
    assert dialog.start.dateTime().time().toString("HH:mm") == "15:00"


def test_shortcuts_are_shown_in_tooltips(qtbot: QtBot, runner: TaskRunner, store: Store) -> None:
    page = open_page(qtbot, runner, store, MONDAY, Mode.DAY)
    tips = {name: action.toolTip() for name, action in page.actions_by_name.items()}
    assert tips["previous"] == "Previous day (PgUp, Alt+Left)"
    assert tips["week"] == "Week (W)"
    assert tips["new"] == "New (Ctrl+N)"
    assert tips["today"] == "Today (T, Alt+Home)"


def test_a_days_heading_in_the_week_opens_that_day(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, store, MONDAY, Mode.WEEK)
    grid = page.view.grid
    assert grid is not None
    x = grid.day_left(3) + grid.day_width / 2
    pos = QPointF(page.view.mapFromScene(QPointF(x, 0)).x(), 10)
    qtbot.mouseClick(page.view.viewport(), Qt.MouseButton.LeftButton, pos=pos.toPoint())
    qtbot.waitUntil(lambda: page.model.shown.days == 1, timeout=WAIT_MS)
    assert page.current == date(2026, 3, 5)


def test_working_time_follows_exceptions() -> None:
    from common.scheduling import (
        ExceptionKind,
        ProviderSchedule,
        ScheduleException,
        Weekday,
        WorkingRange,
    )
    from desktop.diary.model import working_minutes

    me = uuid.uuid4()
    tuesday = date(2026, 3, 3)

    def on(*exceptions: ScheduleException) -> list[tuple[int, int]] | None:
        week = (WorkingRange(Weekday.TUESDAY, time(9), time(17)),)
        return working_minutes(ProviderSchedule(me, week, exceptions), tuesday)

    def exception(
        kind: ExceptionKind, start: int | None = None, end: int | None = None
    ) -> ScheduleException:
        return ScheduleException(
            uuid.uuid4(),
            kind,
            tuesday,
            tuesday,
            time(start) if start is not None else None,
            time(end) if end is not None else None,
            provider_id=None if kind is ExceptionKind.CLOSURE else me,
        )

    assert on() == [(540, 1020)]
    assert on(exception(ExceptionKind.TIME_OFF, 12, 14)) == [(540, 720), (840, 1020)]
    assert on(exception(ExceptionKind.EXTRA_HOURS, 17, 19)) == [(540, 1140)]
    assert on(exception(ExceptionKind.CLOSURE)) == []
    assert working_minutes(ProviderSchedule(me), tuesday) is None  # no hours set up: unknown
    assert (
        working_minutes(ProviderSchedule(me, (), (exception(ExceptionKind.CLOSURE),)), tuesday)
        == []
    )
