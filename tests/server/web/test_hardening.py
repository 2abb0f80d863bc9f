"""What the patients' side must survive: odd and hostile input answered with pages (never
a 500 or JSON), the embedded widget's cookieless form token, link tokens kept out of
logs, and the limits on guessing a date of birth."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from server.config import Settings
from server.db import transaction, utcnow
from server.scheduling.models import Appointment
from server.web import manage
from server.web.pages import WebRoute
from server.web.security import embedded_token, embedded_token_valid
from server.web.tokens import MaskTokens, masked
from tests.server.conftest import Factory
from tests.server.web import linkmaker
from tests.server.web.conftest import csrf_of


@pytest.fixture
def where(factory: Factory, db: sessionmaker[Session]) -> linkmaker.Practice:
    clinic = factory.clinic("north")
    with transaction(db) as session:
        return linkmaker.practice(session, clinic.id)


def _booked(db: sessionmaker[Session], where: linkmaker.Practice) -> tuple[str, object]:
    with transaction(db) as session:
        return linkmaker.booked(session, where, starts_in=timedelta(days=3))


def _verify(web: TestClient, token: str, born: str) -> object:
    page = web.get(f"/m/{token}")
    return web.post(
        f"/m/{token}/verify",
        data={"csrf_token": csrf_of(page), "date_of_birth": born},
        headers={"sec-fetch-site": "same-origin"},
        follow_redirects=False,
    )


def test_embedded_form_tokens_are_bound_to_their_address_and_time() -> None:
    settings = Settings(environment="test")
    token = embedded_token(settings, "/book/north/details", now=1_000_000)
    assert embedded_token_valid(settings, "/book/north/details", token, now=1_000_100)
    assert not embedded_token_valid(settings, "/book/south/details", token, now=1_000_100)
    assert not embedded_token_valid(settings, "/book/north/details", token, now=1_010_000)
    expiry, _, mac = token.partition(".")
    assert not embedded_token_valid(settings, "/book/north/details", f"{expiry}.{'0' * 64}")
    for junk in ("", ".", "²²²²²²².abc", f"{expiry}.é{mac[1:]}", "9" * 40 + "." + mac):
        assert not embedded_token_valid(settings, "/book/north/details", junk)


def test_hostile_values_get_pages_not_errors(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token, _ = _booked(db, where)
    for born in ("²/3/1985", "1/1/" + "9" * 5000, "３１/１２/１９８５"):
        answer = _verify(web, token, born)
        assert answer.status_code == 422, born  # type: ignore[attr-defined]
        assert "date of birth" in answer.text  # type: ignore[attr-defined]
    for preview in ("².".ljust(66, "a"), "9999999999." + "é" * 64):
        page = web.get("/practice/north", params={"preview": preview})
        assert page.status_code == 200  # the published page, as if no preview were asked
        assert "not published" not in page.text
    page = web.get(f"/m/{token}")
    refused = web.post(
        f"/m/{token}/verify",
        data={"csrf_token": "é" * 64, "date_of_birth": "1984-05-17"},
        headers={"sec-fetch-site": "same-origin"},
    )
    assert page.status_code == 200
    assert refused.status_code == 403


def test_an_unexpected_failure_on_a_page_is_a_page(app: FastAPI) -> None:
    router = APIRouter(route_class=WebRoute)

    @router.get("/practice/{slug}/boom")
    def boom(slug: str) -> None:
        raise RuntimeError(f"broken for {slug}")

    app.router.routes.insert(0, router.routes[0])
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/practice/x/boom", headers={"accept": "text/html"})
        api = client.get("/practice/x/boom", headers={"accept": "application/json"})
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "something went wrong" in page.text
    assert api.status_code == 500
    assert api.json()["code"] == "internal"


def test_link_tokens_never_reach_the_logs() -> None:
    token = "Zq3x_0-abcdefghijklmnopqrstuvwx"
    assert masked(f"GET /l/{token}/times?week=2026-12-01") == "GET /l/•••/times?week=2026-12-01"
    assert masked(f"/m/{token}") == "/m/•••"
    assert masked("/practice/north") == "/practice/north"
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s"',
        ("1.2.3.4", "GET", f"/m/{token}"),
        None,
    )
    MaskTokens().filter(record)
    assert token not in record.getMessage()


def test_a_manage_link_lives_as_long_as_its_appointment(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token, appointment_id = _booked(db, where)
    with transaction(db) as session:
        appointment = session.get(Appointment, appointment_id)
        assert appointment is not None
        # Staff moved it weeks later, and the link's own expiry has passed.
        appointment.starts_at = utcnow() + timedelta(days=40)
        appointment.ends_at = appointment.starts_at + timedelta(minutes=30)
        from server.booking_links.models import ManageLink

        for link in session.query(ManageLink).all():
            link.expires_at = utcnow() - timedelta(hours=1)
    page = web.get(f"/m/{token}")
    assert page.status_code == 200
    assert "date of birth" in page.text


def test_dates_of_birth_are_capped_per_link(
    web: TestClient,
    db: sessionmaker[Session],
    where: linkmaker.Practice,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Slow guessing from many addresses: past the cap only a texted code opens it."""
    monkeypatch.setattr(manage, "TRIES_PER_LINK", 1000)
    monkeypatch.setattr(manage, "TRIES_PER_ADDRESS", 1000)
    token, _ = _booked(db, where)
    for _ in range(manage.DATES_PER_LINK):
        assert _verify(web, token, "1990-01-01").status_code == 422  # type: ignore[attr-defined]
    refused = _verify(web, token, linkmaker.BORN.isoformat())
    assert refused.status_code == 429  # type: ignore[attr-defined]
    assert "Ask for a code by text" in refused.text  # type: ignore[attr-defined]
