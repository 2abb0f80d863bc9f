"""The Treatment tab of a patient's file, against a real server: reception starts a plan,
moves it on only after saying yes (Cancel is the default and changes nothing), adds a
note and a photo (a thumbnail comes back from the server), a file that is not a photo is
refused in a dialog with the server's rules' words; what the library gave the patient
shows, and whether they opened it. Offline the tab says so calmly and comes back when
the server does; read-only staff see and change nothing."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.roles import Role
from common.treatment import DEFAULT_PHASES
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from desktop.patients.page import PatientsPage
from desktop.patients.treatment import ON_SERVER, TreatmentTab
from desktop.settings.online import SIGNED_IN_OFFLINE
from server.clinics.models import Clinic
from server.content.models import ContentDelivery
from server.db import transaction, utcnow
from server.demo import ADMIN, DEMO_TIME_ZONE, FRONT_DESK, DemoLogin, demo_pdf, demo_png
from server.patients.models import Patient
from server.treatment.models import ProgressNote, ProgressPhoto, TreatmentPlan
from sync import account
from sync.account import Desk
from sync.client import ServerClient
from sync.engine import SyncEngine
from sync.protocol import SaveContentItem
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
WAIT_MS = 20_000
LEFT = Qt.MouseButton.LeftButton
ZONE = ZoneInfo(DEMO_TIME_ZONE)
DEFAULT_PHASES_LIST = list(DEFAULT_PHASES)


def signed_in(server: LiveServer, folder: Path, who: DemoLogin) -> Desk:
    desk = account.sign_in(folder, server.url, "demo", who.email, who.password)
    SyncEngine(desk.store, account.sync_client(desk)).sync()
    return desk


@pytest.fixture
def desks(live_server: LiveServer, tmp_path: Path) -> Iterator[tuple[Desk, Desk]]:
    admin = signed_in(live_server, tmp_path / "admin", ADMIN)
    reception = signed_in(live_server, tmp_path / "reception", FRONT_DESK)
    yield admin, reception
    admin.store.close()
    reception.store.close()


@pytest.fixture
def patient_id(live_server: LiveServer) -> uuid.UUID:
    with live_server.sessionmaker() as session:
        clinic_id = session.scalars(select(Clinic.id).where(Clinic.slug == "demo")).one()
        return session.scalars(
            select(Patient.id)
            .where(Patient.clinic_id == clinic_id)
            .order_by(Patient.last_name, Patient.first_name, Patient.id)
        ).first()  # type: ignore[return-value]


def treatment_tab(
    qtbot: QtBot, runner: TaskRunner, desk: Desk
) -> tuple[PatientsPage, TreatmentTab]:
    page = PatientsPage(ChangeHub(runner), desk.store, ZONE, author=desk.author, country=None)
    qtbot.addWidget(page)
    page.treatment.set_desk(desk)
    page.show()
    page.file.tabs.setCurrentWidget(page.treatment)
    return page, page.treatment


def a_library_item(admin: Desk) -> None:
    client = account.sync_client(admin)
    try:
        client.save_content_item(
            SaveContentItem(
                kind="article",
                title="Caring for your braces",
                body="Brush after every meal.",
                phases=["Fitting"],
            )
        )
    finally:
        client.close()


def plans_on_server(server: LiveServer, patient_id: uuid.UUID) -> list[TreatmentPlan]:
    with server.sessionmaker() as session:
        rows = list(
            session.scalars(select(TreatmentPlan).where(TreatmentPlan.patient_id == patient_id))
        )
        for row in rows:
            session.expunge(row)
        return rows


def test_reception_starts_a_plan_moves_it_after_asking_and_adds_a_note_and_a_photo(
    qtbot: QtBot,
    live_server: LiveServer,
    desks: tuple[Desk, Desk],
    runner: TaskRunner,
    patient_id: uuid.UUID,
    tmp_path: Path,
) -> None:
    admin, reception = desks
    a_library_item(admin)
    page, tab = treatment_tab(qtbot, runner, reception)
    page.open_patient(patient_id)
    qtbot.waitUntil(lambda: tab.record is not None, timeout=WAIT_MS)
    assert tab.state.text() == "No treatment plan. Start one with “New plan…”."
    assert tab.new_button.isVisible()
    assert tab.new_button.isEnabled()

    # A new plan, in its first phase.
    qtbot.mouseClick(tab.new_button, LEFT)
    dialog = tab.dialog
    assert dialog is not None
    dialog.title.setText("Braces, upper and lower")  # type: ignore[attr-defined]
    dialog.ok_button.click()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: tab.plan() is not None, timeout=WAIT_MS)
    assert tab.state.text() == "Braces, upper and lower: now in “Assessment” (phase 1 of 4)."
    [plan] = plans_on_server(live_server, patient_id)

    # Moving on asks first; Cancel is the default, and changes nothing.
    tab.phases_table.selectRow(1)
    assert tab.current_button.isEnabled()
    qtbot.mouseClick(tab.current_button, LEFT)
    asked = tab.box
    assert asked is not None
    assert asked.objectName() == "treatmentConfirmPhase"
    assert "“Fitting”" in asked.text()
    assert asked.defaultButton() is asked.button(QMessageBox.StandardButton.Cancel)
    asked.button(QMessageBox.StandardButton.Cancel).click()
    assert plans_on_server(live_server, patient_id)[0].current_phase_id == plan.current_phase_id
    qtbot.mouseClick(tab.current_button, LEFT)
    assert tab.box is not None
    tab.box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: "now in “Fitting”" in tab.state.text(), timeout=WAIT_MS)
    assert "1 item from the library given to the patient" in tab.message.text()
    qtbot.waitUntil(lambda: tab.delivered.rowCount() == 1, timeout=WAIT_MS)
    assert tab.delivered.index(0, 1).data() == "Caring for your braces"
    assert tab.delivered.index(0, 4).data() == "Not yet"

    # A note under the chosen phase.
    tab.phases_table.selectRow(1)
    qtbot.mouseClick(tab.note_button, LEFT)
    note = tab.dialog
    assert note is not None
    note.text.setPlainText("Upper brace fitted.")  # type: ignore[attr-defined]
    note.ok_button.click()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: "Upper brace fitted." in tab.notes_text(), timeout=WAIT_MS)
    with live_server.sessionmaker() as session:
        [row] = session.scalars(select(ProgressNote)).all()
        assert row.text == "Upper brace fitted."

    # A photo from a file; its thumbnail comes back from the server.
    photo = tmp_path / "smile.png"
    photo.write_bytes(demo_png(64, 48))
    tab.choose_photo = lambda _parent: str(photo)
    qtbot.mouseClick(tab.photo_button, LEFT)
    qtbot.waitUntil(lambda: tab.photos.count() == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(tab.pixmaps) == 1, timeout=WAIT_MS)
    [pixmap] = tab.pixmaps.values()
    assert (pixmap.width(), pixmap.height()) == (160, 120)
    qtbot.waitUntil(lambda: not tab.photos.item(0).icon().isNull(), timeout=WAIT_MS)
    assert tab.message.text() == "Photo added to “Fitting”."

    # A PDF renamed .jpg is not a photo: refused before it is sent, in words.
    fake = tmp_path / "scan.jpg"
    fake.write_bytes(demo_pdf("Scan", ["A page"]))
    tab.box = None
    tab.choose_photo = lambda _parent: str(fake)
    qtbot.mouseClick(tab.photo_button, LEFT)
    qtbot.waitUntil(lambda: tab.box is not None and tab.box.isVisible(), timeout=WAIT_MS)
    assert tab.box is not None
    assert tab.box.windowTitle() == "The photo was not added"
    assert "not a JPEG or PNG photo" in tab.box.text()
    tab.box.close()
    with live_server.sessionmaker() as session:
        assert len(session.scalars(select(ProgressPhoto)).all()) == 1

    # The patient opens it in the portal: the desk shows when.
    with transaction(live_server.sessionmaker) as session:
        session.scalars(select(ContentDelivery)).one().opened_at = utcnow()
    tab.refresh()
    qtbot.waitUntil(lambda: tab.delivered.index(0, 4).data() != "Not yet", timeout=WAIT_MS)


def test_offline_the_tab_says_so_calmly_and_comes_back_with_the_server(
    qtbot: QtBot,
    live_server: LiveServer,
    desks: tuple[Desk, Desk],
    runner: TaskRunner,
    patient_id: uuid.UUID,
) -> None:
    _admin, reception = desks
    page, tab = treatment_tab(qtbot, runner, reception)
    live_server.stop()
    try:
        page.open_patient(patient_id)
        qtbot.waitUntil(lambda: "Can't reach the server" in tab.message.text(), timeout=WAIT_MS)
        assert tab.state.text() == ON_SERVER
        assert not tab.new_button.isEnabled()
        assert tab.box is None, "no dialog for being offline"
    finally:
        live_server.start_again()
    tab.refresh()
    qtbot.waitUntil(lambda: tab.record is not None, timeout=WAIT_MS)
    assert tab.message.text() == ""
    assert tab.new_button.isEnabled()

    # Signed in while offline: no session to ask the server with.
    tab.set_desk(dataclasses.replace(reception, session_token=None))
    tab.show_patient(uuid.uuid4())
    assert tab.message.text() == SIGNED_IN_OFFLINE


def test_read_only_staff_see_the_plan_and_change_nothing(
    qtbot: QtBot,
    live_server: LiveServer,
    desks: tuple[Desk, Desk],
    runner: TaskRunner,
    patient_id: uuid.UUID,
) -> None:
    admin, reception = desks
    client = account.sync_client(admin)
    try:
        client.start_treatment_plan(patient_id, "Retainer", ["Retention"])
    finally:
        client.close()
    reader = dataclasses.replace(
        reception, staff=reception.staff.model_copy(update={"role": Role.READ_ONLY})
    )
    page, tab = treatment_tab(qtbot, runner, reader)
    page.open_patient(patient_id)
    qtbot.waitUntil(lambda: tab.plan() is not None, timeout=WAIT_MS)
    assert tab.state.text() == "Retainer: now in “Retention” (phase 1 of 1)."
    for button in (tab.new_button, tab.current_button, tab.note_button, tab.photo_button):
        assert not button.isVisible()


def a_plan_with_a_note_and_photos(
    admin: Desk, patient_id: uuid.UUID, photos: list[bytes]
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A plan in its first phase with a note and ``photos`` there, made through the API."""
    client = account.sync_client(admin)
    try:
        plan = client.start_treatment_plan(patient_id, "Braces", ["Assessment", "Fitting"]).plan
        first = plan.phases[0].id
        client.add_progress_note(patient_id, plan.id, first, "Wrong patient's note.")
        made = [client.add_progress_photo(patient_id, first, data).id for data in photos]
    finally:
        client.close()
    return plan.id, made


def test_removing_a_note_or_a_photo_asks_first_and_takes_it_off_the_plan(
    qtbot: QtBot,
    live_server: LiveServer,
    desks: tuple[Desk, Desk],
    runner: TaskRunner,
    patient_id: uuid.UUID,
) -> None:
    admin, reception = desks
    _plan, [photo_id] = a_plan_with_a_note_and_photos(admin, patient_id, [demo_png(64, 48)])
    page, tab = treatment_tab(qtbot, runner, reception)
    page.open_patient(patient_id)
    qtbot.waitUntil(lambda: tab.photos.count() == 1, timeout=WAIT_MS)
    assert "Wrong patient's note." in tab.notes_text()
    assert tab.remove_note_button.isVisible()
    assert not tab.remove_note_button.isEnabled(), "nothing chosen yet"

    # The note: Cancel is the default, and keeps it.
    tab.notes.setCurrentRow(0)
    assert tab.remove_note_button.isEnabled()
    qtbot.mouseClick(tab.remove_note_button, LEFT)
    asked = tab.box
    assert asked is not None
    assert asked.objectName() == "treatmentConfirmRemoveNote"
    assert "“Wrong patient's note.”" in asked.text()
    assert asked.defaultButton() is asked.button(QMessageBox.StandardButton.Cancel)
    asked.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.mouseClick(tab.remove_note_button, LEFT)
    assert tab.box is not None
    tab.box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: tab.message.text() == "Note removed.", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "Wrong patient's note." not in tab.notes_text(), timeout=WAIT_MS)
    assert tab.notes_text() == "No notes in this phase"

    # The photo: asked the same way; its file goes from the server.
    qtbot.waitUntil(lambda: photo_id in tab.pixmaps, timeout=WAIT_MS)
    tab.photos.setCurrentRow(0)
    qtbot.mouseClick(tab.remove_photo_button, LEFT)
    asked = tab.box
    assert asked is not None
    assert asked.objectName() == "treatmentConfirmRemovePhoto"
    assert asked.defaultButton() is asked.button(QMessageBox.StandardButton.Cancel)
    asked.button(QMessageBox.StandardButton.Cancel).click()
    with live_server.sessionmaker() as session:
        assert session.get(ProgressPhoto, photo_id).removed_at is None  # type: ignore[union-attr]
    qtbot.mouseClick(tab.remove_photo_button, LEFT)
    assert tab.box is not None
    tab.box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: tab.message.text() == "Photo removed.", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: tab.photos.count() == 0, timeout=WAIT_MS)
    with live_server.sessionmaker() as session:
        row = session.get(ProgressPhoto, photo_id)
        assert row is not None
        assert row.removed_at is not None
        path = Path(live_server.settings.media_dir) / row.path
        [note] = session.scalars(select(ProgressNote)).all()
        assert note.removed_at is not None
    assert not path.exists()
    assert not tab.remove_photo_button.isEnabled()


def test_a_move_another_desk_made_first_is_told_in_a_dialog_and_the_plan_read_again(
    qtbot: QtBot,
    live_server: LiveServer,
    desks: tuple[Desk, Desk],
    runner: TaskRunner,
    patient_id: uuid.UUID,
) -> None:
    admin, reception = desks
    client = account.sync_client(admin)
    try:
        plan = client.start_treatment_plan(patient_id, "Braces", DEFAULT_PHASES_LIST).plan
    finally:
        client.close()
    page, tab = treatment_tab(qtbot, runner, reception)
    page.open_patient(patient_id)
    qtbot.waitUntil(lambda: "now in “Assessment”" in tab.state.text(), timeout=WAIT_MS)

    # Another desk moves the plan on while this one still shows it in Assessment.
    client = account.sync_client(admin)
    try:
        assessment, _fitting, adjustment, _retention = (p.id for p in plan.phases)
        client.set_current_phase(patient_id, plan.id, adjustment, assessment)
    finally:
        client.close()

    tab.phases_table.selectRow(1)
    qtbot.mouseClick(tab.current_button, LEFT)
    assert tab.box is not None
    tab.box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(
        lambda: tab.box is not None and tab.box.objectName() == "errorMessage", timeout=WAIT_MS
    )
    assert tab.box.windowTitle() == "The plan was not moved"
    assert "Someone else has just moved “Braces” to “Adjustment”" in tab.box.text()
    qtbot.waitUntil(lambda: "now in “Adjustment”" in tab.state.text(), timeout=WAIT_MS)
    tab.box.close()
    [row] = plans_on_server(live_server, patient_id)
    assert row.current_phase_id == adjustment


def test_a_photo_that_cannot_be_shown_is_asked_for_once_and_never_hides_the_others(
    qtbot: QtBot,
    live_server: LiveServer,
    desks: tuple[Desk, Desk],
    runner: TaskRunner,
    patient_id: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three photos: one fine, one the server has lost (its file damaged on disk: 404),
    one whose bytes start like a PNG but Qt cannot draw. The fine one shows; the other
    two say so in their place and are not fetched again as the tab is read again."""
    admin, reception = desks
    undrawable = b"\x89PNG\r\n\x1a\n" + b"not a picture at all" * 10
    _plan, [fine, lost, broken] = a_plan_with_a_note_and_photos(
        admin, patient_id, [demo_png(64, 48), demo_png(32, 32), undrawable]
    )
    with live_server.sessionmaker() as session:
        damaged = session.get(ProgressPhoto, lost)
        assert damaged is not None
        (Path(live_server.settings.media_dir) / damaged.path).write_bytes(b"damaged")
    asked: list[uuid.UUID] = []
    fetch = ServerClient.progress_photo

    def counted(client: ServerClient, patient: uuid.UUID, photo: uuid.UUID) -> bytes:
        asked.append(photo)
        return fetch(client, patient, photo)

    monkeypatch.setattr(ServerClient, "progress_photo", counted)
    page, tab = treatment_tab(qtbot, runner, reception)
    page.open_patient(patient_id)
    qtbot.waitUntil(lambda: fine in tab.pixmaps, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: set(tab.unshown) == {lost, broken}, timeout=WAIT_MS)
    assert "no such photo" in tab.unshown[lost]
    assert "cannot draw" in tab.unshown[broken]
    texts = {
        tab.photos.item(n).data(Qt.ItemDataRole.UserRole): tab.photos.item(n).text()
        for n in range(tab.photos.count())
    }
    assert texts[lost].endswith("(cannot be shown)")
    assert texts[broken].endswith("(cannot be shown)")
    assert not texts[fine].endswith("(cannot be shown)")

    for _ in range(2):
        before = tab.record
        tab.refresh()
        qtbot.waitUntil(lambda: tab.record is not before, timeout=WAIT_MS)  # noqa: B023
        qtbot.waitUntil(lambda: not tab.fetching, timeout=WAIT_MS)
    assert sorted(asked) == sorted([fine, lost, broken]), "each asked for once"


def test_a_withdrawn_library_item_stays_listed_as_given(
    qtbot: QtBot,
    live_server: LiveServer,
    desks: tuple[Desk, Desk],
    runner: TaskRunner,
    patient_id: uuid.UUID,
) -> None:
    admin, reception = desks
    a_library_item(admin)
    client = account.sync_client(admin)
    try:
        client.start_treatment_plan(patient_id, "Braces", ["Fitting"])
        [item] = client.content_items()
        client.remove_content_item(item.id)
    finally:
        client.close()
    page, tab = treatment_tab(qtbot, runner, reception)
    page.open_patient(patient_id)
    qtbot.waitUntil(lambda: tab.delivered.rowCount() == 1, timeout=WAIT_MS)
    assert tab.delivered.index(0, 1).data() == (
        "Caring for your braces (withdrawn from the library)"
    )
    assert "no longer open it" in tab.delivered.index(0, 1).data(Qt.ItemDataRole.ToolTipRole)
