"""The diary against a real uvicorn server: book, move and resize by dragging, check in and
cancel from the menu — online (each reaches the server's database) and offline (each
shows at once, waits in the outbox, and reaches the server when it is back)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QPointF, Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.appointments import AppointmentStatus, CancelledBy
from desktop.kit.tasks import TaskRunner
from desktop.mainwindow import MainWindow
from server.demo import DEMO_TIME_ZONE
from server.patients.models import Patient
from server.scheduling.models import Appointment, Provider
from sync import account
from sync.account import Desk
from sync.client import ServerClient
from sync.engine import SyncEngine
from sync.store import DiaryEntry
from tests.desktop.diary.test_diary_editing import choose_patient, drag, queued
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.qt, pytest.mark.slow]
EMAIL, PASSWORD = "frontdesk@demo.clinic", "frontdesk-demo-1"
ZONE = ZoneInfo(DEMO_TIME_ZONE)
WAIT_MS = 20_000


@dataclass
class Plan:
    """What the test does, chosen from the demo clinic: a free evening (the demo closes at
    17:00 on weekdays and 14:00 at weekends), a patient, and two booked appointments."""

    day: date
    first: str  # provider who gets the booking
    second: str  # provider it is moved to
    phone: str
    patient_id: uuid.UUID
    to_check_in: uuid.UUID
    to_cancel: uuid.UUID

    def at(self, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(self.day, time(hour, minute), tzinfo=ZONE).astimezone(UTC)


def plan(server: LiveServer) -> Plan:
    day = datetime.now(ZONE).date()  # today: a check-in fits only on the day
    start = datetime.combine(day, time.min, tzinfo=ZONE)
    with server.sessionmaker() as session:
        names = sorted(session.scalars(select(Provider.display_name)))
        patient = session.scalars(select(Patient).order_by(Patient.last_name)).first()
        booked = session.scalars(
            select(Appointment.id)
            .where(
                Appointment.starts_at >= start,
                Appointment.starts_at < start + timedelta(days=1),
                Appointment.status.in_([AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED]),
            )
            .order_by(Appointment.starts_at)
        ).all()
    assert patient is not None
    assert patient.phone
    assert len(booked) >= 2
    return Plan(day, names[0], names[1], patient.phone[-8:], patient.id, booked[0], booked[1])


def open_window(qtbot: QtBot, desk: Desk, engine: SyncEngine) -> MainWindow:
    window = MainWindow(desk, TaskRunner(), engine)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    return window


def close(window: MainWindow, desk: Desk) -> None:
    window.close()
    window.runner.shutdown()
    desk.store.close()


def shown_on(window: MainWindow, day: date) -> bool:
    shown = window.diary.view.shown
    return shown is not None and shown.day == day and shown.days == 1


def point(window: MainWindow, provider: str, minute: int) -> QPointF:
    view = window.diary.view
    grid = view.grid
    assert grid is not None
    lane = next(ln for ln in grid.lanes if ln.provider.display_name == provider)
    scene = QPointF(lane.left + lane.width / 2, grid.y(minute) + 2)
    view.ensureVisible(scene.x(), scene.y(), 1, 1, 50, 80)
    return QPointF(view.mapFromScene(scene))


def px(window: MainWindow) -> float:
    grid = window.diary.view.grid
    assert grid is not None
    return grid.px


def item_point(window: MainWindow, appointment_id: uuid.UUID, *, bottom: bool = False) -> QPointF:
    view = window.diary.view
    rect = view.items_by_id[appointment_id].rect()
    scene = QPointF(rect.center().x(), rect.bottom() - 2 if bottom else rect.top() + 4)
    view.ensureVisible(scene.x(), scene.y(), 1, 1, 50, 80)
    return QPointF(view.mapFromScene(scene))


def shown_entry(window: MainWindow, appointment_id: uuid.UUID) -> DiaryEntry | None:
    item = window.diary.view.items_by_id.get(appointment_id)
    return item.entry if item is not None else None


def make_the_five_changes(qtbot: QtBot, window: MainWindow, p: Plan) -> uuid.UUID:
    """Book by double-click, move and resize by dragging, check in and cancel from the
    menu; each shows at once, marked as not yet sent. Returns the new appointment's id."""
    diary = window.diary
    qtbot.mouseDClick(
        diary.view.viewport(),
        Qt.MouseButton.LeftButton,
        pos=point(window, p.first, 18 * 60).toPoint(),
    )
    dialog = diary.dialog
    assert dialog is not None
    choose_patient(qtbot, dialog, p.phone)
    assert dialog.patient is not None
    assert dialog.patient.id == p.patient_id
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.appointment_id in diary.view.items_by_id, timeout=WAIT_MS)
    booked = dialog.appointment_id
    assert booked is not None

    def landed(provider: str, start: datetime, end: datetime) -> None:
        entry = shown_entry(window, booked)
        assert entry is not None
        names = {x.id: x.display_name for x in diary.model.shown.providers}
        assert (names[entry.provider_id], entry.starts_at, entry.ends_at) == (provider, start, end)

    qtbot.waitUntil(lambda: landed(p.first, p.at(18), p.at(18, 30)), timeout=WAIT_MS)
    target = point(window, p.second, 18 * 60 + 30)  # scrolls: before measuring the block
    top = item_point(window, booked)
    drag(qtbot, diary, top, QPointF(target.x(), top.y() + 30 * px(window)))
    qtbot.waitUntil(lambda: landed(p.second, p.at(18, 30), p.at(19)), timeout=WAIT_MS)
    edge = item_point(window, booked, bottom=True)
    drag(qtbot, diary, edge, edge + QPointF(0, 30 * px(window)))
    qtbot.waitUntil(lambda: landed(p.second, p.at(18, 30), p.at(19, 30)), timeout=WAIT_MS)

    for appointment_id, action in (
        (p.to_check_in, "Check in"),
        (p.to_cancel, "Cancel appointment"),
    ):
        entry = shown_entry(window, appointment_id)
        assert entry is not None
        {a.text(): a for a in diary.view.status_menu(entry).actions()}[action].trigger()
    assert diary.question is not None
    assert diary.question.isVisible()
    diary.question.patient_button.click()
    qtbot.waitUntil(
        lambda: (
            getattr(shown_entry(window, p.to_cancel), "status", None) is AppointmentStatus.CANCELLED
        ),
        timeout=WAIT_MS,
    )
    assert getattr(shown_entry(window, p.to_check_in), "status", None) is AppointmentStatus.ARRIVED
    return booked


def on_the_server(server: LiveServer, p: Plan, booked: uuid.UUID) -> None:
    """Raises until the server's database holds all five changes."""
    with server.sessionmaker() as session:
        made = session.get(Appointment, booked)
        arrived = session.get(Appointment, p.to_check_in)
        cancelled = session.get(Appointment, p.to_cancel)
        second = session.scalars(select(Provider.id).where(Provider.display_name == p.second)).one()
        assert made is not None
        assert arrived is not None
        assert cancelled is not None
        assert (made.provider_id, made.starts_at, made.ends_at) == (
            second,
            p.at(18, 30),
            p.at(19, 30),
        )
        assert made.patient_id == p.patient_id
        assert arrived.status is AppointmentStatus.ARRIVED
        assert cancelled.status is AppointmentStatus.CANCELLED
        assert cancelled.cancelled_by is CancelledBy.PATIENT


def settled(window: MainWindow, ids: list[uuid.UUID]) -> None:
    assert window.sync_label.text().startswith("Online")
    assert "pending" not in window.sync_label.text()
    for appointment_id in ids:
        entry = shown_entry(window, appointment_id)
        assert entry is not None
        assert not entry.pending


def test_diary_changes_online_reach_the_server(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    p = plan(live_server)
    desk = account.sign_in(tmp_path, live_server.url, "demo", EMAIL, PASSWORD)
    window = open_window(qtbot, desk, SyncEngine(desk.store, account.sync_client(desk)))
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Online"), timeout=WAIT_MS)
    window.diary.go_to(p.day)
    qtbot.waitUntil(
        lambda: shown_on(window, p.day) and bool(window.diary.view.items_by_id), timeout=WAIT_MS
    )

    booked = make_the_five_changes(qtbot, window, p)

    qtbot.waitUntil(lambda: on_the_server(live_server, p, booked), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: settled(window, [booked, p.to_check_in, p.to_cancel]), timeout=WAIT_MS)
    assert queued(desk.store) == []

    # "Open patient" opens the patient's file on the Patients page.
    entry = shown_entry(window, booked)
    assert entry is not None
    {a.text(): a for a in window.diary.view.status_menu(entry).actions()}["Open patient"].trigger()
    assert window.pages.currentWidget() is window.patients
    qtbot.waitUntil(
        lambda: window.patients.file.title.text() == entry.patient_name, timeout=WAIT_MS
    )
    close(window, desk)


def test_diary_changes_offline_wait_in_the_outbox_and_reach_the_server_when_it_is_back(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    p = plan(live_server)
    desk = account.sign_in(tmp_path, live_server.url, "demo", EMAIL, PASSWORD)
    SyncEngine(desk.store, account.sync_client(desk)).sync()
    database = Path(live_server.database_url.removeprefix("sqlite:///"))
    live_server.stop()  # the line goes down
    window = open_window(qtbot, desk, SyncEngine(desk.store, account.sync_client(desk)))
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Offline"), timeout=WAIT_MS)
    window.diary.go_to(p.day)
    qtbot.waitUntil(
        lambda: shown_on(window, p.day) and bool(window.diary.view.items_by_id), timeout=WAIT_MS
    )

    booked = make_the_five_changes(qtbot, window, p)

    assert [c["kind"] for c in queued(desk.store)] == ["book", "move", "move", "check_in", "cancel"]
    qtbot.waitUntil(
        lambda: (
            window.sync_label.text().startswith("Offline")
            and "5 pending" in window.sync_label.text()
        ),
        timeout=WAIT_MS,
    )
    for appointment_id in (booked, p.to_check_in, p.to_cancel):
        entry = shown_entry(window, appointment_id)
        assert entry is not None
        assert entry.pending
    with live_server.sessionmaker() as session:
        assert session.get(Appointment, booked) is None

    back = LiveServer(database, seed=False)  # the same clinic, served again
    try:
        window.sync.resume(
            SyncEngine(desk.store, ServerClient(back.url, device_token=desk.device_token))
        )
        qtbot.waitUntil(lambda: on_the_server(back, p, booked), timeout=WAIT_MS)
        qtbot.waitUntil(
            lambda: settled(window, [booked, p.to_check_in, p.to_cancel]), timeout=WAIT_MS
        )
        assert queued(desk.store) == []
    finally:
        close(window, desk)
        back.close()
