"""The patients' common parts in real Chromium on a phone: the clinic's colours arrive
through the CSP nonce, the CSRF cookie is kept, nothing comes from another origin, and
axe-core finds nothing serious."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext

from tests.support.browser import RequestLog, check_accessible
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser


def test_front_page_on_a_phone(phone: BrowserContext, live_server: LiveServer) -> None:
    page = phone.new_page()
    log = RequestLog(page, live_server.url)
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    answer = page.goto(live_server.url + "/")
    assert answer is not None
    assert answer.status == 200
    # The brand colour came through the nonce'd style block (a CSP refusal would leave
    # the header unstyled and log an error).
    header = page.locator("header.bar")
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(31, 95, 139)"
    assert not [e for e in console_errors if "Content Security Policy" in e]
    assert page.get_by_role("link", name="Demo Clinic").is_visible()
    names = {cookie["name"] for cookie in phone.cookies()}
    assert "__Host-clinicdesk-csrf" in names
    assert log.elsewhere() == []
    check_accessible(page)


def test_unknown_address_is_a_friendly_page(phone: BrowserContext, live_server: LiveServer) -> None:
    page = phone.new_page()
    answer = page.goto(live_server.url + "/practice-typo")
    assert answer is not None
    assert answer.status == 404
    assert page.get_by_role("heading", name="Nothing here").is_visible()
    check_accessible(page)
