"""The wording editor (Settings → Messages → Wording): what the patient would read follows
what is typed, a template the server would refuse is refused here in the same words with
Save off, a text's cost is counted as carriers count it, and Save hands over the command
the outbox will send (the template's own id and version, or a new id)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from pytestqt.qtbot import QtBot

from common.message_templates import (
    SAMPLE_CLINIC,
    ClinicFacts,
    CommunicationType,
    defaults_for,
)
from common.messaging import Channel, Purpose
from desktop.kit.tasks import TaskRunner
from desktop.settings.templates import EDITED, OWN, STANDARD, TemplateEditor
from sync.protocol import MessageTemplateRecord, SaveMessageTemplate

pytestmark = pytest.mark.qt
LEFT = Qt.MouseButton.LeftButton
WAIT_MS = 20_000  # a deadline for what must happen, with room for a loaded CI worker
ENGLISH = defaults_for("en")
OWN_REMINDER = MessageTemplateRecord(
    id=uuid.uuid4(),
    version=42,
    kind=CommunicationType.REMINDER.value,
    channel=Channel.SMS,
    purpose=Purpose.REMINDER,
    subject="",
    body="{{ clinic.name }}: see you {{ appointment.when }}.",
)


@dataclass
class Recorder:
    """Stands in for the outbox: keeps what Save handed over and says it was queued."""

    commands: list[SaveMessageTemplate] = field(default_factory=list)

    def __call__(self, command: SaveMessageTemplate, done: Callable[[], None]) -> None:
        self.commands.append(command)
        done()


@dataclass
class Source:
    """The clinic's saved templates, as the desk's store would give them; counts reads."""

    records: list[MessageTemplateRecord] = field(default_factory=list)
    reads: int = 0

    def __call__(self) -> list[MessageTemplateRecord]:
        self.reads += 1
        return list(self.records)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def source() -> Source:
    return Source([OWN_REMINDER])


@pytest.fixture
def editor(qtbot: QtBot, runner: TaskRunner, recorder: Recorder, source: Source) -> TemplateEditor:
    made = TemplateEditor(runner, templates=source, save=recorder)
    qtbot.addWidget(made)
    made.show()
    made.reload()
    qtbot.waitUntil(lambda: made.records != {}, timeout=WAIT_MS)
    return made


def choose(editor: TemplateEditor, kind: CommunicationType, channel: Channel) -> None:
    editor.list.setCurrentItem(editor.items[kind, channel])


def retype(qtbot: QtBot, editor: TemplateEditor, text: str) -> None:
    """Clear the message and type ``text`` into it, key by key."""
    editor.body.setFocus()
    editor.body.selectAll()
    qtbot.keyClick(editor.body, Qt.Key.Key_Delete)
    for n, line in enumerate(text.split("\n")):
        if n:
            qtbot.keyClick(editor.body, Qt.Key.Key_Return)
        qtbot.keyClicks(editor.body, line)


def previewed(editor: TemplateEditor) -> str:
    return editor.preview.toPlainText()


# --- the preview -------------------------------------------------------------------------


def test_the_preview_follows_what_is_typed(qtbot: QtBot, editor: TemplateEditor) -> None:
    choose(editor, CommunicationType.CONFIRMATION, Channel.SMS)
    assert editor.body.toPlainText() == ENGLISH[CommunicationType.CONFIRMATION].sms.body
    assert previewed(editor).startswith("Brook Street Clinic: Hi Alex, your appointment")
    assert editor.items[CommunicationType.CONFIRMATION, Channel.SMS].text(1) == STANDARD

    retype(qtbot, editor, "See you {{ appointment.when }}, {{ patient.first_name }}!")

    qtbot.waitUntil(
        lambda: previewed(editor) == "See you Tuesday 4 March at 13:45, Alex!", timeout=WAIT_MS
    )
    assert editor.state.text() == "Unsaved changes"
    assert editor.items[CommunicationType.CONFIRMATION, Channel.SMS].text(1) == EDITED
    assert editor.save_button.isEnabled()


def test_an_email_previews_its_subject_and_its_html(qtbot: QtBot, editor: TemplateEditor) -> None:
    choose(editor, CommunicationType.DAY_OF, Channel.EMAIL)
    assert not editor.subject.isHidden()
    assert editor.sms_size.isHidden(), "an e-mail costs no segments"
    editor.subject.setFocus()
    editor.subject.selectAll()
    qtbot.keyClicks(editor.subject, "Today: {{ appointment.provider }}")
    retype(qtbot, editor, "Hello {{ patient.first_name }}\n\nDetails: {{ link }}")

    qtbot.waitUntil(
        lambda: editor.preview_subject.text() == "Subject: Today: Dr Priya Shah", timeout=WAIT_MS
    )
    assert previewed(editor).splitlines() == [  # two paragraphs
        "Hello Alex",
        "Details: https://brookstreet.example/a/7Kq2",
    ]
    html = editor.preview.toHtml()
    assert 'href="https://brookstreet.example/a/7Kq2"' in html, "the link is a link"


def test_the_preview_is_in_the_clinics_language_with_its_details(editor: TemplateEditor) -> None:
    editor.set_clinic(
        ClinicFacts("Praxis Weber", "030 1234567", None, "Europe/Berlin", language="de")
    )
    choose(editor, CommunicationType.CONFIRMATION, Channel.SMS)

    assert editor.body.toPlainText() == defaults_for("de")[CommunicationType.CONFIRMATION].sms.body
    assert previewed(editor).startswith("Praxis Weber: Hallo Alex")
    assert "Dienstag, 4. März um 13:45" in previewed(editor)


def test_a_blank_the_clinic_lacks_is_said_under_the_preview(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    editor.set_clinic(ClinicFacts("Brook Street Clinic", None, None, "Europe/London"))
    choose(editor, CommunicationType.RUNNING_LATE, Channel.SMS)
    retype(qtbot, editor, "Call us on {{ clinic.phone }}")

    qtbot.waitUntil(lambda: "clinic.phone" in editor.preview_problem.text(), timeout=WAIT_MS)
    assert "nothing to put in" in editor.preview_problem.text()
    assert editor.problem.isHidden(), "the template itself is fine"
    assert editor.save_button.isEnabled()


# --- refused in words ------------------------------------------------------------------


def test_an_unknown_blank_is_refused_in_words_and_save_stays_off(
    qtbot: QtBot, editor: TemplateEditor, recorder: Recorder
) -> None:
    choose(editor, CommunicationType.REMINDER, Channel.SMS)
    retype(qtbot, editor, "Dear {{ patient.middle_name }}, see you soon.")

    qtbot.waitUntil(lambda: not editor.problem.isHidden(), timeout=WAIT_MS)
    said = editor.problem.text()
    assert "“{{ patient.middle_name }}” is not something a message can include" in said
    assert "Did you mean “{{ patient.last_name }}”?" in said
    assert not editor.save_button.isEnabled()
    assert previewed(editor) == ""
    assert "once the problems are put right" in editor.preview_problem.text()
    qtbot.mouseClick(editor.save_button, LEFT)
    editor.save()  # even if the button were reached somehow
    assert recorder.commands == []

    editor.body.moveCursor(QTextCursor.MoveOperation.Start)
    retype(qtbot, editor, "Dear {{ patient.first_name }}, see you soon.")
    qtbot.waitUntil(editor.save_button.isEnabled, timeout=WAIT_MS)
    assert editor.problem.isHidden()
    assert previewed(editor) == "Dear Alex, see you soon."


def test_an_email_without_a_subject_cannot_be_saved(qtbot: QtBot, editor: TemplateEditor) -> None:
    choose(editor, CommunicationType.POST_VISIT, Channel.EMAIL)
    editor.subject.clear()
    qtbot.waitUntil(lambda: "An e-mail needs a subject." in editor.problem.text(), timeout=WAIT_MS)
    assert not editor.save_button.isEnabled()


# --- what a text costs -----------------------------------------------------------------


def test_segments_are_counted_on_what_is_sent_and_an_emoji_makes_it_ucs2(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    choose(editor, CommunicationType.DAY_OF, Channel.SMS)
    size, warning = editor.sms_size, editor.encoding_warning

    editor.body.setPlainText("{{ patient.first_name }}")  # "Alex" is what is counted
    qtbot.waitUntil(lambda: size.text() == "1 SMS · GSM-7 · 156 characters left", timeout=WAIT_MS)
    assert warning.text() == ""

    editor.body.setPlainText("x" * 161)  # one over: two parts of 153
    qtbot.waitUntil(lambda: size.text() == "2 SMS · GSM-7 · 145 characters left", timeout=WAIT_MS)

    editor.body.setPlainText("x" * 68 + "😀")  # two UTF-16 units: exactly one UCS-2 text
    qtbot.waitUntil(lambda: size.text() == "1 SMS · UCS-2 · 0 characters left", timeout=WAIT_MS)
    assert "“😀” is not in the GSM alphabet" in warning.text()
    assert "70 characters fit in one text instead of 160" in warning.text()

    editor.body.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(editor.body, "y")  # 71 units: parts of 67, so 67 + 4
    qtbot.waitUntil(lambda: size.text() == "2 SMS · UCS-2 · 63 characters left", timeout=WAIT_MS)

    editor.body.setPlainText("x" * 66 + "😀" + "x" * 10)  # the pair never straddles parts
    qtbot.waitUntil(lambda: size.text() == "2 SMS · UCS-2 · 55 characters left", timeout=WAIT_MS)


# --- blanks, defaults and saving -------------------------------------------------------


def test_double_clicking_a_blank_puts_it_where_the_cursor_is(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    choose(editor, CommunicationType.DAY_OF, Channel.SMS)
    editor.body.setPlainText("Hello !")
    cursor = editor.body.textCursor()
    cursor.setPosition(6)
    editor.body.setTextCursor(cursor)
    editor.body.setFocus()
    row = next(
        n
        for n in range(editor.variables.count())
        if editor.variables.item(n).data(Qt.ItemDataRole.UserRole) == "patient.first_name"
    )
    editor.variables.scrollToItem(editor.variables.item(row))
    spot = editor.variables.visualItemRect(editor.variables.item(row)).center()

    qtbot.mouseClick(editor.variables.viewport(), LEFT, pos=spot)  # a real double-click:
    qtbot.mouseDClick(editor.variables.viewport(), LEFT, pos=spot)  # press, release, again

    assert editor.body.toPlainText() == "Hello {{ patient.first_name }}!"
    qtbot.waitUntil(lambda: previewed(editor) == "Hello Alex!", timeout=WAIT_MS)


def test_restore_default_brings_back_the_standard_wording(
    qtbot: QtBot, editor: TemplateEditor, recorder: Recorder
) -> None:
    choose(editor, CommunicationType.REQUEST_REJECTED, Channel.SMS)
    retype(qtbot, editor, "Sorry.")
    assert editor.state.text() == "Unsaved changes"

    qtbot.mouseClick(editor.restore_button, LEFT)

    assert editor.body.toPlainText() == ENGLISH[CommunicationType.REQUEST_REJECTED].sms.body
    assert editor.state.text() == "", "the standard wording is what the clinic has"
    assert not editor.save_button.isEnabled()
    assert "Dr Shah is away that week." in previewed(editor)

    choose(editor, CommunicationType.REMINDER, Channel.SMS)  # the clinic's own wording
    assert editor.body.toPlainText() == OWN_REMINDER.body
    qtbot.mouseClick(editor.restore_button, LEFT)
    assert editor.body.toPlainText() == ENGLISH[CommunicationType.REMINDER].sms.body
    assert editor.save_button.isEnabled(), "going back to the standard wording is a change"
    qtbot.mouseClick(editor.save_button, LEFT)
    [command] = recorder.commands
    assert (command.template_id, command.base_version) == (OWN_REMINDER.id, OWN_REMINDER.version)
    assert command.body == ENGLISH[CommunicationType.REMINDER].sms.body


def test_save_replacing_the_standard_wording_hands_over_a_new_template(
    qtbot: QtBot, editor: TemplateEditor, recorder: Recorder, source: Source
) -> None:
    choose(editor, CommunicationType.CONFIRMATION, Channel.EMAIL)
    editor.subject.setText("  Booked: {{ appointment.date }}  ")
    retype(qtbot, editor, "See you {{ appointment.when }}.")
    qtbot.waitUntil(editor.save_button.isEnabled, timeout=WAIT_MS)
    reads = source.reads

    qtbot.mouseClick(editor.save_button, LEFT)

    [command] = recorder.commands
    assert isinstance(command.template_id, uuid.UUID)
    assert command.template_id != OWN_REMINDER.id
    assert command.base_version is None
    assert (command.message_kind, command.channel) == ("confirmation", Channel.EMAIL)
    assert command.subject == "Booked: {{ appointment.date }}", "sent as the server keeps it"
    assert command.body == "See you {{ appointment.when }}."
    assert editor.state.text() == ""
    assert not editor.save_button.isEnabled(), "saved: nothing more to hand over"
    qtbot.waitUntil(lambda: source.reads > reads, timeout=WAIT_MS)  # read again after saving


def test_save_of_the_clinics_own_template_names_its_id_and_version(
    qtbot: QtBot, editor: TemplateEditor, recorder: Recorder, source: Source
) -> None:
    choose(editor, CommunicationType.REMINDER, Channel.SMS)
    assert editor.items[CommunicationType.REMINDER, Channel.SMS].text(1) == OWN
    assert previewed(editor) == "Brook Street Clinic: see you Tuesday 4 March at 13:45."
    editor.body.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(editor.body, " Bring your glasses.")
    qtbot.waitUntil(editor.save_button.isEnabled, timeout=WAIT_MS)

    qtbot.mouseClick(editor.save_button, LEFT)

    [command] = recorder.commands
    assert command == SaveMessageTemplate(
        template_id=OWN_REMINDER.id,
        base_version=OWN_REMINDER.version,
        message_kind="reminder",
        channel=Channel.SMS,
        subject="",
        body=OWN_REMINDER.body + " Bring your glasses.",
    )
    # The store now has it at a new version: the next save is based on that one.
    source.records = [OWN_REMINDER.model_copy(update={"version": 43, "body": command.body})]
    editor.reload()
    qtbot.waitUntil(lambda: editor.records[CommunicationType.REMINDER, Channel.SMS].version == 43)
    qtbot.keyClicks(editor.body, "!")
    qtbot.waitUntil(editor.save_button.isEnabled, timeout=WAIT_MS)
    qtbot.mouseClick(editor.save_button, LEFT)
    assert recorder.commands[-1].base_version == 43


def test_a_draft_is_kept_while_another_message_is_looked_at(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    choose(editor, CommunicationType.POST_VISIT, Channel.SMS)
    retype(qtbot, editor, "Thanks, {{ patient.first_name }}.")
    choose(editor, CommunicationType.DAY_OF, Channel.EMAIL)
    assert editor.state.text() == ""
    choose(editor, CommunicationType.POST_VISIT, Channel.SMS)
    assert editor.body.toPlainText() == "Thanks, {{ patient.first_name }}."
    assert editor.state.text() == "Unsaved changes"


def test_without_a_place_to_save_the_wording_can_be_read_but_not_saved(
    qtbot: QtBot, runner: TaskRunner
) -> None:
    editor = TemplateEditor(runner, clinic=SAMPLE_CLINIC)
    qtbot.addWidget(editor)
    retype(qtbot, editor, "Hello {{ patient.first_name }}")
    qtbot.waitUntil(lambda: previewed(editor) == "Hello Alex", timeout=WAIT_MS)
    assert not editor.save_button.isEnabled()
