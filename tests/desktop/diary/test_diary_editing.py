"""Changing the diary with the mouse, the keyboard and the menus, on a real SQLCipher store
(no server: every change lands in the local copy and the outbox, as it does offline)."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtPdf import QPdfDocument
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.appointments import AppointmentStatus
from desktop.diary.booking_dialog import NO_PATIENT, AppointmentDialog
from desktop.diary.items import AppointmentItem
from desktop.diary.model import Mode
from desktop.diary.page import DiaryPage
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from sync.schema import outbox
from sync.store import DiaryEntry, Store
from tests.support import records

pytestmark = pytest.mark.qt
ZONE = ZoneInfo("Europe/London")
DAY = date(2031, 3, 4)  # a Tuesday
WAIT_MS = 20_000  # a deadline for what must happen, with room for a loaded CI worker


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE).astimezone(UTC)


class Clock:
    """The page's "now", moved on by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    a = records.provider_with_hours("Dr Adams", colour="#3d7dd8")
    b = records.provider_with_hours(
        "Dr Brook", colour="#2e9e6a", hours=("09:00", "13:00", "14:00", "17:00")
    )
    consultation = records.appointment_type("Consultation", colour="#8e5bd0", minutes=30)
    long = records.appointment_type("Long visit", colour="#c9702b", minutes=60)
    ada = records.patient_with("Ada", "Lovelace", born=date(1980, 5, 17), phone="+44 7700 900123")
    alan = records.patient_with("Alan", "Turing", born=date(1912, 6, 23), phone="07700 900456")
    grace = records.patient_with("Grace", "Hopper", born=date(1906, 12, 9))
    opened.apply_page(
        records.page(
            providers=[a, b],
            appointment_types=[consultation, long],
            patients=[ada, alan, grace],
            appointments=[
                records.typed(records.appointment(a, ada, at(9)), consultation),
                records.appointment(
                    a, alan, at(10), minutes=30, status=AppointmentStatus.CONFIRMED
                ),
                records.typed(records.appointment(b, grace, at(9), minutes=45), long).model_copy(
                    update={"status": AppointmentStatus.ARRIVED, "arrived_at": at(8)}
                ),
                records.appointment(b, alan, at(11), status=AppointmentStatus.COMPLETED),
            ],
        ),
        synced_at=datetime.now(UTC),
    )
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(at(8))


@pytest.fixture
def page(qtbot: QtBot, runner: TaskRunner, store: Store, clock: Clock) -> DiaryPage:
    store.clock = clock  # changes are made at the page's "now"
    shown = DiaryPage(ChangeHub(runner), store, ZONE, author=records.author(), clock=clock)
    qtbot.addWidget(shown)
    shown.resize(1300, 900)
    shown.show()
    qtbot.waitUntil(
        lambda: shown.view.shown is not None and shown.view.shown.day == DAY, timeout=WAIT_MS
    )
    return shown


def item_of(page: DiaryPage, patient: str, hour: int) -> AppointmentItem:
    found = [
        i
        for i in page.view.appointment_items()
        if i.entry.patient_name == patient and i.entry.starts_at == at(hour)
    ]
    assert len(found) == 1, [i.entry for i in page.view.appointment_items()]
    return found[0]


def entry_by_id(page: DiaryPage, appointment_id: uuid.UUID) -> DiaryEntry:
    item = page.view.items_by_id.get(appointment_id)
    assert item is not None, "not shown"
    return item.entry


def lane_point(page: DiaryPage, provider: str, minute: int) -> QPointF:
    """A viewport point in ``provider``'s lane (on the first day shown) at ``minute`` past
    midnight, scrolled into sight first."""
    grid = page.view.grid
    assert grid is not None
    lane = next(ln for ln in grid.lanes if ln.provider.display_name == provider)
    scene = QPointF(lane.left + lane.width / 2, grid.y(minute) + 2)
    page.view.ensureVisible(scene.x(), scene.y(), 1, 1, 50, 80)
    return QPointF(page.view.mapFromScene(scene))


def queued(store: Store) -> list[dict[str, object]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.command).order_by(outbox.c.seq)).all()
    return [json.loads(r.command) for r in rows]


def drag(qtbot: QtBot, page: DiaryPage, start: QPointF, end: QPointF) -> None:
    viewport = page.view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start.toPoint())
    for n in range(1, 6):
        step = start + (end - start) * (n / 5)
        qtbot.mouseMove(viewport, pos=step.toPoint())
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end.toPoint())


def choose_patient(qtbot: QtBot, dialog: AppointmentDialog, typed: str) -> None:
    qtbot.keyClicks(dialog.search, typed)
    qtbot.waitUntil(lambda: dialog.results.count() >= 1, timeout=WAIT_MS)
    qtbot.keyClick(dialog.search, Qt.Key.Key_Down)
    qtbot.keyClick(dialog.search, Qt.Key.Key_Return)


# --- creating ----------------------------------------------------------------------------


def test_double_click_on_free_time_books_through_the_dialog_and_shows_it_pending(
    qtbot: QtBot, page: DiaryPage, store: Store
) -> None:
    qtbot.mouseDClick(
        page.view.viewport(),
        Qt.MouseButton.LeftButton,
        pos=lane_point(page, "Dr Brook", 15 * 60).toPoint(),
    )
    dialog = page.dialog
    assert dialog is not None
    assert dialog.isVisible()
    assert dialog.provider.currentText() == "Dr Brook"
    assert dialog.start.dateTime().time().hour() == 15

    choose_patient(qtbot, dialog, "love")  # a name prefix, any case
    assert dialog.patient is not None
    assert dialog.patient.name == "Ada Lovelace"
    assert "Ada Lovelace" in dialog.chosen.text()
    dialog.type.setCurrentIndex(dialog.type.findText("Long visit (60 min)"))
    assert dialog.length.value() == 60
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    assert dialog.appointment_id is not None
    booked_id = dialog.appointment_id
    qtbot.waitUntil(lambda: booked_id in page.view.items_by_id, timeout=WAIT_MS)
    item = page.view.items_by_id[booked_id]
    assert item.entry.pending
    assert (item.entry.starts_at, item.entry.ends_at) == (at(15), at(16))
    assert item.entry.type_name == "Long visit"
    assert "not yet sent" in item.detail
    assert item.look.outline.style() == Qt.PenStyle.DashLine
    assert page.view.selected_id == booked_id
    [command] = queued(store)
    assert command["kind"] == "book"
    assert command["appointment_id"] == str(booked_id)


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("07700 900456", "Alan Turing"),
        ("17/05/1980", "Ada Lovelace"),
        ("1906-12-09", "Grace Hopper"),
    ],
)
def test_the_patient_search_finds_by_phone_and_date_of_birth(
    qtbot: QtBot, page: DiaryPage, typed: str, found: str
) -> None:
    dialog = page.new_appointment()
    assert dialog is not None
    choose_patient(qtbot, dialog, typed)
    assert dialog.patient is not None
    assert dialog.patient.name == found


def test_dragging_over_free_time_opens_the_dialog_for_that_stretch(
    qtbot: QtBot, page: DiaryPage
) -> None:
    drag(
        qtbot,
        page,
        lane_point(page, "Dr Adams", 14 * 60),
        lane_point(page, "Dr Adams", 14 * 60 + 40),
    )
    dialog = page.dialog
    assert dialog is not None
    assert dialog.isVisible()
    assert dialog.provider.currentText() == "Dr Adams"
    assert dialog.start.dateTime().time().toString("HH:mm") == "14:00"
    assert dialog.length.value() == 45  # 14:00 to 14:40, to the next five minutes


def test_times_in_the_repeated_hour_of_a_fall_back_night_keep_their_instant(
    qtbot: QtBot, page: DiaryPage, clock: Clock
) -> None:
    """London falls back at 02:00 on 26 October 2031: 01:00-02:00 happens twice."""
    night = date(2031, 10, 26)
    second_half_past_one = datetime(2031, 10, 26, 1, 30, fold=1, tzinfo=ZONE).astimezone(UTC)
    entry = item_of(page, "Ada Lovelace", 9).entry
    late = replace(
        entry, starts_at=second_half_past_one, ends_at=second_half_past_one + timedelta(minutes=30)
    )
    dialog = page.open_appointment(late)
    assert dialog is not None
    dialog.length.setValue(45)  # only the length changes: not the time
    assert dialog.slot()[1:] == (second_half_past_one, second_half_past_one + timedelta(minutes=45))
    dialog.reject()

    clock.now = datetime(2031, 10, 26, 1, 30, tzinfo=ZONE).astimezone(UTC)  # the first 01:30
    fresh = page.new_appointment()
    assert fresh is not None
    assert fresh.slot()[1] == datetime(2031, 10, 26, 1, 0, fold=1, tzinfo=ZONE).astimezone(UTC)
    assert fresh.slot()[1] == datetime.combine(night, time(1), tzinfo=UTC)  # the next hour
    fresh.reject()


def test_the_dialog_refuses_no_patient_and_a_clash_and_keeps_what_was_typed(
    qtbot: QtBot, page: DiaryPage, store: Store
) -> None:
    dialog = page.new_appointment(page.model.shown.providers[0].id, at(9, 15), at(9, 45))
    assert dialog is not None
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()
    assert dialog.message.isVisible()
    assert dialog.message.text() == NO_PATIENT

    choose_patient(qtbot, dialog, "Grace")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "already has" in dialog.message.text(), timeout=WAIT_MS)
    assert dialog.isVisible()
    assert dialog.message.text().startswith("Dr Adams already has Ada Lovelace 09:00–09:30")
    assert dialog.patient is not None
    assert dialog.patient.name == "Grace Hopper"
    assert dialog.ok_button.isEnabled()
    assert queued(store) == []

    dialog.start.setTime(dialog.start.time().addSecs(2 * 3600))  # 11:15: free
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    assert [c["kind"] for c in queued(store)] == ["book"]


# --- moving and resizing -------------------------------------------------------------------


def test_drag_moves_to_another_time_and_provider(
    qtbot: QtBot, page: DiaryPage, store: Store
) -> None:
    item = item_of(page, "Ada Lovelace", 9)
    moved_id = item.entry.id
    start = QPointF(page.view.mapFromScene(item.rect().center()))
    target = lane_point(page, "Dr Brook", 15 * 60 + 16)
    # Grab the block by its middle: the drop keeps that offset, so the start lands
    # a quarter hour earlier than the pointer.
    drag(qtbot, page, start, target)
    qtbot.waitUntil(
        lambda: (
            page.view.items_by_id.get(moved_id) is not None
            and page.view.items_by_id[moved_id].entry.pending
        ),
        timeout=WAIT_MS,
    )
    entry = entry_by_id(page, moved_id)
    assert entry.provider_id == page.model.shown.providers[1].id
    assert entry.starts_at.astimezone(ZONE).time() == time(15, 0)
    assert entry.ends_at - entry.starts_at == timedelta(minutes=30)
    [command] = queued(store)
    assert command["kind"] == "move"
    assert command["provider_id"] == str(entry.provider_id)


def test_drag_snaps_to_the_chosen_grid(qtbot: QtBot, page: DiaryPage) -> None:
    page.snap.setCurrentIndex(page.snap.findData(15))
    item = item_of(page, "Ada Lovelace", 9)
    moved_id = item.entry.id
    top = QPointF(page.view.mapFromScene(item.rect().topLeft() + QPointF(20, 3)))
    grid = page.view.grid
    assert grid is not None
    drag(qtbot, page, top, top + QPointF(0, 37 * grid.px))  # 37 minutes down
    qtbot.waitUntil(lambda: entry_by_id(page, moved_id).pending, timeout=WAIT_MS)
    assert entry_by_id(page, moved_id).starts_at == at(9, 30)


def test_dragging_the_bottom_edge_resizes(qtbot: QtBot, page: DiaryPage, store: Store) -> None:
    item = item_of(page, "Alan Turing", 10)
    appointment_id = item.entry.id
    edge = QPointF(
        page.view.mapFromScene(QPointF(item.rect().center().x(), item.rect().bottom() - 2))
    )
    drag(qtbot, page, edge, lane_point(page, "Dr Adams", 11 * 60 + 15))
    qtbot.waitUntil(lambda: page.view.items_by_id[appointment_id].entry.pending, timeout=WAIT_MS)
    entry = entry_by_id(page, appointment_id)
    assert (entry.starts_at, entry.ends_at) == (at(10), at(11, 15))
    assert [c["kind"] for c in queued(store)] == ["move"]


def test_a_move_onto_another_appointment_is_refused_and_said(
    qtbot: QtBot, page: DiaryPage, store: Store
) -> None:
    item = item_of(page, "Alan Turing", 10)
    alan = item.entry.id
    top = QPointF(page.view.mapFromScene(item.rect().topLeft() + QPointF(20, 3)))
    grid = page.view.grid
    assert grid is not None
    drag(qtbot, page, top, top - QPointF(0, 50 * grid.px))  # onto Ada at 09:00–09:30
    qtbot.waitUntil(lambda: page.notice.isVisible(), timeout=WAIT_MS)
    assert "Dr Adams already has Ada Lovelace 09:00–09:30" in page.notice.text()
    assert queued(store) == []
    assert entry_by_id(page, alan).starts_at == at(10)


def test_only_booked_and_confirmed_appointments_drag(
    qtbot: QtBot, page: DiaryPage, store: Store
) -> None:
    arrived = item_of(page, "Grace Hopper", 9)
    grace = arrived.entry.id
    start = QPointF(page.view.mapFromScene(arrived.rect().center()))
    with qtbot.assertNotEmitted(page.view.move_requested):  # asked at the drop, or never
        drag(qtbot, page, start, start + QPointF(0, 200))
    assert page.view.mark_shown("ghost") is None
    assert queued(store) == []
    assert page.view.selected_id == grace  # clicked: selected, not moved


# --- the menu: status changes, cancel, open patient ---------------------------------------


def enabled(page: DiaryPage, entry: DiaryEntry) -> set[str]:
    menu = page.view.status_menu(entry)
    return {a.text() for a in menu.actions() if a.isEnabled() and a.text()}


def test_menu_offers_what_the_status_allows_now(page: DiaryPage, clock: Clock) -> None:
    ada = item_of(page, "Ada Lovelace", 9).entry
    # 08:00: Ada's 09:00 may be checked in (it is her day), not marked no-show yet.
    assert enabled(page, ada) == {
        "Confirm",
        "Check in",
        "Cancel appointment",
        "Open appointment",
        "Open patient",
    }
    no_show = {a.text(): a for a in page.view.status_menu(ada).actions()}["Mark no-show"]
    assert "once the appointment has started (at 09:00 today)" in no_show.toolTip()
    clock.now = at(9, 5)
    assert "Mark no-show" in enabled(page, ada)
    assert enabled(page, item_of(page, "Grace Hopper", 9).entry) == {
        "Start",
        "Complete",
        "Cancel appointment",
        "Open appointment",
        "Open patient",
    }
    assert enabled(page, item_of(page, "Alan Turing", 11).entry) == {
        "Open appointment",
        "Open patient",
    }


def test_the_menu_offers_no_check_in_for_tomorrow_or_a_past_day(
    page: DiaryPage, clock: Clock
) -> None:
    ada = item_of(page, "Ada Lovelace", 9).entry
    tomorrow = replace(ada, starts_at=at(9, 0, DAY + timedelta(days=1)))
    tomorrow = replace(tomorrow, ends_at=tomorrow.starts_at + timedelta(minutes=30))
    assert "Check in" not in enabled(page, tomorrow)
    actions = {a.text(): a for a in page.view.status_menu(tomorrow).actions()}
    assert actions["Check in"].toolTip() == (
        "An appointment can only be checked in on its day; this one is tomorrow."
    )
    clock.now = at(8, 0, DAY + timedelta(days=1))  # the day after Ada's
    assert "Check in" not in enabled(page, ada)
    assert "Mark no-show" in enabled(page, ada)
    grace = item_of(page, "Grace Hopper", 9).entry
    assert "Start" not in enabled(page, grace)
    assert "Complete" in enabled(page, grace)  # a visit left open is closed next morning


def test_no_show_asks_first(qtbot: QtBot, page: DiaryPage, store: Store, clock: Clock) -> None:
    clock.now = at(9, 20)
    ada = item_of(page, "Ada Lovelace", 9).entry
    {a.text(): a for a in page.view.status_menu(ada).actions()}["Mark no-show"].trigger()
    question = page.no_show_question
    assert question is not None
    assert question.isVisible()
    assert question.icon() is QMessageBox.Icon.Question
    assert question.text() == "Mark Ada Lovelace as no-show for Tue 04 Mar at 09:00?"
    question.button(QMessageBox.StandardButton.No).click()
    assert queued(store) == []
    assert entry_by_id(page, ada.id).status is AppointmentStatus.BOOKED

    {a.text(): a for a in page.view.status_menu(ada).actions()}["Mark no-show"].trigger()
    question = page.no_show_question
    assert question is not None
    question.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(
        lambda: entry_by_id(page, ada.id).status is AppointmentStatus.NO_SHOW, timeout=WAIT_MS
    )
    assert [c["kind"] for c in queued(store)] == ["no_show"]


def test_cancel_asks_who_called_it_off(qtbot: QtBot, page: DiaryPage, store: Store) -> None:
    entry = item_of(page, "Ada Lovelace", 9).entry
    actions = {a.text(): a for a in page.view.status_menu(entry).actions()}
    assert actions["Cancel appointment"].shortcut().toString() == "Del"
    actions["Cancel appointment"].trigger()
    question = page.question
    assert question is not None
    assert question.isVisible()
    assert "Ada Lovelace" in question.text()
    question.patient_button.click()
    qtbot.waitUntil(
        lambda: entry_by_id(page, entry.id).status is AppointmentStatus.CANCELLED, timeout=WAIT_MS
    )
    cancelled = page.view.items_by_id[entry.id]
    assert cancelled.entry.pending
    assert cancelled.look.struck
    [command] = queued(store)
    assert (command["kind"], command["cancelled_by"]) == ("cancel", "patient")


def test_keeping_it_changes_nothing(
    qtbot: QtBot, page: DiaryPage, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[object] = []
    monkeypatch.setattr(page, "write", lambda work, done=None: writes.append(work))
    page.ask_cancel(item_of(page, "Ada Lovelace", 9).entry).keep_button.click()
    assert writes == []  # a write is started at the click, or never
    assert queued(store) == []


def test_check_in_from_the_menu_shows_in_the_waiting_room(
    qtbot: QtBot, page: DiaryPage, store: Store, clock: Clock
) -> None:
    entry = item_of(page, "Ada Lovelace", 9).entry
    waiting = page.arrivals.model
    qtbot.waitUntil(lambda: waiting.rowCount() == 1, timeout=WAIT_MS)  # Grace, seen at 08:00
    clock.now = at(8, 50)
    {a.text(): a for a in page.view.status_menu(entry).actions()}["Check in"].trigger()
    qtbot.waitUntil(
        lambda: entry_by_id(page, entry.id).status is AppointmentStatus.ARRIVED, timeout=WAIT_MS
    )
    item = page.view.items_by_id[entry.id]
    assert item.entry.pending
    assert item.look.marker is not None
    assert "Arrived" in item.detail
    assert [c["kind"] for c in queued(store)] == ["check_in"]

    qtbot.waitUntil(lambda: waiting.rowCount() == 2, timeout=WAIT_MS)
    rows = {waiting.index(r, 1).data(): waiting.index(r, 2).data() for r in range(2)}
    # Grace checked in at 08:00 (the server's record says so); Ada just now, here.
    assert rows == {"Grace Hopper": "50 min", "Ada Lovelace": "0 min"}
    assert entry_by_id(page, entry.id).arrived_at == at(8, 50)
    clock.now = at(9, 2)
    page.arrivals.reload()
    qtbot.waitUntil(lambda: waiting.index(1, 2).data() == "12 min", timeout=WAIT_MS)
    assert waiting.index(1, 1).data() == "Ada Lovelace"
    assert waiting.index(0, 2).data() == "62 min"
    assert waiting.index(1, 0).data(Qt.ItemDataRole.ToolTipRole) == "Checked in at 08:50"

    page.arrivals.table.selectRow(1)
    assert page.arrivals.start_button.isEnabled()
    qtbot.mouseClick(page.arrivals.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: entry_by_id(page, entry.id).status is AppointmentStatus.IN_PROGRESS, timeout=WAIT_MS
    )
    qtbot.waitUntil(lambda: waiting.index(1, 2).data() == "in since 09:02", timeout=WAIT_MS)
    assert [c["kind"] for c in queued(store)] == ["check_in", "start"]


def test_open_patient_is_asked_for_by_the_menu(qtbot: QtBot, page: DiaryPage) -> None:
    entry = item_of(page, "Alan Turing", 10).entry
    with qtbot.waitSignal(page.open_patient_requested, timeout=WAIT_MS) as asked:
        {a.text(): a for a in page.view.status_menu(entry).actions()}["Open patient"].trigger()
    assert asked.args == [entry.patient_id]


# --- the free-slot finder, the day list ------------------------------------------------------


def test_next_free_jumps_to_the_slot_and_offers_to_book_it(
    qtbot: QtBot, page: DiaryPage, clock: Clock
) -> None:
    dialog = page.ask_next_free()
    assert dialog.provider.currentText() == "Any provider shown"
    dialog.length.setValue(30)
    dialog.accept()
    qtbot.waitUntil(lambda: page.finder.isVisible(), timeout=WAIT_MS)
    slot = page.finder.offered
    assert slot is not None
    # Dr Adams is free 09:30–10:00; Dr Brook only from 09:45.
    assert (slot.starts_at, slot.ends_at) == (at(9, 30), at(10))
    assert slot.provider_id == page.model.shown.providers[0].id
    assert "09:30" in page.finder.label.text()
    assert "Dr Adams" in page.finder.label.text()
    qtbot.waitUntil(lambda: page.view.mark_shown("offer") is not None, timeout=WAIT_MS)
    mark = page.view.mark_shown("offer")
    assert mark is not None
    assert mark.label == "Free"
    assert page.view.selected_time() == (slot.provider_id, slot.starts_at)

    qtbot.mouseClick(page.finder.book_button, Qt.MouseButton.LeftButton)
    booking = page.dialog
    assert booking is not None
    assert booking.isVisible()
    assert booking.provider.currentText() == "Dr Adams"
    assert booking.start.dateTime().time().toString("HH:mm") == "09:30"
    assert booking.length.value() == 30


def test_next_free_with_one_provider_later_in_the_day(
    qtbot: QtBot, page: DiaryPage, clock: Clock
) -> None:
    clock.now = at(12, 50)
    brook = page.model.shown.providers[1].id
    page.finder.look_for(timedelta(minutes=30), [brook], {})
    qtbot.waitUntil(lambda: page.finder.offered is not None, timeout=WAIT_MS)
    assert page.finder.offered is not None
    assert page.finder.offered.starts_at == at(14)  # Dr Brook's lunch is 13:00–14:00


def test_the_day_list_pdf_holds_the_days_patients(
    qtbot: QtBot, page: DiaryPage, tmp_path: Path
) -> None:
    dialog = page.open_day_list()
    dialog.provider.setCurrentIndex(dialog.provider.findText("Dr Adams"))
    with qtbot.waitSignal(dialog.written, timeout=WAIT_MS):  # written off the UI thread
        path = dialog.save_pdf(tmp_path / "day.pdf")
    assert path is not None
    assert dialog.saved.text() == f"Saved {path}"
    assert path.stat().st_size > 1000
    document = QPdfDocument()
    assert document.load(str(path)) == QPdfDocument.Error.None_
    assert document.pageCount() == 1
    text = document.getAllText(0).text()
    assert "Dr Adams" in text
    assert "Ada Lovelace" in text
    assert "Alan Turing" in text
    assert "Grace Hopper" not in text  # Dr Brook's patient

    dialog.provider.setCurrentIndex(0)
    with qtbot.waitSignal(dialog.written, timeout=WAIT_MS):
        everyone = dialog.save_pdf(tmp_path / "all.pdf")
    assert everyone is not None
    document.load(str(everyone))
    text = document.getAllText(0).text()
    assert "Grace Hopper" in text
    assert "09:00–09:45" in text
    assert "Arrived" in text
    document.close()


def test_a_day_list_that_cannot_be_written_says_so(
    qtbot: QtBot, page: DiaryPage, tmp_path: Path
) -> None:
    dialog = page.open_day_list()
    nowhere = tmp_path / "no such folder" / "day.pdf"
    dialog.save_pdf(nowhere)
    qtbot.waitUntil(lambda: dialog.saved.text().startswith("Not saved"), timeout=WAIT_MS)
    assert "could not be written" in dialog.saved.text()
    assert dialog.pdf_button.isEnabled()
    assert not nowhere.exists()


def test_the_day_list_opens_on_the_day_the_diary_is_on_in_a_week_view(
    qtbot: QtBot, page: DiaryPage
) -> None:
    page.set_mode(Mode.WEEK)
    qtbot.waitUntil(lambda: page.model.shown.days == 7, timeout=WAIT_MS)
    assert page.model.shown.dates[0] != DAY  # the week starts on Monday, DAY is a Tuesday
    dialog = page.open_day_list()
    assert dialog.day.currentData() == DAY
