"""The settings page: an admin edits working hours, time off, appointment types, rooms and
booking rules through the widgets; each change is queued in the outbox and shown as not
yet sent, offline as well as online; nonsense is refused in words with nothing queued;
staff who are not admins only look."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QDate, Qt, QTime
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.roles import Role
from common.scheduling import ExceptionKind, Weekday
from desktop.config import SignInDefaults
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from desktop.settings.dialogs import choose, clock
from desktop.settings.models import NOT_YET_SENT, WHOLE_CLINIC
from desktop.settings.page import READ_ONLY_NOTE, SettingsPage
from desktop.signin import SignInDialog
from server.demo import ADMIN, DEMO_TIME_ZONE
from server.scheduling.models import BookingRules, ScheduleException
from sync.account import Desk, sync_client
from sync.engine import SyncEngine
from sync.protocol import (
    AppointmentTypeRecord,
    BookingRulesRecord,
    Command,
    LocationRecord,
    ProviderRecord,
    RemoveScheduleException,
    SaveAppointmentType,
    SaveLocation,
    SaveScheduleException,
    ScheduleExceptionRecord,
    SetBookingRules,
    SetWorkingHours,
    StaffInfo,
    WorkingHoursEntry,
)
from sync.store import Store
from tests.support import records
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
ZONE = ZoneInfo("Europe/London")
WAIT_MS = 45_000  # what must happen, with room for a loaded CI worker (a re-read took 20 s+)
LEFT = Qt.MouseButton.LeftButton
NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
ROOM_1, ROOM_2 = uuid.uuid4(), uuid.uuid4()


# --- a desk's copy of a small clinic, and nobody to sync with ---------------------------------


def provider_record(name: str, *ranges: tuple[int, int, int], version: int = 3) -> ProviderRecord:
    return ProviderRecord(
        id=uuid.uuid4(),
        version=version,
        display_name=name,
        colour="#336699",
        active=True,
        working_hours=[
            WorkingHoursEntry(weekday=d, start=time(a), end=time(b), location_id=ROOM_1)
            for d, a, b in ranges
        ],
    )


DR_A = provider_record("Dr A", (0, 9, 13), (1, 9, 17))
DR_B = provider_record("Dr B", (2, 10, 16), version=4)
CONSULTATION = AppointmentTypeRecord(
    id=uuid.uuid4(),
    version=5,
    name="Consultation",
    colour="#3d7dd8",
    duration_minutes=30,
    buffer_before_minutes=0,
    buffer_after_minutes=5,
    provider_ids=[],
    bookable_online=True,
    requires_confirmation=False,
    active=True,
)
COURSE = ScheduleExceptionRecord(
    id=uuid.uuid4(),
    version=6,
    provider_id=DR_A.id,
    kind=ExceptionKind.TIME_OFF,
    first_day=date(2026, 6, 1),
    last_day=date(2026, 6, 3),
    start_time=None,
    end_time=None,
    note="Course",
)
RULES = BookingRulesRecord(
    id=uuid.uuid4(),
    version=7,
    horizon_days=60,
    min_notice_minutes=120,
    slot_rounding=15,
    allow_any_provider=True,
    daily_cap=None,
    patient_cancel_cutoff_hours=24,
    patient_reschedule_cutoff_hours=24,
    patients_may_cancel=True,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    opened.apply_page(
        records.page(
            providers=[DR_A, DR_B],
            locations=[
                LocationRecord(id=ROOM_1, version=1, name="Room 1", active=True),
                LocationRecord(id=ROOM_2, version=2, name="Room 2", active=False),
            ],
            appointment_types=[CONSULTATION],
            schedule_exceptions=[COURSE],
            booking_rules=[RULES],
        ),
        synced_at=NOW,
    )
    yield opened
    opened.close()


def desk_of(store: Store, role: Role) -> Desk:
    """A signed-in desk whose server is nowhere to be found: everything here is offline."""
    staff = StaffInfo(id=uuid.uuid4(), email="a@b.example", display_name="Alex", role=role)
    return Desk(
        store,
        staff,
        "http://127.0.0.1:9",
        "demo",
        "Demo Clinic",
        ZONE.key,
        online=False,
        session_token=None,
        device_token=None,
        last_sync_at=NOW,
        author=records.author(staff.id),
    )


def open_page(qtbot: QtBot, runner: TaskRunner, desk: Desk) -> SettingsPage:
    page = SettingsPage(ChangeHub(runner), desk, ZONE)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.schedule is not None, timeout=WAIT_MS)
    return page


@pytest.fixture
def page(qtbot: QtBot, runner: TaskRunner, store: Store) -> SettingsPage:
    return open_page(qtbot, runner, desk_of(store, Role.CLINIC_ADMIN))


def queued(store: Store) -> list[Command]:
    return [m.command for m in store.pending_mutations(100)]


def saved_through(qtbot: QtBot, page: SettingsPage, press: Any) -> None:
    """Press the button, then wait for the change to be queued and the page re-read."""
    # In that order: a re-read already under way would show the page as it was.
    with qtbot.waitSignals([page.hub.changed, page.shown], order="simple", timeout=WAIT_MS):
        qtbot.mouseClick(press, LEFT)


def ok_button(dialog: Any) -> QWidget:
    button: QWidget = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    return button


def refused_in_words(qtbot: QtBot, page: SettingsPage, label: Any, words: str) -> None:
    qtbot.waitUntil(lambda: words in label.text(), timeout=WAIT_MS)
    assert not label.isHidden()
    assert queued(page.desk.store) == [], "nothing was queued"


# --- working hours ----------------------------------------------------------------------------


def test_working_hours_edited_on_the_page_are_queued_and_shown_not_yet_sent(
    qtbot: QtBot, page: SettingsPage
) -> None:
    tab = page.hours
    assert tab.provider.currentText() == "Dr A"
    editor = tab.editor
    assert [(clock(r.start), clock(r.end)) for r in editor.days[Weekday.MONDAY]] == [
        (time(9), time(13))
    ]

    qtbot.mouseClick(editor.add_buttons[Weekday.MONDAY], LEFT)
    afternoon = editor.days[Weekday.MONDAY][-1]
    afternoon.start.setTime(QTime(14, 0))
    afternoon.end.setTime(QTime(18, 30))
    choose(afternoon.room, None)
    qtbot.mouseClick(editor.days[Weekday.TUESDAY][0].remove_button, LEFT)
    qtbot.mouseClick(editor.add_buttons[Weekday.SATURDAY], LEFT)
    assert tab.state.text() == "Unsaved changes"

    saved_through(qtbot, page, tab.save_button)

    [command] = queued(page.desk.store)
    assert isinstance(command, SetWorkingHours)
    assert command.provider_id == DR_A.id
    assert command.base_version == DR_A.version
    assert [(h.weekday, h.start, h.end, h.location_id) for h in command.hours] == [
        (0, time(9), time(13), ROOM_1),
        (0, time(14), time(18, 30), None),
        (5, time(9), time(17), None),
    ]
    assert tab.state.text() == NOT_YET_SENT
    assert "not yet sent" in tab.provider.currentText()
    assert [(clock(r.start), clock(r.end)) for r in editor.days[Weekday.MONDAY]] == [
        (time(9), time(13)),
        (time(14), time(18, 30)),
    ]
    assert editor.days[Weekday.TUESDAY] == []


def test_overlapping_hours_are_refused_in_words_and_what_was_typed_stays(
    qtbot: QtBot, page: SettingsPage
) -> None:
    tab = page.hours
    qtbot.mouseClick(tab.editor.add_buttons[Weekday.MONDAY], LEFT)
    overlapping = tab.editor.days[Weekday.MONDAY][-1]
    overlapping.start.setTime(QTime(12, 0))
    overlapping.end.setTime(QTime(15, 0))

    qtbot.mouseClick(tab.save_button, LEFT)

    refused_in_words(qtbot, page, page.problem, "overlap")
    assert len(tab.editor.days[Weekday.MONDAY]) == 2
    assert tab.state.text() == "Unsaved changes"

    overlapping.end.setTime(QTime(11, 0))  # now it ends before it starts
    qtbot.mouseClick(tab.save_button, LEFT)
    refused_in_words(qtbot, page, page.problem, "must end after it starts")


def test_a_reload_after_a_sync_keeps_an_unsaved_week_and_unsaved_rules(
    qtbot: QtBot, page: SettingsPage
) -> None:
    qtbot.mouseClick(page.hours.editor.add_buttons[Weekday.SUNDAY], LEFT)
    page.rules.horizon.setValue(99)
    with qtbot.waitSignal(page.shown, timeout=WAIT_MS):
        page.reload()
    assert len(page.hours.editor.days[Weekday.SUNDAY]) == 1
    assert page.rules.horizon.value() == 99
    assert page.rules.state.text() == "Unsaved changes"

    qtbot.mouseClick(page.hours.undo_button, LEFT)
    assert page.hours.editor.days[Weekday.SUNDAY] == []


def test_choosing_another_provider_shows_their_week(qtbot: QtBot, page: SettingsPage) -> None:
    tab = page.hours
    choose(tab.provider, DR_B.id)
    assert [len(tab.editor.days[d]) for d in Weekday] == [0, 0, 1, 0, 0, 0, 0]
    [wednesday] = tab.editor.days[Weekday.WEDNESDAY]
    assert (clock(wednesday.start), clock(wednesday.end)) == (time(10), time(16))
    assert wednesday.room.currentText() == "Room 1"


# --- time off and closures --------------------------------------------------------------------


def test_time_off_added_through_the_dialog_is_queued_and_listed_not_yet_sent(
    qtbot: QtBot, page: SettingsPage
) -> None:
    tab = page.exceptions
    assert tab.model.rowCount() == 1
    qtbot.mouseClick(tab.add_button, LEFT)
    dialog = tab.dialog
    assert dialog is not None
    choose(dialog.provider, DR_B.id)
    dialog.first_day.setDate(QDate(2026, 7, 6))
    dialog.last_day.setDate(QDate(2026, 7, 10))
    dialog.all_day.setChecked(False)
    dialog.start.setTime(QTime(13, 0))
    dialog.end.setTime(QTime(17, 0))
    dialog.note.setText("School run")

    saved_through(qtbot, page, ok_button(dialog))

    [command] = queued(page.desk.store)
    assert isinstance(command, SaveScheduleException)
    assert (command.provider_id, command.exception_kind) == (DR_B.id, ExceptionKind.TIME_OFF)
    assert (command.first_day, command.last_day) == (date(2026, 7, 6), date(2026, 7, 10))
    assert (command.start_time, command.end_time, command.note) == (
        time(13),
        time(17),
        "School run",
    )
    assert command.base_version is None
    shown = [
        [tab.model.index(row, col).data() for col in range(tab.model.columnCount())]
        for row in range(tab.model.rowCount())
    ]
    expected = ["Time off", "Dr B", "Mon 06 Jul – Fri 10 Jul 2026", "13:00–17:00", "School run"]
    assert [*expected, NOT_YET_SENT] in shown


def test_a_closure_is_for_the_whole_clinic(qtbot: QtBot, page: SettingsPage) -> None:
    dialog = page.exceptions.add()
    choose(dialog.kind, ExceptionKind.CLOSURE)
    assert dialog.provider.currentText() == WHOLE_CLINIC
    assert not dialog.provider.isEnabled()
    dialog.first_day.setDate(QDate(2026, 12, 25))
    dialog.note.setText("Christmas")

    saved_through(qtbot, page, ok_button(dialog))

    [command] = queued(page.desk.store)
    assert isinstance(command, SaveScheduleException)
    assert (command.exception_kind, command.provider_id) == (ExceptionKind.CLOSURE, None)
    assert command.first_day == command.last_day == date(2026, 12, 25)
    assert (command.start_time, command.end_time) == (None, None)


def test_a_bad_exception_keeps_the_dialog_open_with_the_reason(
    qtbot: QtBot, page: SettingsPage
) -> None:
    dialog = page.exceptions.add()
    dialog.first_day.setDate(QDate(2026, 7, 10))
    dialog.last_day.setDate(QDate(2026, 7, 6))
    dialog.note.setText("Typed with care")

    qtbot.mouseClick(ok_button(dialog), LEFT)

    refused_in_words(qtbot, page, dialog.problem, "last day must not be before the first")
    assert dialog.isVisible()
    assert dialog.note.text() == "Typed with care"

    dialog.last_day.setDate(QDate(2026, 7, 12))
    dialog.all_day.setChecked(False)
    dialog.start.setTime(QTime(15, 0))
    dialog.end.setTime(QTime(9, 0))
    qtbot.mouseClick(ok_button(dialog), LEFT)
    refused_in_words(qtbot, page, dialog.problem, "end time must be after the start")


def test_an_exception_is_edited_and_removed_after_a_confirmation(
    qtbot: QtBot, page: SettingsPage
) -> None:
    tab = page.exceptions
    tab.table.selectRow(0)
    dialog = tab.edit()
    assert dialog is not None
    assert (dialog.note.text(), dialog.provider.currentData()) == ("Course", DR_A.id)
    assert dialog.all_day.isChecked()
    dialog.note.setText("Course (moved)")
    saved_through(qtbot, page, ok_button(dialog))

    tab.table.selectRow(0)
    box = tab.remove()
    assert box is not None
    assert "Dr A" in box.text()
    saved_through(qtbot, page, box.button(QMessageBox.StandardButton.Yes))

    edit, removal = queued(page.desk.store)
    assert isinstance(edit, SaveScheduleException)
    assert (edit.exception_id, edit.base_version, edit.note) == (
        COURSE.id,
        COURSE.version,
        "Course (moved)",
    )
    assert isinstance(removal, RemoveScheduleException)
    assert removal.exception_id == COURSE.id
    assert tab.model.rowCount() == 0


def test_saying_no_to_the_confirmation_removes_nothing(qtbot: QtBot, page: SettingsPage) -> None:
    page.exceptions.table.selectRow(0)
    box = page.exceptions.remove()
    assert box is not None
    submitted: list[object] = []
    page.exceptions.submit = lambda command, _done: submitted.append(command)
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.No), LEFT)
    assert submitted == []  # a change is handed over at the click, or never
    assert queued(page.desk.store) == []
    assert page.exceptions.model.rowCount() == 1


# --- appointment types and rooms -----------------------------------------------------------


def test_an_appointment_type_added_through_the_dialog_is_queued_and_listed(
    qtbot: QtBot, page: SettingsPage
) -> None:
    tab = page.types
    qtbot.mouseClick(tab.add_button, LEFT)
    dialog = tab.dialog
    assert dialog is not None
    dialog.name.setText("Sports massage")
    dialog.colour.setText("#AA5500")
    dialog.duration.setValue(45)
    dialog.buffer_before.setValue(5)
    dialog.buffer_after.setValue(15)
    for n in range(dialog.providers.count()):
        item = dialog.providers.item(n)
        if item.text() == "Dr B":
            item.setCheckState(Qt.CheckState.Checked)
    dialog.bookable_online.setChecked(False)
    dialog.requires_confirmation.setChecked(True)

    saved_through(qtbot, page, ok_button(dialog))

    [command] = queued(page.desk.store)
    assert isinstance(command, SaveAppointmentType)
    assert command.model_dump(exclude={"kind", "appointment_type_id"}) == {
        "base_version": None,
        "name": "Sports massage",
        "colour": "#aa5500",
        "duration_minutes": 45,
        "buffer_before_minutes": 5,
        "buffer_after_minutes": 15,
        "provider_ids": [DR_B.id],
        "bookable_online": False,
        "requires_confirmation": True,
        "active": True,
        "video": False,
    }
    names = [tab.model.index(r, 0).data() for r in range(tab.model.rowCount())]
    row = names.index("Sports massage")
    assert tab.model.index(row, 4).data() == "Dr B"
    assert tab.model.index(row, 2).data() == "45 min"
    assert tab.model.index(row, tab.model.columnCount() - 1).data() == NOT_YET_SENT


def test_an_appointment_type_without_a_name_or_with_a_bad_colour_is_refused(
    qtbot: QtBot, page: SettingsPage
) -> None:
    dialog = page.types.add()
    dialog.name.setText("   ")
    qtbot.mouseClick(ok_button(dialog), LEFT)
    refused_in_words(qtbot, page, dialog.problem, "needs a name")

    dialog.name.setText("Review")
    dialog.colour.setText("blue")
    qtbot.mouseClick(ok_button(dialog), LEFT)
    refused_in_words(qtbot, page, dialog.problem, "#3366cc")
    assert dialog.isVisible()


def test_editing_a_type_keeps_its_id_and_may_take_it_out_of_use(
    qtbot: QtBot, page: SettingsPage
) -> None:
    page.types.table.selectRow(0)
    dialog = page.types.edit()
    assert dialog is not None
    assert (dialog.name.text(), dialog.duration.value()) == ("Consultation", 30)
    assert dialog.chosen_providers() == []
    dialog.active.setChecked(False)
    saved_through(qtbot, page, ok_button(dialog))
    [command] = queued(page.desk.store)
    assert isinstance(command, SaveAppointmentType)
    assert (command.appointment_type_id, command.base_version, command.active) == (
        CONSULTATION.id,
        CONSULTATION.version,
        False,
    )


def test_rooms_are_added_renamed_and_taken_out_of_use(qtbot: QtBot, page: SettingsPage) -> None:
    tab = page.rooms
    tab.name.setText("Room 3")
    saved_through(qtbot, page, tab.add_button)
    assert tab.name.text() == ""

    room_1 = [r.name for r in tab.model.rows].index("Room 1")
    tab.table.selectRow(room_1)
    assert tab.name.text() == "Room 1"
    tab.name.setText("Room 1 (big)")
    saved_through(qtbot, page, tab.rename_button)
    tab.table.selectRow([r.name for r in tab.model.rows].index("Room 1 (big)"))
    assert tab.active_button.text() == "Take out of use"
    saved_through(qtbot, page, tab.active_button)

    added, renamed, retired = queued(page.desk.store)
    assert isinstance(added, SaveLocation)
    assert (added.name, added.base_version, added.active) == ("Room 3", None, True)
    assert isinstance(renamed, SaveLocation)
    assert (renamed.location_id, renamed.name, renamed.base_version) == (ROOM_1, "Room 1 (big)", 1)
    assert isinstance(retired, SaveLocation)
    assert (retired.location_id, retired.active) == (ROOM_1, False)
    shown = {
        tab.model.index(r, 0).data(): tab.model.index(r, 2).data()
        for r in range(tab.model.rowCount())
    }
    assert shown == {"Room 1 (big)": NOT_YET_SENT, "Room 2": "", "Room 3": NOT_YET_SENT}


def test_a_room_needs_a_name(qtbot: QtBot, page: SettingsPage) -> None:
    page.rooms.name.setText("  ")
    qtbot.mouseClick(page.rooms.add_button, LEFT)
    refused_in_words(qtbot, page, page.problem, "A room needs a name")


# --- booking rules --------------------------------------------------------------------------


def test_booking_rules_changed_on_the_page_are_queued_and_shown_not_yet_sent(
    qtbot: QtBot, page: SettingsPage
) -> None:
    tab = page.rules
    assert (tab.horizon.value(), tab.notice.value(), tab.rounding.currentData()) == (60, 2, 15)
    assert tab.daily_cap.text() == "No cap"
    assert [tab.rounding.itemData(n) for n in range(tab.rounding.count())] == [
        5,
        10,
        15,
        20,
        30,
        60,
    ]
    tab.horizon.setValue(90)
    tab.notice.setValue(4.5)
    choose(tab.rounding, 30)
    tab.any_provider.setChecked(False)
    tab.daily_cap.setValue(8)
    tab.cancel_cutoff.setValue(48)
    tab.reschedule_cutoff.setValue(12)
    tab.patients_may_cancel.setChecked(False)

    saved_through(qtbot, page, tab.save_button)

    [command] = queued(page.desk.store)
    assert isinstance(command, SetBookingRules)
    assert command.model_dump(exclude={"kind"}) == {
        "base_version": RULES.version,
        "horizon_days": 90,
        "min_notice_minutes": 270,
        "slot_rounding": 30,
        "allow_any_provider": False,
        "daily_cap": 8,
        "patient_cancel_cutoff_hours": 48,
        "patient_reschedule_cutoff_hours": 12,
        "patients_may_cancel": False,
    }
    assert tab.state.text() == NOT_YET_SENT
    assert (tab.horizon.value(), tab.notice.value(), tab.daily_cap.value()) == (90, 4.5, 8)

    tab.daily_cap.setValue(0)  # back to no cap
    saved_through(qtbot, page, tab.save_button)
    assert isinstance(last := queued(page.desk.store)[-1], SetBookingRules)
    assert last.daily_cap is None


# --- who may change settings ------------------------------------------------------------------


def test_staff_who_are_not_admins_see_the_settings_read_only(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, desk_of(store, Role.FRONT_DESK))

    assert not page.notice.isHidden()
    assert page.notice.text() == READ_ONLY_NOTE
    assert "Only clinic admins can change" in READ_ONLY_NOTE
    assert page.hours.editor.days[Weekday.MONDAY], "the week is shown"
    disabled = [
        page.hours.save_button,
        *page.hours.editor.add_buttons.values(),
        page.hours.editor.days[Weekday.MONDAY][0].start,
        page.hours.editor.days[Weekday.MONDAY][0].remove_button,
        page.exceptions.add_button,
        page.exceptions.edit_button,
        page.exceptions.remove_button,
        page.types.add_button,
        page.types.edit_button,
        page.rooms.add_button,
        page.rooms.rename_button,
        page.rooms.active_button,
        page.rooms.name,
        *page.rules.fields,
        page.rules.save_button,
    ]
    assert [w for w in disabled if w.isEnabled()] == []
    assert page.exceptions.model.rowCount() == 1
    page.exceptions.table.selectRow(0)
    assert page.exceptions.edit() is None, "a double-click opens no editor"

    page.rules.save()  # even if a button were reached somehow
    assert READ_ONLY_NOTE in page.problem.text()
    assert queued(store) == []


def test_an_admin_sees_no_read_only_note_and_a_new_sign_in_may_change_that(
    page: SettingsPage,
) -> None:
    assert page.notice.isHidden()
    assert page.hours.save_button.isEnabled()
    front_desk = desk_of(page.desk.store, Role.FRONT_DESK)
    page.set_desk(front_desk)
    assert not page.notice.isHidden()
    assert not page.hours.save_button.isEnabled()
    assert not page.types.add_button.isEnabled()
    page.set_desk(desk_of(page.desk.store, Role.CLINIC_ADMIN))
    assert page.notice.isHidden()
    assert page.rules.horizon.isEnabled()


# --- the models ----------------------------------------------------------------------------------


def test_the_settings_tables_pass_the_model_tester(
    qtbot: QtBot, page: SettingsPage, qtmodeltester: Any
) -> None:
    page.rooms.name.setText("Room 3")
    saved_through(qtbot, page, page.rooms.add_button)
    for model in (page.exceptions.model, page.types.model, page.rooms.model):
        assert model.rowCount() > 0
        qtmodeltester.check(model, force_py=True)
    empty = type(page.rooms.model)()
    qtmodeltester.check(empty, force_py=True)


# --- against a real server ----------------------------------------------------------------------


def _sign_in_as_admin(qtbot: QtBot, runner: TaskRunner, server: LiveServer, folder: Path) -> Desk:
    dialog = SignInDialog(runner, folder, SignInDefaults(server.url, "demo", ADMIN.email))
    qtbot.addWidget(dialog)
    dialog.password.setText(ADMIN.password)
    qtbot.mouseClick(dialog.sign_in_button, LEFT)
    qtbot.waitUntil(lambda: dialog.desk is not None, timeout=20_000)
    assert dialog.desk is not None
    return dialog.desk


def test_a_change_made_on_the_page_reaches_the_server(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    runner = TaskRunner()
    desk = _sign_in_as_admin(qtbot, runner, live_server, tmp_path)
    assert desk.staff.role is Role.CLINIC_ADMIN
    engine = SyncEngine(desk.store, sync_client(desk))
    engine.sync()
    page = SettingsPage(ChangeHub(runner), desk, ZoneInfo(DEMO_TIME_ZONE))
    qtbot.addWidget(page)
    synced: list[object] = []
    # What MainWindow does after a local change: send it at once.
    page.hub.changed.connect(lambda _changes: runner.run("net", engine.sync, synced.append))
    qtbot.waitUntil(lambda: page.schedule is not None, timeout=WAIT_MS)
    assert page.notice.isHidden()

    dialog = page.exceptions.add()
    choose(dialog.kind, ExceptionKind.CLOSURE)
    closed = datetime.now(ZoneInfo(DEMO_TIME_ZONE)).date() + timedelta(days=30)
    dialog.first_day.setDate(QDate(closed.year, closed.month, closed.day))
    dialog.note.setText("Staff training")
    qtbot.mouseClick(ok_button(dialog), LEFT)
    qtbot.waitUntil(lambda: len(synced) == 1, timeout=WAIT_MS)
    page.rules.horizon.setValue(45)
    qtbot.mouseClick(page.rules.save_button, LEFT)
    qtbot.waitUntil(lambda: len(synced) == 2, timeout=WAIT_MS)

    with live_server.sessionmaker() as session:
        closure = session.scalars(
            select(ScheduleException).where(ScheduleException.note == "Staff training")
        ).one()
        assert (closure.kind, closure.provider_id, closure.first_day) == (
            ExceptionKind.CLOSURE,
            None,
            closed,
        )
        assert session.scalars(select(BookingRules.horizon_days)).all() == [45]
    assert desk.store.outbox_counts() == {"pending": 0, "attention": 0}

    with qtbot.waitSignal(page.shown, timeout=WAIT_MS):
        page.reload()  # as MainWindow does after a sync
    assert page.rules.state.text() == ""
    notes = [r.exception.note for r in page.exceptions.model.rows if not r.pending]
    assert "Staff training" in notes
    page.close()
    runner.shutdown()
    desk.store.close()
