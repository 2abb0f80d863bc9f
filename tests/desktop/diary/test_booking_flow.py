"""Booking as a receptionist walks through it, on a real SQLCipher store: the dialog says
what is wrong only while it is wrong, keeps the type staff chose, shows the patient's
alerts; the diary shows where a booking went, leaves no stray marks, draws untyped
appointments in no provider's colour, and keeps its layout still."""

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
from pytestqt.qtbot import QtBot

from common.appointments import AppointmentStatus
from desktop.diary.booking_dialog import AppointmentDialog
from desktop.diary.items import AppointmentItem
from desktop.diary.page import DiaryPage
from desktop.kit.combo import choose
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from sync.scheduling import PatientMatch
from sync.store import Store
from tests.support import records

pytestmark = pytest.mark.qt
ZONE = ZoneInfo("Europe/London")
DAY = date(2031, 3, 4)  # a Tuesday, before the clocks change
WAIT_MS = 20_000  # a deadline for what must happen, with room for a loaded CI worker

ADAMS = records.provider_with_hours("Dr Adams", colour="#3d7dd8")
BROOK = records.provider_with_hours("Dr Brook", colour="#2e9e6a", hours=("08:00", "18:00"))
CONSULTATION = records.appointment_type("Consultation", colour="#8e5bd0", minutes=30)
LONG = records.appointment_type(
    "Long consultation", colour="#c9702b", minutes=60, providers=(ADAMS,)
)
PHYSIO = records.appointment_type("Physiotherapy", colour="#2e9e6a", minutes=45, providers=(BROOK,))
ADA = records.patient_with("Ada", "Lovelace", born=date(1980, 5, 17)).model_copy(
    update={"alerts": ["Latex allergy"]}
)
ALAN = records.patient_with("Alan", "Turing", born=date(1912, 6, 23))
GRACE = records.patient_with("Grace", "Hopper", born=date(1906, 12, 9))


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE).astimezone(UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    opened.apply_page(
        records.page(
            providers=[ADAMS, BROOK],
            appointment_types=[CONSULTATION, LONG, PHYSIO],
            patients=[ADA, ALAN, GRACE],
            appointments=[
                records.typed(records.appointment(ADAMS, ADA, at(9)), CONSULTATION),
                records.appointment(ADAMS, ALAN, at(10)),  # no particular type
                records.appointment(BROOK, GRACE, at(8, 30)).model_copy(
                    update={"status": AppointmentStatus.ARRIVED, "arrived_at": at(8)}
                ),
            ],
        ),
        synced_at=datetime.now(UTC),
    )
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(at(8, 5))


@pytest.fixture
def page(qtbot: QtBot, runner: TaskRunner, store: Store, clock: Clock) -> DiaryPage:
    store.clock = clock
    shown = DiaryPage(ChangeHub(runner), store, ZONE, author=records.author(), clock=clock)
    qtbot.addWidget(shown)
    shown.resize(1300, 900)
    shown.show()
    qtbot.waitUntil(
        lambda: shown.view.shown is not None and shown.view.shown.day == DAY, timeout=WAIT_MS
    )
    qtbot.waitUntil(lambda: shown.arrivals.model.rowCount() == 1, timeout=WAIT_MS)
    return shown


def new_dialog(page: DiaryPage, provider: uuid.UUID, starts: datetime) -> AppointmentDialog:
    dialog = page.new_appointment(provider, starts, starts + timedelta(minutes=30))
    assert dialog is not None
    return dialog


def search(qtbot: QtBot, dialog: AppointmentDialog, typed: str) -> list[str]:
    qtbot.keyClicks(dialog.search, typed)
    qtbot.waitUntil(lambda: dialog.results.count() >= 1, timeout=WAIT_MS)
    return [dialog.results.item(n).text() for n in range(dialog.results.count())]


def pick_first(qtbot: QtBot, dialog: AppointmentDialog) -> None:
    qtbot.keyClick(dialog.search, Qt.Key.Key_Down)
    qtbot.keyClick(dialog.search, Qt.Key.Key_Return)


def item_of(page: DiaryPage, patient: str) -> AppointmentItem:
    [found] = [i for i in page.view.appointment_items() if i.entry.patient_name == patient]
    return found


def lane_point(page: DiaryPage, provider: str, minute: int) -> QPointF:
    grid = page.view.grid
    assert grid is not None
    lane = next(ln for ln in grid.lanes if ln.provider.display_name == provider)
    scene = QPointF(lane.left + lane.width / 2, grid.y(minute) + 2)
    page.view.ensureVisible(scene.x(), scene.y(), 1, 1, 50, 80)
    return QPointF(page.view.mapFromScene(scene))


def said(dialog: AppointmentDialog) -> str:
    return dialog.message.text() if dialog.message.isVisible() else ""


# --- the dialog -----------------------------------------------------------------------------


def test_a_type_the_new_provider_does_not_give_is_said_and_comes_back_with_one_who_does(
    page: DiaryPage,
) -> None:
    dialog = new_dialog(page, ADAMS.id, at(14))
    choose(dialog.type, LONG.id)
    assert dialog.length.value() == 60

    choose(dialog.provider, BROOK.id)
    assert dialog.type.currentData() is None
    assert said(dialog) == "Dr Brook does not give Long consultation; choose another type."

    choose(dialog.provider, ADAMS.id)
    assert dialog.type.currentData() == LONG.id, "the type staff chose comes back"
    assert said(dialog) == ""


def test_a_clash_said_goes_once_the_time_or_provider_changes(qtbot: QtBot, page: DiaryPage) -> None:
    dialog = new_dialog(page, ADAMS.id, at(9, 15))
    search(qtbot, dialog, "Grace")
    pick_first(qtbot, dialog)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "already has" in said(dialog), timeout=WAIT_MS)

    dialog.start.setDateTime(dialog.start.dateTime().addSecs(3600))  # 10:15: Alan's time
    assert said(dialog) == "", "the clash was with 09:15"

    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "already has" in said(dialog), timeout=WAIT_MS)
    choose(dialog.provider, BROOK.id)
    assert said(dialog) == ""

    dialog.start.setDateTime(dialog.start.dateTime().addSecs(8 * 3600))  # 18:15: Brook's gone
    assert dialog.hours_warning.isVisible(), "the working-hours warning is worked out anew"
    dialog.start.setDateTime(dialog.start.dateTime().addSecs(-8 * 3600))
    assert not dialog.hours_warning.isVisible()


def test_no_match_goes_once_a_patient_is_registered_or_chosen(
    qtbot: QtBot, page: DiaryPage
) -> None:
    dialog = new_dialog(page, ADAMS.id, at(14))
    assert search(qtbot, dialog, "Nobody") == ["No patient matches that"]
    registered = PatientMatch(uuid.uuid4(), "Nobody", "Known", None, None)
    dialog.choose_patient(registered)  # as the patient form does once it has saved
    shown = [dialog.results.item(n).text() for n in range(dialog.results.count())]
    assert "No patient matches that" not in shown


def test_the_patients_alerts_show_in_the_results_and_under_the_chosen_patient(
    qtbot: QtBot, page: DiaryPage
) -> None:
    dialog = new_dialog(page, ADAMS.id, at(14))
    [found] = search(qtbot, dialog, "love")
    assert "⚠ Latex allergy" in found
    pick_first(qtbot, dialog)
    assert dialog.alerts.isVisible()
    assert dialog.alerts.text() == "⚠ Latex allergy"

    dialog.choose_patient(PatientMatch(ALAN.id, "Alan", "Turing", None, None))
    assert not dialog.alerts.isVisible(), "Alan has none"

    # Handed over without its alerts (the patient file's "Book for this patient…"): they
    # are read from the file.
    dialog.choose_patient(PatientMatch(ADA.id, "Ada", "Lovelace", None, None))
    qtbot.waitUntil(lambda: dialog.alerts.isVisible(), timeout=WAIT_MS)
    assert dialog.alerts.text() == "⚠ Latex allergy"


# --- the diary after booking -----------------------------------------------------------------


def test_the_selected_time_mark_goes_once_its_dialog_closes_and_never_covers_a_booking(
    qtbot: QtBot, page: DiaryPage
) -> None:
    view = page.view
    qtbot.mouseDClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=lane_point(page, "Dr Adams", 780).toPoint()
    )
    dialog = page.dialog
    assert dialog is not None
    assert view.mark_shown("cursor") is not None
    dialog.reject()
    assert view.mark_shown("cursor") is None, "cancelled: nothing is chosen any more"

    qtbot.mouseDClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=lane_point(page, "Dr Adams", 790).toPoint()
    )
    dialog = page.dialog
    assert dialog is not None
    search(qtbot, dialog, "Grace")
    pick_first(qtbot, dialog)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    booked = dialog.appointment_id
    qtbot.waitUntil(lambda: booked in view.items_by_id, timeout=WAIT_MS)
    assert view.mark_shown("cursor") is None

    view.set_chosen_time((ADAMS.id, DAY, 9 * 60 + 10))  # inside Ada's 09:00–09:30
    assert view.mark_shown("cursor") is None
    view.set_chosen_time((ADAMS.id, DAY, 12 * 60))  # free
    assert view.mark_shown("cursor") is not None


def test_booking_for_another_day_shows_that_day_selected_and_says_so(
    qtbot: QtBot, page: DiaryPage
) -> None:
    dialog = page.new_appointment()  # as "Book for this patient…" does
    assert dialog is not None
    dialog.choose_patient(PatientMatch(ALAN.id, "Alan", "Turing", None, None))
    thursday = DAY + timedelta(days=2)
    dialog.start.setDate(dialog.start.date().addDays(2))
    dialog.start.setTime(dialog.start.time().fromString("11:00", "HH:mm"))
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)

    booked = dialog.appointment_id
    qtbot.waitUntil(
        lambda: page.view.shown is not None and page.view.shown.day == thursday, timeout=WAIT_MS
    )
    qtbot.waitUntil(lambda: page.view.selected_id == booked, timeout=WAIT_MS)
    assert page.current == thursday
    assert page.notice.isVisible()
    assert page.notice.text() == "Booked Alan Turing for Thu 06 Mar 11:00"


def test_a_booking_with_no_time_given_starts_at_the_providers_first_free_time(
    qtbot: QtBot, page: DiaryPage
) -> None:
    """At 08:05 the next hour, 09:00, is Ada's with Dr Adams: 09:30 is the first free."""
    dialog = page.new_appointment()
    assert dialog is not None
    assert dialog.provider.currentData() == ADAMS.id
    qtbot.waitUntil(lambda: dialog.slot()[1] == at(9, 30), timeout=WAIT_MS)
    dialog.reject()

    page.view.setFocus()
    qtbot.keyClick(page.view, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    pressed = page.dialog
    assert pressed is not None
    assert pressed is not dialog
    qtbot.waitUntil(lambda: pressed.slot()[1] == at(9, 30), timeout=WAIT_MS)


def test_a_time_changed_before_the_free_time_is_found_stays(qtbot: QtBot, page: DiaryPage) -> None:
    dialog = page.new_appointment()
    assert dialog is not None
    dialog.start.setTime(dialog.start.time().fromString("15:00", "HH:mm"))
    qtbot.wait(200)  # the search on the db lane answers meanwhile
    assert dialog.slot()[1] == at(15)


# --- how it looks ------------------------------------------------------------------------------


def test_untyped_appointments_are_grey_not_a_providers_colour(page: DiaryPage) -> None:
    untyped = item_of(page, "Alan Turing").look
    assert untyped.fill.color() != QColor(ADAMS.colour)
    assert untyped.fill.color().hslSaturation() < 40, "a grey"
    assert untyped.ink.color() == QColor("white")
    typed = item_of(page, "Ada Lovelace").look
    assert typed.fill.color() == QColor(CONSULTATION.colour)


def test_a_long_heading_does_not_widen_the_page(qtbot: QtBot, page: DiaryPage) -> None:
    before = page.minimumSizeHint().width()
    page.go_to(date(2031, 9, 24))  # "Wednesday 24 September 2031 · 0 appointments"
    qtbot.waitUntil(lambda: "Wednesday 24 September 2031" in page.title.text(), timeout=WAIT_MS)
    assert page.minimumSizeHint().width() == before


def test_the_waiting_room_keeps_its_width_as_people_come_and_go(
    qtbot: QtBot, page: DiaryPage, clock: Clock
) -> None:
    panel = page.arrivals
    qtbot.wait(50)
    width = panel.width()

    panel.table.selectRow(0)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)  # "in since 08:05"
    qtbot.waitUntil(
        lambda: panel.model.rows[0].entry.status is AppointmentStatus.IN_PROGRESS,
        timeout=WAIT_MS,
    )
    qtbot.wait(50)
    assert panel.width() == width

    clock.now = at(8, 50)
    page.request_status(item_of(page, "Ada Lovelace").entry.id, "check_in")
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2, timeout=WAIT_MS)
    qtbot.wait(50)
    assert panel.width() == width

    page.request_status(item_of(page, "Grace Hopper").entry.id, "complete")
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=WAIT_MS)
    qtbot.wait(50)
    assert panel.width() == width
