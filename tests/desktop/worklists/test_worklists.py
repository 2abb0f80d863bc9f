"""The "Needs attention" list on its own, on a desk's copy with no server: what stays
selected through a reload, and the time a turned-down booking is moved to."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QDate, QDateTime, Qt, QTime
from pytestqt.qtbot import QtBot

from common.roles import Role
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from desktop.worklists.attention import AttentionPage, ChooseTimeDialog
from sync.account import Desk
from sync.protocol import MutationResult, Slot, StaffInfo
from sync.scheduling import AppointmentTypeRow
from sync.store import ProviderRow, Store
from tests.support import records

pytestmark = pytest.mark.qt
ZONE = ZoneInfo("Europe/London")
WAIT_MS = 20_000  # a deadline for what must happen, with room for a loaded CI worker
NOW = datetime(2031, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    """Three bookings made here, all three turned down by the server."""
    store = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    provider, patient = records.provider(), records.patient()
    store.apply_page(records.page(providers=[provider], patients=[patient]), synced_at=NOW)
    staff = StaffInfo(
        id=uuid.uuid4(), email="a@b.example", display_name="Alex", role=Role.FRONT_DESK
    )
    author = records.author(staff.id)
    for hour in (9, 10, 11):
        start = datetime.combine(date(2031, 3, 4), time(hour), tzinfo=ZONE).astimezone(UTC)
        store.book(
            author,
            provider_id=provider.id,
            patient_id=patient.id,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
        )
    sent = store.pending_mutations(10)
    store.record_results(
        sent,
        [
            MutationResult(mutation_id=m.mutation_id, status="rejected", code="slot_taken")
            for m in sent
        ],
    )
    yield Desk(
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
        author=author,
    )
    store.close()


def test_the_selected_change_stays_selected_through_a_reload(
    qtbot: QtBot, runner: TaskRunner, desk: Desk
) -> None:
    page = AttentionPage(ChangeHub(runner), desk, ZONE)
    qtbot.addWidget(page)
    page.reload()
    qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=WAIT_MS)
    page.table.selectRow(2)
    chosen = page.current()
    assert chosen is not None

    before = page.model.rows
    page.reload()  # as after a sync
    qtbot.waitUntil(lambda: page.model.rows is not before, timeout=WAIT_MS)
    current = page.current()
    assert current is not None
    assert current.seq == chosen.seq, "Discard now would drop another change"

    qtbot.mouseClick(page.discard_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=WAIT_MS)
    assert chosen.seq not in [a.seq for a in desk.store.needs_attention()]


def test_another_time_lasts_as_long_in_real_time_across_a_fall_back(qtbot: QtBot) -> None:
    """London falls back at 02:00 on 26 October 2031: 01:00-02:00 happens twice."""
    provider = ProviderRow(uuid.uuid4(), "Dr A", "#336699")
    asked = datetime(2031, 10, 25, 9, tzinfo=ZONE).astimezone(UTC)
    wanted = Slot(provider_id=provider.id, starts_at=asked, ends_at=asked + timedelta(minutes=90))
    dialog = ChooseTimeDialog([provider], ZONE, wanted)
    qtbot.addWidget(dialog)
    dialog.start.setDateTime(QDateTime(QDate(2031, 10, 26), QTime(1, 0)))
    slot = dialog.slot()
    assert slot.ends_at - slot.starts_at == timedelta(minutes=90)
    assert slot.starts_at == datetime(2031, 10, 26, 0, 0, tzinfo=UTC)  # the first 01:00


def test_a_row_says_whom_the_change_is_for_with_whom_and_what_was_tried(
    qtbot: QtBot, runner: TaskRunner, tmp_path: Path
) -> None:
    """Staff call the patient about a turned-down change: the row names them, the provider
    and the time, for every kind of appointment change."""
    store = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    adams, brook = records.provider("Dr Adams"), records.provider("Dr Brook")
    ada, alan = records.patient("Ada", "Lovelace"), records.patient("Alan", "Turing")
    nine = datetime(2031, 3, 4, 9, tzinfo=UTC)  # London is on UTC in March
    kept = records.appointment(adams, alan, nine)
    store.apply_page(
        records.page(providers=[adams, brook], patients=[ada, alan], appointments=[kept]),
        synced_at=NOW,
    )
    author = records.author()
    store.book(
        author,
        provider_id=brook.id,
        patient_id=ada.id,
        starts_at=nine + timedelta(hours=4, minutes=45),
        ends_at=nine + timedelta(hours=5, minutes=15),
    )
    store.move(
        author,
        kept.id,
        provider_id=brook.id,
        starts_at=nine + timedelta(hours=2),
        ends_at=nine + timedelta(hours=2, minutes=30),
    )
    store.set_status(author, kept.id, "check_in")
    store.update_contact(author, ada.id, phone="01234 567890", email=None)
    sent = store.pending_mutations(10)
    store.record_results(
        sent,
        [
            MutationResult(
                mutation_id=m.mutation_id,
                status="rejected",
                code="slot_taken",
                appointment=kept if m.command.kind != "book" else None,
            )
            for m in sent
        ],
    )
    desk = Desk(
        store,
        StaffInfo(
            id=author.staff_id, email="a@b.example", display_name="Alex", role=Role.FRONT_DESK
        ),
        "http://127.0.0.1:9",
        "demo",
        "Demo Clinic",
        ZONE.key,
        online=False,
        session_token=None,
        device_token=None,
        last_sync_at=NOW,
        author=author,
    )
    page = AttentionPage(ChangeHub(runner), desk, ZONE)
    qtbot.addWidget(page)
    page.reload()
    qtbot.waitUntil(lambda: page.model.rowCount() == 4, timeout=WAIT_MS)
    shown = [page.model.index(row, 0).data() for row in range(4)]
    assert shown == [
        "Book Ada Lovelace with Dr Brook, Tue 04 Mar 13:45",
        "Move Alan Turing to Tue 04 Mar 11:00 with Dr Brook (was Tue 04 Mar 09:00)",
        "Check in Alan Turing (Dr Adams, Tue 04 Mar 09:00)",
        "Update contact details of Ada Lovelace",
    ]
    assert page.model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole) == shown[0]
    store.close()


def test_another_time_opens_on_the_changes_own_provider_and_type(qtbot: QtBot) -> None:
    first = ProviderRow(uuid.uuid4(), "Dr Adams", "#336699")
    own = ProviderRow(uuid.uuid4(), "Dr Brook", "#336699")
    consultation, long = records.appointment_type("Consultation"), records.appointment_type("Long")
    types = [
        AppointmentTypeRow(
            id=kind.id,
            version=1,
            name=kind.name,
            colour=kind.colour,
            duration_minutes=kind.duration_minutes,
            buffer_before_minutes=0,
            buffer_after_minutes=0,
            provider_ids=frozenset(),
            bookable_online=True,
            requires_confirmation=False,
            active=True,
        )
        for kind in (consultation, long)
    ]
    asked = datetime(2031, 3, 4, 10, tzinfo=UTC)
    wanted = Slot(provider_id=own.id, starts_at=asked, ends_at=asked + timedelta(minutes=60))
    dialog = ChooseTimeDialog(
        [first, own], ZONE, wanted, types=types, appointment_type_id=uuid.UUID(str(long.id))
    )
    qtbot.addWidget(dialog)
    assert dialog.provider.currentText() == "Dr Brook"
    assert dialog.type.currentText() == "Long"
    assert dialog.slot() == wanted
