"""A clinic's intake form filled in on a phone in real Chromium, against a served demo
clinic, its e-mails through a real SMTP server (aiosmtpd):

- the clinic publishes an intake form (seven questions of every kind: two pages) and
  offers video consultations; a new patient asks for one through the booking widget,
  reception confirms it through the desk's API (registering them), and the welcome
  e-mail arrives with a link to the portal and the video room;
- the patient sets up the account, starts the form, and is interrupted after page 1
  (the browser closed: the page saved each answer as it changed); signed in again by an
  e-mailed link, they find page 1 kept, carry on, sign, review and send; the desk reads
  the answers in words, and the room's address is the same on the portal's appointment
  page and in the desk's appointment record;
- axe-core on every kind of forms page, and the whole form filled and sent again with
  JavaScript switched off.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy import select

from common.appointments import AppointmentStatus
from common.forms import FormStatus
from common.messaging import Channel
from server.booking_requests.models import BookingRequest
from server.clinics.models import Clinic
from server.db import transaction, utcnow
from server.demo import ADMIN, DEMO_SLUG, FRONT_DESK
from server.forms import service
from server.forms.models import FormRequest, FormResponse
from server.messaging.calendar_attachments import confirmation_attachments
from server.messaging.dispatcher import Dispatcher
from server.messaging.providers.smtp import SmtpEmail
from server.patients.models import Patient
from server.portal import invites
from server.scheduling.models import Appointment, AppointmentType, Provider
from sync.client import ServerClient
from sync.protocol import API_PREFIX, DEVICE_TOKEN_HEADER, PatientFields
from tests.server.portal.portalmaker import INVITE_LINK, last_email_to, staff_ctx
from tests.server.portal.test_portal_journey_in_chromium import Inbox, desk, local, smtp
from tests.support.browser import PHONE, RequestLog, check_accessible
from tests.support.live_server import DemoTemplates, LiveServer

pytestmark = pytest.mark.browser
__all__ = ["smtp"]  # the SMTP server fixture, shared with the portal's journey

ROBIN = "robin.formsby@example.org"
CONSENT = "I agree to be examined and treated by Demo Clinic's clinicians."
INTAKE = {
    "title": "Before your first visit",
    "kind": "intake",
    "appointment_type_ids": [],
    "active": True,
    "questions": [
        {"id": "reason", "kind": "text", "label": "What brings you to us?"},
        {"id": "smoker", "kind": "choice", "label": "Do you smoke?", "choices": ["Yes", "No"]},
        {
            "id": "pain",
            "kind": "scale",
            "label": "How bad is the pain today?",
            "help": "0 is no pain, 10 the worst you can imagine.",
        },
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
    ],
}


@pytest.fixture
def server(
    tmp_path_factory: pytest.TempPathFactory, demo_templates: DemoTemplates
) -> Iterator[LiveServer]:
    path: Path = tmp_path_factory.mktemp("forms") / "server.sqlite3"
    demo_templates.copy_to(path)
    served = LiveServer(path, seed=False)
    yield served
    served.close()


def api(client: ServerClient) -> httpx.Client:
    """The desk's API with a staff member's tokens, for calls the sync client has no
    method for."""
    return httpx.Client(
        base_url=client.server_url + API_PREFIX,
        headers={
            DEVICE_TOKEN_HEADER: client.device_token or "",
            "authorization": f"Bearer {client.session_token}",
        },
    )


@pytest.fixture
def clinic(server: LiveServer) -> tuple[ServerClient, uuid.UUID]:
    """The demo clinic with video consultations, and an intake form published by its
    admin through the desk's API: (reception's client, the video type's id)."""
    with transaction(server.sessionmaker) as session:
        clinic_id = session.scalar(select(Clinic.id).where(Clinic.slug == DEMO_SLUG))
        video = AppointmentType(
            clinic_id=clinic_id, name="Video consultation", duration_minutes=30, video=True
        )
        session.add(video)
        session.flush()
        video_id = video.id
    admin = desk(server, DEMO_SLUG, (ADMIN.email, ADMIN.password))
    with api(admin) as http:
        made = http.post("/forms", json=INTAKE)
    assert made.status_code == 201, made.text
    assert made.json()["version"] == 1
    return desk(server, DEMO_SLUG, (FRONT_DESK.email, FRONT_DESK.password)), video_id


@pytest.fixture
def phones(browser: Browser) -> Iterator[Callable[[], BrowserContext]]:
    """New phones as the test asks for them: a browser closed, and opened again."""
    made: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context(**PHONE)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()  # closing a closed context does nothing


def mail_link(server: LiveServer, inbox: Inbox, port: int, address: str, pattern: str) -> str:
    """The newest link matching ``pattern`` e-mailed to ``address``, once the server's
    dispatcher has sent it over SMTP."""
    mail = SmtpEmail("127.0.0.1", port, from_address="hello@demo.example", starttls=False)
    dispatcher = Dispatcher(
        server.app.state.database,
        {Channel.EMAIL: mail, Channel.SMS: None},
        attachments=confirmation_attachments,
    )
    deadline = time.monotonic() + 20
    while True:
        dispatcher.drain()
        try:
            return inbox.link_to(address, pattern)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def ask_for_a_video_consultation(page: Page, server: LiveServer) -> BookingRequest:
    page.goto(f"{server.url}/book/{DEMO_SLUG}")
    page.locator("label.choice", has_text="Video consultation").locator("input").check()
    page.locator('input[name="provider"]').first.check()
    page.get_by_role("button", name="See times").click()
    page.locator('input[name="start"]').first.check()
    page.get_by_role("button", name="Next: your details").click()
    page.get_by_label("First name").fill("Robin")
    page.get_by_label("Last name").fill("Formsby")
    page.get_by_label("Date of birth").fill("17/05/1980")
    page.get_by_label("Mobile number").fill("07400 912345")
    page.get_by_label("E-mail address").fill(ROBIN)
    page.get_by_role("button", name="Send the request").click()
    page.get_by_role("heading", name="Request sent").wait_for()
    with server.sessionmaker() as session:
        made = session.scalars(
            select(BookingRequest).where(BookingRequest.last_name == "Formsby")
        ).one()
        session.expunge(made)
    return made


def fill_page_one(page: Page) -> None:
    page.get_by_label("What brings you to us?").fill("Sore knee after running")
    page.get_by_role("radio", name="No", exact=True).check()
    page.locator('input[name="a-pain"][value="7"]').check()
    page.get_by_label("Since when?").fill("2024-05-17")
    page.get_by_role("checkbox", name="Aspirin").check()
    page.get_by_role("checkbox", name="Paracetamol").check()


def saved_answers(server: LiveServer, request_id: uuid.UUID) -> dict[str, Any]:
    with server.sessionmaker() as session:
        response = session.scalar(select(FormResponse).where(FormResponse.request_id == request_id))
        return {} if response is None else dict(json.loads(response.answers))


def wait_until_saved(server: LiveServer, request_id: uuid.UUID, wanted: set[str]) -> None:
    deadline = time.monotonic() + 15
    while not wanted <= set(saved_answers(server, request_id)):
        assert time.monotonic() < deadline, saved_answers(server, request_id)
        time.sleep(0.1)


def sign_in_by_email_link(
    page: Page, server: LiveServer, inbox: Inbox, port: int, base: str
) -> None:
    page.goto(f"{base}/home")
    page.get_by_role("heading", name="Sign in to your patient portal").wait_for()
    page.locator("#f-email").first.fill(ROBIN)
    page.get_by_role("button", name="E-mail me a sign-in link").click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()
    link = mail_link(server, inbox, port, ROBIN, r"https?://\S+/portal/link/[A-Za-z0-9_-]+")
    page.goto(local(link, server))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/home")


def test_a_new_patient_books_a_video_consultation_and_fills_in_the_intake_form_on_a_phone(
    phones: Callable[[], BrowserContext],
    server: LiveServer,
    smtp: tuple[Inbox, int],
    clinic: tuple[ServerClient, uuid.UUID],
) -> None:
    inbox, port = smtp
    reception, _video = clinic
    first_visit = phones()
    page = first_visit.new_page()
    log = RequestLog(page, server.url)

    # Asked for through the widget, confirmed at the desk with the patient registered.
    asked = ask_for_a_video_consultation(page, server)
    confirmed = reception.confirm_booking_request(
        asked.id,
        new_patient=PatientFields(
            first_name="Robin",
            last_name="Formsby",
            date_of_birth=asked.date_of_birth,
            phone=asked.phone,
            email=asked.email,
        ),
    )
    appointment_id = confirmed.appointment.id
    room = confirmed.appointment.video_url
    assert room
    assert room.startswith("https://meet.jit.si/demo-")

    # The welcome e-mail: the form, the video room, and the way into the portal.
    invite = mail_link(server, inbox, port, ROBIN, r"https?://\S+/portal/invite/[A-Za-z0-9_-]+")
    welcome = next(m for m in inbox.received if "your forms and your portal" in m["Subject"])
    text = welcome.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "- Before your first visit" in text
    assert room in text

    page.goto(local(invite, server))
    page.get_by_role("button", name="Set up my account").click()
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url("**/home?welcome=1")
    base = page.url.split("/home")[0]
    page.get_by_role("heading", name="Forms to fill in (1)").wait_for()
    # The appointment's page: its video room, and the form wanted before it.
    page.goto(f"{base}/appointments/{appointment_id}")
    join = page.get_by_role("link", name="Join video consultation")
    assert join.get_attribute("href") == room
    assert join.get_attribute("rel") == "noopener"
    assert join.get_attribute("target") == "_blank"
    assert page.get_by_role("link", name="Before your first visit").count() == 1
    check_accessible(page)
    page.get_by_role("link", name="Forms", exact=True).click()
    page.get_by_role("heading", name="Your forms").wait_for()
    check_accessible(page)
    page.get_by_role("link", name="Before your first visit").click()
    page.get_by_text("Page 1 of 2").wait_for()
    check_accessible(page)
    with server.sessionmaker() as session:
        request = session.scalars(select(FormRequest)).one()
        request_id = request.id
        assert request.patient_id == confirmed.request.patient_id

    # Page 1, each answer saved as it changes; then the phone is put away.
    fill_page_one(page)
    page.get_by_role("status").filter(has_text="Saved").wait_for()
    wait_until_saved(server, request_id, {"reason", "smoker", "pain", "since", "meds"})
    assert log.elsewhere() == []
    first_visit.close()

    # Later, signed in by an e-mailed link: the form opens where it was left.
    later = phones()
    page = later.new_page()
    sign_in_by_email_link(page, server, inbox, port, base)
    page.get_by_role("link", name="Before your first visit").click()
    page.get_by_text("Page 2 of 2").wait_for()
    page.get_by_role("button", name="Back").click()
    page.get_by_text("Page 1 of 2").wait_for()
    assert page.get_by_label("What brings you to us?").input_value() == "Sore knee after running"
    assert page.get_by_role("radio", name="No", exact=True).is_checked()
    assert page.locator('input[name="a-pain"][value="7"]').is_checked()
    assert page.get_by_label("Since when?").input_value() == "2024-05-17"
    assert page.get_by_role("checkbox", name="Paracetamol").is_checked()
    assert not page.get_by_role("checkbox", name="Ibuprofen").is_checked()
    page.get_by_role("button", name="Save and continue").click()

    # Signed with the wrong name: said beside the field, and kept there to correct.
    page.get_by_text("Page 2 of 2").wait_for()
    page.get_by_label("Anything else?").fill("Mornings are worst")
    page.get_by_label("Type your full name to sign").fill("Rob Formsby")
    page.get_by_role("button", name="Save and continue").click()
    page.locator("#e-consent").wait_for()
    assert "Robin Formsby" in page.locator("#e-consent").inner_text()
    assert page.get_by_label("Type your full name to sign").input_value() == "Rob Formsby"
    assert page.get_by_label("Anything else?").input_value() == "Mornings are worst"
    check_accessible(page)
    page.get_by_label("Type your full name to sign").fill("Robin Formsby")
    page.get_by_role("button", name="Save and continue").click()

    page.get_by_role("heading", name="Check your answers").wait_for()
    check_accessible(page)
    assert "7 of 10" in page.content()
    assert "Aspirin, Paracetamol" in page.content()
    page.get_by_role("button", name="Send to the clinic").click()
    page.get_by_role("heading", name="Thank you").wait_for()
    check_accessible(page)
    assert log.elsewhere() == []

    # The desk reads it complete, in words.
    with api(reception) as http:
        read = http.get(f"/form-requests/{request_id}")
        record = http.get(f"/appointments/{appointment_id}")
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["request"]["status"] == "complete"
    words = {a["question_id"]: a["answer"] for a in body["answers"]}
    assert words["reason"] == "Sore knee after running"
    assert words["smoker"] == "No"
    assert words["pain"] == "7 of 10"
    assert words["since"] == "17/05/2024"
    assert words["meds"] == "Aspirin, Paracetamol"
    assert words["notes"] == "Mornings are worst"
    assert words["consent"].startswith("Signed “Robin Formsby”")
    assert "portal account" in body["completed_by"]

    # The same room on the portal's appointment page and in the desk's record.
    assert record.status_code == 200, record.text
    assert record.json()["video_url"] == room
    page.goto(f"{base}/appointments/{appointment_id}")
    assert page.get_by_role("link", name="Join video consultation").get_attribute("href") == room


# --- without JavaScript -----------------------------------------------------------------


def nadia_with_a_form(server: LiveServer) -> tuple[str, uuid.UUID]:
    """A demo patient invited to the portal by reception, with an intake form sent by a
    desk booking: (the invitation's token, the form's id)."""
    with transaction(server.sessionmaker) as session:
        clinic_id = session.scalar(select(Clinic.id).where(Clinic.slug == DEMO_SLUG))
        assert clinic_id is not None
        patient = Patient(
            clinic_id=clinic_id, first_name="Nadia", last_name="Nojs", email="nadia@example.org"
        )
        provider = session.scalars(
            select(Provider).where(Provider.clinic_id == clinic_id).order_by(Provider.id)
        ).first()
        assert provider is not None
        session.add(patient)
        session.flush()
        starts = (utcnow() + timedelta(days=20)).replace(hour=5, minute=0, second=0, microsecond=0)
        appointment = Appointment(
            clinic_id=clinic_id,
            provider_id=provider.id,
            patient_id=patient.id,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=30),
            status=AppointmentStatus.BOOKED,
        )
        session.add(appointment)
        session.flush()
        [form] = service.booked(session, appointment, utcnow())
        invites.invite(
            session, staff_ctx(clinic_id), patient.id, now=utcnow(), public_base_url=server.url
        )
        form_id = form.id
    found = INVITE_LINK.search(last_email_to(server.sessionmaker, "nadia@example.org").text)
    assert found
    return found.group(1), form_id


def test_the_form_is_filled_and_sent_without_javascript(
    phone_without_js: BrowserContext, server: LiveServer, clinic: tuple[ServerClient, uuid.UUID]
) -> None:
    token, form_id = nadia_with_a_form(server)
    page = phone_without_js.new_page()
    log = RequestLog(page, server.url)
    page.goto(f"{server.url}/portal/invite/{token}")
    page.get_by_role("button", name="Set up my account").click()
    page.get_by_role("button", name="Create my account").click()
    page.get_by_role("heading", name="Forms to fill in (1)").wait_for()
    page.get_by_role("link", name="Before your first visit").click()
    page.get_by_text("Page 1 of 2").wait_for()

    # A required answer missed, and a date typed by hand: said, and kept.
    page.get_by_label("What brings you to us?").fill("A check-up")
    page.locator('input[name="a-pain"][value="3"]').check()
    page.get_by_label("Since when?").fill("2024-05-17")
    page.get_by_role("button", name="Save and continue").click()
    page.locator("#e-smoker").wait_for()
    assert page.get_by_label("What brings you to us?").input_value() == "A check-up"
    page.get_by_role("radio", name="Yes", exact=True).check()
    page.get_by_role("button", name="Save and continue").click()

    page.get_by_text("Page 2 of 2").wait_for()
    page.get_by_label("Type your full name to sign").fill("nadia nojs")
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("heading", name="Check your answers").wait_for()
    page.get_by_role("link", name="Change answers on page 1").click()
    page.get_by_text("Page 1 of 2").wait_for()
    assert page.locator('input[name="a-pain"][value="3"]').is_checked()
    page.goto(f"{server.url}/portal/{DEMO_SLUG}/forms/{form_id}/review")
    page.get_by_role("button", name="Send to the clinic").click()
    page.get_by_role("heading", name="Thank you").wait_for()
    assert log.elsewhere() == []

    with server.sessionmaker() as session:
        sent = session.get(FormRequest, form_id)
        assert sent is not None
        assert sent.status is FormStatus.COMPLETE
    answers = saved_answers(server, form_id)
    assert answers["smoker"] == "Yes"
    assert answers["pain"] == 3
    assert answers["since"] == "2024-05-17"
    assert answers["consent"]["name"] == "nadia nojs"
