"""The demo clinic's practice page on a phone in real Chromium: readable, its ways in
linked, nothing from another origin, and nothing axe-core counts as serious."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext

from tests.support.browser import RequestLog, check_accessible
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser


def test_the_demo_practice_page_on_a_phone(phone: BrowserContext, live_server: LiveServer) -> None:
    page = phone.new_page()
    log = RequestLog(page, live_server.url)
    answer = page.goto(live_server.url + "/practice/demo")
    assert answer is not None
    assert answer.status == 200
    assert page.get_by_role("heading", name="Demo Clinic", level=1).is_visible()
    assert page.get_by_text("Physiotherapy and sports medicine").first.is_visible()
    assert page.get_by_role("link", name="+44 1539 720000").get_attribute("href") == (
        "tel:+441539720000"
    )
    book = page.get_by_role("link", name="Book an appointment")
    assert book.is_visible()
    assert book.get_attribute("href") == "/book/demo"
    enquire = page.get_by_role("link", name="Ask about becoming a patient")
    assert enquire.get_attribute("href") == "/enquire/demo"
    assert page.get_by_role("heading", name="Opening hours").is_visible()
    assert page.get_by_role("listitem").filter(has_text="Bupa").is_visible()
    # Nothing wider than a phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    check_accessible(page)
    assert log.elsewhere() == []
