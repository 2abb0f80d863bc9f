"""Messages and consent in the patient's file, on a real SQLCipher store with no server:
the conversation as the Messages page shows it, consent per channel and purpose as the
rules read it, and recording what the patient said through the outbox."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.messaging import Channel, ConsentSource, DeliveryStatus, Direction, Purpose
from common.roles import Role
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from desktop.messages.conversation import Bubble
from desktop.patients.page import PatientsPage
from sync.protocol import StaffRecord
from sync.schema import outbox
from sync.store import Store
from tests.support import records

pytestmark = pytest.mark.qt
ZONE = ZoneInfo("Europe/London")
WAIT_MS = 20_000  # a deadline for what must happen, with room for a loaded CI worker
NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
ALEX = StaffRecord(
    id=uuid.uuid4(), version=1, display_name="Alex Reed", role=Role.FRONT_DESK, active=True
)
ADA = records.patient_with("Ada", "Lovelace", phone="+447700900001")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    opened.set_meta({"country": "GB", "time_zone": "Europe/London"})
    opened.clock = lambda: NOW
    opened.apply_page(
        records.page(
            patients=[ADA],
            staff=[ALEX],
            messages=[
                records.message(
                    ADA,
                    "Reminder: dentist tomorrow 10:00",
                    NOW - timedelta(days=1),
                    direction=Direction.OUT,
                    deliveries=((Channel.SMS, DeliveryStatus.DELIVERED, None),),
                ),
                records.message(ADA, "Thanks, see you", NOW - timedelta(hours=20)),
            ],
            consents=[
                records.consent(
                    ADA,
                    Channel.SMS,
                    Purpose.REMINDER,
                    False,
                    NOW - timedelta(hours=2),
                    source=ConsentSource.SMS_KEYWORD,
                ),
            ],
        ),
        synced_at=NOW,
    )
    yield opened
    opened.close()


@pytest.fixture
def page(qtbot: QtBot, runner: TaskRunner, store: Store) -> PatientsPage:
    shown = PatientsPage(
        ChangeHub(runner), store, ZONE, author=records.author(ALEX.id), country="GB"
    )
    qtbot.addWidget(shown)
    shown.resize(1200, 800)
    shown.show()
    shown.open_patient(ADA.id)
    qtbot.waitUntil(lambda: shown.file.title.text() == "Ada Lovelace", timeout=WAIT_MS)
    return shown


def consent_rows(page: PatientsPage) -> dict[tuple[str, str], tuple[str, str]]:
    model = page.file.consent
    return {
        (model.index(n, 0).data(), model.index(n, 1).data()): (
            model.index(n, 2).data(),
            model.index(n, 3).data(),
        )
        for n in range(model.rowCount())
    }


def test_the_file_shows_the_patients_conversation(qtbot: QtBot, page: PatientsPage) -> None:
    tabs = page.file.tabs
    assert tabs.tabText(1) == "Messages (1 unread)"
    tabs.setCurrentIndex(1)
    bubbles = page.file.conversation.findChildren(Bubble)
    assert [b.body.text() for b in bubbles] == [
        "Reminder: dentist tomorrow 10:00",
        "Thanks, see you",
    ]
    assert bubbles[0].state_texts()[0].startswith("SMS: Delivered")


def test_consent_reads_per_channel_and_purpose_with_when_and_how(page: PatientsPage) -> None:
    rows = consent_rows(page)
    assert len(rows) == len(Channel) * len(Purpose)
    assert rows[("SMS", "Reminder")] == ("No", "10 Mar 2026 07:30, by text message")
    assert rows[("SMS", "Care")] == ("Yes (never asked)", "—")
    assert rows[("Email", "Marketing")] == ("No (never asked)", "—")
    assert page.file.history.rowCount() == 1


def test_recording_consent_queues_it_and_the_file_shows_it_at_once(
    qtbot: QtBot, page: PatientsPage, store: Store
) -> None:
    page.file.tabs.setCurrentIndex(2)
    qtbot.mouseClick(page.file.consent_button, Qt.MouseButton.LeftButton)
    dialog = page.consent_dialog
    assert dialog is not None
    dialog.channel.setCurrentIndex(list(Channel).index(Channel.EMAIL))
    dialog.purpose.setCurrentIndex(list(Purpose).index(Purpose.MARKETING))
    qtbot.mouseClick(dialog.given, Qt.MouseButton.LeftButton)
    dialog.note.setText("Asked at the desk for the newsletter")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: page.file.history.rowCount() == 2, timeout=WAIT_MS)
    assert consent_rows(page)[("Email", "Marketing")] == (
        "Yes",
        "10 Mar 2026 09:30, recorded at the desk by Alex Reed · not yet sent",
    )
    with store.engine.connect() as conn:
        [command] = [json.loads(r.command) for r in conn.execute(select(outbox))]
    assert {k: command[k] for k in ("kind", "channel", "purpose", "granted", "note")} == {
        "kind": "record_consent",
        "channel": "email",
        "purpose": "marketing",
        "granted": True,
        "note": "Asked at the desk for the newsletter",
    }


def test_write_to_patient_asks_for_their_conversation(qtbot: QtBot, page: PatientsPage) -> None:
    with qtbot.waitSignal(page.write_requested, timeout=WAIT_MS) as asked:
        qtbot.mouseClick(page.file.write_button, Qt.MouseButton.LeftButton)
    assert asked.args == [ADA.id]
