"""A booking link and its manage link, walked whole in real Chromium on a phone against
the demo clinic: book, come back, verify, move to another provider; an expired link;
and the same booking with JavaScript off. axe-core on every page, nothing fetched from
another origin."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import BrowserContext, Page
from sqlalchemy import select

from common.messaging import Channel
from server.clinics.models import Clinic
from server.db import transaction
from server.demo import DEMO_SLUG
from server.messaging.models import Delivery, Message
from server.patients.models import Patient
from server.scheduling.models import Appointment, AppointmentType, Provider
from tests.server.web import linkmaker
from tests.support.browser import RequestLog, check_accessible
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser


def demo_practice(server: LiveServer) -> linkmaker.Practice:
    """The demo's consultation (every provider offers it) and one of its patients."""
    with server.sessionmaker() as session:
        clinic = session.scalar(select(Clinic).where(Clinic.slug == DEMO_SLUG))
        assert clinic is not None
        kind = session.scalar(
            select(AppointmentType).where(
                AppointmentType.clinic_id == clinic.id, AppointmentType.name == "Consultation"
            )
        )
        assert kind is not None
        providers = session.scalars(
            select(Provider.id).where(Provider.clinic_id == clinic.id).order_by(Provider.id)
        ).all()
        patient = session.scalars(
            select(Patient)
            .where(Patient.clinic_id == clinic.id, Patient.date_of_birth.is_not(None))
            .order_by(Patient.id)
        ).first()
        assert patient is not None
        return linkmaker.Practice(
            clinic.id, list(providers), kind.id, patient.id, ZoneInfo(clinic.time_zone)
        )


def new_link(server: LiveServer, where: linkmaker.Practice, **options: object) -> str:
    with transaction(server.sessionmaker) as session:
        token, _ = linkmaker.booking_link(session, where, **options)  # type: ignore[arg-type]
    return token


def book(page: Page, url: str, *, accessible: bool = True) -> None:
    """Welcome → a time in the second week (past any reschedule cut-off) → review →
    confirmation."""
    page.goto(url)
    if accessible:
        check_accessible(page)
    page.get_by_role("button", name="Continue to book appointment").click()
    page.get_by_role("link", name="Later times").click()
    page.wait_for_url("**/times?week=*")
    if accessible:
        check_accessible(page)
    page.locator("input[name=slot]").first.check()
    page.get_by_role("button", name="Review this time").click()
    page.get_by_role("heading", name="Check your appointment").wait_for()
    if accessible:
        check_accessible(page)
    page.get_by_role("button", name="Confirm appointment").click()
    page.get_by_role("heading", name="Your appointment is booked").wait_for()
    if accessible:
        check_accessible(page)


def test_book_come_back_verify_and_move(phone: BrowserContext, live_server: LiveServer) -> None:
    where = demo_practice(live_server)
    token = new_link(live_server, where)
    page = phone.new_page()
    log = RequestLog(page, live_server.url)
    book(page, f"{live_server.url}/l/{token}")

    # Opened again: booked, and no way back into the booking screen.
    page.goto(f"{live_server.url}/l/{token}")
    assert page.get_by_role("heading", name="Your appointment is booked").is_visible()
    assert page.get_by_role("button", name="Continue to book appointment").count() == 0

    # The manage link, from the confirmation text.
    with live_server.sessionmaker() as session:
        text = session.scalar(
            select(Delivery.text)
            .join(Message, Message.id == Delivery.message_id)
            .where(Message.patient_id == where.patient_id, Delivery.channel == Channel.SMS)
        )
        assert text is not None
        manage_token = text.rsplit("/m/", 1)[1]
        booked = session.scalar(
            select(Appointment).where(
                Appointment.patient_id == where.patient_id, Appointment.source == "link"
            )
        )
        assert booked is not None
        before = booked.provider_id
        patient = session.get(Patient, where.patient_id)
        assert patient is not None
        assert patient.date_of_birth is not None
        born = patient.date_of_birth
    page.goto(f"{live_server.url}/m/{manage_token}")
    check_accessible(page)
    page.get_by_label("Your date of birth").fill(born.isoformat())
    page.get_by_role("button", name="Continue").first.click()
    page.wait_for_url("**/appointment")
    assert page.get_by_role("heading", name="Your appointment", exact=True).is_visible()
    check_accessible(page)
    page.get_by_role("link", name="Reschedule").click()
    page.get_by_role("heading", name="Choose a new time").wait_for()
    check_accessible(page)
    page.locator(f"input[name=slot]:not([value^='{before}'])").first.check()
    page.get_by_role("button", name="Move my appointment to this time").click()
    page.get_by_text("Your appointment has been moved").wait_for()
    check_accessible(page)
    with live_server.sessionmaker() as session:
        moved = session.get(Appointment, booked.id)
        assert moved is not None
        assert moved.provider_id != before
        local = moved.starts_at.astimezone(where.zone)
        provider = session.get(Provider, moved.provider_id)
        assert provider is not None
    assert page.get_by_text(f"{local:%H:%M}", exact=True).is_visible()
    assert page.get_by_text(provider.display_name, exact=True).is_visible()

    # An expired link: friendly, with the clinic's phone.
    expired = new_link(live_server, where, expires_in=timedelta(minutes=-5))
    answer = page.goto(f"{live_server.url}/l/{expired}")
    assert answer is not None
    assert answer.status == 410
    assert page.get_by_role("heading", name="This link has expired").is_visible()
    assert page.get_by_role("link", name="+44 1539 720000").is_visible()
    check_accessible(page)
    page.get_by_role("button", name="Ask for a new link").click()
    page.get_by_role("heading", name="We have told the clinic").wait_for()
    check_accessible(page)
    assert log.elsewhere() == []


def test_booking_without_javascript(
    phone_without_js: BrowserContext, live_server: LiveServer
) -> None:
    where = demo_practice(live_server)
    token = new_link(live_server, where)
    page = phone_without_js.new_page()
    book(page, f"{live_server.url}/l/{token}", accessible=False)  # axe needs JavaScript
    with live_server.sessionmaker() as session:
        made = session.scalars(
            select(Appointment).where(
                Appointment.patient_id == where.patient_id, Appointment.source == "link"
            )
        ).all()
        assert len(made) == 1


def test_a_link_sent_from_the_desk_books_and_the_desk_sees_it(
    phone: BrowserContext, live_server: LiveServer
) -> None:
    """The whole loop: an admin's rule, reception sends it from the patient's file (the
    desk's own client), the patient books on a phone, and the file's history says so."""
    from common.booking_links import BookingLinkStatus
    from server.demo import ADMIN, FRONT_DESK
    from sync.client import ServerClient
    from sync.protocol import SaveBroadcastRule

    def signed_in(email: str, password: str) -> ServerClient:
        client = ServerClient(live_server.url)
        client.device_token = client.enroll(DEMO_SLUG, email, password, email).device_token
        client.session_token = client.sign_in(email, password).session_token
        return client

    where = demo_practice(live_server)
    admin = signed_in(ADMIN.email, ADMIN.password)
    rule = admin.save_broadcast_rule(
        SaveBroadcastRule(
            title="Review",
            appointment_type_id=where.type_id,
            earliest_days=1,
            latest_days=21,
            sms_text="Book your review: {link}",
            welcome_text="Choose a time for your review.",
        )
    )
    desk = signed_in(FRONT_DESK.email, FRONT_DESK.password)
    sent = desk.send_booking_link(where.patient_id, rule.id)
    url = live_server.url + "/l/" + sent.url.rsplit("/l/", 1)[1]
    page = phone.new_page()
    page.goto(url)
    assert page.get_by_text("Choose a time for your review.").is_visible()
    page.get_by_role("button", name="Continue to book appointment").click()
    page.locator("input[name=slot]").first.check()
    page.get_by_role("button", name="Review this time").click()
    page.get_by_role("button", name="Confirm appointment").click()
    page.get_by_role("heading", name="Your appointment is booked").wait_for()
    [link] = [found for found in desk.booking_links(where.patient_id) if found.id == sent.link.id]
    assert link.status is BookingLinkStatus.BOOKED
