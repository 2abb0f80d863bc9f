"""The inbox end to end, with nothing stood in for but Twilio itself: a text signed as
Twilio signs it, posted to the real server's webhook, is in the desk's inbox within two
seconds (pushed by the live stream, not polled); a reply written offline is handed to the
provider by the server's dispatcher after the line returns, and the desk shows it
delivered."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.messaging import Channel
from desktop.mainwindow import PAGES
from server.messaging.models import DevOutboxEntry
from server.messaging.runner import DispatcherThread
from server.messaging.signatures import twilio_signature
from tests.conftest import DemoTemplates
from tests.desktop.messages.test_messages_live import (
    NO_POLLING,
    WAIT_MS,
    bubbles,
    close,
    names,
    open_conversation,
    open_window,
    reachable_patient,
    settled,
)
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
WITHIN_MS = 10_000  # the "two seconds" of a quiet machine, with room for a loaded one
TOKEN = "twilio-token-for-the-desk-tests"
PUBLIC = "https://clinic.example"  # what Twilio is configured to call


@pytest.fixture
def messaging_server(
    tmp_path_factory: pytest.TempPathFactory, demo_templates: DemoTemplates
) -> Iterator[LiveServer]:
    """The demo clinic served with a Twilio token, and its dispatcher at work."""
    path = tmp_path_factory.mktemp("server") / "server.sqlite3"
    demo_templates.copy_to(path)
    server = LiveServer(
        path, seed=False, settings={"twilio_auth_token": TOKEN, "public_base_url": PUBLIC}
    )
    dispatcher = DispatcherThread(server.app.state.database, server.settings).start()
    yield server
    dispatcher.stop()
    server.close()


def post_text(server: LiveServer, sender: str, body: str) -> httpx.Response:
    path = "/webhooks/twilio/demo/inbound"
    params = {
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "+447700900000",
        "Body": body,
    }
    signature = twilio_signature(TOKEN, PUBLIC + path, params)
    return httpx.post(server.url + path, data=params, headers={"X-Twilio-Signature": signature})


def test_a_text_posted_to_the_webhook_is_in_the_inbox_within_two_seconds(
    qtbot: QtBot, messaging_server: LiveServer, tmp_path: Path
) -> None:
    window = open_window(qtbot, messaging_server, tmp_path, sync_interval=NO_POLLING)
    qtbot.waitUntil(window.live.connected.is_set, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: settled(window), timeout=WAIT_MS)  # its hello's pull is done
    qtbot.wait(300)
    patient = reachable_patient(messaging_server)
    name = f"{patient.first_name} {patient.last_name}"
    page = window.messages

    answer = post_text(messaging_server, patient.phone, "Running ten minutes late, sorry!")
    assert answer.status_code == 200
    # No polling: only the live stream can bring it.
    qtbot.waitUntil(lambda: names(page)[:1] == [f"{name} (1)"], timeout=WITHIN_MS)
    assert page.model.index(0, 1).data() == "Running ten minutes late, sorry!"
    assert window.nav.item(PAGES.index("Messages")).text() == "Messages (1)"
    close(window)


def test_a_reply_written_offline_is_delivered_after_the_line_returns(
    qtbot: QtBot, messaging_server: LiveServer, tmp_path: Path
) -> None:
    # No polling: only the live stream can bring the outcome, however it raced the push.
    window = open_window(qtbot, messaging_server, tmp_path, sync_interval=NO_POLLING)
    patient = reachable_patient(messaging_server)
    messaging_server.stop()
    window.sync.sync_now()
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Offline"), timeout=WAIT_MS)

    page = open_conversation(qtbot, window, patient)
    composer = page.composer
    qtbot.waitUntil(composer.boxes[Channel.SMS].isChecked, timeout=WAIT_MS)
    # By e-mail: quiet hours hold texts at night, and this test may run at any hour.
    composer.boxes[Channel.SMS].setChecked(False)
    composer.boxes[Channel.EMAIL].setChecked(True)
    composer.body.setPlainText("Your new glasses are ready to collect.")
    qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(bubbles(page)) == 1, timeout=WAIT_MS)
    assert bubbles(page)[0].state_texts()[0] == "Email: Queued"
    with messaging_server.sessionmaker() as session:
        assert session.scalars(select(DevOutboxEntry)).all() == []

    messaging_server.start_again()
    window.sync.retry_now()
    qtbot.waitUntil(lambda: settled(window), timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: bubbles(page) and bubbles(page)[0].state_texts()[0].startswith("Email: Delivered"),
        timeout=WAIT_MS,
    )
    with messaging_server.sessionmaker() as session:
        [sent] = session.scalars(select(DevOutboxEntry)).all()
    assert sent.channel is Channel.EMAIL
    assert sent.to_address == patient.email
    assert sent.text == "Your new glasses are ready to collect."
    close(window)
