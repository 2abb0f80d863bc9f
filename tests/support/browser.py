"""Real Chromium (Debian's package) driven by Playwright, for the patients' pages.

One browser per test module; each test gets a fresh phone-sized context (its own
cookies), so tests never share a patient's session. Not one per session: Playwright's
synchronous driver keeps an event loop marked running in the thread while it lives,
and a later test's ``asyncio.run`` in the same worker would refuse to start.
``check_accessible`` runs axe-core in the page; ``RequestLog`` lists anything a page
fetched from another origin.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

CHROMIUM = os.environ.get("CLINICDESK_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A mid-sized phone (CSS pixels), as most patients open their links.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/156.0.0.0 Mobile Safari/537.36"
    ),
}
SERIOUS = ("serious", "critical")
_axe = Axe()


def chromium_available() -> bool:
    return os.path.exists(CHROMIUM) or shutil.which("chromium") is not None


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not chromium_available():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `make system-deps`.")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
    yield chromium
    chromium.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh phone: no cookies, JavaScript on."""
    context = browser.new_context(**PHONE)
    yield context
    context.close()


@pytest.fixture
def phone_without_js(browser: Browser) -> Iterator[BrowserContext]:
    """A phone with JavaScript switched off: every form must still work."""
    context = browser.new_context(**PHONE, java_script_enabled=False)
    yield context
    context.close()


def check_accessible(page: Page) -> None:
    """axe-core finds no serious or critical violation on the page as it stands."""
    results = _axe.run(page)
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:3])
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS
    ]
    assert not found, f"{page.url}: " + " | ".join(found)


class RequestLog:
    """Every request a page made, to check nothing came from another origin and to add
    up what a first visit costs."""

    def __init__(self, page: Page, origin: str) -> None:
        self.origin = origin
        self.urls: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))

    def elsewhere(self) -> list[str]:
        own = urlsplit(self.origin).netloc
        return [
            url
            for url in self.urls
            if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != own
        ]
