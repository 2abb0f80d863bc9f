"""The Messages page in the desk's main window against a real uvicorn server over the demo
clinic: a message written offline reaches the server once; a text a patient sends shows
up unread and is marked read on the server when opened; a failed delivery says why;
read-only staff read but cannot write."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.messaging import Channel, DeliveryStatus, Direction, Purpose
from common.roles import Role
from desktop.kit.tasks import TaskRunner
from desktop.mainwindow import PAGES, MainWindow
from desktop.messages.conversation import Bubble
from desktop.messages.page import MessagesPage
from server.clinics.models import Clinic
from server.db import transaction
from server.messaging import service as messaging
from server.messaging.models import Delivery, Message
from server.patients.models import Patient
from server.staff.service import create_staff_user
from sync import account
from sync.engine import SyncEngine
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
EMAIL, PASSWORD = "frontdesk@demo.clinic", "frontdesk-demo-1"
WAIT_MS = 20_000
NO_POLLING = 3600  # seconds: only the live stream can explain a prompt update


def open_window(
    qtbot: QtBot,
    server: LiveServer,
    folder: Path,
    email: str = EMAIL,
    password: str = PASSWORD,
    *,
    sync_interval: int = 15,
) -> MainWindow:
    desk = account.sign_in(folder, server.url, "demo", email, password)
    SyncEngine(desk.store, account.sync_client(desk)).sync()
    engine = SyncEngine(desk.store, account.sync_client(desk))
    window = MainWindow(desk, TaskRunner(), engine, sync_interval=sync_interval)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Online"), timeout=WAIT_MS)
    return window


def close(window: MainWindow) -> None:
    window.close()
    window.runner.shutdown()
    window.desk.store.close()


def settled(window: MainWindow) -> bool:
    text = window.sync_label.text()
    return text.startswith("Online") and "pending" not in text and "attention" not in text


def reachable_patient(server: LiveServer) -> Patient:
    """A demo patient with a mobile number and an e-mail address."""
    with server.sessionmaker() as session:
        return session.scalars(
            select(Patient)
            .where(Patient.phone.is_not(None), Patient.email.is_not(None))
            .order_by(Patient.last_name, Patient.first_name)
            .limit(1)
        ).one()


def bubbles(page: MessagesPage) -> list[Bubble]:
    return page.view.findChildren(Bubble)


def names(page: MessagesPage) -> list[str]:
    return [page.model.index(n, 0).data() for n in range(page.model.rowCount())]


def open_conversation(qtbot: QtBot, window: MainWindow, patient: Patient) -> MessagesPage:
    window.open_conversation(patient.id)
    page = window.messages
    assert window.pages.currentWidget() is page
    name = f"{patient.first_name} {patient.last_name}"
    qtbot.waitUntil(lambda: page.title.text().startswith(name), timeout=WAIT_MS)
    return page


def test_a_message_written_offline_shows_queued_and_reaches_the_server_once(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    window = open_window(qtbot, live_server, tmp_path)
    patient = reachable_patient(live_server)
    live_server.stop()
    window.sync.sync_now()
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Offline"), timeout=WAIT_MS)

    page = open_conversation(qtbot, window, patient)
    composer = page.composer
    qtbot.waitUntil(composer.boxes[Channel.SMS].isChecked, timeout=WAIT_MS)
    composer.body.setPlainText("Your results are in.")
    qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)  # a double press
    composer.body.setPlainText("Please call us to book a follow-up.")
    qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(bubbles(page)) == 2, timeout=WAIT_MS)
    assert [b.body.text() for b in bubbles(page)] == [
        "Your results are in.",
        "Please call us to book a follow-up.",
    ]
    assert all(b.state_texts()[0] == "SMS: Queued" for b in bubbles(page))
    qtbot.waitUntil(lambda: "2 pending" in window.sync_label.text(), timeout=WAIT_MS)

    live_server.start_again()
    window.sync.retry_now()
    qtbot.waitUntil(lambda: settled(window), timeout=WAIT_MS)
    with live_server.sessionmaker() as session:
        stored = session.scalars(
            select(Message).where(Message.patient_id == patient.id).order_by(Message.created_at)
        ).all()
        deliveries = session.scalars(
            select(Delivery).where(Delivery.message_id.in_([m.id for m in stored]))
        ).all()
    # Each once, as the server sends them: a text says who it is from.
    assert [m.body for m in stored] == [
        "Demo Clinic: Your results are in.",
        "Demo Clinic: Please call us to book a follow-up.",
    ]
    assert all(m.direction is Direction.OUT for m in stored)
    assert sorted((d.message_id, d.channel) for d in deliveries) == sorted(
        (m.id, Channel.SMS) for m in stored
    )
    assert {d.text for d in deliveries} == {
        "Demo Clinic: Your results are in.",
        "Demo Clinic: Please call us to book a follow-up.",
    }
    # The conversation now shows the server's copies.
    qtbot.waitUntil(
        lambda: all(
            not any("Not yet with the server" in t for t in b.state_texts()) for b in bubbles(page)
        ),
        timeout=WAIT_MS,
    )
    assert len(bubbles(page)) == 2
    close(window)


def test_a_text_from_a_patient_arrives_unread_and_opening_it_marks_it_read_on_the_server(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    window = open_window(qtbot, live_server, tmp_path, sync_interval=NO_POLLING)
    qtbot.waitUntil(window.live.connected.is_set, timeout=WAIT_MS)
    page = window.messages
    told: list[tuple[str, str]] = []
    page.notified.connect(lambda title, text: told.append((title, text)))
    patient = reachable_patient(live_server)
    name = f"{patient.first_name} {patient.last_name}"
    with transaction(live_server.sessionmaker) as session:
        message = Message(
            clinic_id=patient.clinic_id,
            patient_id=patient.id,
            direction=Direction.IN,
            purpose=Purpose.CARE,
            kind="inbound",
            channels=[Channel.SMS.value],
            body="Can I move my appointment to Friday?",
            counterpart=patient.phone,
            due_at=datetime.now(UTC),
        )
        session.add(message)
    inbound_id = message.id

    # The live stream wakes the desk: no "Sync now", no waiting for the timer.
    qtbot.waitUntil(lambda: names(page)[:1] == [f"{name} (1)"], timeout=WAIT_MS)
    assert page.model.index(0, 0).data(Qt.ItemDataRole.FontRole).bold()
    assert page.model.index(0, 1).data() == "Can I move my appointment to Friday?"
    assert window.nav.item(PAGES.index("Messages")).text() == "Messages (1)"
    assert told == [(f"New message from {name}", "Can I move my appointment to Friday?")]

    window.nav.setCurrentRow(PAGES.index("Messages"))
    page.table.selectRow(0)
    qtbot.waitUntil(lambda: len(bubbles(page)) == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: names(page)[0] == name, timeout=WAIT_MS)
    assert window.nav.item(PAGES.index("Messages")).text() == "Messages"

    def read_on_server() -> bool:
        with live_server.sessionmaker() as session:
            found = session.get(Message, inbound_id)
            return found is not None and found.read_at is not None

    qtbot.waitUntil(read_on_server, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: settled(window), timeout=WAIT_MS)
    close(window)


def test_a_failed_delivery_shows_failed_and_the_reason(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    window = open_window(qtbot, live_server, tmp_path)
    patient = reachable_patient(live_server)
    page = open_conversation(qtbot, window, patient)
    qtbot.waitUntil(page.composer.boxes[Channel.SMS].isChecked, timeout=WAIT_MS)
    page.composer.body.setPlainText("Your appointment moved to 10:30.")
    qtbot.mouseClick(page.composer.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(bubbles(page)) == 1, timeout=WAIT_MS)
    [sent] = [b.message.id for b in bubbles(page)]
    qtbot.waitUntil(lambda: not bubbles(page)[0].message.pending, timeout=WAIT_MS)
    assert bubbles(page)[0].state_texts() == ["SMS: Queued"]

    # What a provider's receipt does: the delivery fails, the message's summary follows.
    with transaction(live_server.sessionmaker) as session:
        [delivery] = session.scalars(select(Delivery).where(Delivery.message_id == sent)).all()
        delivery.status = DeliveryStatus.FAILED
        delivery.error = "The number is not in service."
        delivery.failed_at = datetime.now(UTC)
        session.flush()
        messaging.refresh_summaries(session, [sent])

    window.sync.sync_now()
    qtbot.waitUntil(
        lambda: bubbles(page)[-1].state_texts() == ["SMS: Failed — The number is not in service."],
        timeout=WAIT_MS,
    )
    close(window)


def test_read_only_staff_read_the_inbox_but_the_composer_is_closed(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    with transaction(live_server.sessionmaker) as session:
        clinic = session.scalars(select(Clinic).where(Clinic.slug == "demo")).one()
        create_staff_user(
            session,
            clinic,
            email="viewer@demo.clinic",
            display_name="Vera Viewer",
            password="viewer-demo-1",
            role=Role.READ_ONLY,
        )
    window = open_window(qtbot, live_server, tmp_path, "viewer@demo.clinic", "viewer-demo-1")
    patient = reachable_patient(live_server)
    page = open_conversation(qtbot, window, patient)
    composer = page.composer
    qtbot.waitUntil(lambda: "can read messages" in composer.reason.text(), timeout=WAIT_MS)
    assert composer.reason.text() == "Your role (Read only) can read messages but not send them."
    assert not composer.send_button.isEnabled()
    assert not any(box.isEnabled() for box in composer.boxes.values())
    composer.body.setFocus()
    qtbot.keyClicks(composer.body, "Hello")
    assert composer.body.toPlainText() == ""  # read only: nothing can be typed
    qtbot.keyClick(composer.body, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    # Nor does the rest of the desk offer what would only be refused by the server.
    assert not window.patients.file.consent_button.isEnabled()
    assert not window.diary.late_button.isEnabled()
    assert window.diary.ask_running_late() is None
    assert window.desk.store.pending_mutations(10) == []
    close(window)
