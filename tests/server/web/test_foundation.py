"""The patients' side's common parts: the front page, HTML error pages, security
headers, CSRF, rate limits and the clinic's colours."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from common.errors import TooManyAttempts
from server.db import Database, transaction
from server.web import limits
from server.web.models import PracticeProfile
from server.web.pages import GENERIC, Brand, WebRoute, contrast, render
from server.web.security import CheckedForm
from tests.server.conftest import Factory
from tests.server.web.conftest import csrf_of, submit


def _profile(db: sessionmaker[Session], clinic_id: uuid.UUID, slug: str, **fields: object) -> None:
    with transaction(db) as session:
        session.add(
            PracticeProfile(clinic_id=clinic_id, slug=slug, display_name=slug.title(), **fields)
        )


def test_front_page_lists_only_published_practices(
    web: TestClient, factory: Factory, db: sessionmaker[Session]
) -> None:
    open_clinic = factory.clinic("north")
    hidden = factory.clinic("south")
    _profile(db, open_clinic.id, "north-physio", published=True, specialty="Physiotherapy")
    _profile(db, hidden.id, "south-physio", published=False)
    page = web.get("/")
    assert page.status_code == 200
    assert 'href="/practice/north-physio"' in page.text
    assert "south-physio" not in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["strict-transport-security"].startswith("max-age=")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("__Host-clinicdesk-csrf=")
    for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in cookie


def test_unknown_address_is_a_page_for_browsers_and_json_for_programs(web: TestClient) -> None:
    page = web.get("/practice-typo/x")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "There is nothing at this address" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    api = web.get("/api/v1/nothing-here", headers={"accept": "application/json"})
    assert api.status_code == 404
    assert api.json()["code"] == "not_found"
    # The desks' API stays JSON even for a browser.
    api_from_browser = web.get("/api/v1/nothing-here")
    assert api_from_browser.headers["content-type"].startswith("application/json")


def test_static_files_are_cached_and_carry_the_headers(web: TestClient) -> None:
    page = web.get("/")
    css_url = page.text.split('rel="stylesheet" href="')[1].split('"')[0]
    css = web.get(css_url)
    assert css.status_code == 200
    assert "--brand" in css.text
    assert "immutable" in css.headers["cache-control"]
    assert css.headers["x-content-type-options"] == "nosniff"


# --- CSRF, on a form of its own ------------------------------------------------------


def test_forms_refuse_other_sites_and_missing_tokens(app: FastAPI) -> None:
    router = APIRouter(route_class=WebRoute)

    @router.get("/test-form", response_class=HTMLResponse)
    def show(request: Request) -> Response:
        # A page with a form: the front page, with the token put in as a form would.
        response = render(request, "home.html", {"practices": []})
        token = request.state.csrf_seed.token
        response.body = response.body.replace(
            b"</main>", f'<input name="csrf_token" value="{token}"></main>'.encode()
        )
        response.headers["content-length"] = str(len(response.body))
        return response

    @router.post("/test-form", response_class=HTMLResponse)
    def take(form: CheckedForm) -> Response:
        return HTMLResponse(f"got {form.get('word')}")

    app.include_router(router)
    with TestClient(app, base_url="https://testserver", headers={"accept": "text/html"}) as web:
        same_site = {"sec-fetch-site": "same-origin", "origin": "https://testserver"}
        sent = submit(web, "/test-form", word="hello")
        assert sent.status_code == 200
        assert sent.text == "got hello"

        token = csrf_of(web.get("/test-form"))
        cross = web.post(
            "/test-form",
            data={"csrf_token": token, "word": "x"},
            headers={"sec-fetch-site": "cross-site"},
        )
        assert cross.status_code == 403
        assert "another website" in cross.text
        foreign_origin = web.post(
            "/test-form",
            data={"csrf_token": token, "word": "x"},
            headers={"origin": "https://evil.example"},
        )
        assert foreign_origin.status_code == 403
        forged = web.post(
            "/test-form", data={"csrf_token": "0" * 64, "word": "x"}, headers=same_site
        )
        assert forged.status_code == 403
        assert "could not be checked" in forged.text
        web.cookies.clear()
        no_cookie = web.post(
            "/test-form", data={"csrf_token": token, "word": "x"}, headers=same_site
        )
        assert no_cookie.status_code == 403
        assert no_cookie.headers["content-type"].startswith("text/html")


# --- rate limits ------------------------------------------------------------------------


def test_rate_limit_counts_per_key_and_window(app: FastAPI) -> None:
    database: Database = app.state.database
    now = datetime(2026, 11, 29, 10, 0, 5, tzinfo=UTC)
    window = timedelta(minutes=10)
    for _ in range(3):
        limits.hit(database, "test", "a", limit=3, window=window, now=now)
    with pytest.raises(TooManyAttempts) as refused:
        limits.hit(database, "test", "a", limit=3, window=window, now=now)
    assert 0 < refused.value.retry_after <= 600
    assert "try again in 10 minutes" in refused.value.message
    # Another key, and the next window, start again.
    limits.hit(database, "test", "b", limit=3, window=window, now=now)
    limits.hit(database, "test", "a", limit=3, window=window, now=now + window)


def test_address_hashes_are_keyed_and_stable(settings: object) -> None:
    from server.config import Settings

    assert isinstance(settings, Settings)
    first = limits.keyed(settings, "address", "203.0.113.9")
    assert first == limits.keyed(settings, "address", "203.0.113.9")
    assert first != limits.keyed(settings, "address", "203.0.113.10")
    assert "203.0.113.9" not in first


# --- the clinic's colours --------------------------------------------------------------


@pytest.mark.parametrize("colour", ["#ffdd00", "#1f5f8b", "#777777", "#000000", "#ffffff"])
def test_button_text_always_readable_on_the_brand_colour(colour: str) -> None:
    brand = Brand(clinic_id=None, name="x", colour=colour)
    assert contrast(brand.colour, brand.on_colour) >= 4.5
    assert contrast(brand.link_colour, "#ffffff") >= 4.5


def test_generic_brand_has_no_phone() -> None:
    assert GENERIC.phone == ""
    assert GENERIC.logo_url is None


def test_an_ipv6_home_counts_as_one_client() -> None:
    assert limits.network_of("2001:db8:1:2:aaaa::1") == limits.network_of("2001:db8:1:2:bbbb::9")
    assert limits.network_of("2001:db8:1:2::1") != limits.network_of("2001:db8:1:3::1")
    assert limits.network_of("::ffff:203.0.113.9") == "203.0.113.9"
    assert limits.network_of("203.0.113.9") == "203.0.113.9"
    assert limits.network_of("testclient") == "testclient"
