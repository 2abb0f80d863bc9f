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
WAIT_MS = 5000

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
