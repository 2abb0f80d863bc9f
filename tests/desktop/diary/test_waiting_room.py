"""The waiting room: minutes counted from the arrival the server recorded (the same on
every desk, and after a restart), and columns that stay readable when a patient goes in."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.appointments import AppointmentStatus
from desktop.diary.arrivals import ArrivalsPanel
from desktop.diary.page import DiaryPage
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from desktop.mainwindow import MainWindow
from server.demo import DEMO_TIME_ZONE
from server.scheduling.models import Appointment
from sync import account
from sync.engine import SyncEngine
from sync.store import Store
from tests.support import records
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
EMAIL, PASSWORD = "frontdesk@demo.clinic", "frontdesk-demo-1"
ZONE = ZoneInfo(DEMO_TIME_ZONE)
WAIT_MS = 20_000


def fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def todays_booked(server: LiveServer) -> uuid.UUID:
    start = datetime.combine(datetime.now(ZONE).date(), time.min, tzinfo=ZONE)
    with server.sessionmaker() as session:
        found = session.scalars(
            select(Appointment.id)
            .where(
                Appointment.starts_at >= start,
                Appointment.starts_at < start + timedelta(days=1),
                Appointment.status.in_([AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED]),
                Appointment.deleted_at.is_(None),
            )
            .order_by(Appointment.starts_at)
        ).first()
    assert found is not None, "the demo has appointments today"
    return found


def waiting(panel: ArrivalsPanel, appointment_id: uuid.UUID) -> str | None:
    model = panel.model
    for row, arrival in enumerate(model.rows):
        if arrival.entry.id == appointment_id:
            return str(model.index(row, 2).data())
    return None


def open_panel(qtbot: QtBot, runner: TaskRunner, store: Store, now: datetime) -> ArrivalsPanel:
    panel = ArrivalsPanel(runner, store, ZONE, fixed(now))
    qtbot.addWidget(panel)
    panel.reload()
    return panel


@pytest.mark.slow
def test_two_desks_show_the_same_minutes_and_a_restarted_desk_the_real_ones(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path, runner: TaskRunner
) -> None:
    patient_in = todays_booked(live_server)
    first = account.sign_in(tmp_path / "first", live_server.url, "demo", EMAIL, PASSWORD)
    second = account.sign_in(tmp_path / "second", live_server.url, "demo", EMAIL, PASSWORD)
    first_sync = SyncEngine(first.store, account.sync_client(first))
    second_sync = SyncEngine(second.store, account.sync_client(second))
    first_sync.sync()
    second_sync.sync()

    # The first desk checks the patient in (its clock says 8 minutes ago), then syncs;
    # the second desk hears of it in its next sync.
    now = datetime.now(UTC).replace(microsecond=0)
    first.store.clock = fixed(now - timedelta(minutes=8))
    first.store.set_status(first.author, patient_in, "check_in")
    first_sync.sync()
    second_sync.sync()
    with live_server.sessionmaker() as session:
        stored = session.get(Appointment, patient_in)
        assert stored is not None
        assert stored.arrived_at == now - timedelta(minutes=8)

    panels = [open_panel(qtbot, runner, desk.store, now) for desk in (first, second)]
    for panel in panels:
        qtbot.waitUntil(lambda p=panel: waiting(p, patient_in) is not None, timeout=WAIT_MS)
    assert [waiting(p, patient_in) for p in panels] == ["8 min", "8 min"]

    # The second desk restarts: a new window on the same store, signed in again.
    second.store.close()
    again = account.sign_in(tmp_path / "second", live_server.url, "demo", EMAIL, PASSWORD)
    assert again.store.path == second.store.path
    window = MainWindow(again, TaskRunner(), SyncEngine(again.store, account.sync_client(again)))
    qtbot.addWidget(window)
    arrivals = window.diary.arrivals
    later = now + timedelta(minutes=4)
    arrivals.clock = arrivals.model.clock = fixed(later)
    window.show()
    arrivals.reload()
    qtbot.waitUntil(lambda: waiting(arrivals, patient_in) == "12 min", timeout=WAIT_MS)
    window.close()
    window.runner.shutdown()
    again.store.close()
    first.store.close()


def test_an_offline_check_in_counts_from_the_moment_it_was_made(
    qtbot: QtBot, runner: TaskRunner, tmp_path: Path
) -> None:
    """Before any server has answered, this desk shows the minutes since the click."""
    store = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    now = datetime.now(UTC).replace(microsecond=0)
    provider = records.provider_with_hours("Dr Adams")
    patient = records.patient_with("Ada", "Lovelace")
    booked = records.appointment(provider, patient, now)
    store.apply_page(
        records.page(providers=[provider], patients=[patient], appointments=[booked]),
        synced_at=now,
    )
    store.clock = fixed(now - timedelta(minutes=3))
    store.set_status(records.author(), booked.id, "check_in")
    panel = open_panel(qtbot, runner, store, now)
    qtbot.waitUntil(lambda: waiting(panel, booked.id) == "3 min", timeout=WAIT_MS)
    # A sync that brings newer data re-applies the pending check-in with its own moment.
    store.apply_page(records.page(appointments=[booked]), synced_at=now)
    panel.reload()
    qtbot.waitUntil(lambda: waiting(panel, booked.id) == "3 min", timeout=WAIT_MS)
    store.close()


# --- the columns -------------------------------------------------------------------------


def test_after_start_names_and_headings_are_shown_whole(
    qtbot: QtBot, runner: TaskRunner, tmp_path: Path
) -> None:
    store = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    now = datetime.now(UTC).replace(microsecond=0)
    provider = records.provider_with_hours("Dr Amara Okafor-Whitfield")
    arabella = records.patient_with("Arabella", "Featherstonehaugh")
    bartholomew = records.patient_with("Bartholomew", "Montgomery-Smythe")
    first = records.appointment(provider, arabella, now).model_copy(
        update={"status": AppointmentStatus.ARRIVED, "arrived_at": now}
    )
    second = records.appointment(provider, bartholomew, now + timedelta(minutes=30)).model_copy(
        update={"status": AppointmentStatus.ARRIVED, "arrived_at": now}
    )
    store.apply_page(
        records.page(
            providers=[provider], patients=[arabella, bartholomew], appointments=[first, second]
        ),
        synced_at=now,
    )
    page = DiaryPage(ChangeHub(runner), store, ZONE, author=records.author(), clock=fixed(now))
    qtbot.addWidget(page)
    page.resize(1300, 900)
    page.show()
    panel = page.arrivals
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2, timeout=WAIT_MS)

    panel.table.selectRow(0)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: any(a.entry.status is AppointmentStatus.IN_PROGRESS for a in panel.model.rows),
        timeout=WAIT_MS,
    )
    qtbot.wait(50)  # the layout settles

    table, header = panel.table, panel.table.horizontalHeader()
    metrics = table.fontMetrics()
    for column in range(panel.model.columnCount()):
        title = str(panel.model.headerData(column, Qt.Orientation.Horizontal))
        assert header.sectionSize(column) >= header.sectionSizeHint(column), title
        assert header.sectionSize(column) > header.fontMetrics().horizontalAdvance(title), title
        for row in range(panel.model.rowCount()):
            text = str(panel.model.index(row, column).data())
            assert header.sectionSize(column) > metrics.horizontalAdvance(text), text
    assert {panel.model.index(r, 1).data() for r in range(2)} == {
        "Arabella Featherstonehaugh",
        "Bartholomew Montgomery-Smythe",
    }
    # Every column is inside the table's visible width: nothing is cut off at the right.
    last = panel.model.columnCount() - 1
    assert header.sectionViewportPosition(last) + header.sectionSize(last) <= (
        table.viewport().width()
    )
    store.close()


def test_a_waiting_patient_with_staff_alerts_is_marked_and_the_tooltip_says_which() -> None:
    from common.appointments import AppointmentSource
    from desktop.diary.arrivals import Arrival, ArrivalsModel
    from sync.store import DiaryEntry

    now = datetime.now(UTC)
    ada = DiaryEntry(
        uuid.uuid4(),
        uuid.uuid4(),
        now,
        now + timedelta(minutes=30),
        AppointmentStatus.ARRIVED,
        AppointmentSource.DESK,
        "Ada Lovelace",
        arrived_at=now,
        patient_alerts=("Latex allergy",),
    )
    alan = DiaryEntry(
        uuid.uuid4(),
        uuid.uuid4(),
        now,
        now + timedelta(minutes=30),
        AppointmentStatus.ARRIVED,
        AppointmentSource.DESK,
        "Alan Turing",
        arrived_at=now,
    )
    model = ArrivalsModel(ZONE, lambda: now)
    model.set_rows([Arrival(ada, "Amara Okafor"), Arrival(alan, "Amara Okafor")])
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    name = headers.index("Patient")
    assert model.index(0, name).data() == "⚠ Ada Lovelace"
    assert model.index(0, name).data(Qt.ItemDataRole.ToolTipRole) == "⚠ Latex allergy"
    assert model.index(1, name).data() == "Alan Turing"
