"""A booking made elsewhere appears on an open desk without waiting for its timer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.appointments import AppointmentSource
from desktop.kit.tasks import TaskRunner
from desktop.mainwindow import MainWindow
from server.auth.context import AuthContext
from server.db import transaction
from server.demo import DEMO_TIME_ZONE
from server.patients.models import Patient
from server.scheduling import service as scheduling
from server.scheduling.models import Provider
from server.staff.models import StaffUser
from sync import account
from sync.engine import SyncEngine
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
EMAIL, PASSWORD = "frontdesk@demo.clinic", "frontdesk-demo-1"
WAIT_MS = 20_000  # a deadline for what must happen, with room for a loaded CI worker
NO_POLLING = 3600  # seconds: only the live feed can explain a prompt update


def test_a_web_booking_and_another_desks_booking_show_up_without_polling(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    zone = ZoneInfo(DEMO_TIME_ZONE)
    desk = account.sign_in(tmp_path / "here", live_server.url, "demo", EMAIL, PASSWORD)
    runner = TaskRunner()
    window = MainWindow(
        desk, runner, SyncEngine(desk.store, account.sync_client(desk)), sync_interval=NO_POLLING
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Online"), timeout=WAIT_MS)
    qtbot.waitUntil(window.live.connected.is_set, timeout=WAIT_MS)
    today = datetime.now(zone).date()
    evening = datetime.combine(today, time(20, 0), tzinfo=zone).astimezone(UTC)

    # A patient books on the web (the server's own write path, as the widget will).
    with transaction(live_server.sessionmaker) as session:
        provider = session.scalars(select(Provider)).first()
        patient = session.scalars(select(Patient)).first()
        staff = session.scalars(select(StaffUser)).first()
        assert provider
        assert patient
        assert staff
        ctx = AuthContext(
            clinic_id=provider.clinic_id, device_id=None, staff_id=staff.id, role=staff.role
        )
        web = scheduling.book(
            session,
            ctx,
            appointment_id=uuid.uuid4(),
            provider_id=provider.id,
            patient_id=patient.id,
            starts_at=evening,
            ends_at=evening + timedelta(minutes=30),
            source=AppointmentSource.WIDGET,
        ).id

    def shown(appointment_id: uuid.UUID) -> None:
        ids = {item.entry.id for item in window.diary.view.appointment_items()}
        assert appointment_id in ids

    qtbot.waitUntil(lambda: shown(web), timeout=WAIT_MS)

    # Another workstation books and syncs.
    other = account.sign_in(tmp_path / "other", live_server.url, "demo", EMAIL, PASSWORD)
    later = evening + timedelta(hours=1)
    theirs = other.store.book(
        other.author,
        provider_id=provider.id,
        patient_id=patient.id,
        starts_at=later,
        ends_at=later + timedelta(minutes=30),
    )
    SyncEngine(other.store, account.sync_client(other)).sync()

    qtbot.waitUntil(lambda: shown(theirs), timeout=WAIT_MS)
    assert window.sync.timer.interval() == NO_POLLING * 1000
    window.close()
    runner.shutdown()
    desk.store.close()
    other.store.close()
