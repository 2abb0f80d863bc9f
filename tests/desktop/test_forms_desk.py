"""Clinic forms and video consultations at the desk, against a real server and a real
SQLCipher store: the form builder (a new form is version 1, a change version 2, an
unchanged save sends nothing; a refused question is shown at the question without asking
the server, and goes as it is corrected; Cancel asks before discarding; someone else's
newer version is refused in a dialog; the list read again as forms go out), the video
room address, the Forms tab of a patient's file (listed from the desk's copy after a
pull, answers read from the server and shown in full, withdrawing after asking, a calm
word offline), Worklists → Incomplete forms (a new patient first, gone once complete
after a pull, "Open file" on the Forms tab), and the diary's hover card and menu (form
completion, "all complete" told from no forms, the video room)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox, QPushButton, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from common.appointments import AppointmentStatus
from common.forms import FormKind, FormStatus
from common.roles import Role
from desktop.diary.model import summary
from desktop.diary.view import DiaryView
from desktop.kit.ops import SYNC, ChangeHub, Topic, synced
from desktop.kit.tasks import TaskRunner
from desktop.mainwindow import MainWindow
from desktop.patients.forms import OFFLINE, AnswersDialog
from desktop.patients.page import PatientsPage
from desktop.settings.forms import (
    ADDRESS_UNCHANGED,
    DISCARD_TITLE,
    NOTHING_CHANGED,
    FormBuilderDialog,
    FormsTab,
)
from desktop.settings.page import SettingsPage
from desktop.worklists.forms import IncompleteFormsPage
from server.audit.models import AuditEvent
from server.auth.context import AuthContext
from server.changefeed import live
from server.clinics.models import Clinic
from server.db import transaction, utcnow
from server.demo import ADMIN, DEMO_TIME_ZONE, FRONT_DESK, DemoLogin
from server.forms import service as forms
from server.forms.models import FormRequest, FormTemplate, FormVersion
from server.patients.models import Patient
from server.scheduling.models import Appointment, AppointmentType, Provider
from server.web.models import PracticeProfile
from sync import account
from sync.account import Desk
from sync.engine import SyncEngine, SyncReport
from sync.forms import Completion
from sync.protocol import FormAnswerRecord, FormRequestRecord, FormResponseRecord
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
WAIT_MS = 20_000  # a deadline for what must happen, with room for a loaded CI worker
LEFT = Qt.MouseButton.LeftButton
ZONE = ZoneInfo(DEMO_TIME_ZONE)
INTAKE: list[dict[str, Any]] = [
    {"id": "reason", "kind": "text", "label": "What brings you in?"},
    {
        "id": "heard",
        "kind": "choice",
        "label": "How did you hear of us?",
        "choices": ["A friend", "The web", "A doctor"],
        "multiple": True,
    },
    {"id": "pain", "kind": "scale", "label": "How bad is the pain?"},
    {"id": "sign", "kind": "signature", "label": "Sign to confirm"},
]
CONSENT: list[dict[str, Any]] = [
    {"id": "agree", "kind": "signature", "label": "I agree to be treated"}
]


# --- the server's side, written straight into its database --------------------------------


def signed_in(server: LiveServer, folder: Path, who: DemoLogin) -> Desk:
    desk = account.sign_in(folder, server.url, "demo", who.email, who.password)
    SyncEngine(desk.store, account.sync_client(desk)).sync()
    return desk


def pull(desk: Desk) -> SyncReport:
    return SyncEngine(desk.store, account.sync_client(desk)).sync()


def clinic_id(server: LiveServer) -> uuid.UUID:
    with server.sessionmaker() as session:
        return session.scalars(select(Clinic.id).where(Clinic.slug == "demo")).one()


def admin_ctx(server: LiveServer) -> AuthContext:
    return AuthContext(
        clinic_id=clinic_id(server), device_id=None, staff_id=None, role=Role.CLINIC_ADMIN
    )


def publish(
    server: LiveServer,
    title: str,
    kind: FormKind,
    questions: list[dict[str, Any]],
    *,
    types: list[uuid.UUID] | None = None,
    template_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """A form published as an admin would (a new one, or a new version of one)."""
    with transaction(server.sessionmaker) as session:
        draft = forms.Draft(title, kind, types or [], True, questions)
        return forms.save_template(session, admin_ctx(server), draft, template_id=template_id).id


@dataclass(frozen=True)
class Booked:
    patient_id: uuid.UUID
    appointment_id: uuid.UUID
    starts_at: datetime


def book(
    server: LiveServer, patient_id: uuid.UUID, *, days: int, type_id: uuid.UUID | None = None
) -> Booked:
    """Book the patient ``days`` from now, early in the morning: the booking sends the
    clinic's forms (and makes a video room for a video type), as every booking does."""
    ctx = admin_ctx(server)
    start = (datetime.now(ZONE) + timedelta(days=days)).replace(
        hour=7, minute=10, second=0, microsecond=0
    )
    with transaction(server.sessionmaker) as session:
        provider_id = session.scalars(
            select(Provider.id)
            .where(Provider.clinic_id == ctx.clinic_id)
            .order_by(Provider.display_name)
        ).first()
        appointment = Appointment(
            clinic_id=ctx.clinic_id,
            provider_id=provider_id,
            patient_id=patient_id,
            appointment_type_id=type_id,
            starts_at=start.astimezone(UTC),
            ends_at=(start + timedelta(minutes=30)).astimezone(UTC),
        )
        session.add(appointment)
        session.flush()
        forms.booked(session, appointment, utcnow())
        return Booked(patient_id, appointment.id, start.astimezone(UTC))


def book_new_patient(
    server: LiveServer, first: str, last: str, *, days: int, type_id: uuid.UUID | None = None
) -> Booked:
    """A patient the clinic has never seen, booked ``days`` from now."""
    with transaction(server.sessionmaker) as session:
        patient = Patient(clinic_id=clinic_id(server), first_name=first, last_name=last)
        session.add(patient)
        session.flush()
        patient_id = patient.id
    return book(server, patient_id, days=days, type_id=type_id)


def requests_of(server: LiveServer, patient_id: uuid.UUID) -> dict[str, FormRequest]:
    with server.sessionmaker() as session:
        found = session.scalars(select(FormRequest).where(FormRequest.patient_id == patient_id))
        return {r.title: r for r in found}


def answer(
    server: LiveServer,
    request_id: uuid.UUID,
    patient_id: uuid.UUID,
    answers: dict[str, list[str]],
    signer: str,
) -> None:
    """The patient sends the form, as the portal would."""
    with transaction(server.sessionmaker) as session:
        forms.save_page(
            session,
            admin_ctx(server),
            request_id,
            [patient_id],
            answers,
            list(answers),
            signing=forms.Signing((signer,), "test-address"),
            now=utcnow(),
            complete=True,
        )


def versions(server: LiveServer, template_id: uuid.UUID) -> list[FormVersion]:
    with server.sessionmaker() as session:
        return list(
            session.scalars(
                select(FormVersion)
                .where(FormVersion.template_id == template_id)
                .order_by(FormVersion.number)
            )
        )


def audited(server: LiveServer, entity: str, action: str) -> int:
    with server.sessionmaker() as session:
        return (
            session.scalar(
                select(func.count()).where(AuditEvent.entity == entity, AuditEvent.action == action)
            )
            or 0
        )


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def admin(live_server: LiveServer, tmp_path: Path) -> Iterator[Desk]:
    desk = account.sign_in(tmp_path / "admin", live_server.url, "demo", ADMIN.email, ADMIN.password)
    yield desk
    desk.store.close()


@pytest.fixture
def reception(live_server: LiveServer, tmp_path: Path) -> Iterator[Desk]:
    desk = signed_in(live_server, tmp_path / "reception", FRONT_DESK)
    yield desk
    desk.store.close()


def forms_tab(qtbot: QtBot, runner: TaskRunner, desk: Desk) -> FormsTab:
    page = SettingsPage(ChangeHub(runner), desk, ZONE)
    qtbot.addWidget(page)
    page.show()
    assert page.tabs.isTabVisible(page.tabs.indexOf(page.forms))
    with qtbot.waitSignal(page.forms.settled, timeout=WAIT_MS):
        page.tabs.setCurrentWidget(page.forms)
    return page.forms


def builder_closed(qtbot: QtBot, dialog: FormBuilderDialog) -> None:
    qtbot.mouseClick(dialog.save_button, LEFT)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)


# --- the builder --------------------------------------------------------------------------


def test_the_builder_publishes_version_1_then_2_and_an_unchanged_save_sends_nothing(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    tab = forms_tab(qtbot, runner, admin)
    assert tab.model.rowCount() == 0
    assert "New form" in tab.message.text()

    dialog = tab.add()
    assert dialog is not None
    assert "publishes a new version" in dialog.note.text()
    assert "keep the version they began" in dialog.note.text()
    dialog.title.setText("New patient questionnaire")
    dialog.kind.setCurrentIndex(dialog.kind.findData(FormKind.INTAKE.value))
    dialog.add_kind.setCurrentIndex(dialog.add_kind.findData("text"))
    qtbot.mouseClick(dialog.add_button, LEFT)
    qtbot.keyClicks(dialog.q_label, "What brings you in?")
    dialog.q_help.setText("A few words are enough")
    dialog.q_help.textEdited.emit(dialog.q_help.text())
    dialog.add_kind.setCurrentIndex(dialog.add_kind.findData("choice"))
    qtbot.mouseClick(dialog.add_button, LEFT)
    assert not dialog.q_choices.isHidden()
    qtbot.keyClicks(dialog.q_label, "How did you hear of us?")
    dialog.q_choices.setPlainText("A friend\nThe web\n\nA doctor")
    dialog.q_multiple.setChecked(True)
    dialog.q_required.setChecked(False)
    dialog.add_kind.setCurrentIndex(dialog.add_kind.findData("signature"))
    qtbot.mouseClick(dialog.add_button, LEFT)
    assert dialog.q_choices.isHidden()
    assert not dialog.q_required.isEnabled(), "a signature is always required"
    qtbot.keyClicks(dialog.q_label, "Sign to confirm")
    # The signature first: move it up twice, then back down once.
    dialog.move_question(-1)
    dialog.move_question(-1)
    dialog.move_question(1)
    assert dialog.questions.item(1).text().startswith("2. Sign to confirm")
    builder_closed(qtbot, dialog)
    assert dialog.sent

    with live_server.sessionmaker() as session:
        template = session.scalars(select(FormTemplate)).one()
    [first] = versions(live_server, template.id)
    assert first.number == 1
    assert first.title == "New patient questionnaire"
    assert [(q["kind"], q["label"]) for q in first.questions] == [
        ("text", "What brings you in?"),
        ("signature", "Sign to confirm"),
        ("choice", "How did you hear of us?"),
    ]
    assert first.questions[0]["help"] == "A few words are enough"
    assert first.questions[2]["choices"] == ["A friend", "The web", "A doctor"]
    assert first.questions[2]["multiple"] is True
    assert first.questions[2]["required"] is False
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=WAIT_MS)
    # Said in the status line, and still said once the list has been read again.
    assert tab.message.text() == "Published version 1 of “New patient questionnaire”."
    assert tab.model.index(0, 2).data() == "1"
    assert tab.model.headerData(4, Qt.Orientation.Horizontal) == "In use"
    assert tab.model.index(0, 4).data() == "Yes"
    assert tab.model.index(0, 5).data() == "0"
    assert tab.model.index(0, 1).data().startswith("Intake: once per patient")

    # A changed wording publishes version 2; version 1 stays as it was.
    dialog = tab.edit(0)
    assert dialog is not None
    assert dialog.questions.count() == 3
    dialog.questions.setCurrentRow(0)
    dialog.q_label.clear()
    qtbot.keyClicks(dialog.q_label, "What brings you to the clinic?")
    builder_closed(qtbot, dialog)
    qtbot.waitUntil(lambda: tab.model.index(0, 2).data() == "2", timeout=WAIT_MS)
    assert tab.message.text() == "Published version 2 of “New patient questionnaire”."
    first, second = versions(live_server, template.id)
    assert first.questions[0]["label"] == "What brings you in?"
    assert second.questions[0]["label"] == "What brings you to the clinic?"
    assert [q["id"] for q in second.questions] == [q["id"] for q in first.questions]

    # Saved as it is: nothing goes to the server (it would audit a save).
    saves = audited(live_server, "form_templates", "save")
    dialog = tab.edit(0)
    assert dialog is not None
    builder_closed(qtbot, dialog)
    assert not dialog.sent
    assert tab.message.text() == NOTHING_CHANGED
    assert NOTHING_CHANGED == "Nothing has changed: there is nothing to publish."
    assert audited(live_server, "form_templates", "save") == saves
    assert len(versions(live_server, template.id)) == 2


def test_a_refused_question_is_shown_at_the_question_without_asking_the_server(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    tab = forms_tab(qtbot, runner, admin)
    dialog = tab.add()
    assert dialog is not None

    # No title, no question: said beside the title first.
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.isVisible()
    assert dialog.title_problem.text() == "The form's title is empty: write it, or remove it."
    dialog.title.setText("Knee check")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.problem.text() == "A form needs at least one question."

    dialog.add_kind.setCurrentIndex(dialog.add_kind.findData("text"))
    qtbot.mouseClick(dialog.add_button, LEFT)
    qtbot.keyClicks(dialog.q_label, "Which knee?")
    dialog.add_kind.setCurrentIndex(dialog.add_kind.findData("choice"))
    qtbot.mouseClick(dialog.add_button, LEFT)
    qtbot.keyClicks(dialog.q_label, "Since when?")
    dialog.q_choices.setPlainText("A week")
    dialog.add_kind.setCurrentIndex(dialog.add_kind.findData("scale"))
    qtbot.mouseClick(dialog.add_button, LEFT)  # left without wording: refused next
    dialog.questions.setCurrentRow(0)

    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.isVisible()
    assert dialog.questions.currentRow() == 1, "the refused question is chosen"
    assert dialog.question_problem.isVisibleTo(dialog)
    assert dialog.question_problem.text() == (
        "Question 2 needs at least two choices, one per line."
    )
    assert dialog.questions.item(1).text().startswith("⚠ 2. Since when?")
    assert dialog.editor.title() == "Question 2"

    dialog.q_choices.setPlainText("A week\nA month\na WEEK")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.question_problem.text() == "Question 2 lists the same choice twice."
    dialog.q_choices.setPlainText("A week\nA month")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.questions.currentRow() == 2
    assert dialog.question_problem.text() == (
        "Question 3's wording is empty: write it, or remove it."
    )
    assert not dialog.questions.item(1).text().startswith("⚠")
    with live_server.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(FormTemplate)) == 0

    dialog.remove()
    assert dialog.questions.count() == 2
    builder_closed(qtbot, dialog)
    with live_server.sessionmaker() as session:
        assert session.scalars(select(FormTemplate.title)).all() == ["Knee check"]


def test_a_form_someone_else_published_meanwhile_is_refused_in_a_dialog(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    template_id = publish(live_server, "Intake", FormKind.INTAKE, INTAKE)
    tab = forms_tab(qtbot, runner, admin)
    dialog = tab.edit(0)
    assert dialog is not None
    # Another admin publishes version 2 while this one is open.
    publish(
        live_server,
        "Intake",
        FormKind.INTAKE,
        [*INTAKE, {"id": "gp", "kind": "text", "label": "Your GP"}],
        template_id=template_id,
    )
    dialog.questions.setCurrentRow(0)
    qtbot.keyClicks(dialog.q_label, " today")
    qtbot.mouseClick(dialog.save_button, LEFT)
    qtbot.waitUntil(lambda: dialog.box is not None and dialog.box.isVisible(), timeout=WAIT_MS)
    assert dialog.box is not None
    assert dialog.box.windowTitle() == "Someone else published this form"
    assert "published a newer version of this form while you were editing" in dialog.box.text()
    assert "What you typed is still in this window" in dialog.box.text()
    assert dialog.isVisible(), "what was typed is kept"
    assert dialog.drafts[0]["label"] == "What brings you in? today"
    assert dialog.save_button.isEnabled()
    dialog.box.close()
    [*_, latest] = versions(live_server, template_id)
    assert latest.number == 2
    assert latest.questions[-1]["label"] == "Your GP"


def test_a_refusal_goes_as_soon_as_the_admin_corrects_it(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    tab = forms_tab(qtbot, runner, admin)
    dialog = tab.add()
    assert dialog is not None

    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.title_problem.isVisibleTo(dialog)
    qtbot.keyClicks(dialog.title, "Knee check")
    assert dialog.title_problem.isHidden(), "the title is written now"
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.problem.text() == "A form needs at least one question."
    dialog.add_kind.setCurrentIndex(dialog.add_kind.findData("text"))
    qtbot.mouseClick(dialog.add_button, LEFT)
    assert dialog.problem.isHidden(), "it has a question now"

    qtbot.keyClicks(dialog.q_label, "Which knee?")
    dialog.add_kind.setCurrentIndex(dialog.add_kind.findData("choice"))
    qtbot.mouseClick(dialog.add_button, LEFT)
    qtbot.keyClicks(dialog.q_label, "Since when?")
    dialog.q_choices.setPlainText("A week")
    dialog.add_kind.setCurrentIndex(dialog.add_kind.findData("scale"))
    qtbot.mouseClick(dialog.add_button, LEFT)  # left without wording
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.questions.currentRow() == 1
    assert dialog.question_problem.text() == "Question 2 needs at least two choices, one per line."
    assert dialog.questions.item(1).text().startswith("⚠ 2.")

    # Still wrong, differently: the words follow what is wrong now.
    dialog.q_choices.setPlainText("A week\nA month\na WEEK")
    assert dialog.question_problem.text() == "Question 2 lists the same choice twice."
    assert dialog.questions.item(1).text().startswith("⚠ 2.")
    # Right: the words and the ⚠ go at once, and the next question is not flagged yet.
    dialog.q_choices.setPlainText("A week\nA month")
    assert dialog.question_problem.isHidden()
    item = dialog.questions.item(1)
    assert item.text() == "2. Since when? — Choice"
    assert item.toolTip() == item.text()
    assert item.data(Qt.ItemDataRole.ForegroundRole) is None
    assert not dialog.questions.item(2).text().startswith("⚠")

    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.questions.currentRow() == 2
    assert (
        dialog.question_problem.text() == "Question 3's wording is empty: write it, or remove it."
    )
    qtbot.keyClicks(dialog.q_label, "How bad is it?")
    assert dialog.question_problem.isHidden()
    assert dialog.questions.item(2).text().startswith("3. How bad is it?")
    with live_server.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(FormTemplate)) == 0
    builder_closed(qtbot, dialog)
    with live_server.sessionmaker() as session:
        assert session.scalars(select(FormTemplate.title)).all() == ["Knee check"]


def cancel_button(dialog: FormBuilderDialog) -> QPushButton:
    buttons = dialog.findChild(QDialogButtonBox)
    assert buttons is not None
    return buttons.button(QDialogButtonBox.StandardButton.Cancel)


def test_cancel_asks_before_throwing_away_changes(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    template_id = publish(live_server, "Intake", FormKind.INTAKE, INTAKE)
    tab = forms_tab(qtbot, runner, admin)

    # Nothing changed (a question looked at is not a change): closed without asking.
    dialog = tab.edit(0)
    assert dialog is not None
    dialog.questions.setCurrentRow(2)
    qtbot.mouseClick(cancel_button(dialog), LEFT)
    assert not dialog.isVisible()
    assert dialog.asking is None

    dialog = tab.edit(0)
    assert dialog is not None
    dialog.questions.setCurrentRow(0)
    qtbot.keyClicks(dialog.q_label, " today")
    qtbot.mouseClick(cancel_button(dialog), LEFT)
    asked = dialog.asking
    assert asked is not None
    assert asked.isVisible()
    assert asked.text() == DISCARD_TITLE == "Discard your changes to this form?"
    keep = asked.defaultButton()
    assert keep is asked.button(QMessageBox.StandardButton.Cancel)
    assert keep.text() == "Keep editing"
    keep.click()
    assert dialog.isVisible()
    assert dialog.drafts[0]["label"] == "What brings you in? today"

    # Escape and the window's close button ask too; Discard throws the changes away.
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.isVisible()
    assert dialog.asking is not asked
    assert dialog.asking is not None
    assert dialog.asking.isVisible()
    dialog.asking.defaultButton().click()
    dialog.close()
    assert dialog.isVisible()
    assert dialog.asking is not None
    dialog.asking.button(QMessageBox.StandardButton.Discard).click()
    assert not dialog.isVisible()
    assert [v.number for v in versions(live_server, template_id)] == [1]

    # A new form with only a title typed is a change too.
    dialog = tab.add()
    assert dialog is not None
    qtbot.mouseClick(cancel_button(dialog), LEFT)
    assert not dialog.isVisible(), "an empty new form is thrown away without asking"
    dialog = tab.add()
    assert dialog is not None
    qtbot.keyClicks(dialog.title, "Consent")
    qtbot.mouseClick(cancel_button(dialog), LEFT)
    assert dialog.isVisible()
    assert dialog.asking is not None
    dialog.asking.button(QMessageBox.StandardButton.Discard).click()
    assert not dialog.isVisible()


def test_a_form_taken_out_of_use_reads_no_and_keeps_its_version(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    publish(live_server, "Intake", FormKind.INTAKE, INTAKE)
    tab = forms_tab(qtbot, runner, admin)
    assert tab.model.index(0, 4).data() == "Yes"
    dialog = tab.edit(0)
    assert dialog is not None
    dialog.active.setChecked(False)
    builder_closed(qtbot, dialog)
    qtbot.waitUntil(lambda: tab.model.index(0, 4).data() == "No", timeout=WAIT_MS)
    assert tab.model.index(0, 2).data() == "1"
    assert tab.message.text() == (
        "Saved “Intake”. Its questions and title are unchanged, so patients still get version 1."
    )


def test_the_sent_count_is_read_again_when_forms_go_out_and_when_the_tab_is_shown(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    publish(live_server, "New patient questionnaire", FormKind.INTAKE, CONSENT)
    hub = ChangeHub(runner)
    page = SettingsPage(hub, admin, ZONE)
    qtbot.addWidget(page)
    page.show()
    tab = page.forms
    with qtbot.waitSignal(tab.settled, timeout=WAIT_MS):
        page.tabs.setCurrentWidget(tab)
    assert tab.model.index(0, 5).data() == "0"

    # A sync brings the form sent with a booking: the hub says so, the list is read again.
    book_new_patient(live_server, "Nell", "Newcomer", days=4)
    report = pull(admin)
    assert Topic.FORMS in synced(report)
    with qtbot.waitSignal(tab.settled, timeout=WAIT_MS):
        hub.announce(synced(report), origin=SYNC)
    assert tab.model.index(0, 5).data() == "1"

    # Not on screen: not read (the server is not asked for a list nobody sees) ...
    page.tabs.setCurrentIndex(0)
    book_new_patient(live_server, "Olly", "Other", days=5)
    with qtbot.assertNotEmitted(tab.settled, wait=500):
        hub.announce({Topic.FORMS}, origin=SYNC)
    # ... but read when shown again: the tab chosen, or the page come back to.
    with qtbot.waitSignal(tab.settled, timeout=WAIT_MS):
        page.tabs.setCurrentWidget(tab)
    assert tab.model.index(0, 5).data() == "2"
    book_new_patient(live_server, "Pat", "Third", days=6)
    page.hide()
    with qtbot.waitSignal(tab.settled, timeout=WAIT_MS):
        page.show()
    assert tab.model.index(0, 5).data() == "3"


def test_the_video_room_address_is_checked_at_the_desk_and_saved(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    tab = forms_tab(qtbot, runner, admin)
    assert tab.video.text() == ""
    assert tab.video.placeholderText() == "https://meet.jit.si/{room}"

    tab.video.setText("https://video.example.org/clinic")
    qtbot.mouseClick(tab.video_button, LEFT)
    assert "with {room} where the room's name goes" in tab.video_problem.text()
    tab.video.setText("http://video.example.org/{room}")
    qtbot.mouseClick(tab.video_button, LEFT)
    assert "secure web address starting with https://" in tab.video_problem.text()
    with live_server.sessionmaker() as session:
        assert session.scalars(select(PracticeProfile.video_room_template)).one() == ""

    tab.video.setText("  https://video.example.org/demo/{room}  ")
    qtbot.mouseClick(tab.video_button, LEFT)
    qtbot.waitUntil(lambda: tab.video_message.text().startswith("Saved."), timeout=WAIT_MS)
    assert tab.video_problem.isHidden()
    assert tab.video.text() == "https://video.example.org/demo/{room}"
    with live_server.sessionmaker() as session:
        stored = session.scalars(select(PracticeProfile.video_room_template)).one()
    assert stored == "https://video.example.org/demo/{room}"

    saves = audited(live_server, "practice_profiles", "save")
    qtbot.mouseClick(tab.video_button, LEFT)
    assert tab.video_message.text() == ADDRESS_UNCHANGED
    assert audited(live_server, "practice_profiles", "save") == saves


def test_the_forms_tab_is_hidden_from_front_desk_staff(
    qtbot: QtBot, runner: TaskRunner, reception: Desk
) -> None:
    page = SettingsPage(ChangeHub(runner), reception, ZONE)
    qtbot.addWidget(page)
    assert not page.tabs.isTabVisible(page.tabs.indexOf(page.forms))
    assert page.forms.add() is None
    assert page.forms.message.text() == "Only clinic admins can change the clinic's forms."


# --- the patient's file -------------------------------------------------------------------


def patients_page(qtbot: QtBot, runner: TaskRunner, desk: Desk) -> PatientsPage:
    page = PatientsPage(ChangeHub(runner), desk.store, ZONE, author=desk.author, country=None)
    qtbot.addWidget(page)
    page.forms.set_desk(desk)
    page.show()
    page.file.tabs.setCurrentWidget(page.forms)
    return page


def test_the_forms_tab_lists_forms_after_a_pull_and_reads_the_answers_from_the_server(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, reception: Desk
) -> None:
    intake_id = publish(live_server, "New patient questionnaire", FormKind.INTAKE, INTAKE)
    publish(live_server, "Treatment consent", FormKind.CONSENT, CONSENT)
    nell = book_new_patient(live_server, "Nell", "Newcomer", days=5)
    sent = requests_of(live_server, nell.patient_id)
    answer(
        live_server,
        sent["New patient questionnaire"].id,
        nell.patient_id,
        {
            "reason": ["Knee pain"],
            "heard": ["The web", "A friend"],
            "pain": ["6"],
            "sign": ["nell newcomer"],
        },
        "Nell Newcomer",
    )
    # Published after it was answered: the answers still read under version 1.
    publish(
        live_server,
        "New patient questionnaire",
        FormKind.INTAKE,
        [{"id": "other", "kind": "text", "label": "Something else"}],
        template_id=intake_id,
    )
    pull(reception)

    page = patients_page(qtbot, runner, reception)
    tab = page.forms
    page.open_patient(nell.patient_id)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 2, timeout=WAIT_MS)
    shown = {
        tab.model.index(n, 0).data(): (tab.model.index(n, 1).data(), tab.model.index(n, 2).data())
        for n in range(2)
    }
    assert shown == {
        "New patient questionnaire": ("Intake", "Complete"),
        "Treatment consent": ("Consent", "Not started"),
    }
    assert tab.consent.text() == "No consent form signed with this clinic."
    assert not tab.read_button.isEnabled(), "nothing chosen yet"

    reads = audited(live_server, "form_requests", "read")
    row = next(n for n in range(2) if tab.model.rows[n].title == "New patient questionnaire")
    tab.table.selectRow(row)
    assert not tab.withdraw_button.isEnabled(), "a completed form stays"
    qtbot.mouseClick(tab.read_button, LEFT)
    qtbot.waitUntil(lambda: tab.dialog is not None and tab.dialog.isVisible(), timeout=WAIT_MS)
    dialog = tab.dialog
    assert dialog is not None
    assert "version 1" in dialog.heading.text()
    assert list(dialog.answers) == ["reason", "heard", "pain", "sign"]
    assert dialog.answers["reason"].text() == "Knee pain"
    assert dialog.answers["heard"].text() == "A friend, The web"
    assert dialog.answers["pain"].text() == "6 of 10"
    assert dialog.answers["sign"].text().startswith("Signed “nell newcomer” on ")
    assert audited(live_server, "form_requests", "read") == reads + 1
    dialog.close()

    # The consent signed on the portal: after the next pull, it is the consent record.
    answer(
        live_server,
        sent["Treatment consent"].id,
        nell.patient_id,
        {"agree": ["Nell Newcomer"]},
        "Nell Newcomer",
    )
    report = pull(reception)
    assert Topic.FORMS in synced(report)
    page.hub.announce(synced(report), origin=SYNC)
    qtbot.waitUntil(
        lambda: tab.consent.text().startswith("Consent records of this clinic: “Treatment"),
        timeout=WAIT_MS,
    )
    assert "Consent given" in [tab.model.index(n, 2).data() for n in range(2)]

    # Offline, the list stays and the answers are said to need the server, calmly.
    live_server.stop()
    try:
        tab.table.selectRow(row)
        qtbot.mouseClick(tab.read_button, LEFT)
        qtbot.waitUntil(lambda: tab.message.text() == OFFLINE, timeout=WAIT_MS)
        assert tab.box is None, "no error dialog for being offline"
        assert tab.model.rowCount() == 2
        assert tab.read_button.isEnabled()
    finally:
        live_server.start_again()


def test_withdraw_asks_first_and_the_file_says_withdrawn_at_once(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, reception: Desk
) -> None:
    publish(live_server, "Treatment consent", FormKind.CONSENT, CONSENT)
    nell = book_new_patient(live_server, "Nell", "Newcomer", days=5)
    pull(reception)
    page = patients_page(qtbot, runner, reception)
    tab = page.forms
    page.open_patient(nell.patient_id)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=WAIT_MS)
    tab.table.selectRow(0)
    assert tab.withdraw_button.isEnabled()

    qtbot.mouseClick(tab.withdraw_button, LEFT)
    asked = tab.box
    assert isinstance(asked, QMessageBox)
    assert asked.objectName() == "formWithdrawConfirm"
    assert asked.defaultButton() is asked.button(QMessageBox.StandardButton.Cancel)
    asked.button(QMessageBox.StandardButton.Cancel).click()
    assert requests_of(live_server, nell.patient_id)["Treatment consent"].status is (
        FormStatus.PENDING
    )

    qtbot.mouseClick(tab.withdraw_button, LEFT)
    asked = tab.box
    assert isinstance(asked, QMessageBox)
    asked.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: tab.model.index(0, 2).data() == "Withdrawn", timeout=WAIT_MS)
    assert requests_of(live_server, nell.patient_id)["Treatment consent"].status is (
        FormStatus.WITHDRAWN
    )
    assert tab.message.text() == "“Treatment consent” was withdrawn."
    assert not tab.withdraw_button.isEnabled()


LONG = (
    "Please list every medicine you take, how often you take it, who prescribed it, and "
    "whether it has ever given you side effects such as dizziness, sickness or a rash"
)


@pytest.mark.parametrize("width", [420, 620, 1000])
def test_every_question_and_answer_reads_in_full_however_long(qtbot: QtBot, width: int) -> None:
    """Wordings of every length (a form layout's label column cut the longer ones short,
    top and bottom), each with its whole height, the list scrolling when it is long."""
    request = FormRequestRecord(
        id=uuid.uuid4(),
        version=1,
        patient_id=uuid.uuid4(),
        title="New patient questionnaire",
        kind=FormKind.INTAKE,
        status=FormStatus.COMPLETE,
        sent_at=datetime.now(UTC),
        completed_at=datetime.now(UTC),
    )
    answers = [
        FormAnswerRecord(
            question_id=f"q{n}",
            label=f"{n + 1}. {LONG[: 30 + n * 25]}?",
            kind="text",
            answer="Knee pain" if n % 2 else "Aspirin each morning, " * (n + 1),
        )
        for n in range(8)
    ]
    record = FormResponseRecord(request=request, version=1, answers=answers)
    parent = QWidget()
    qtbot.addWidget(parent)
    dialog = AnswersDialog(record, ZONE, parent)
    dialog.resize(width, 480)
    dialog.show()
    qtbot.waitExposed(dialog)
    body = dialog.area.widget()
    assert body is not None
    qtbot.waitUntil(lambda: body.width() > 0)

    assert body.width() <= dialog.area.viewport().width(), "no sideways scrolling"
    for shown in answers:
        for label in (dialog.questions[shown.question_id], dialog.answers[shown.question_id]):
            assert label.width() > width // 2, "as wide as the dialog allows"
            assert label.height() >= label.heightForWidth(label.width()), label.text()
            bottom = label.mapTo(body, label.rect().bottomLeft()).y()
            assert bottom < body.height(), "within what scrolls into view"
        assert dialog.questions[shown.question_id].text() == shown.label
        assert dialog.answers[shown.question_id].text() == shown.answer
    assert dialog.area.verticalScrollBar().maximum() > 0, "a long form scrolls"


# --- the worklist --------------------------------------------------------------------------


def test_the_worklist_lists_a_new_patient_first_and_drops_them_once_complete(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, reception: Desk
) -> None:
    publish(live_server, "New patient questionnaire", FormKind.INTAKE, CONSENT)
    # A patient the clinic has seen, booked again sooner than Nell, sent a form of the
    # appointment's type: listed after her all the same.
    with live_server.sessionmaker() as session:
        kit, type_id = session.execute(
            select(Appointment.patient_id, Appointment.appointment_type_id)
            .where(
                Appointment.status == AppointmentStatus.COMPLETED,
                Appointment.appointment_type_id.is_not(None),
            )
            .order_by(Appointment.starts_at.desc())
            .limit(1)
        ).one()
    assert type_id is not None
    publish(live_server, "Before your visit", FormKind.SERVICE, CONSENT, types=[type_id])
    book(live_server, kit, days=2, type_id=type_id)
    nell = book_new_patient(live_server, "Nell", "Newcomer", days=12)
    pull(reception)

    hub = ChangeHub(runner)
    page = IncompleteFormsPage(hub, reception.store, ZONE)
    qtbot.addWidget(page)
    opened: list[uuid.UUID] = []
    page.open_patient.connect(opened.append)
    qtbot.waitUntil(lambda: page.model.rowCount() >= 2, timeout=WAIT_MS)
    first = page.model.rows[0]
    assert first.patient_id == nell.patient_id
    assert page.model.index(0, 0).data() == "Nell Newcomer"
    assert page.model.headerData(1, Qt.Orientation.Horizontal) == "New or returning"
    assert page.model.index(0, 1).data() == "New patient"
    assert page.model.index(0, 2).data() == f"{nell.starts_at.astimezone(ZONE):%a %d %b %Y %H:%M}"
    assert page.model.index(0, 3).data() == "New patient questionnaire"
    known_row = next(r for r in page.model.rows if r.patient_id == kit)
    assert not known_row.new_patient
    assert page.model.index(page.model.rows.index(known_row), 1).data() == "Returning"
    assert "Before your visit" in known_row.outstanding
    qtbot.mouseClick(page.open_buttons[0], LEFT)
    assert opened == [nell.patient_id]

    sent = requests_of(live_server, nell.patient_id)["New patient questionnaire"]
    answer(live_server, sent.id, nell.patient_id, {"agree": ["Nell Newcomer"]}, "Nell Newcomer")
    report = pull(reception)
    assert report.forms >= 1
    hub.announce(synced(report), origin=SYNC)
    qtbot.waitUntil(
        lambda: nell.patient_id not in [r.patient_id for r in page.model.rows], timeout=WAIT_MS
    )
    assert kit in [r.patient_id for r in page.model.rows]


def test_open_file_in_the_worklist_opens_the_file_on_its_forms_tab(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "FALLBACK_POLL", 3600.0)
    publish(live_server, "New patient questionnaire", FormKind.INTAKE, CONSENT)
    nell = book_new_patient(live_server, "Nell", "Newcomer", days=3)
    desk = signed_in(live_server, tmp_path / "window", FRONT_DESK)
    window = MainWindow(
        desk, TaskRunner(), SyncEngine(desk.store, account.sync_client(desk)), sync_interval=3600
    )
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: window.sync_label.text().startswith("Online"), timeout=WAIT_MS)
        worklist = window.incomplete_forms
        qtbot.waitUntil(lambda: worklist.model.rowCount() >= 1, timeout=WAIT_MS)
        file_tabs = window.patients.file.tabs
        assert file_tabs.currentIndex() == 0, "a file opens on its appointments otherwise"
        row = [r.patient_id for r in worklist.model.rows].index(nell.patient_id)
        qtbot.mouseClick(worklist.open_buttons[row], LEFT)
        assert window.pages.currentWidget() is window.patients
        assert file_tabs.currentWidget() is window.patients.forms
        forms = window.patients.forms
        qtbot.waitUntil(lambda: forms.model.rowCount() == 1, timeout=WAIT_MS)
        assert forms.model.index(0, 0).data() == "New patient questionnaire"

        # From the diary, the file opens as it did.
        file_tabs.setCurrentIndex(0)
        window.open_patient(nell.patient_id)
        assert file_tabs.currentIndex() == 0
    finally:
        window.close()
        window.runner.shutdown()
        desk.store.close()


# --- the diary ----------------------------------------------------------------------------


def test_the_hover_card_shows_form_completion_and_the_menu_opens_the_video_room(
    qtbot: QtBot, live_server: LiveServer, reception: Desk
) -> None:
    with transaction(live_server.sessionmaker) as session:
        kind = session.scalars(select(AppointmentType).order_by(AppointmentType.name)).first()
        assert kind is not None
        kind.video = True
        type_id = kind.id
    publish(live_server, "New patient questionnaire", FormKind.INTAKE, CONSENT)
    publish(live_server, "Before your video call", FormKind.SERVICE, CONSENT, types=[type_id])
    nell = book_new_patient(live_server, "Nell", "Newcomer", days=3, type_id=type_id)
    with live_server.sessionmaker() as session:
        video_url = session.get_one(Appointment, nell.appointment_id).video_url
    assert video_url is not None
    assert video_url.startswith("https://meet.jit.si/demo-")
    sent = requests_of(live_server, nell.patient_id)
    answer(
        live_server,
        sent["Before your video call"].id,
        nell.patient_id,
        {"agree": ["Nell Newcomer"]},
        "Nell Newcomer",
    )
    pull(reception)

    def entry_now() -> Any:
        day = nell.starts_at
        return next(
            e
            for e in reception.store.diary(day - timedelta(hours=1), day + timedelta(hours=1))
            if e.id == nell.appointment_id
        )

    entry = entry_now()
    text = summary(entry, ZONE)
    assert "Forms: 1 of 2 complete" in text.splitlines()
    assert f"Video: {video_url}" in text.splitlines()

    view = DiaryView()
    qtbot.addWidget(view)
    opened: list[QUrl] = []
    view.open_url = opened.append
    menu = view.status_menu(entry)
    [video] = [a for a in menu.actions() if a.text() == "Open video room"]
    video.trigger()
    assert opened == [QUrl(video_url)]
    other = next(
        e
        for e in reception.store.diary(datetime.now(UTC), datetime.now(UTC) + timedelta(days=7))
        if e.video_url is None
    )
    assert "Open video room" not in [a.text() for a in view.status_menu(other).actions()]
    assert "Video:" not in summary(other, ZONE)

    answer(
        live_server,
        sent["New patient questionnaire"].id,
        nell.patient_id,
        {"agree": ["Nell Newcomer"]},
        "Nell Newcomer",
    )
    pull(reception)
    assert "Forms: all complete" in summary(entry_now(), ZONE).splitlines()


def test_the_hover_card_tells_all_complete_from_no_forms(
    qtbot: QtBot, live_server: LiveServer, reception: Desk
) -> None:
    """A patient's intake and consent, both in: "all complete" (2 of 2), not nothing;
    a patient sent no forms (or only a withdrawn one) shows no forms line at all."""
    publish(live_server, "New patient questionnaire", FormKind.INTAKE, CONSENT)
    publish(live_server, "Treatment consent", FormKind.CONSENT, CONSENT)
    nell = book_new_patient(live_server, "Nell", "Newcomer", days=3)
    sent = requests_of(live_server, nell.patient_id)
    assert set(sent) == {"New patient questionnaire", "Treatment consent"}
    for request in sent.values():
        answer(
            live_server, request.id, nell.patient_id, {"agree": ["Nell Newcomer"]}, "Nell Newcomer"
        )
    olly = book_new_patient(live_server, "Olly", "Other", days=3)
    ctx = admin_ctx(live_server)
    with transaction(live_server.sessionmaker) as session:
        for request in session.scalars(
            select(FormRequest).where(FormRequest.patient_id == olly.patient_id)
        ):
            forms.withdraw(session, ctx, request.id)
    pull(reception)

    start, end = nell.starts_at - timedelta(hours=2), nell.starts_at + timedelta(hours=2)
    shown = {e.id: e for e in reception.store.diary(start, end)}
    nells = shown[nell.appointment_id]
    assert nells.forms == Completion(2, 2)
    assert "Forms: all complete" in summary(nells, ZONE).splitlines()
    ollys = shown[olly.appointment_id]
    assert ollys.forms == Completion()
    assert not [line for line in summary(ollys, ZONE).splitlines() if line.startswith("Forms")]
    # A day this desk does not keep, fetched from the server, reads the same.
    fetched = reception.store.entries_for(account.sync_client(reception).appointments(start, end))
    [fetched_nell] = [e for e in fetched if e.id == nell.appointment_id]
    assert fetched_nell.forms == Completion(2, 2)
    [fetched_olly] = [e for e in fetched if e.id == olly.appointment_id]
    assert fetched_olly.forms == Completion()
