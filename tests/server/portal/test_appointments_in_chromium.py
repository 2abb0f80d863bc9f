"""A signed-in patient of the demo clinic, in real Chromium on a phone: books a time
in the portal, finds it in the list, and cancels it; axe-core on every page; and the
same booking with JavaScript off."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import BrowserContext, Page
from sqlalchemy import select

from common.appointments import AppointmentSource, AppointmentStatus, CancelledBy
from server.clinics.models import Clinic
from server.demo import DEMO_SLUG
from server.patients.models import Patient
from server.portal.models import PortalMember
from server.scheduling.models import Appointment
from server.web.models import PracticeProfile
from tests.server.portal import portalmaker
from tests.support.browser import check_accessible
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser


def sign_in(page: Page, server: LiveServer) -> tuple[str, uuid.UUID]:
    """A demo patient with an e-mail address, invited by the desk and accepted in the
    browser: (the portal's address, the patient's id)."""
    with server.sessionmaker() as session:
        clinic = session.scalar(select(Clinic).where(Clinic.slug == DEMO_SLUG))
        assert clinic is not None
        profile = session.scalar(
            select(PracticeProfile).where(PracticeProfile.clinic_id == clinic.id)
        )
        assert profile is not None
        linked = set(session.scalars(select(PortalMember.patient_id)))
        patient = next(
            p
            for p in session.scalars(
                select(Patient).where(Patient.clinic_id == clinic.id).order_by(Patient.id)
            )
            if p.email and p.id not in linked
        )
        clinic_id, patient_id, slug = clinic.id, patient.id, profile.slug
    token = portalmaker.send_invite(server.sessionmaker, clinic_id, patient_id)
    page.goto(f"{server.url}/portal/invite/{token}")
    page.get_by_role("button", name="Set up my account").click()
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url("**/home*")
    return f"{server.url}/portal/{slug}", patient_id


def book(page: Page, base: str, *, accessible: bool = True, person: str | None = None) -> None:
    """Book (for ``person``, by name, when the account has several) → the first kind →
    no preference (or the first practitioner) → a time in the second week (well past the
    cancel cut-off) → review → confirm."""
    page.goto(f"{base}/book")
    if accessible:
        check_accessible(page)
    if person is not None:
        page.get_by_label(person).check()
    page.locator("input[name=type]").first.check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Who would you like to see?").wait_for()
    if accessible:
        check_accessible(page)
    page.locator("input[name=provider]").first.check()
    page.get_by_role("button", name="Show times").click()
    page.get_by_role("heading", name="Choose a time").wait_for()
    page.get_by_role("link", name="Later times").click()
    page.wait_for_url("**week=*")
    if accessible:
        check_accessible(page)
    page.locator("input[name=slot]").first.check()
    page.get_by_role("button", name="Review this time").click()
    page.get_by_role("heading", name="Check your appointment").wait_for()
    if accessible:
        check_accessible(page)
    page.get_by_role("button", name="Confirm appointment").click()
    page.get_by_text("Your appointment is booked").wait_for()


def portal_bookings(server: LiveServer, patient_id: uuid.UUID) -> list[Appointment]:
    with server.sessionmaker() as session:
        rows = session.scalars(
            select(Appointment).where(
                Appointment.patient_id == patient_id,
                Appointment.source == AppointmentSource.PORTAL,
            )
        ).all()
        for row in rows:
            session.expunge(row)
        return list(rows)


def test_book_see_it_listed_and_cancel(phone: BrowserContext, live_server: LiveServer) -> None:
    page = phone.new_page()
    base, patient_id = sign_in(page, live_server)
    book(page, base)
    check_accessible(page)
    [made] = portal_bookings(live_server, patient_id)
    assert made.status is AppointmentStatus.CONFIRMED

    page.get_by_role("link", name="Appointments", exact=True).click()
    page.get_by_role("heading", name="Appointments", exact=True).wait_for()
    check_accessible(page)
    page.locator(f"a[href$='/appointments/{made.id}']").click()
    page.get_by_role("heading", name="Your appointment").wait_for()
    assert page.get_by_role("link", name="Add to calendar").is_visible()
    check_accessible(page)
    page.get_by_role("link", name="Cancel appointment").click()
    page.get_by_role("heading", name="Cancel this appointment?").wait_for()
    check_accessible(page)
    page.get_by_role("button", name="Yes, cancel this appointment").click()
    page.get_by_text("Your appointment has been cancelled").wait_for()
    check_accessible(page)
    [cancelled] = portal_bookings(live_server, patient_id)
    assert cancelled.status is AppointmentStatus.CANCELLED
    assert cancelled.cancelled_by is CancelledBy.PATIENT


def test_booking_without_javascript(
    phone_without_js: BrowserContext, live_server: LiveServer
) -> None:
    page = phone_without_js.new_page()
    base, patient_id = sign_in(page, live_server)
    book(page, base, accessible=False)  # axe needs JavaScript
    assert len(portal_bookings(live_server, patient_id)) == 1
