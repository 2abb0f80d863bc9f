"""The appointment dialog opens on the appointment as it is: its provider and its type,
found by value. (Qt's ``findData`` compares Python objects by identity, so an id read
afresh from the store was "not found", the first provider was shown, and saving
unchanged silently moved the appointment to that provider.)"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pytestqt.qtbot import QtBot

from common.appointments import AppointmentSource, AppointmentStatus
from desktop.diary.booking_dialog import AppointmentDialog
from desktop.kit.tasks import TaskRunner
from desktop.worklists.attention import ChooseTimeDialog
from sync.protocol import Slot
from sync.scheduling import AppointmentTypeRow
from sync.store import DiaryEntry, ProviderRow, Store
from tests.support import records

pytestmark = pytest.mark.qt
ZONE = ZoneInfo("Europe/London")
START = datetime(2031, 3, 4, 13, 0, tzinfo=UTC)


def _copy(value: uuid.UUID) -> uuid.UUID:
    """An equal id that is another object, as every read from the store gives."""
    return uuid.UUID(str(value))


def _type(name: str) -> AppointmentTypeRow:
    return AppointmentTypeRow(
        id=uuid.uuid4(),
        version=1,
        name=name,
        colour="#336699",
        duration_minutes=30,
        buffer_before_minutes=0,
        buffer_after_minutes=0,
        provider_ids=frozenset(),
        bookable_online=True,
        requires_confirmation=False,
        active=True,
    )


def test_an_appointment_opens_with_its_own_provider_and_type(
    qtbot: QtBot, runner: TaskRunner, tmp_path: Path
) -> None:
    store = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    first, second = (
        ProviderRow(uuid.uuid4(), "Dr Okafor", "#336699"),
        ProviderRow(uuid.uuid4(), "Dr Brenner", "#993366"),
    )
    check_up, consultation = _type("Check-up"), _type("Consultation")
    entry = DiaryEntry(
        id=uuid.uuid4(),
        provider_id=_copy(second.id),
        starts_at=START,
        ends_at=START + timedelta(minutes=30),
        status=AppointmentStatus.BOOKED,
        source=AppointmentSource.DESK,
        patient_name="Lily Edwards",
        patient_id=uuid.uuid4(),
        appointment_type_id=_copy(consultation.id),
    )
    dialog = AppointmentDialog(
        runner,
        store,
        records.author(),
        ZONE,
        [first, second],
        [check_up, consultation],
        provider_id=_copy(second.id),
        starts_at=entry.starts_at,
        ends_at=entry.ends_at,
        entry=entry,
    )
    qtbot.addWidget(dialog)
    assert dialog.provider.currentData() == second.id
    assert dialog.type.currentData() == consultation.id
    store.close()


def test_choosing_another_time_starts_from_the_suggested_provider(qtbot: QtBot) -> None:
    first, second = (
        ProviderRow(uuid.uuid4(), "Dr A", "#336699"),
        ProviderRow(uuid.uuid4(), "Dr B", "#993366"),
    )
    wanted = Slot(
        provider_id=_copy(second.id), starts_at=START, ends_at=START + timedelta(minutes=30)
    )
    dialog = ChooseTimeDialog([first, second], ZONE, wanted)
    qtbot.addWidget(dialog)
    assert dialog.provider.currentData() == second.id
