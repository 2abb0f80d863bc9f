"""The patient file against a real uvicorn server: a patient registered offline from the
booking dialog and booked at once reaches the server once, registration first; a change
the server refuses waits in "Needs attention" in words; an unchanged save changes
nothing on the server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from common.patients import show_phone
from desktop.kit.tasks import TaskRunner
from desktop.mainwindow import PAGES, MainWindow
from server.demo import DEMO_TIME_ZONE
from server.mutations.models import AppliedMutation
from server.patients.models import Patient
from server.scheduling.models import Appointment
from sync import account, outbox
from sync.account import Desk
from sync.client import ServerClient
from sync.engine import SyncEngine
from sync.protocol import RegisterPatient
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
EMAIL, PASSWORD = "frontdesk@demo.clinic", "frontdesk-demo-1"
WAIT_MS = 20_000
ZONE = ZoneInfo(DEMO_TIME_ZONE)


def _window(qtbot: QtBot, server: LiveServer, folder: Path, *, online: bool) -> MainWindow:
    desk = account.sign_in(folder, server.url, "demo", EMAIL, PASSWORD)
    assert desk.country == "GB"
    SyncEngine(desk.store, account.sync_client(desk)).sync()
    client = (
        account.sync_client(desk)
        if online
        else ServerClient("http://127.0.0.1:9", device_token=desk.device_token)
    )
    window = MainWindow(desk, TaskRunner(), SyncEngine(desk.store, client))
    qtbot.addWidget(window)
    window.show()
    state = "Online" if online else "Offline"
    qtbot.waitUntil(lambda: window.sync_label.text().startswith(state), timeout=WAIT_MS)
    return window


def _close(window: MainWindow) -> None:
    window.close()
    window.runner.shutdown()
    window.desk.store.close()


def _settled(window: MainWindow) -> bool:
    text = window.sync_label.text()
    return text.startswith("Online") and "pending" not in text and "attention" not in text


def test_offline_a_new_patient_is_registered_from_the_booking_dialog_booked_and_both_arrive_once(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    window = _window(qtbot, live_server, tmp_path, online=False)
    desk: Desk = window.desk
    day = datetime.now(ZONE).date() + timedelta(days=4)
    starts = datetime.combine(day, time(19, 0), tzinfo=ZONE).astimezone(UTC)  # after hours
    dialog = window.diary.new_appointment(desk.store.providers()[0].id, starts)
    assert dialog is not None
    dialog.search.setText("Marie Curie 07/11/1967")
    dialog.run_search()
    qtbot.waitUntil(lambda: dialog.results.count() == 1, timeout=WAIT_MS)
    assert dialog.results.item(0).text() == "No patient matches that"

    qtbot.mouseClick(dialog.new_patient_button, Qt.MouseButton.LeftButton)
    form = dialog.patient_form
    assert form is not None
    assert (form.first_name.text(), form.last_name.text()) == ("Marie", "Curie")
    assert form.date_of_birth.text() == "07/11/1967"
    form.phone.setText("0770 090")  # a digit short: refused in the dialog, in words
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(form.problems["phone"].isVisible, timeout=WAIT_MS)
    assert "not a valid UK number: 0770 090" in form.problems["phone"].text()
    form.phone.setText("020 7946 0867")
    form.alerts.setPlainText("Needs wheelchair access")
    with qtbot.waitSignal(form.saved, timeout=WAIT_MS) as saved:
        qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    patient_id: uuid.UUID = saved.args[0].id
    assert dialog.patient is not None
    assert dialog.patient.id == patient_id
    with qtbot.waitSignal(dialog.saved, timeout=WAIT_MS) as booked:
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    appointment_id: uuid.UUID = booked.args[0]
    qtbot.waitUntil(lambda: "2 pending" in window.sync_label.text(), timeout=WAIT_MS)
    assert [m.command.kind for m in desk.store.pending_mutations(10)] == [
        "register_patient",
        "book",
    ]
    # The diary's hover card shows the new patient's alert, before the server knows them.
    window.diary.go_to(day)
    qtbot.waitUntil(lambda: appointment_id in window.diary.view.items_by_id, timeout=WAIT_MS)
    card = window.diary.view.items_by_id[appointment_id].toolTip()
    assert card.splitlines()[:2] == ["Marie Curie", "⚠ Needs wheelchair access"]

    window.sync.resume(SyncEngine(desk.store, account.sync_client(desk)))
    qtbot.waitUntil(lambda: _settled(window), timeout=WAIT_MS)
    with live_server.sessionmaker() as session:
        patients = session.scalars(select(Patient).where(Patient.last_name == "Curie")).all()
        appointments = session.scalars(
            select(Appointment).where(Appointment.patient_id == patient_id)
        ).all()
        order = session.scalars(
            select(AppliedMutation.kind)
            .where(AppliedMutation.kind.in_(["register_patient", "book"]))
            .order_by(AppliedMutation.seq)
        ).all()
    assert [(p.id, p.phone, p.alerts) for p in patients] == [
        (patient_id, "+442079460867", ["Needs wheelchair access"])
    ]
    assert [(a.id, a.starts_at) for a in appointments] == [(appointment_id, starts)]
    assert order == ["register_patient", "book"]

    # The patient's file lists the appointment, sent.
    window.open_patient(patient_id)
    assert window.pages.currentWidget() is window.patients
    visits = window.patients.file.visits
    qtbot.waitUntil(lambda: visits.rowCount() == 1, timeout=WAIT_MS)
    assert visits.index(0, 3).data() == "Booked"
    assert window.patients.file.title.text() == "Marie Curie"
    _close(window)


def test_a_registration_the_server_refuses_waits_in_needs_attention_in_words(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    window = _window(qtbot, live_server, tmp_path, online=True)
    desk = window.desk
    # As an older (or altered) desk would send it, without the desk's own check.
    bad = RegisterPatient(
        patient_id=uuid.uuid4(), first_name="Marie", last_name="Curie", phone="0770 090"
    )
    window.make_change(lambda: _enqueue(desk, bad))
    qtbot.waitUntil(lambda: "1 needs attention" in window.sync_label.text(), timeout=WAIT_MS)
    page = window.attention
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=WAIT_MS)
    assert page.model.index(0, 0).data() == "Register patient Marie Curie"
    assert (
        page.model.index(0, 2)
        .data()
        .startswith("That phone number is not a valid UK number: 0770 090.")
    )
    assert desk.store.patient(bad.patient_id) is None, "the optimistic patient is taken back"
    with live_server.sessionmaker() as session:
        assert session.get(Patient, bad.patient_id) is None
    _close(window)


def _enqueue(desk: Desk, command: RegisterPatient) -> uuid.UUID:
    with desk.store._write() as conn:
        return outbox.enqueue(conn, desk.author, command)


def test_saving_an_existing_patient_unchanged_queues_nothing_and_the_server_is_untouched(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path
) -> None:
    window = _window(qtbot, live_server, tmp_path, online=True)
    with live_server.sessionmaker() as session:
        patient = session.scalars(select(Patient).order_by(Patient.last_name).limit(1)).one()
        before = {c.name: getattr(patient, c.key) for c in Patient.__table__.columns}
        applied = session.scalar(select(func.count()).select_from(AppliedMutation))
    window.nav.setCurrentRow(PAGES.index("Patients"))
    window.open_patient(patient.id)
    page = window.patients
    qtbot.waitUntil(lambda: page.file.edit_button.isEnabled(), timeout=WAIT_MS)
    form = page.edit_patient()
    assert form is not None
    assert form.phone.text() == show_phone(patient.phone, "GB")  # as staff read it
    with qtbot.waitSignal(form.saved, timeout=WAIT_MS):
        qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    assert window.desk.store.pending_mutations(10) == []
    assert window.desk.store.outbox_counts() == {"pending": 0, "attention": 0}
    window.sync.sync_now()
    qtbot.waitUntil(lambda: _settled(window), timeout=WAIT_MS)
    with live_server.sessionmaker() as session:
        again = session.get(Patient, patient.id)
        assert {c.name: getattr(again, c.key) for c in Patient.__table__.columns} == before
        assert session.scalar(select(func.count()).select_from(AppliedMutation)) == applied
    _close(window)
