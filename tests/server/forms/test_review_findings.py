"""Faults a review of forms and video consultations found, each shown failing first:
a cancelled visit's form still asked for, a version published between a page's check and
its save, an autosave after the session ended answered with the sign-in page, the video
room missing from the messages, an older desk switching video off."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.appointments import AppointmentSource, AppointmentStatus
from common.forms import FormKind, FormStatus
from server.auth.context import AuthContext
from server.db import transaction, utcnow
from server.forms import reminders, service
from server.forms.models import FormRequest
from server.messaging import automated
from server.messaging.models import Delivery, Message
from server.patients.models import Patient
from server.portal import accounts
from server.portal.models import PortalSession
from server.scheduling import service as scheduling
from server.scheduling import settings as scheduling_settings
from server.scheduling.models import Appointment, AppointmentType
from sync.protocol import SaveAppointmentType
from tests.server.conftest import Factory
from tests.server.forms.test_forms_service import INTAKE, Made, answer, book, make, publish
from tests.server.portal import portalmaker
from tests.server.web import linkmaker
from tests.server.web.conftest import csrf_of
from tests.support.diary import days_ahead, local


def test_cancelling_a_visit_withdraws_its_own_forms_but_not_the_patients_intake(
    db: sessionmaker[Session], factory: Factory
) -> None:
    bay = make(factory, db, "bay")
    publish(db, bay)
    publish(db, bay, title="Before your video call", kind=FormKind.SERVICE, types=[bay.video_type])
    visit = book(db, bay, kind=bay.video_type)
    with transaction(db) as session:
        row = session.get(Appointment, visit)
        assert row is not None
        scheduling.set_status(
            session,
            bay.desk,
            appointment_id=visit,
            base_version=row.version,
            status=AppointmentStatus.CANCELLED,
        )
    with db() as session:
        statuses = {r.title: r.status for r in session.scalars(select(FormRequest)).all()}
    assert statuses == {
        "Before your video call": FormStatus.WITHDRAWN,
        "Health questionnaire": FormStatus.PENDING,
    }


def test_a_form_of_a_visit_that_is_over_is_not_reminded_of(
    db: sessionmaker[Session], factory: Factory
) -> None:
    bay = make(factory, db, "bay")
    publish(db, bay, title="Before your video call", kind=FormKind.SERVICE, types=[bay.video_type])
    book(db, bay, kind=bay.video_type, days=1)
    with transaction(db) as session:
        assert reminders.send_due(session, utcnow() + timedelta(days=3), "https://x") == 0
        [form] = session.scalars(select(FormRequest)).all()
        assert form.reminded_at is not None
    with db() as session:
        assert session.scalars(select(Message).where(Message.kind == "forms_reminder")).all() == []


def test_a_version_published_between_the_pages_check_and_its_save_saves_nothing(
    db: sessionmaker[Session], factory: Factory
) -> None:
    bay = make(factory, db, "bay")
    template_id = publish(db, bay)
    book(db, bay)
    with db() as session:
        [request] = session.scalars(select(FormRequest)).all()
    reworded = [{**q, "label": "Do you vape?"} if q["id"] == "smoker" else q for q in INTAKE]
    with transaction(db) as session:
        service.save_template(
            session,
            bay.admin,
            service.Draft("Health questionnaire", FormKind.INTAKE, [], True, reworded),
            template_id=template_id,
            base_version=1,
        )
    patient = bay.clinic.records.patient_ids[0]
    try:
        with transaction(db) as session:
            service.save_page(
                session,
                AuthContext.for_patient(bay.clinic.id, patient),
                request.id,
                [patient],
                {"smoker": ["No"]},
                ["smoker"],
                signing=service.Signing(("Pat Zero",), "hash"),
                now=utcnow(),
                expected_version=1,  # the page showed version 1's question
            )
    except service.VersionChanged:
        pass
    else:
        raise AssertionError("an answer to version 1's wording was saved under version 2")
    with db() as session:
        row = session.get(FormRequest, request.id)
        assert row is not None
        assert (row.status, row.version_number) == (FormStatus.PENDING, None)
    # Answered under the version it shows, it saves.
    assert answer(db, bay, request.id, {"smoker": ["No"]}).request.version_number == 2


def test_an_autosave_after_the_session_ended_is_told_in_words_not_sent_to_sign_in(
    web: TestClient, db: sessionmaker[Session], factory: Factory
) -> None:
    clinic = factory.clinic("north")
    with transaction(db) as session:
        at = linkmaker.practice(session, clinic.id)
    made = Made(
        clinic,
        portalmaker.staff_ctx(clinic.id),
        portalmaker.staff_ctx(clinic.id),
        at.type_id,
        at.type_id,
    )
    publish(db, made)
    base = portalmaker.signed_in(web, db, clinic.id, at.patient_id)
    start = local(days_ahead(4), 11)
    with transaction(db) as session:
        scheduling.book(
            session,
            made.desk,
            appointment_id=uuid.uuid4(),
            provider_id=at.provider_ids[0],
            patient_id=at.patient_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            source=AppointmentSource.DESK,
        )
        [request] = session.scalars(select(FormRequest)).all()
    page = web.get(f"{base}/forms/{request.id}")
    assert page.status_code == 200
    with transaction(db) as session:  # the phone was locked for an hour
        for row in session.scalars(select(PortalSession)):
            accounts.end_session(session, row.id, utcnow(), "idle")
    saved = web.post(
        f"{base}/forms/{request.id}",
        data={
            "csrf_token": csrf_of(page),
            "page": "1",
            "version": "1",
            "only": "reason",
            "go": "autosave",
            "a-reason": "Sore knee",
        },
        headers={**portalmaker.SAME_SITE, "x-requested-with": "fetch"},
        follow_redirects=False,
    )
    assert saved.status_code == 401
    assert "signed out" in saved.json()["message"]
    assert saved.json()["location"].endswith("/sign-in?ended=idle")


def test_a_video_consultations_confirmation_carries_its_room(
    db: sessionmaker[Session], factory: Factory
) -> None:
    bay = make(factory, db, "bay")
    visit = book(db, bay, kind=bay.video_type)
    with transaction(db) as session:
        row = session.get(Appointment, visit)
        assert row is not None
        assert row.video_url
        patient_email = "pat@example.org"
        patient = session.get(Patient, row.patient_id)
        assert patient is not None
        patient.email = patient_email
        message = automated.confirm_booking(session, bay.clinic.id, row)
        assert message is not None
        assert row.video_url in message.body
        room = row.video_url
    with db() as session:
        [email] = [d for d in session.scalars(select(Delivery)).all() if d.channel.value == "email"]
        assert room in email.text
        assert f'href="{room}"' in (email.html or "")


def test_an_older_desk_saving_a_video_type_keeps_it_a_video_type(
    db: sessionmaker[Session], factory: Factory
) -> None:
    bay = make(factory, db, "bay")
    with db() as session:
        kind = session.get(AppointmentType, bay.video_type)
        assert kind is not None
        version = kind.version
    older = SaveAppointmentType.model_validate(
        {
            "appointment_type_id": str(bay.video_type),
            "base_version": version,
            "name": "Video consultation",
            "colour": "#aa3366",
            "duration_minutes": 30,
        }
    )  # what a desk from before video consultations sends: no "video" at all
    with transaction(db) as session:
        saved = scheduling_settings.save_appointment_type(session, bay.admin, older)
        assert saved.colour == "#aa3366"
        assert saved.video is True
