"""Two desks book the same slot while offline and both reconnect: one booking stands, the
other waits in the loser's "Needs attention" list with free times to choose from."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop.kit.tasks import TaskRunner
from desktop.mainwindow import MainWindow
from server.demo import DEMO_TIME_ZONE
from server.scheduling.models import Appointment
from sync import account
from sync.account import Desk
from sync.client import ServerClient
from sync.engine import SyncEngine
from sync.schema import patients
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
EMAIL, PASSWORD = "frontdesk@demo.clinic", "frontdesk-demo-1"
WAIT_MS = 20_000
ZONE = ZoneInfo(DEMO_TIME_ZONE)


def _offline_window(qtbot: QtBot, server: LiveServer, folder: Path) -> tuple[MainWindow, Desk]:
    """A desk that synced once, then lost its line (its client points nowhere)."""
    desk = account.sign_in(folder, server.url, "demo", EMAIL, PASSWORD)
    SyncEngine(desk.store, account.sync_client(desk)).sync()
    dead_line = ServerClient("http://127.0.0.1:9", device_token=desk.device_token)
    runner = TaskRunner()
    window = MainWindow(desk, runner, SyncEngine(desk.store, dead_line))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Offline"), timeout=WAIT_MS)
    return window, desk


def _book(window: MainWindow, desk: Desk, start: datetime) -> None:
    provider = desk.store.providers()[0]
    with desk.store.engine.connect() as conn:
        patient_id = conn.scalar(select(patients.c.id).limit(1))
    window.make_change(
        lambda: desk.store.book(
            desk.author,
            provider_id=provider.id,
            patient_id=__import__("uuid").UUID(patient_id),
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
        )
    )


def _reconnect(window: MainWindow, desk: Desk) -> None:
    window.sync.resume(SyncEngine(desk.store, account.sync_client(desk)))


def test_two_desks_book_one_slot_offline_and_the_loser_chooses_another_time(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    day = datetime.now(ZONE).date() + timedelta(days=2)
    closing = datetime.combine(day, time(17, 0), tzinfo=ZONE).astimezone(UTC)
    slot = closing + timedelta(minutes=90)  # after hours, so only our desks book here
    first, first_desk = _offline_window(qtbot, live_server, tmp_path / "first")
    second, second_desk = _offline_window(qtbot, live_server, tmp_path / "second")

    _book(first, first_desk, slot)
    _book(second, second_desk, slot)
    for window in (first, second):
        # (Each try to send says "Syncing" a moment before it says "Offline" again.)
        qtbot.waitUntil(
            lambda w=window: "1 pending" in w.sync_label.text() and w_offline(w),
            timeout=WAIT_MS,
        )

    _reconnect(first, first_desk)
    qtbot.waitUntil(lambda: first.sync_label.text().startswith("Online"), timeout=WAIT_MS)
    assert "pending" not in first.sync_label.text()

    _reconnect(second, second_desk)
    qtbot.waitUntil(lambda: "1 needs attention" in second.sync_label.text(), timeout=WAIT_MS)
    assert second.nav.item(1).text() == "Worklists (1)"
    page = second.attention
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=WAIT_MS)
    ModelTester(None).check(page.model)  # type: ignore[arg-type]
    assert page.model.index(0, 1).data() == "The time was taken meanwhile"
    assert page.suggestions.count() == 3
    assert page.book_button.isEnabled()

    chosen = page.suggestions.currentData()
    second.nav.setCurrentRow(1)
    qtbot.mouseClick(page.book_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.model.rowCount() == 0, timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: (
            second.sync_label.text().startswith("Online")
            and "pending" not in second.sync_label.text()
            and "attention" not in second.sync_label.text()
        ),
        timeout=WAIT_MS,
    )
    with live_server.sessionmaker() as session:
        starts = sorted(
            session.scalars(
                select(Appointment.starts_at).where(
                    Appointment.starts_at.in_([slot, chosen.starts_at]),
                    Appointment.provider_id == first_desk.store.providers()[0].id,
                    Appointment.status != "cancelled",
                )
            ).all()
        )
    assert starts == sorted([slot, chosen.starts_at])
    # The slot asked for is after hours (only our desks book there); what is offered
    # instead is inside the provider's working hours (09:00-17:00 at most in the demo).
    assert time(9) <= chosen.starts_at.astimezone(ZONE).time()
    assert chosen.ends_at.astimezone(ZONE).time() <= time(17)
    assert chosen.starts_at != slot
    for window in (first, second):
        window.close()
        window.runner.shutdown()
    first_desk.store.close()
    second_desk.store.close()


def w_offline(window: MainWindow) -> bool:
    return window.sync_label.text().startswith("Offline")


def test_the_loser_can_choose_any_other_time_and_provider(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    from PySide6.QtCore import QDate, QDateTime, QTime

    day = datetime.now(ZONE).date() + timedelta(days=3)
    slot = datetime.combine(day, time(19, 0), tzinfo=ZONE).astimezone(UTC)
    first, first_desk = _offline_window(qtbot, live_server, tmp_path / "first")
    second, second_desk = _offline_window(qtbot, live_server, tmp_path / "second")
    _book(first, first_desk, slot)
    _book(second, second_desk, slot)
    # Both bookings must be queued before either desk reconnects: each desk books on its
    # own db lane, and a "no pending" label on a desk whose booking is not yet counted
    # would let the second desk reach the server first and win the slot.
    for window in (first, second):
        qtbot.waitUntil(lambda w=window: "1 pending" in w.sync_label.text(), timeout=WAIT_MS)
    _reconnect(first, first_desk)
    qtbot.waitUntil(
        lambda: (
            first.sync_label.text().startswith("Online")
            and "pending" not in first.sync_label.text()
        ),
        timeout=WAIT_MS,
    )
    _reconnect(second, second_desk)
    page = second.attention
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=WAIT_MS)
    assert page.other_time_button.isEnabled()

    page.choose_time()
    qtbot.waitUntil(lambda: getattr(page, "chooser", None) is not None, timeout=WAIT_MS)
    chooser = page.chooser
    assert chooser.provider.count() == 3
    chooser.provider.setCurrentIndex(2)
    chooser.start.setDateTime(QDateTime(QDate(day.year, day.month, day.day), QTime(20, 15)))
    chooser.accept()

    qtbot.waitUntil(lambda: page.model.rowCount() == 0, timeout=WAIT_MS)
    # Not "pending" alone: a sync that was already under way when the new time was
    # chosen reports the change as still needing attention, with nothing pending, and
    # would let the test look at the server before the new time is even sent.
    qtbot.waitUntil(
        lambda: (
            second.sync_label.text().startswith("Online")
            and "pending" not in second.sync_label.text()
            and "attention" not in second.sync_label.text()
        ),
        timeout=WAIT_MS,
    )
    wanted_provider = second_desk.store.providers()[2].id
    wanted_start = datetime.combine(day, time(20, 15), tzinfo=ZONE).astimezone(UTC)
    with live_server.sessionmaker() as session:
        booked = session.scalars(
            select(Appointment).where(
                Appointment.provider_id == wanted_provider, Appointment.starts_at == wanted_start
            )
        ).all()
    assert len(booked) == 1
    assert booked[0].ends_at - booked[0].starts_at == timedelta(minutes=30)
    for window in (first, second):
        window.close()
        window.runner.shutdown()
    first_desk.store.close()
    second_desk.store.close()


def test_another_time_chosen_unchanged_keeps_the_appointments_provider_and_type(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    """A move turned down because another desk changed the appointment first: "Choose
    another time…" opens on the appointment's own provider and type, and confirming it
    unchanged sends the same move again (never to the first provider in the list)."""
    from server.db import transaction
    from server.scheduling.models import AppointmentType, Provider

    day = datetime.now(ZONE).date() + timedelta(days=3)
    evening = datetime.combine(day, time(19, 0), tzinfo=ZONE).astimezone(UTC)
    with transaction(live_server.sessionmaker) as session:
        providers = session.scalars(select(Provider).order_by(Provider.display_name)).all()
        kinds = session.scalars(select(AppointmentType).order_by(AppointmentType.name)).all()
        own_provider, own_type = providers[1], kinds[-1]  # neither is first in its list
        patient_id = session.scalar(select(Appointment.patient_id).limit(1))
        appointment = Appointment(
            clinic_id=own_provider.clinic_id,
            provider_id=own_provider.id,
            patient_id=patient_id,
            appointment_type_id=own_type.id,
            starts_at=evening,
            ends_at=evening + timedelta(minutes=45),
        )
        session.add(appointment)
        session.flush()
        appointment_id, provider_name, type_name = (
            appointment.id,
            own_provider.display_name,
            own_type.name,
        )
    first, first_desk = _offline_window(qtbot, live_server, tmp_path / "first")
    second, second_desk = _offline_window(qtbot, live_server, tmp_path / "second")
    later = evening + timedelta(hours=1)
    first.make_change(
        lambda: first_desk.store.move(
            first_desk.author,
            appointment_id,
            provider_id=own_provider.id,
            starts_at=later,
            ends_at=later + timedelta(minutes=45),
        )
    )
    second.make_change(
        lambda: second_desk.store.set_status(second_desk.author, appointment_id, "confirm")
    )
    for window in (first, second):
        qtbot.waitUntil(lambda w=window: "1 pending" in w.sync_label.text(), timeout=WAIT_MS)
    _reconnect(second, second_desk)
    qtbot.waitUntil(
        lambda: (
            second.sync_label.text().startswith("Online")
            and "pending" not in second.sync_label.text()
        ),
        timeout=WAIT_MS,
    )
    _reconnect(first, first_desk)
    page = first.attention
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=WAIT_MS)
    assert page.model.rows[0].result.code == "stale_version"

    page.table.selectRow(0)
    qtbot.mouseClick(page.other_time_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(page, "chooser", None) is not None, timeout=WAIT_MS)
    chooser = page.chooser
    assert chooser.isVisible()
    assert chooser.provider.currentText() == provider_name
    assert chooser.type.currentText() == type_name
    chooser.accept()  # nothing changed

    qtbot.waitUntil(lambda: page.model.rowCount() == 0, timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: (
            first.sync_label.text().startswith("Online")
            and "pending" not in first.sync_label.text()
            and "attention" not in first.sync_label.text()
        ),
        timeout=WAIT_MS,
    )
    with live_server.sessionmaker() as session:
        stored = session.get(Appointment, appointment_id)
        assert stored is not None
        assert (
            stored.provider_id,
            stored.appointment_type_id,
            stored.starts_at,
            stored.ends_at,
            stored.status,
        ) == (own_provider.id, own_type.id, later, later + timedelta(minutes=45), "confirmed")
    for window in (first, second):
        window.close()
        window.runner.shutdown()
    first_desk.store.close()
    second_desk.store.close()
