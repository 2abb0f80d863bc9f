"""Every portal form with JavaScript switched off, in real Chromium on a phone: sign in
with a password, the profile, a sharing consent, a family member, contact details, the
password, signing out; and axe-core on the pages the other walks do not reach (the
sign-in link sent, used links and invitations, taking a family member off)."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext
from sqlalchemy import select

from server.clinics.models import Clinic
from server.db import transaction, utcnow
from server.demo import DEMO_PORTAL_EMAIL, DEMO_PORTAL_PASSWORD, DEMO_SLUG, seed_demo_portal
from server.patients.models import Patient
from server.portal import accounts
from server.portal.models import PortalAccount, SharingConsent
from server.portal.sharing import profile_of
from tests.server.portal import portalmaker
from tests.support.browser import check_accessible
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
def holder(live_server: LiveServer) -> str:
    """The demo's portal account (as ``clinicdesk seed-demo`` makes it)."""
    with transaction(live_server.sessionmaker) as session:
        clinic = session.scalar(select(Clinic).where(Clinic.slug == DEMO_SLUG))
        assert clinic is not None
        seed_demo_portal(session, clinic)
    return f"{live_server.url}/portal/{DEMO_SLUG}"


def test_every_account_form_works_without_javascript(
    phone_without_js: BrowserContext, live_server: LiveServer, holder: str
) -> None:
    page = phone_without_js.new_page()
    page.goto(f"{holder}/sign-in")
    page.locator("form[action$='/sign-in/password'] input[name=email]").fill(DEMO_PORTAL_EMAIL)
    page.get_by_label("Password").fill(DEMO_PORTAL_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{holder}/home")

    page.goto(f"{holder}/profile")
    page.locator("#f-allergies").fill("Latex")
    page.get_by_role("button", name="Save my profile").click()
    page.goto(f"{holder}/sharing")
    page.locator("a[href$='/sign']").first.click()
    with live_server.sessionmaker() as session:
        account = session.scalar(
            select(PortalAccount).where(PortalAccount.email == DEMO_PORTAL_EMAIL)
        )
        assert account is not None
        assert profile_of(account)["allergies"] == "Latex"
        holder_name = next(
            f"{p.first_name} {p.last_name}"
            for p in session.scalars(select(Patient).where(Patient.email == DEMO_PORTAL_EMAIL))
        )
    page.locator("#f-signed_name").fill(holder_name)
    page.get_by_role("button", name="Sign the consent").click()
    with live_server.sessionmaker() as session:
        assert session.scalars(select(SharingConsent)).one().withdrawn_at is None

    page.goto(f"{holder}/family/add")
    page.locator("#f-first_name").fill("Mia")
    page.locator("#f-last_name").fill("Quinn")
    page.locator("#f-date_of_birth").fill("01/02/2019")
    page.get_by_role("button", name="Add to my account").click()
    page.get_by_text("Mia Quinn").first.wait_for()

    page.goto(f"{holder}/security")
    page.locator("input[name=current_password]").fill(DEMO_PORTAL_PASSWORD)
    page.locator("input[name=new_password]").fill("copper meadow lantern 42")
    page.locator("form[action$='/security/password'] button").click()
    with live_server.sessionmaker() as session:
        account = session.scalar(
            select(PortalAccount).where(PortalAccount.email == DEMO_PORTAL_EMAIL)
        )
        assert account is not None
        assert account.password_set_at is not None
        assert account.password_set_at > account.created_at

    page.get_by_role("button", name="Sign out", exact=True).click()
    page.get_by_role("heading", name="Sign in to your patient portal").wait_for()
    assert page.goto(f"{holder}/home").url.endswith("/sign-in")


def test_the_pages_the_other_walks_do_not_reach_are_accessible(
    phone: BrowserContext, live_server: LiveServer, holder: str
) -> None:
    page = phone.new_page()
    page.goto(f"{holder}/sign-in")
    page.locator("form[action$='/sign-in/link'] input[name=email]").fill(DEMO_PORTAL_EMAIL)
    page.get_by_role("button", name="E-mail me a sign-in link").click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()
    check_accessible(page)
    # A used or expired sign-in link, and a used invitation, explain themselves.
    with transaction(live_server.sessionmaker) as session:
        account = session.scalar(
            select(PortalAccount).where(PortalAccount.email == DEMO_PORTAL_EMAIL)
        )
        assert account is not None
        clinic_id = session.scalar(select(Clinic.id).where(Clinic.slug == DEMO_SLUG))
        assert clinic_id is not None
        token = accounts.issue_link(session, account, clinic_id, utcnow())
    page.goto(f"{live_server.url}/portal/link/{token}")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{holder}/home")
    page.goto(f"{live_server.url}/portal/link/{token}")
    page.get_by_role("heading", name="This sign-in link no longer works").wait_for()
    check_accessible(page)

    page.goto(f"{holder}/family")
    page.locator("a[href$='/remove']").first.click()
    page.get_by_role("button", name="off my account").wait_for()
    check_accessible(page)
    page.goto(f"{holder}/security")
    check_accessible(page)
    page.goto(f"{holder}/messages")
    page.get_by_role("heading", name="Messages").wait_for()
    check_accessible(page)


def test_an_invitation_and_a_sign_in_link_work_without_javascript(
    phone_without_js: BrowserContext, phone: BrowserContext, live_server: LiveServer
) -> None:
    """The other way in, scripts off: an invitation accepted, then a sign-in link asked
    for and used. The used invitation then explains itself (axe, scripts on)."""
    with live_server.sessionmaker() as session:
        clinic_id = session.scalar(select(Clinic.id).where(Clinic.slug == DEMO_SLUG))
        patient = session.scalars(
            select(Patient).where(Patient.email.is_not(None)).order_by(Patient.id)
        ).first()
        assert clinic_id is not None
        assert patient is not None
        patient_id, address = patient.id, patient.email or ""
    token = portalmaker.send_invite(live_server.sessionmaker, clinic_id, patient_id)
    page = phone_without_js.new_page()
    page.goto(f"{live_server.url}/portal/invite/{token}")
    page.get_by_role("button", name="Set up my account").click()
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url("**/home*")
    page.get_by_role("button", name="Sign out", exact=True).click()
    page.locator("form[action$='/sign-in/link'] input[name=email]").fill(address)
    page.get_by_role("button", name="E-mail me a sign-in link").click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()
    link = portalmaker.sign_in_link_for(live_server.sessionmaker, address)
    page.goto(f"{live_server.url}/portal/link/{link}")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/portal/{DEMO_SLUG}/home")

    used = phone.new_page()
    used.goto(f"{live_server.url}/portal/invite/{token}")
    used.get_by_role("heading", name="This invitation no longer works").wait_for()
    check_accessible(used)
