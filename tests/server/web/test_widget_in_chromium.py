"""The booking widget in real Chromium on a phone, against the demo clinic on a live
server: the whole flow to "Request sent", then confirmed by staff (registering the new
patient) and the patient's confirmation in the development outbox; again with
JavaScript switched off. Every page accessible, nothing fetched from elsewhere."""

from __future__ import annotations

import http.server
import socketserver
import threading
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page
from sqlalchemy import select

from common.booking_requests import BookingRequestStatus
from common.embed import iframe_code
from common.messaging import Channel
from server.booking_requests.models import BookingRequest
from server.messaging.dispatcher import Dispatcher
from server.messaging.models import DevOutboxEntry
from sync import account
from sync.protocol import PatientFields
from tests.support.browser import RequestLog
from tests.support.browser import check_accessible as accessible
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser
EMAIL, PASSWORD = "frontdesk@demo.clinic", "frontdesk-demo-1"
DEV_OUTBOX = {Channel.SMS: None, Channel.EMAIL: None}


def _book(page: Page, url: str, last_name: str, *, axe: bool = True) -> None:
    """Walk the widget as a patient would: a type, a provider, a time, the details
    (axe-core checking each page, where the page may run it)."""

    def check_accessible(page: Page) -> None:
        if axe:
            accessible(page)

    answer = page.goto(url + "/book/demo")
    assert answer is not None
    assert answer.status == 200
    check_accessible(page)
    page.locator('input[name="type"]').first.check()
    page.locator('input[name="provider"]').first.check()
    page.get_by_role("button", name="See times").click()
    page.wait_for_url("**/book/demo/times?*")
    assert page.get_by_role("heading", name="Choose a time").is_visible()
    check_accessible(page)
    page.locator('input[name="start"]').first.check()
    page.get_by_role("button", name="Next: your details").click()
    page.wait_for_url("**/book/demo/details?*")
    check_accessible(page)
    page.get_by_label("First name").fill("Robin")
    page.get_by_label("Last name").fill(last_name)
    page.get_by_label("Date of birth").fill("17/05/1980")
    page.get_by_label("Mobile number").fill("07400 912345")
    page.get_by_label("E-mail address").fill("robin@example.org")
    page.get_by_label("Reason for the visit").fill("Sore knee")
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_load_state()
    assert page.url.endswith("/book/demo/sent"), page.locator("main").inner_text()
    assert page.get_by_role("heading", name="Request sent").is_visible()
    assert last_name not in page.content()
    check_accessible(page)


def _request(server: LiveServer, last_name: str) -> BookingRequest:
    with server.sessionmaker() as session:
        found = session.scalars(
            select(BookingRequest).where(BookingRequest.last_name == last_name)
        ).one()
        session.expunge(found)
        return found


def test_a_request_from_the_widget_is_confirmed_and_the_patient_told(
    phone: BrowserContext, live_server: LiveServer, tmp_path: Path
) -> None:
    page = phone.new_page()
    log = RequestLog(page, live_server.url)
    _book(page, live_server.url, "Widgetson")
    assert log.elsewhere() == []
    made = _request(live_server, "Widgetson")
    assert made.status is BookingRequestStatus.PENDING
    assert made.patient_id is None
    assert made.appointment_id is None

    desk = account.sign_in(tmp_path / "desk", live_server.url, "demo", EMAIL, PASSWORD)
    try:
        client = account.sync_client(desk)
        matches = client.booking_request_matches(made.id)
        assert all("Widgetson" not in m.name for m in matches)
        new = PatientFields(
            first_name="Robin",
            last_name="Widgetson",
            date_of_birth=made.date_of_birth,
            phone=made.phone,
            email=made.email,
        )
        confirmed = client.confirm_booking_request(made.id, new_patient=new)
    finally:
        desk.store.close()
    assert confirmed.request.status is BookingRequestStatus.CONFIRMED
    assert confirmed.request.patient_id is not None

    Dispatcher(live_server.app.state.database, DEV_OUTBOX).drain()
    with live_server.sessionmaker() as session:
        sent = session.scalars(select(DevOutboxEntry)).all()
    to_robin = {e.channel for e in sent if e.to_address in ("+447400912345", "robin@example.org")}
    assert to_robin == {Channel.SMS, Channel.EMAIL}


def test_the_widget_works_without_javascript(
    phone_without_js: BrowserContext, live_server: LiveServer
) -> None:
    page = phone_without_js.new_page()
    log = RequestLog(page, live_server.url)
    _book(page, live_server.url, "Nojs", axe=False)  # axe-core needs JavaScript
    assert log.elsewhere() == []
    made = _request(live_server, "Nojs")
    assert made.status is BookingRequestStatus.PENDING
    assert made.phone == "+447400912345"


def test_the_widget_books_from_inside_another_sites_iframe(
    phone: BrowserContext, live_server: LiveServer
) -> None:
    """The embed code pasted into a clinic's own website (another site): a frame of
    another site keeps no cookie of ours, so the widget's form must go without one."""
    code = iframe_code(live_server.url, "demo", name="Demo Clinic")
    html = f"<!doctype html><title>Our clinic</title><h1>Book with us</h1>{code}".encode()

    class Website(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *_args: object) -> None:
            pass

    website = socketserver.TCPServer(("127.0.0.1", 0), Website)
    threading.Thread(target=website.serve_forever, daemon=True).start()
    try:
        page = phone.new_page()
        # "localhost" and "127.0.0.1" are different sites to the browser.
        page.goto(f"http://localhost:{website.server_address[1]}/")
        frame = page.frame_locator("iframe")
        frame.locator('input[name="type"]').first.check()
        frame.locator('input[name="provider"]').first.check()
        frame.get_by_role("button", name="See times").click()
        frame.locator('input[name="start"]').first.check()
        frame.get_by_role("button", name="Next: your details").click()
        frame.get_by_label("First name").fill("Robin")
        frame.get_by_label("Last name").fill("Framed")
        frame.get_by_label("Date of birth").fill("17/05/1980")
        frame.get_by_label("Mobile number").fill("07400 912345")
        frame.get_by_role("button", name="Send the request").click()
        frame.get_by_role("heading", name="Request sent").wait_for()
    finally:
        website.shutdown()
        website.server_close()
    with live_server.sessionmaker() as session:
        made = session.scalars(
            select(BookingRequest).where(BookingRequest.last_name == "Framed")
        ).all()
    assert len(made) == 1
