"""The portal's forms over TestClient, on both databases: a form sent with a booking is
listed (for the holder and each family member), filled in a page at a time, resumed
where it was left, reviewed and sent; refused answers are said beside their field with
what was typed kept; a GET never saves; a sent form is locked, and sent twice is no
error; other people's, other clinics' and withdrawn forms are not found; an admin
viewing as the patient reads but neither saves nor signs; a form begun keeps the version
it was begun under. And the appointment page's video room and forms."""

from __future__ import annotations

import itertools
import json
import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.appointments import AppointmentStatus
from common.forms import FormKind, FormStatus
from common.roles import Role
from server.audit.models import AuditEvent
from server.db import transaction, utcnow
from server.forms import service
from server.forms.models import FormRequest, FormResponse
from server.patients.models import Patient
from server.portal.models import PortalAccount
from server.scheduling.models import Appointment, AppointmentType
from sync.protocol import API_PREFIX
from tests.server.conftest import Factory, MadeClinic
from tests.server.portal import portalmaker
from tests.server.portal.portalmaker import SAME_SITE, post
from tests.server.web import linkmaker
from tests.server.web.conftest import csrf_of

TITLE = "Before your first visit"
CONSENT = "I agree to be examined and treated by the clinic's physiotherapists."
QUESTIONS: list[dict[str, Any]] = [
    {"id": "reason", "kind": "text", "label": "What brings you to us?"},
    {"id": "smoker", "kind": "choice", "label": "Do you smoke?", "choices": ["Yes", "No"]},
    {"id": "pain", "kind": "scale", "label": "How bad is the pain today?"},
    {"id": "since", "kind": "date", "label": "Since when?"},
    {
        "id": "meds",
        "kind": "choice",
        "label": "Which of these do you take?",
        "choices": ["Aspirin", "Ibuprofen", "Paracetamol"],
        "multiple": True,
        "required": False,
    },
    {"id": "notes", "kind": "text", "label": "Anything else?", "required": False},
    {"id": "consent", "kind": "signature", "label": CONSENT},
]
PAGE_ONE = {
    "a-reason": "Sore knee after running",
    "a-smoker": "No",
    "a-pain": "7",
    "a-since": "17/05/2024",
    "a-meds": ["Aspirin", "Paracetamol"],
}
HOURS = itertools.count()
VERSION = re.compile(r'name="version" value="(\d+)"')


@pytest.fixture
def north(factory: Factory) -> MadeClinic:
    return factory.clinic("north", roles=(Role.CLINIC_ADMIN, Role.FRONT_DESK))


@pytest.fixture
def where(north: MadeClinic, db: sessionmaker[Session]) -> linkmaker.Practice:
    with transaction(db) as session:
        return linkmaker.practice(session, north.id)


def publish(
    db: sessionmaker[Session],
    clinic_id: uuid.UUID,
    questions: list[dict[str, Any]] = QUESTIONS,
    *,
    kind: FormKind = FormKind.INTAKE,
    template_id: uuid.UUID | None = None,
    base_version: int | None = None,
) -> uuid.UUID:
    """The clinic's form, saved as the desk's builder saves it (a new version when its
    questions change)."""
    with transaction(db) as session:
        template = service.save_template(
            session,
            portalmaker.staff_ctx(clinic_id),
            service.Draft(TITLE, kind, [], True, questions),
            template_id=template_id,
            base_version=base_version,
        )
        return template.id


def booked(
    db: sessionmaker[Session],
    where: linkmaker.Practice,
    patient_id: uuid.UUID,
    *,
    starts_in: timedelta = timedelta(days=3),
    type_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """An appointment booked for ``patient_id`` and what booking it sends (as
    ``scheduling.book`` does): (its id, the forms sent). Each an hour after the last,
    so no two overlap in the provider's diary."""
    starts = (utcnow() + starts_in + timedelta(hours=next(HOURS))).replace(second=0, microsecond=0)
    with transaction(db) as session:
        appointment = Appointment(
            clinic_id=where.clinic_id,
            provider_id=where.provider_ids[0],
            patient_id=patient_id,
            appointment_type_id=type_id or where.type_id,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=30),
            status=AppointmentStatus.BOOKED,
        )
        session.add(appointment)
        session.flush()
        sent = service.booked(session, appointment, utcnow())
        return appointment.id, [r.id for r in sent]


def sent_form(
    db: sessionmaker[Session], where: linkmaker.Practice, patient_id: uuid.UUID | None = None
) -> uuid.UUID:
    _appointment, [request_id] = booked(db, where, patient_id or where.patient_id)
    return request_id


@pytest.fixture
def base(web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice) -> str:
    """Rosa Lind, signed in to North Physio's portal, which sends an intake form."""
    publish(db, where.clinic_id)
    return portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)


def save_page(
    web: TestClient, url: str, page: int, fields: dict[str, Any], go: str = "next"
) -> httpx.Response:
    """Open page ``page`` of a form as the patient would, and send it with ``fields``."""
    shown = web.get(f"{url}?page={page}")
    assert shown.status_code == 200, shown.text
    version = VERSION.search(shown.text)
    assert version, "the page says which version it shows"
    sent: httpx.Response = web.post(
        url,
        data={
            "csrf_token": csrf_of(shown),
            "page": str(page),
            "version": version.group(1),
            "go": go,
            **fields,
        },
        headers=SAME_SITE,
        follow_redirects=False,
    )
    return sent


def send(web: TestClient, url: str) -> httpx.Response:
    return post(web, f"{url}/review", f"{url}/send")


def row(db: sessionmaker[Session], request_id: uuid.UUID) -> FormRequest:
    with db() as session:
        found = session.get(FormRequest, request_id)
        assert found is not None
        session.expunge(found)
        return found


def answers(db: sessionmaker[Session], request_id: uuid.UUID) -> dict[str, Any] | None:
    with db() as session:
        response = session.scalar(select(FormResponse).where(FormResponse.request_id == request_id))
        return None if response is None else json.loads(response.answers)


def error_beside(page: httpx.Response, question_id: str) -> str:
    """The error said beside a question's field."""
    found = re.search(rf'<p class="error" id="e-{question_id}">([^<]*)</p>', page.text)
    assert found, f"no error beside {question_id}"
    return found.group(1)


# --- the list and the home page -----------------------------------------------------------


def test_the_list_shows_each_persons_forms_and_the_home_page_counts_them(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice, base: str
) -> None:
    mine = sent_form(db, where)
    added = post(
        web,
        f"{base}/family/add",
        f"{base}/family/add",
        first_name="Tom",
        last_name="Lind",
        date_of_birth="03/02/2015",
        relationship="son",
    )
    assert added.status_code == 303
    with db() as session:
        tom = session.scalar(select(Patient.id).where(Patient.first_name == "Tom"))
    assert tom is not None
    toms = sent_form(db, where, tom)

    listed = web.get(f"{base}/forms")
    assert listed.status_code == 200
    assert "Your forms" in listed.text
    assert "For Tom Lind" in listed.text
    assert f'href="{base}/forms/{mine}"' in listed.text
    assert f'href="{base}/forms/{toms}"' in listed.text
    assert listed.text.index("Your forms") < listed.text.index(str(mine))
    assert listed.text.index("For Tom Lind") < listed.text.index(str(toms))

    home = web.get(f"{base}/home")
    assert "Forms to fill in (2)" in home.text
    assert f'href="{base}/forms/{toms}"' in home.text
    assert f'<a href="{base}/forms"' in home.text  # the menu's link
    with db() as session:
        reads = session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "form_requests", AuditEvent.action == "read"
            )
        ).all()
    assert {r.record_count for r in reads} == {2}
    assert all(r.acting_patient_id == where.patient_id for r in reads)
    assert all(r.clinic_id == where.clinic_id for r in reads)


# --- filling in ---------------------------------------------------------------------------


def test_a_form_is_filled_page_by_page_resumed_reviewed_and_sent_once(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice, base: str
) -> None:
    request_id = sent_form(db, where)
    url = f"{base}/forms/{request_id}"
    first = web.get(url)
    assert first.status_code == 200
    assert "Page 1 of 2" in first.text
    for question in QUESTIONS[:5]:
        assert f'name="a-{question["id"]}"' in first.text
    assert 'name="a-consent"' not in first.text  # the sixth question is on page 2
    assert 'type="date"' in first.text
    assert first.text.count('name="a-pain"') == 11  # 0 to 10

    saved = save_page(web, url, 1, PAGE_ONE)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{url}?page=2"
    stored = row(db, request_id)
    assert stored.status is FormStatus.IN_PROGRESS
    assert stored.version_number == 1
    assert answers(db, request_id) == {
        "reason": "Sore knee after running",
        "smoker": "No",
        "pain": 7,
        "since": "2024-05-17",  # typed 17/05/2024
        "meds": ["Aspirin", "Paracetamol"],
    }

    # Closed and opened again: where it was left, and page 1 as answered.
    again = web.get(url)
    assert "Page 2 of 2" in again.text
    back = web.get(f"{url}?page=1")
    assert "Sore knee after running</textarea>" in back.text
    assert 'value="No" checked' in back.text
    assert 'value="7" checked' in back.text
    assert 'value="2024-05-17"' in back.text
    assert 'value="Aspirin" checked' in back.text
    assert 'value="Ibuprofen">' in back.text

    # Back from page 2 saves it and shows page 1.
    went_back = save_page(web, url, 2, {"a-notes": "Mornings are worst"}, go="back")
    assert went_back.headers["location"] == f"{url}?page=1"
    assert (answers(db, request_id) or {})["notes"] == "Mornings are worst"

    finished = save_page(web, url, 2, {"a-notes": "Mornings are worst", "a-consent": "rosa lind"})
    assert finished.headers["location"] == f"{url}/review"
    assert web.get(url, follow_redirects=False).headers["location"] == f"{url}/review"

    review = web.get(f"{url}/review")
    assert review.status_code == 200
    for shown in ("17/05/2024", "7 of 10", "Aspirin, Paracetamol", "Signed “rosa lind”"):
        assert shown in review.text
    assert f'href="{url}?page=1"' in review.text
    assert 'Change<span class="hidden"> answers on page 2</span>' in review.text

    sent = send(web, url)
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{url}/sent"
    thanks = web.get(f"{url}/sent")
    assert "Thank you" in thanks.text
    assert "North Physio has your answers" in thanks.text
    done = row(db, request_id)
    assert done.status is FormStatus.COMPLETE
    assert done.completed_at is not None
    with db() as session:
        response = session.scalars(select(FormResponse)).one()
        account = session.scalars(select(PortalAccount)).one()
        assert response.completed_by_account_id == account.id
        assert response.completed_by_staff_id is None
    kept = answers(db, request_id) or {}
    assert kept["consent"]["name"] == "rosa lind"
    assert kept["consent"]["address_hash"]

    # Sent twice (a double tap): the same thanks, nothing changed.
    twice = send(web, url)
    assert twice.status_code == 303
    assert twice.headers["location"] == f"{url}/sent"
    assert row(db, request_id).completed_at == done.completed_at

    # Locked: it reads as sent, and a page sent again changes nothing.
    locked = web.get(url)
    assert "Sent to North Physio" in locked.text
    assert 'name="a-reason"' not in locked.text
    assert "Sore knee after running" in locked.text
    listed = web.get(f"{base}/forms")
    assert "See the answers" in listed.text
    late = web.post(
        url,
        data={"csrf_token": csrf_of(locked), "page": "1", "version": "1", "a-reason": "Changed"},
        headers=SAME_SITE,
    )
    assert late.status_code == 409
    assert "can no longer be changed" in late.text
    assert (answers(db, request_id) or {})["reason"] == "Sore knee after running"
    assert "Forms to fill in" not in web.get(f"{base}/home").text


def test_a_get_never_saves(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice, base: str
) -> None:
    request_id = sent_form(db, where)
    url = f"{base}/forms/{request_id}"
    for address in (url, f"{url}?page=2", f"{url}?page=99", f"{url}/review", f"{url}/sent"):
        assert web.get(address).status_code == 200, address
        assert web.head(address).status_code == 200, address
    assert web.get(f"{base}/forms").status_code == 200
    stored = row(db, request_id)
    assert stored.status is FormStatus.PENDING
    assert stored.version_number is None
    assert answers(db, request_id) is None


KEPT_ON_PAGE_ONE = [
    ">Sore knee after running</textarea>",
    'value="No" checked',
    'value="7" checked',
    'value="17/05/2024"',  # as typed, in a text field
    'value="Aspirin" checked',
    'value="Paracetamol" checked',
]


@pytest.mark.parametrize(
    ("page", "fields", "question", "words", "kept"),
    [
        (
            1,
            {**PAGE_ONE, "a-pain": "11"},
            "pain",
            "Choose a number from 0 to 10.",
            [k for k in KEPT_ON_PAGE_ONE if "7" not in k],
        ),
        (
            1,
            {**PAGE_ONE, "a-smoker": "Sometimes"},
            "smoker",
            "Choose one of the answers listed.",
            [k for k in KEPT_ON_PAGE_ONE if "No" not in k],
        ),
        (
            1,
            {**PAGE_ONE, "a-since": "31/02/2024"},
            "since",
            "There is no such day as 31/02/2024",
            [*[k for k in KEPT_ON_PAGE_ONE if "17/05" not in k], 'value="31/02/2024"'],
        ),
        (
            1,
            {**PAGE_ONE, "a-since": "soon"},
            "since",
            "write it like 17/05/2024",
            [*[k for k in KEPT_ON_PAGE_ONE if "17/05" not in k], 'value="soon"'],
        ),
        (
            2,
            {"a-notes": "Mornings are worst", "a-consent": "Rose Lindqvist"},
            "consent",
            "type your full name as the clinic has it: Rosa Lind.",
            [">Mornings are worst</textarea>", 'value="Rose Lindqvist"'],
        ),
    ],
    ids=["scale", "choice", "date", "not-a-date", "signature"],
)
def test_a_refused_answer_is_said_beside_its_field_and_what_was_typed_is_kept(
    web: TestClient,
    db: sessionmaker[Session],
    where: linkmaker.Practice,
    base: str,
    page: int,
    fields: dict[str, Any],
    question: str,
    words: str,
    kept: list[str],
) -> None:
    request_id = sent_form(db, where)
    url = f"{base}/forms/{request_id}"
    refused = save_page(web, url, page, fields)
    assert refused.status_code == 422
    assert words in error_beside(refused, question)
    assert 'class="problems"' in refused.text
    assert f'href="#q-{question}"' in refused.text
    assert refused.text.count('aria-invalid="true"') == 1
    assert f"Page {page} of 2" in refused.text
    for typed in kept:  # everything typed is still in the form
        assert typed in refused.text
    # Nothing of the refused page is saved.
    assert answers(db, request_id) is None
    assert row(db, request_id).status is FormStatus.PENDING


def test_a_required_answer_left_empty_is_said_when_moving_on_and_at_sending(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice, base: str
) -> None:
    request_id = sent_form(db, where)
    url = f"{base}/forms/{request_id}"
    fields = {k: v for k, v in PAGE_ONE.items() if k != "a-smoker"}
    moving_on = save_page(web, url, 1, {**fields, "a-reason": "   "})
    assert moving_on.status_code == 422
    assert error_beside(moving_on, "reason") == "This question needs an answer."
    assert error_beside(moving_on, "smoker") == "Choose an answer: this question needs one."
    assert 'value="7" checked' in moving_on.text
    # What was answered is kept (saved), and the form stays open.
    assert (answers(db, request_id) or {})["pain"] == 7

    # Finishing later asks for nothing: the form keeps what there is.
    later = save_page(web, url, 1, fields, go="later")
    assert later.status_code == 303
    assert later.headers["location"] == f"{base}/forms?saved={request_id}"
    assert "Your answers are saved" in web.get(later.headers["location"]).text

    # Sent with answers missing: the review says which, with a link to each page.
    refused = send(web, url)
    assert refused.status_code == 422
    assert f'href="{url}?page=1#q-smoker"' in refused.text
    assert f'href="{url}?page=2#q-consent"' in refused.text
    assert "Type your full name to sign." in refused.text
    assert row(db, request_id).status is FormStatus.IN_PROGRESS


def test_the_page_saves_one_answer_at_a_time_for_its_script(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice, base: str
) -> None:
    request_id = sent_form(db, where)
    url = f"{base}/forms/{request_id}"
    page = web.get(url)
    assert "forms.js" in page.text
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    token = csrf_of(page)
    script = {**SAME_SITE, "x-requested-with": "fetch"}
    fields = {"csrf_token": token, "page": "1", "version": "1", "a-reason": "", "a-pain": "4"}

    saved = web.post(url, data={**fields, "only": "pain"}, headers=script)
    assert saved.status_code == 204
    assert answers(db, request_id) == {"pain": 4}  # the empty required text is not judged

    refused = web.post(url, data={**fields, "a-pain": "12", "only": "pain"}, headers=script)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/json")
    assert refused.json()["refused"] == {"pain": "Choose a number from 0 to 10."}
    assert answers(db, request_id) == {"pain": 4}


# --- whose forms ---------------------------------------------------------------------------


def test_a_family_members_form_is_answered_by_the_holder_and_signed_with_the_holders_name(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice, base: str
) -> None:
    post(
        web,
        f"{base}/family/add",
        f"{base}/family/add",
        first_name="Tom",
        last_name="Lind",
        date_of_birth="03/02/2015",
        relationship="son",
    )
    with db() as session:
        tom = session.scalar(select(Patient.id).where(Patient.first_name == "Tom"))
    assert tom is not None
    request_id = sent_form(db, where, tom)
    url = f"{base}/forms/{request_id}"
    first = web.get(url)
    assert "For Tom Lind" in first.text
    assert save_page(web, url, 1, PAGE_ONE).status_code == 303

    page_two = web.get(f"{url}?page=2")
    assert "Tom Lind's name, or yours (Rosa Lind) to sign for them." in page_two.text
    stranger = save_page(web, url, 2, {"a-consent": "Ann Other"})
    assert stranger.status_code == 422
    assert "Tom Lind or Rosa Lind" in error_beside(stranger, "consent")

    signed = save_page(web, url, 2, {"a-consent": "Rosa  Lind"})
    assert signed.headers["location"] == f"{url}/review"
    assert send(web, url).status_code == 303
    kept = answers(db, request_id) or {}
    assert kept["consent"]["name"] == "Rosa Lind"
    assert kept["consent"]["for"] == "Tom Lind"  # the holder signed, for her son
    assert "Signed “Rosa Lind” for Tom Lind on " in web.get(url).text
    assert row(db, request_id).status is FormStatus.COMPLETE
    with db() as session:
        done = session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "form_requests", AuditEvent.action == "complete"
            )
        ).one()
    assert done.acting_patient_id == where.patient_id  # the holder acted
    assert done.entity_id == request_id


@pytest.fixture
def someone_elses(
    factory: Factory, db: sessionmaker[Session], where: linkmaker.Practice, base: str
) -> dict[str, uuid.UUID]:
    """Forms the signed-in patient must never reach: another patient's here, a patient's
    at another clinic, and her own, withdrawn."""
    with transaction(db) as session:
        other = Patient(clinic_id=where.clinic_id, first_name="Ann", last_name="Other")
        session.add(other)
        session.flush()
        other_id = other.id
    south = factory.clinic("south")
    with transaction(db) as session:
        there = linkmaker.practice(session, south.id, name="South Physio", slug="south")
    publish(db, south.id)
    withdrawn = sent_form(db, where)
    with transaction(db) as session:
        service.withdraw(session, portalmaker.staff_ctx(where.clinic_id), withdrawn)
    return {
        "another patient's": sent_form(db, where, other_id),
        "another clinic's": sent_form(db, there),
        "withdrawn": withdrawn,
    }


def test_other_peoples_other_clinics_and_withdrawn_forms_are_not_found(
    web: TestClient,
    db: sessionmaker[Session],
    where: linkmaker.Practice,
    base: str,
    someone_elses: dict[str, uuid.UUID],
) -> None:
    mine = web.get(f"{base}/forms")
    for what, request_id in someone_elses.items():
        url = f"{base}/forms/{request_id}"
        assert str(request_id) not in mine.text, what
        for address in (url, f"{url}/review", f"{url}/sent"):
            shown = web.get(address)
            assert shown.status_code == 404, (what, address)
            assert "This form is not available" in shown.text
        saved = web.post(
            url,
            data={"csrf_token": csrf_of(mine), "page": "1", "version": "1", **PAGE_ONE},
            headers=SAME_SITE,
        )
        assert saved.status_code == 404, what
        sent = web.post(f"{url}/send", data={"csrf_token": csrf_of(mine)}, headers=SAME_SITE)
        assert sent.status_code == 404, what
        assert answers(db, request_id) is None
    withdrawn = web.get(f"{base}/forms/{someone_elses['withdrawn']}")
    assert "The clinic has withdrawn this form" in withdrawn.text
    assert web.get(f"{base}/forms/not-a-form").status_code == 404


def test_an_admin_viewing_as_the_patient_reads_her_forms_but_cannot_save_or_sign(
    web: TestClient,
    client: TestClient,
    app: FastAPI,
    db: sessionmaker[Session],
    factory: Factory,
    north: MadeClinic,
    where: linkmaker.Practice,
    base: str,
) -> None:
    request_id = sent_form(db, where)
    url = f"{base}/forms/{request_id}"
    assert save_page(web, url, 1, PAGE_ONE).status_code == 303
    ticket = client.post(
        f"{API_PREFIX}/patients/{where.patient_id}/portal/impersonate",
        headers=factory.staff_headers(north.staff[Role.CLINIC_ADMIN]),
    )
    assert ticket.status_code == 200, ticket.text
    token = ticket.json()["url"].rsplit("/", 1)[1]
    with TestClient(app, base_url="https://testserver", headers={"accept": "text/html"}) as admin:
        assert post(admin, f"/portal/link/{token}", f"/portal/link/{token}").status_code == 303
        read = admin.get(url)
        assert read.status_code == 200
        assert "Sore knee after running" in read.text
        assert "not fill in the form or sign it" in read.text
        assert 'name="a-reason"' not in read.text
        assert "Send to the clinic" not in admin.get(f"{url}/review").text
        token_now = csrf_of(read)
        refused = admin.post(
            url,
            data={"csrf_token": token_now, "page": "2", "version": "1", "a-consent": "Rosa Lind"},
            headers=SAME_SITE,
        )
        assert refused.status_code == 403
        assert "not fill them in or sign them" in refused.text
        by_script = admin.post(
            url,
            data={"csrf_token": token_now, "page": "1", "version": "1", "a-pain": "1"},
            headers={**SAME_SITE, "x-requested-with": "fetch"},
        )
        assert by_script.status_code == 403
        assert (
            admin.post(f"{url}/send", data={"csrf_token": token_now}, headers=SAME_SITE).status_code
            == 403
        )
    assert row(db, request_id).status is FormStatus.IN_PROGRESS
    assert "consent" not in (answers(db, request_id) or {})
    assert (answers(db, request_id) or {})["pain"] == 7
    admin_id = north.staff[Role.CLINIC_ADMIN].staff_id
    with db() as session:
        reads = session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "form_requests",
                AuditEvent.action == "read",
                AuditEvent.staff_id == admin_id,
            )
        ).all()
    assert reads
    assert all(r.acting_patient_id == where.patient_id for r in reads)
    assert any(r.entity_id == request_id and "clinic admin" in r.reason for r in reads)


# --- versions -------------------------------------------------------------------------------


def test_a_form_begun_keeps_its_version_when_the_clinic_publishes_another(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    template_id = publish(db, where.clinic_id, kind=FormKind.SERVICE)
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    begun = sent_form(db, where)
    waiting = sent_form(db, where)  # a service form goes with each booking
    begun_url, waiting_url = f"{base}/forms/{begun}", f"{base}/forms/{waiting}"
    assert save_page(web, begun_url, 1, PAGE_ONE).status_code == 303
    opened_before = web.get(waiting_url)  # opened under version 1, not answered

    changed = [dict(q) for q in QUESTIONS]
    changed[0] = {"id": "reason2", "kind": "text", "label": "Why are you coming in?"}
    publish(
        db, where.clinic_id, changed, kind=FormKind.SERVICE, template_id=template_id, base_version=1
    )

    old = web.get(f"{begun_url}?page=1")
    assert "What brings you to us?" in old.text
    assert "Why are you coming in?" not in old.text
    assert 'name="version" value="1"' in old.text
    new = web.get(waiting_url)
    assert "Why are you coming in?" in new.text
    assert 'name="version" value="2"' in new.text

    # The page opened before version 2 is sent: nothing saved, the new page shown.
    stale = web.post(
        waiting_url,
        data={"csrf_token": csrf_of(opened_before), "page": "1", "version": "1", **PAGE_ONE},
        headers=SAME_SITE,
    )
    assert stale.status_code == 409
    assert "The clinic has updated this form" in stale.text
    assert "Why are you coming in?" in stale.text
    assert 'value="7" checked' in stale.text
    assert answers(db, waiting) is None

    # The begun form is finished under version 1 and read under it.
    assert save_page(web, begun_url, 2, {"a-consent": "Rosa Lind"}).status_code == 303
    assert send(web, begun_url).status_code == 303
    assert row(db, begun).version_number == 1
    assert "What brings you to us?" in web.get(begun_url).text


# --- the appointment's page ------------------------------------------------------------------


def test_a_video_consultations_page_has_its_room_and_its_forms(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice, base: str
) -> None:
    with transaction(db) as session:
        video = AppointmentType(
            clinic_id=where.clinic_id, name="Video consultation", duration_minutes=30, video=True
        )
        session.add(video)
        session.flush()
        video_id = video.id
    appointment_id, [request_id] = booked(db, where, where.patient_id, type_id=video_id)
    with db() as session:
        room = session.get(Appointment, appointment_id)
        assert room is not None
        room_url = room.video_url
    assert room_url
    assert room_url.startswith("https://meet.jit.si/north-")
    page = web.get(f"{base}/appointments/{appointment_id}")
    assert f'<a class="button" href="{room_url}" target="_blank" rel="noopener">' in page.text
    assert "Join video consultation" in page.text
    assert f'href="{base}/forms/{request_id}"' in page.text

    # Not a video consultation: no room. Over, or cancelled: the room is gone from it.
    plain, _ = booked(db, where, where.patient_id, starts_in=timedelta(days=4))
    assert "Join video consultation" not in web.get(f"{base}/appointments/{plain}").text
    over, _ = booked(db, where, where.patient_id, starts_in=-timedelta(days=7), type_id=video_id)
    assert "Join video consultation" not in web.get(f"{base}/appointments/{over}").text
    with transaction(db) as session:
        cancelled = session.get(Appointment, appointment_id)
        assert cancelled is not None
        cancelled.status = AppointmentStatus.CANCELLED
    assert "Join video consultation" not in web.get(f"{base}/appointments/{appointment_id}").text


def test_every_problem_of_a_page_is_said_at_once(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice, base: str
) -> None:
    """A mistyped date and a required choice left empty: both said on the first press,
    not the second only after the first is put right."""
    url = f"{base}/forms/{sent_form(db, where)}"
    refused = save_page(web, url, 1, {"a-reason": "Knee", "a-pain": "4", "a-since": "31/02/2024"})
    assert refused.status_code == 422
    assert "no such day" in error_beside(refused, "since")
    assert "Choose an answer" in error_beside(refused, "smoker")
    assert answers(db, uuid.UUID(url.rsplit("/", 1)[1])) is None  # nothing of it saved
