"""The Messages page on a real SQLCipher store, with no server: every change lands in the
local copy and the outbox, as it does offline."""

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
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.messaging import Channel, DeliveryStatus, Direction, Purpose
from common.roles import Role
from desktop.kit.ops import SYNC, SYNCED, ChangeHub
from desktop.kit.tasks import TaskRunner
from desktop.messages.composer import cost
from desktop.messages.conversation import Bubble
from desktop.messages.page import MessagesPage
from sync.protocol import StaffRecord, Tombstone
from sync.schema import outbox
from sync.store import Store
from tests.support import records

pytestmark = pytest.mark.qt
ZONE = ZoneInfo("Europe/London")
WAIT_MS = 20_000  # a deadline for what must happen, with room for a loaded CI worker
NOW = datetime.now(UTC).replace(microsecond=0)
ALEX = StaffRecord(
    id=uuid.uuid4(), version=1, display_name="Alex Reed", role=Role.FRONT_DESK, active=True
)
AUTHOR = records.author(ALEX.id)
ADA = records.patient_with("Ada", "Lovelace", phone="+447700900001").model_copy(
    update={"email": "ada@example.org"}
)
ALAN = records.patient_with("Alan", "Turing", phone="+447700900002")  # no e-mail
GRACE = records.patient_with("Grace", "Hopper", phone="+447700900003")
STRANGER = "+447700900999"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    opened.set_meta({"country": "GB", "time_zone": "Europe/London"})
    opened.apply_page(
        records.page(
            patients=[ADA, ALAN, GRACE],
            staff=[ALEX],
            messages=[
                records.message(ADA, "Can I come at 3 instead?", NOW - timedelta(minutes=5)),
                records.message(
                    ADA,
                    "Your appointment is confirmed.",
                    NOW - timedelta(days=1),
                    direction=Direction.OUT,
                    deliveries=(
                        (Channel.SMS, DeliveryStatus.DELIVERED, None),
                        (Channel.EMAIL, DeliveryStatus.BOUNCED, "Mailbox does not exist"),
                    ),
                ),
                records.message(
                    ALAN,
                    "See you tomorrow",
                    NOW - timedelta(hours=2),
                    direction=Direction.OUT,
                    deliveries=((Channel.SMS, DeliveryStatus.FAILED, "Number unreachable"),),
                ),
                records.message(
                    None, "Is this the dentist?", NOW - timedelta(hours=1), counterpart=STRANGER
                ),
            ],
            # Grace asked for no texts about her care.
            consents=[records.consent(GRACE, Channel.SMS, Purpose.CARE, False, NOW)],
        ),
        synced_at=NOW,
    )
    yield opened
    opened.close()


def open_page(
    qtbot: QtBot, runner: TaskRunner, store: Store, role: Role = Role.FRONT_DESK
) -> MessagesPage:
    page = MessagesPage(ChangeHub(runner), store, ZONE, author=AUTHOR, role=role, country="GB")
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=WAIT_MS)
    return page


def names(page: MessagesPage) -> list[str]:
    return [page.model.index(n, 0).data() for n in range(page.model.rowCount())]


def choose(qtbot: QtBot, page: MessagesPage, name: str) -> None:
    row = next(n for n, shown in enumerate(names(page)) if shown.startswith(name))
    page.table.selectRow(row)
    qtbot.waitUntil(lambda: page.title.text().startswith(name), timeout=WAIT_MS)


def queued(store: Store) -> list[dict]:
    with store.engine.connect() as conn:
        return [json.loads(r.command) for r in conn.execute(select(outbox).order_by(outbox.c.seq))]


def bubbles(page: MessagesPage | QWidget) -> list[Bubble]:
    return page.findChildren(Bubble)


# --- the list ------------------------------------------------------------------------


def test_unread_conversations_come_first_in_bold_with_their_count(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = MessagesPage(
        ChangeHub(runner), store, ZONE, author=AUTHOR, role=Role.FRONT_DESK, country="GB"
    )
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=WAIT_MS)
    assert names(page) == [
        "Ada Lovelace (1)",
        "+44 ••••• 999 · Unknown number (1)",
        "Alan Turing",
    ]
    bold = [page.model.index(n, 0).data(Qt.ItemDataRole.FontRole) for n in range(3)]
    assert [font is not None and font.bold() for font in bold] == [True, True, False]
    assert page.model.index(0, 1).data() == "Can I come at 3 instead?"
    assert (
        page.model.index(2, 1).data() == "Not delivered: See you tomorrow"
    )  # it failed: said before opening
    assert page.unread == 2
    # The navigation hears the count with every reading of the list.
    with qtbot.waitSignal(page.unread_changed, timeout=WAIT_MS) as told:
        page.reload()
    assert told.args == [2]


def test_opening_a_conversation_marks_what_the_patient_wrote_read_once(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, store)
    choose(qtbot, page, "Ada Lovelace")
    qtbot.waitUntil(lambda: store.unread_messages() == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "Ada Lovelace" in names(page), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: page.unread == 1, timeout=WAIT_MS)
    commands = queued(store)
    assert [c["kind"] for c in commands] == ["mark_messages_read"]
    [ada] = [m.id for m in store.conversation(ADA.id) if m.direction is Direction.IN]
    assert commands[0]["message_ids"] == [str(ada)]
    # Reopening it (and the reloads the change brought) queue nothing more.
    page.open_patient(ADA.id)
    qtbot.wait(200)
    assert len(queued(store)) == 1


def test_each_outgoing_message_says_how_it_fared_on_each_channel_in_words(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, store)
    choose(qtbot, page, "Ada Lovelace")
    qtbot.waitUntil(lambda: len(bubbles(page.view)) == 2, timeout=WAIT_MS)
    confirmed, asked = bubbles(page.view)
    assert confirmed.objectName() == "bubbleOut"
    assert confirmed.state_texts()[0].startswith("SMS: Delivered")
    assert confirmed.state_texts()[1] == "Email: Bounced — Mailbox does not exist"
    assert asked.objectName() == "bubbleIn"
    assert asked.body.text() == "Can I come at 3 instead?"
    assert asked.state_texts() == []

    choose(qtbot, page, "Alan Turing")
    qtbot.waitUntil(lambda: len(bubbles(page.view)) == 1, timeout=WAIT_MS)
    assert bubbles(page.view)[0].state_texts() == ["SMS: Failed — Number unreachable"]


# --- writing ------------------------------------------------------------------------


def test_channels_the_patient_cannot_be_reached_on_are_greyed_with_the_reason(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, store)
    composer = page.composer
    choose(qtbot, page, "Alan Turing")
    qtbot.waitUntil(lambda: composer.boxes[Channel.SMS].isEnabled(), timeout=WAIT_MS)
    assert not composer.boxes[Channel.EMAIL].isEnabled()
    assert composer.reason.text() == "Email: no e-mail address on the patient's file."
    assert composer.channels() == (Channel.SMS,)

    page.open_patient(GRACE.id)
    qtbot.waitUntil(lambda: page.title.text().startswith("Grace Hopper"), timeout=WAIT_MS)
    assert not composer.boxes[Channel.SMS].isEnabled()
    assert "asked not to get messages by SMS" in composer.reason.text()
    assert composer.channels() == ()
    composer.body.setPlainText("Hello")
    assert not composer.send_button.isEnabled()


def test_the_counter_says_what_a_text_costs_as_it_is_typed(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, store)
    composer = page.composer
    choose(qtbot, page, "Ada Lovelace")
    qtbot.waitUntil(composer.send_button.isVisible, timeout=WAIT_MS)
    composer.body.setPlainText("a" * 150)
    assert composer.counter.text() == "1 text · 10 characters left"
    composer.body.setPlainText("a" * 161)
    assert composer.counter.text() == "2 texts · 145 characters left"
    composer.body.setPlainText("Thank you 😊")
    assert composer.counter.text().startswith("1 text · 58 characters left · special characters")
    qtbot.mouseClick(composer.boxes[Channel.SMS], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(composer.boxes[Channel.EMAIL], Qt.MouseButton.LeftButton)
    assert composer.channels() == (Channel.EMAIL,)
    assert composer.subject.isVisible()
    assert composer.counter.text() == "11 characters"
    assert cost("x" * 1601, True).startswith("Too long: at most 1600 characters")


def test_send_shows_the_message_at_once_queued_and_a_quick_second_press_sends_nothing_more(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, store)
    composer = page.composer
    choose(qtbot, page, "Ada Lovelace")
    composer.body.setPlainText("Yes, 3 pm is fine.")
    qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)
    assert composer.body.toPlainText() == ""
    qtbot.waitUntil(lambda: len(bubbles(page.view)) == 3, timeout=WAIT_MS)
    sent = bubbles(page.view)[-1]
    assert sent.body.text() == "Yes, 3 pm is fine."
    assert sent.state_texts()[0] == "SMS: Queued"
    assert "Not yet with the server" in sent.state_texts()[-1]
    # Ctrl+Enter sends the next one: one message per press.
    composer.body.setFocus()
    composer.body.setPlainText("See you then.")
    qtbot.keyClick(composer.body, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(bubbles(page.view)) == 4, timeout=WAIT_MS)
    sends = [c for c in queued(store) if c["kind"] == "send_message"]
    assert [(c["body"], c["channels"]) for c in sends] == [
        ("Yes, 3 pm is fine.", ["sms"]),
        ("See you then.", ["sms"]),
    ]


def test_a_message_that_cannot_be_queued_goes_back_in_the_box_with_the_reason(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, store)
    composer = page.composer
    choose(qtbot, page, "Alan Turing")
    composer.body.setPlainText("Hello there")
    # The patient leaves the desk's copy while the text is being written (a sync, say).
    store.apply_page(
        records.page(tombstones=[Tombstone(entity="patients", id=ALAN.id, version=50)]),
        synced_at=NOW,
    )
    qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(page.notice.isVisible, timeout=WAIT_MS)
    assert page.notice.text().startswith("Not sent: That record is not in this desk's copy")
    assert composer.body.toPlainText() == "Hello there"
    # (Opening the conversation may have queued its read marks; no text was queued.)
    assert [c for c in queued(store) if c["kind"] == "send_message"] == []


def test_staff_who_may_not_send_read_the_inbox_with_the_composer_closed(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, store, role=Role.READ_ONLY)
    composer = page.composer
    choose(qtbot, page, "Ada Lovelace")
    qtbot.waitUntil(lambda: len(bubbles(page.view)) == 2, timeout=WAIT_MS)
    assert composer.reason.text() == "Your role (Read only) can read messages but not send them."
    assert not composer.send_button.isEnabled()
    assert not any(box.isEnabled() for box in composer.boxes.values())
    assert composer.body.isReadOnly()
    # Reading still marks read: the inbox is theirs to keep up with.
    qtbot.waitUntil(lambda: [c["kind"] for c in queued(store)] == ["mark_messages_read"])
    choose(qtbot, page, "+44")
    qtbot.waitUntil(lambda: len(bubbles(page.view)) == 1, timeout=WAIT_MS)
    attach = bubbles(page.view)[0].attach_button
    assert attach is not None
    assert not attach.isEnabled()


# --- texts from unknown numbers ----------------------------------------------------------


def test_a_text_from_an_unknown_number_is_attached_to_the_patient_found(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, store)
    choose(qtbot, page, "+44 ••••• 999")
    assert page.title.text() == "+44 ••••• 999 · Unknown number"
    assert not page.composer.isVisible()
    assert page.stranger_hint.isVisible()  # there is no replying to a stranger
    qtbot.waitUntil(lambda: len(bubbles(page.view)) == 1, timeout=WAIT_MS)
    bubble = bubbles(page.view)[0]
    assert bubble.attach_button is not None
    qtbot.mouseClick(bubble.attach_button, Qt.MouseButton.LeftButton)
    dialog = page.attach_dialog
    assert dialog is not None
    dialog.search.setText("Hopper")
    qtbot.waitUntil(lambda: dialog.results.count() == 1, timeout=WAIT_MS)
    assert dialog.results.item(0).text().startswith("Grace Hopper")
    assert not dialog.ok_button.isEnabled()  # nobody chosen yet: Enter attaches no one
    qtbot.mouseClick(
        dialog.results.viewport(),
        Qt.MouseButton.LeftButton,
        pos=dialog.results.visualItemRect(dialog.results.item(0)).center(),
    )
    assert dialog.ok_button.isEnabled()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: page.title.text().startswith("Grace Hopper"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(bubbles(page.view)) == 1, timeout=WAIT_MS)
    assert bubbles(page.view)[0].body.text() == "Is this the dentist?"
    kinds = [(c["kind"], c.get("patient_id")) for c in queued(store)]
    assert ("attach_message", str(GRACE.id)) in kinds
    assert store.unattached() == []
    qtbot.waitUntil(lambda: not any("Unknown" in n for n in names(page)), timeout=WAIT_MS)


# --- news -------------------------------------------------------------------------------


def test_a_new_text_a_sync_brings_is_told_once_and_the_list_follows(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    hub = ChangeHub(runner)
    page = MessagesPage(hub, store, ZONE, author=AUTHOR, role=Role.FRONT_DESK, country="GB")
    qtbot.addWidget(page)
    told: list[tuple[str, str]] = []
    page.notified.connect(lambda title, text: told.append((title, text)))
    qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=WAIT_MS)
    assert told == []  # what was unread when the desk opened is not news

    store.apply_page(
        records.page(messages=[records.message(ALAN, "Running 10 min late, sorry", NOW)]),
        synced_at=NOW,
    )
    with qtbot.waitSignal(page.notified, timeout=WAIT_MS):
        hub.announce(SYNCED, origin=SYNC)
    assert told == [("New message from Alan Turing", "Running 10 min late, sorry")]
    qtbot.waitUntil(lambda: names(page)[0] == "Alan Turing (1)", timeout=WAIT_MS)
    hub.announce(SYNCED, origin=SYNC)  # the same text is not news twice
    qtbot.wait(200)
    assert len(told) == 1


def test_what_is_being_written_stays_with_its_conversation(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, store)
    composer = page.composer
    choose(qtbot, page, "Ada Lovelace")
    composer.body.setPlainText("Half-written for Ada")
    choose(qtbot, page, "Alan Turing")
    assert composer.body.toPlainText() == ""  # never sent to the wrong patient
    choose(qtbot, page, "Ada Lovelace")
    assert composer.body.toPlainText() == "Half-written for Ada"


def test_a_sync_that_changes_nothing_here_leaves_the_conversation_as_it_is(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    hub = ChangeHub(runner)
    page = MessagesPage(hub, store, ZONE, author=AUTHOR, role=Role.FRONT_DESK, country="GB")
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=WAIT_MS)
    choose(qtbot, page, "Alan Turing")
    qtbot.waitUntil(lambda: len(bubbles(page.view)) == 1, timeout=WAIT_MS)
    drawn = bubbles(page.view)[0]
    with qtbot.waitSignal(page.unread_changed, timeout=WAIT_MS):
        hub.announce(SYNCED, origin=SYNC)
    qtbot.wait(100)
    assert bubbles(page.view) == [drawn]  # not redrawn, so not scrolled away


def test_the_count_is_of_the_text_as_it_goes_out_with_the_clinics_name() -> None:
    words = "x" * 150
    assert cost(words, True) == "1 text · 10 characters left"
    # The server puts "Demo Clinic: " in front: 163 characters, two texts.
    assert cost(words, True, "Demo Clinic").startswith("2 texts")
    assert cost("Demo Clinic here: hello", True, "Demo Clinic").startswith("1 text")


def test_each_conversation_starts_by_text_not_by_the_last_ones_channel(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_page(qtbot, runner, store)
    composer = page.composer
    choose(qtbot, page, "Ada Lovelace")
    qtbot.waitUntil(composer.boxes[Channel.SMS].isChecked, timeout=WAIT_MS)
    composer.boxes[Channel.SMS].setChecked(False)
    composer.boxes[Channel.EMAIL].setChecked(True)
    choose(qtbot, page, "Alan Turing")
    choose(qtbot, page, "Ada Lovelace")
    qtbot.waitUntil(composer.boxes[Channel.SMS].isChecked, timeout=WAIT_MS)
    assert not composer.boxes[Channel.EMAIL].isChecked()
