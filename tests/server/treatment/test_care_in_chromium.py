"""The demo patient follows their treatment in real Chromium on a phone, against a served
demo clinic seeded as ``clinicdesk seed-demo`` seeds it: the braces plan with the fitting
marked, the progress photo drawn (a real image, not a broken one), the reading the
fitting gave them opened from "For you" (and the desk's API then says it was opened, the
other items not), the help centre browsed and searched; axe-core on every page. And the
same opening with JavaScript switched off."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import BrowserContext, Page
from sqlalchemy import select

from server.clinics.models import Clinic
from server.db import transaction
from server.demo import (
    ADMIN,
    DEMO_PORTAL_EMAIL,
    DEMO_PORTAL_PASSWORD,
    DEMO_SLUG,
    seed_demo_care,
    seed_demo_portal,
)
from server.patients.models import Patient
from sync.client import ServerClient
from tests.support.browser import check_accessible
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
def holder(live_server: LiveServer) -> tuple[str, uuid.UUID]:
    """The demo's portal account, its braces plan and the clinic's library."""
    with transaction(live_server.sessionmaker) as session:
        clinic = session.scalar(select(Clinic).where(Clinic.slug == DEMO_SLUG))
        assert clinic is not None
        seed_demo_portal(session, clinic)
        seed_demo_care(session, clinic, live_server.settings.media_dir, live_server.url)
        patient_id = session.scalars(
            select(Patient.id).where(Patient.email == DEMO_PORTAL_EMAIL)
        ).one()
    return f"{live_server.url}/portal/{DEMO_SLUG}", patient_id


def sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/sign-in")
    page.locator("form[action$='/sign-in/password'] input[name=email]").fill(DEMO_PORTAL_EMAIL)
    page.get_by_label("Password").fill(DEMO_PORTAL_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/home")


def desk(server: LiveServer) -> ServerClient:
    client = ServerClient(server.url)
    client.device_token = client.enroll(
        DEMO_SLUG, ADMIN.email, ADMIN.password, "Reception"
    ).device_token
    client.session_token = client.sign_in(ADMIN.email, ADMIN.password).session_token
    return client


def test_the_patient_sees_the_plan_a_photo_and_opens_their_reading_on_a_phone(
    phone: BrowserContext, live_server: LiveServer, holder: tuple[str, uuid.UUID]
) -> None:
    base, patient_id = holder
    page = phone.new_page()
    sign_in(page, base)

    page.get_by_role("link", name="Treatment", exact=True).click()
    page.get_by_role("heading", name="Braces, upper and lower").wait_for()
    current = page.locator("li[aria-current=step]")
    assert current.get_by_role("heading").inner_text().startswith("Fitting")
    assert "Crowding of the lower front teeth" in page.content()
    photo = page.get_by_role("img", name=re.compile(r"^Progress photo, Fitting, \d+ \w+ \d{4}$"))
    photo.wait_for()
    # Loaded as it scrolls into view, in a place of the photo's proportions kept for it.
    assert photo.get_attribute("loading") == "lazy"
    assert (photo.get_attribute("width"), photo.get_attribute("height")) == ("160", "107")
    width, height = photo.evaluate("img => [img.width, img.height]")  # its border inside
    assert abs(width / height - 1.5) < 0.02, "the place kept is the photo's shape, unloaded"
    photo.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=photo.element_handle()
    )
    assert photo.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [48, 32]
    assert photo.evaluate("img => img.closest('a').href") == photo.evaluate("img => img.src")
    check_accessible(page)

    page.get_by_role("link", name=re.compile(r"^For you")).click()
    page.get_by_role("heading", name="For you", exact=True).wait_for()
    check_accessible(page)
    page.get_by_role("button", name="Open “Caring for your braces”").click()
    page.get_by_role("heading", name="Caring for your braces", level=1).wait_for()
    assert "Brush after every meal" in page.content()
    check_accessible(page)

    client = desk(live_server)
    try:
        given = client.patient_treatment(patient_id).deliveries
    finally:
        client.close()
    opened = {d.title: d.opened_at for d in given}
    assert opened["Caring for your braces"] is not None
    assert opened["Brushing with braces (video)"] is None
    assert opened["What happens at your first assessment"] is None

    page.get_by_role("link", name="Help", exact=True).click()
    page.get_by_role("heading", name="Help centre", exact=True).wait_for()
    check_accessible(page)
    page.get_by_label("Search the help centre").fill("foods")
    page.get_by_role("button", name="Search").click()
    page.get_by_text("1 found for “foods”").wait_for()
    check_accessible(page)
    # Tagged with two phases, it is listed under each.
    assert page.get_by_role("link", name="Foods to avoid with braces").count() == 2
    page.get_by_role("link", name="Foods to avoid with braces").first.click()
    download = page.get_by_role("link", name="Download the PDF")
    download.wait_for()
    check_accessible(page)
    with page.expect_download() as started:
        download.click()
    saved = started.value.path()
    assert saved.read_bytes().startswith(b"%PDF-")
    page.goto(f"{base}/help?phase=Fitting")
    page.get_by_role("link", name="Brushing with braces (video)").click()
    page.get_by_role("link", name="Watch the video").wait_for()
    check_accessible(page)


def test_the_reading_opens_without_javascript(
    phone_without_js: BrowserContext, live_server: LiveServer, holder: tuple[str, uuid.UUID]
) -> None:
    base, patient_id = holder
    page = phone_without_js.new_page()
    sign_in(page, base)
    page.goto(f"{base}/for-you")
    page.get_by_role("button", name="Open “Brushing with braces (video)”").click()
    page.get_by_role("link", name="Watch the video").wait_for()
    client = desk(live_server)
    try:
        given = client.patient_treatment(patient_id).deliveries
    finally:
        client.close()
    assert {d.title for d in given if d.opened_at is not None} == {"Brushing with braces (video)"}
