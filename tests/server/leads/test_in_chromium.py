"""The enquiry form in real Chromium on a phone, against a real server (the demo clinic):
filled, refused in words, sent, thanked; accessible throughout; then the desk's API
converts the lead into a patient. Once more with JavaScript switched off."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from common.leads import LeadChannel, LeadStatus
from sync.client import ServerClient
from tests.support.browser import RequestLog, check_accessible
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser
EMAIL, PASSWORD = "frontdesk@demo.clinic", "frontdesk-demo-1"


def fill(page: Page, *, phone: str) -> None:
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("Date of birth").fill("1986-12-09")
    page.get_by_label("Phone number").fill(phone)
    page.get_by_label("E-mail address").fill("grace@example.org")
    page.get_by_label("Phone", exact=True).check()
    page.get_by_label("Your message").fill("Shoulder pain; weekday mornings.")


def desk_client(live_server: LiveServer) -> ServerClient:
    client = ServerClient(live_server.url)
    client.device_token = client.enroll("demo", EMAIL, PASSWORD, "Browser test").device_token
    client.session_token = client.sign_in(EMAIL, PASSWORD).session_token
    return client


def test_an_enquiry_from_a_phone_becomes_a_patient(
    phone: BrowserContext, live_server: LiveServer
) -> None:
    page = phone.new_page()
    log = RequestLog(page, live_server.url)
    answer = page.goto(live_server.url + "/enquire/demo?utm_source=google")
    assert answer is not None
    assert answer.status == 200
    check_accessible(page)

    fill(page, phone="12")  # not a number: refused in words, the rest kept
    page.get_by_role("button", name="Send enquiry").click()
    expect(page.get_by_role("heading", name="Please check this")).to_be_visible()
    assert page.locator("#e-phone").inner_text().startswith("That phone number is not a valid")
    assert page.get_by_label("Last name").input_value() == "Hopper"
    assert page.get_by_label("Your message").input_value() == "Shoulder pain; weekday mornings."
    check_accessible(page)

    page.get_by_label("Phone number").fill("07400 912345")
    page.get_by_role("button", name="Send enquiry").click()
    page.wait_for_url("**/enquire/demo/thanks")
    assert page.get_by_role("heading", name="Thank you").is_visible()
    assert "Grace" not in page.content()
    check_accessible(page)
    assert log.elsewhere() == []

    client = desk_client(live_server)
    try:
        [lead] = [lead for lead in client.leads(LeadStatus.NEW) if lead.last_name == "Hopper"]
        assert lead.channel is LeadChannel.SEARCH
        assert lead.phone == "+447400912345"
        assert lead.user_agent_family.startswith("Chrome")
        converted = client.convert_lead(lead.id)
        assert converted.patient.last_name == "Hopper"
        [after] = [x for x in client.leads(LeadStatus.CONVERTED) if x.id == lead.id]
        assert after.patient_id == converted.patient.id
        assert after.patient_name == "Grace Hopper"
    finally:
        client.close()


def test_the_form_works_without_javascript(
    phone_without_js: BrowserContext, live_server: LiveServer
) -> None:
    page = phone_without_js.new_page()
    page.goto(live_server.url + "/enquire/demo?ref=walk-in")
    fill(page, phone="07400 912346")
    page.get_by_role("button", name="Send enquiry").click()
    page.wait_for_url("**/enquire/demo/thanks")
    assert page.get_by_role("heading", name="Thank you").is_visible()
    client = desk_client(live_server)
    try:
        [lead] = [lead for lead in client.leads(LeadStatus.NEW) if lead.last_name == "Hopper"]
        assert lead.channel is LeadChannel.WALK_IN
    finally:
        client.close()
