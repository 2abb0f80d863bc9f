"""Replying from one of the clinic's wordings, on a real SQLCipher store with no server:
the wording is filled in with the patient's name and their next appointment in the
clinic's time, greyed with the reason when it cannot be, the clinic's own wording wins
over the standard one, typed words are replaced only when staff say so, and what is sent
is the text as edited in the box."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from common.appointments import AppointmentStatus
from common.message_templates import CommunicationType
from common.messaging import Channel, Purpose
from common.roles import Role
from desktop.kit.ops import SYNC, SYNCED, ChangeHub
from desktop.kit.tasks import TaskRunner
from desktop.messages.composer import Composer
from desktop.messages.page import MessagesPage
from sync.protocol import AppointmentRecord, LocationRecord, MessageTemplateRecord, PatientRecord
from sync.store import Store
from tests.desktop.messages.test_messages_page import ALAN, ALEX, AUTHOR, WAIT_MS, bubbles, queued
from tests.support import records

pytestmark = pytest.mark.qt
LEFT = Qt.MouseButton.LeftButton
# Never UTC's clock, whatever the season: a time shown in UTC would not pass for local.
CLINIC_ZONE = ZoneInfo("Asia/Kolkata")
CLINIC = "Brook Street Clinic"
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.astimezone(CLINIC_ZONE).date()
DAY_START = datetime.combine(TODAY, time(), tzinfo=CLINIC_ZONE)

ADA = records.patient_with("Ada", "Lovelace", phone="+447700900001").model_copy(
    update={"email": "ada@example.org"}
)
GRACE = records.patient_with("Grace", "Hopper", phone="+447700900003")
SHAH = records.provider("Dr Priya Shah")
FOLLOW_UP = records.appointment_type("Follow-up", providers=(SHAH,))
ROOM = LocationRecord(id=uuid.uuid4(), version=1, name="Room 2", active=True)
# Ada's next appointment: the day after tomorrow at 14:30 in the clinic (09:00 UTC).
ADA_NEXT = datetime.combine(TODAY + timedelta(days=2), time(14, 30), tzinfo=CLINIC_ZONE)
BOOKING_CONFIRMATION = CommunicationType.CONFIRMATION.label


def visit(
    who: PatientRecord, start: datetime, status: AppointmentStatus = AppointmentStatus.BOOKED
) -> AppointmentRecord:
    booked = records.appointment(SHAH, who, start.astimezone(UTC), status=status)
    return records.typed(booked, FOLLOW_UP).model_copy(update={"location_id": ROOM.id})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    opened.set_meta({"country": "GB", "time_zone": CLINIC_ZONE.key})
    opened.apply_page(
        records.page(
            patients=[ADA, ALAN, GRACE],
            staff=[ALEX],
            providers=[SHAH],
            appointment_types=[FOLLOW_UP],
            locations=[ROOM],
            appointments=[
                # Cancelled and earlier: never the one a wording speaks of.
                visit(ADA, ADA_NEXT - timedelta(days=1), AppointmentStatus.CANCELLED),
                visit(ADA, ADA_NEXT),
                visit(ADA, ADA_NEXT + timedelta(days=7)),
                # Grace came in today, and is expected again later on (Alan has nothing).
                visit(GRACE, max(DAY_START, NOW - timedelta(hours=2)), AppointmentStatus.COMPLETED),
                visit(GRACE, max(DAY_START, NOW - timedelta(minutes=10))),
            ],
        ),
        synced_at=NOW,
    )
    yield opened
    opened.close()


def open_patient(
    qtbot: QtBot,
    runner: TaskRunner,
    store: Store,
    patient: PatientRecord,
    hub: ChangeHub | None = None,
) -> MessagesPage:
    page = MessagesPage(
        hub or ChangeHub(runner),
        store,
        CLINIC_ZONE,
        author=AUTHOR,
        role=Role.FRONT_DESK,
        country="GB",
        clinic=CLINIC,
    )
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    page.open_patient(patient.id)
    qtbot.waitUntil(lambda: page.composer.wording.isEnabled(), timeout=WAIT_MS)
    return page


def item_of(composer: Composer, label: str) -> tuple[int, bool, str]:
    """The wording's row in the list, whether it can be chosen, and its tooltip."""
    row = composer.wording.findText(label)
    assert row > 0, label
    model = composer.wording.model()
    assert isinstance(model, QStandardItemModel)
    item = model.item(row)
    return row, item.isEnabled(), item.toolTip()


def pick(qtbot: QtBot, composer: Composer, label: str) -> None:
    """Open the list of wordings with the mouse, highlight ``label`` and press Enter (a
    greyed wording cannot be highlighted, so Enter then chooses nothing)."""
    combo = composer.wording
    qtbot.mouseClick(combo, LEFT)
    view = combo.view()
    qtbot.waitUntil(view.isVisible, timeout=WAIT_MS)
    row, _enabled, _tip = item_of(composer, label)
    view.setCurrentIndex(view.model().index(row, 0))
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=WAIT_MS)


def tick(qtbot: QtBot, composer: Composer, *wanted: Channel) -> None:
    for channel, box in composer.boxes.items():
        if box.isChecked() != (channel in wanted):
            qtbot.mouseClick(box, LEFT)
    assert composer.channels() == wanted


def answer(qtbot: QtBot, composer: Composer, text: str) -> QMessageBox:
    """Click ``text`` in the question the composer is asking."""
    question = composer.replace_question
    assert question is not None
    assert question.isVisible()
    [button] = [b for b in question.buttons() if b.text() == text]
    qtbot.mouseClick(button, LEFT)
    qtbot.waitUntil(lambda: not question.isVisible(), timeout=WAIT_MS)
    return question


# --- filling in -----------------------------------------------------------------------


def test_a_booking_confirmation_is_filled_in_with_the_patients_name_and_local_time(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    composer = open_patient(qtbot, runner, store, ADA).composer
    assert composer.channels() == (Channel.SMS,)
    _row, enabled, tip = item_of(composer, BOOKING_CONFIRMATION)
    assert [composer.wording.itemText(n) for n in range(1, composer.wording.count())] == [
        kind.label for kind in CommunicationType
    ]
    assert enabled

    pick(qtbot, composer, BOOKING_CONFIRMATION)
    when = f"{ADA_NEXT:%A} {ADA_NEXT.day} {ADA_NEXT:%B} at 14:30"
    expected = (
        f"{CLINIC}: Hi Ada, your appointment with Dr Priya Shah is booked for {when} (Room 2)."
    )
    assert composer.body.toPlainText() == expected
    assert tip == expected  # the list shows what each wording would say
    assert composer.wording.currentIndex() == 0  # ready to choose again
    assert composer.send_button.isEnabled()

    # By e-mail as well: the subject from the e-mail wording, the text still fits a text.
    tick(qtbot, composer, Channel.SMS, Channel.EMAIL)
    pick(qtbot, composer, BOOKING_CONFIRMATION)
    assert composer.replace_question is None  # only a wording's words were in the box
    assert composer.subject.text() == (
        f"Your appointment at {CLINIC} on {ADA_NEXT:%A} {ADA_NEXT.day} {ADA_NEXT:%B}"
    )
    assert composer.body.toPlainText() == expected

    # By e-mail only: the e-mail's own words, signed with the clinic's name.
    tick(qtbot, composer, Channel.EMAIL)
    pick(qtbot, composer, BOOKING_CONFIRMATION)
    body = composer.body.toPlainText()
    assert body.startswith(
        f"Dear Ada,\n\nYour appointment with Dr Priya Shah is booked for {when} (Room 2)."
    )
    assert body.endswith(f"Kind regards,\n{CLINIC}")
    assert "{" not in body


def test_wordings_that_cannot_be_filled_in_are_greyed_with_the_reason(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    composer = open_patient(qtbot, runner, store, ALAN).composer
    _row, enabled, tip = item_of(composer, BOOKING_CONFIRMATION)
    assert not enabled
    assert tip == "It needs an upcoming appointment, and Alan has none on this desk."
    pick(qtbot, composer, BOOKING_CONFIRMATION)  # a greyed wording cannot be chosen
    assert composer.body.toPlainText() == ""

    # Chosen anyway (the list was open while a sync took the appointment away): one line
    # says why, and the box is left as it was.
    composer.body.setPlainText("Hello Alan")
    composer.use_wording(CommunicationType.CONFIRMATION)
    assert composer.wording_note.text() == (
        "“Booking confirmation” cannot be used for this patient: it needs an upcoming "
        "appointment, and Alan has none on this desk."
    )
    assert composer.body.toPlainText() == "Hello Alan"
    assert composer.replace_question is None

    # What only the server knows keeps a wording greyed even with an appointment.
    reasons = {
        label: item_of(composer, label)[2]
        for label in ("Running late", "Booking request rejected", "After the visit", "On the day")
    }
    ada = open_patient(qtbot, runner, store, ADA).composer
    assert not item_of(ada, "Running late")[1]
    assert item_of(ada, "Running late")[2] == (
        "It needs how many minutes late the provider is running, which only the server fills "
        "in, when it sends it by itself."
    )
    assert item_of(ada, "Booking request rejected")[2].startswith(
        "It needs why a booking request was turned down"
    )
    # "On the day" is for an appointment today; "after the visit" for one they came to.
    assert not item_of(ada, "On the day")[1]
    assert item_of(ada, "On the day")[2] == (
        "It is for an appointment today, and Ada has none later today on this desk."
    )
    assert item_of(ada, "After the visit")[2] == (
        "It is for after a visit, and Ada has not come in today."
    )
    assert reasons["After the visit"] == "It is for after a visit, and Alan has not come in today."
    usable = [kind.label for kind in CommunicationType if item_of(ada, kind.label)[1]]
    assert usable == [
        "Booking confirmation",
        "Reminder (48 hours before)",
        "Booking request confirmed",
    ]


def test_today_s_wordings_speak_of_today_s_appointments(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    composer = open_patient(qtbot, runner, store, GRACE).composer
    pick(qtbot, composer, "After the visit")
    assert composer.body.toPlainText() == f"{CLINIC}: thank you for your visit today, Grace."
    pick(qtbot, composer, "On the day")
    later = max(DAY_START, NOW - timedelta(minutes=10)).astimezone(CLINIC_ZONE)
    assert composer.body.toPlainText() == (
        f"{CLINIC}: see you today at {later:%H:%M} with Dr Priya Shah (Room 2)."
    )


def test_the_clinics_own_wording_wins_over_the_standard_one(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    hub = ChangeHub(runner)
    composer = open_patient(qtbot, runner, store, ADA, hub).composer
    store.apply_page(
        records.page(
            message_templates=[
                MessageTemplateRecord(
                    id=uuid.uuid4(),
                    version=7,
                    kind=CommunicationType.CONFIRMATION.value,
                    channel=Channel.SMS,
                    purpose=Purpose.CARE,
                    subject="",
                    body="Hello {{ patient.first_name }}, see you {{ appointment.when }}"
                    "{% if clinic.phone %}, or call {{ clinic.phone }}{% endif %}.",
                )
            ]
        ),
        synced_at=NOW,
    )
    hub.announce(SYNCED, origin=SYNC)
    own = f"Hello Ada, see you {ADA_NEXT:%A} {ADA_NEXT.day} {ADA_NEXT:%B} at 14:30."
    qtbot.waitUntil(lambda: item_of(composer, BOOKING_CONFIRMATION)[2] == own, timeout=WAIT_MS)
    pick(qtbot, composer, BOOKING_CONFIRMATION)
    assert composer.body.toPlainText() == own
    # The e-mail was not reworded: its subject is still the standard one.
    tick(qtbot, composer, Channel.SMS, Channel.EMAIL)
    pick(qtbot, composer, BOOKING_CONFIRMATION)
    assert composer.subject.text().startswith(f"Your appointment at {CLINIC} on ")
    assert composer.body.toPlainText() == own


# --- what was typed -----------------------------------------------------------------------


def test_typed_words_are_replaced_only_when_staff_say_so(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    composer = open_patient(qtbot, runner, store, ADA).composer
    composer.body.setFocus()
    qtbot.keyClicks(composer.body, "Your results are in")

    pick(qtbot, composer, BOOKING_CONFIRMATION)
    question = answer(qtbot, composer, "Keep what I wrote")
    assert question.text() == "Replace what you wrote with the “Booking confirmation” wording?"
    assert question.icon() is QMessageBox.Icon.Question
    assert composer.body.toPlainText() == "Your results are in"

    pick(qtbot, composer, BOOKING_CONFIRMATION)
    answer(qtbot, composer, "Replace")
    filled = composer.body.toPlainText()
    assert filled.startswith(f"{CLINIC}: Hi Ada, your appointment")

    # The wording, edited, is typed text again: another wording asks before it goes.
    composer.replace_question = None
    qtbot.keyClicks(composer.body, " Reply YES")
    pick(qtbot, composer, "Reminder (48 hours before)")
    answer(qtbot, composer, "Keep what I wrote")
    assert composer.body.toPlainText() == f"{filled} Reply YES"


def test_sending_after_choosing_a_wording_sends_the_edited_text_once(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = open_patient(qtbot, runner, store, ADA)
    composer = page.composer
    tick(qtbot, composer, Channel.SMS, Channel.EMAIL)
    pick(qtbot, composer, BOOKING_CONFIRMATION)
    subject, filled = composer.subject.text(), composer.body.toPlainText()
    assert subject.startswith(f"Your appointment at {CLINIC} on ")
    composer.body.setFocus()
    composer.body.moveCursor(composer.body.textCursor().MoveOperation.End)
    qtbot.keyClicks(composer.body, " Reply YES to confirm.")
    qtbot.mouseClick(composer.send_button, LEFT)
    qtbot.mouseClick(composer.send_button, LEFT)
    assert composer.body.toPlainText() == ""
    qtbot.waitUntil(lambda: len(bubbles(page.view)) == 1, timeout=WAIT_MS)
    sends = [c for c in queued(store) if c["kind"] == "send_message"]
    assert [(c["body"], c["subject"], c["channels"]) for c in sends] == [
        (f"{filled} Reply YES to confirm.", subject, ["sms", "email"])
    ]


def test_staff_who_may_not_send_cannot_use_a_wording_either(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    page = MessagesPage(
        ChangeHub(runner), store, CLINIC_ZONE, author=AUTHOR, role=Role.READ_ONLY, clinic=CLINIC
    )
    qtbot.addWidget(page)
    page.show()
    page.open_patient(ADA.id)
    qtbot.waitUntil(lambda: page.composer.facts is not None, timeout=WAIT_MS)
    assert not page.composer.wording.isEnabled()
    page.composer.use_wording(CommunicationType.CONFIRMATION)
    assert page.composer.body.toPlainText() == ""
