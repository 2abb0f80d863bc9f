"""Confirming a web request from someone not linked to a patient, at a desk signed in to a
real server: the page shows what they typed, Confirm opens the dialog of possible
matches, and the request is booked for the patient chosen or for a new one registered
with it (a warning when matches exist; a mistyped field said in words, the dialog kept)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from common.booking_requests import Applicant, BookingRequestStatus
from common.scheduling import AppointmentTypeRules
from desktop.worklists.requests import MatchDialog
from server.booking_requests import service as requests
from server.db import transaction, utcnow
from server.patients.models import Patient
from server.scheduling import service as scheduling
from server.scheduling.models import Provider
from tests.desktop.worklists.test_booking_requests import (
    HALF_HOUR,
    WAIT_MS,
    ZONE,
    Opened,
    _listed,
    _row,
    _select,
    opened,
)
from tests.support.live_server import LiveServer

__all__ = ["opened"]
pytestmark = pytest.mark.qt


def _anonymous(server: LiveServer, *, like_patient: bool, days: int) -> tuple[uuid.UUID, uuid.UUID]:
    """A widget request by someone with a demo patient's phone (and, ``like_patient``,
    their name and birth date): the request's id and that patient's."""
    with transaction(server.sessionmaker) as session:
        provider = session.scalars(select(Provider).order_by(Provider.display_name)).first()
        patient = session.scalars(
            select(Patient)
            .where(Patient.phone.is_not(None), Patient.date_of_birth.is_not(None))
            .order_by(Patient.last_name, Patient.id)
        ).first()
        assert provider is not None
        assert patient is not None
        first_day = datetime.now(ZONE).date() + timedelta(days=days)
        slots = scheduling.offered_slots(
            session,
            provider.clinic_id,
            AppointmentTypeRules(id=uuid.uuid4(), duration=HALF_HOUR),
            first_day=first_day,
            last_day=first_day + timedelta(days=14),
            now=utcnow(),
            provider_id=provider.id,
        )
        applicant = Applicant(
            first_name=patient.first_name if like_patient else "Robin",
            last_name=patient.last_name if like_patient else "Newcomer",
            date_of_birth=patient.date_of_birth,
            phone=patient.phone,
            email="robin.newcomer@example.org",
            insurance="Bupa <b>1234</b>",
        )
        request = requests.create_request(
            session,
            provider.clinic_id,
            applicant=applicant,
            provider_id=provider.id,
            starts_at=slots[0].starts_at,
            ends_at=slots[0].starts_at + HALF_HOUR,
            note="Knee",
        )
        return request.id, patient.id


def _dialog(qtbot: QtBot, opened: Opened, request_id: uuid.UUID) -> MatchDialog:
    page = opened.window.requests
    qtbot.waitUntil(lambda: request_id in _listed(opened.window), timeout=WAIT_MS)
    _select(page, request_id)
    qtbot.mouseClick(page.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(page, "match_dialog", None) is not None, timeout=WAIT_MS)
    qtbot.waitUntil(page.match_dialog.isVisible, timeout=WAIT_MS)
    return page.match_dialog


def test_an_unlinked_request_is_confirmed_for_the_matching_patient(
    qtbot: QtBot, opened: Opened, live_server: LiveServer
) -> None:
    request_id, patient_id = _anonymous(live_server, like_patient=True, days=4)
    page = opened.window.requests
    qtbot.waitUntil(lambda: request_id in _listed(opened.window), timeout=WAIT_MS)
    _select(page, request_id)
    row = [r.id for r in page.model.rows].index(request_id)
    assert page.model.index(row, 0).data().endswith("(new patient)")
    shown = page.applicant.text()
    assert shown.startswith("New patient (not linked to a file yet)")
    assert "Bupa <b>1234</b>" in shown  # plain text, as typed
    assert page.applicant.textFormat() == Qt.TextFormat.PlainText

    dialog = _dialog(qtbot, opened, request_id)
    ids = [
        dialog.matches.item(i).data(Qt.ItemDataRole.UserRole) for i in range(dialog.matches.count())
    ]
    assert patient_id in ids
    assert dialog.warning.isVisibleTo(dialog)
    dialog.matches.setCurrentRow(ids.index(patient_id))
    qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: request_id not in _listed(opened.window), timeout=WAIT_MS)
    assert "Booked" in page.outcome.text()
    stored = _row(live_server, request_id)
    assert stored.status is BookingRequestStatus.CONFIRMED
    assert stored.patient_id == patient_id


def test_a_new_patient_is_created_with_a_warning_and_mistakes_said_in_words(
    qtbot: QtBot, opened: Opened, live_server: LiveServer
) -> None:
    request_id, patient_id = _anonymous(live_server, like_patient=False, days=5)
    with live_server.sessionmaker() as session:
        before = session.scalar(select(func.count()).select_from(Patient))
    dialog = _dialog(qtbot, opened, request_id)
    assert dialog.matches.count() == 1  # the same phone
    assert dialog.warning.isVisibleTo(dialog)
    assert dialog.first_name.text() == "Robin"
    assert dialog.email.text() == "robin.newcomer@example.org"
    dialog.phone.setText("12")
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()
    assert "not a valid" in dialog.message.text()
    dialog.phone.setText("07400 912345")
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: request_id not in _listed(opened.window), timeout=WAIT_MS)
    stored = _row(live_server, request_id)
    assert stored.status is BookingRequestStatus.CONFIRMED
    assert stored.patient_id not in (None, patient_id)
    with live_server.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(Patient)) == before + 1
        made = session.get(Patient, stored.patient_id)
        assert made is not None
        assert (made.first_name, made.last_name, made.phone) == (
            "Robin",
            "Newcomer",
            "+447400912345",
        )
