"""The practice page as a patient sees it: the clinic's details, opening hours merged
from its providers' weeks, everything typed escaped, the ways in that are open, the same
404 for anything not published, and previews that only a signed, fresh link opens."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from server.config import Settings
from server.db import transaction, utcnow
from server.practice.service import preview_token
from server.scheduling.models import Provider
from server.web.models import PracticeProfile
from tests.server.conftest import Factory


def _profile(db: sessionmaker[Session], clinic_id: uuid.UUID, **fields: Any) -> None:
    values: dict[str, Any] = {
        "slug": "alder-physio",
        "display_name": "Alder Physio",
        "specialty": "Physiotherapy",
        "address": "1 Alder Row\nKendal",
        "phone": "+44 1539 720000",
        "email": "hello@alder.example",
        "about": "First paragraph\ncontinues.\n\nSecond paragraph.",
        "insurances": ["Bupa", "AXA Health"],
        "published": True,
        "booking_enabled": True,
        "leads_enabled": True,
        **fields,
    }
    with transaction(db) as session:
        session.add(PracticeProfile(clinic_id=clinic_id, **values))


def _provider(
    db: sessionmaker[Session], clinic_id: uuid.UUID, hours: list[tuple[int, str, str]], **kw: Any
) -> None:
    with transaction(db) as session:
        session.add(
            Provider(
                clinic_id=clinic_id,
                display_name="Dr Who",
                working_hours=[
                    {"weekday": d, "start": s, "end": e, "location_id": None} for d, s, e in hours
                ],
                **kw,
            )
        )


def _rows(text: str) -> dict[str, str]:
    """Day → hours, read off the page's table."""
    body = text.split('<table class="hours">')[1].split("</table>")[0]
    found = {}
    for row in body.split("<tr>")[1:]:
        day = row.split('scope="row">')[1].split("<")[0]
        found[day] = row.split("<td>")[1].split("<")[0]
    return found


def test_a_published_page_shows_the_practice(
    web: TestClient, factory: Factory, db: sessionmaker[Session]
) -> None:
    clinic = factory.clinic("alder")
    _profile(db, clinic.id)
    page = web.get("/practice/alder-physio")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Alder Physio</h1>" in text
    assert "Physiotherapy" in text
    assert "1 Alder Row<br>Kendal" in text
    assert 'href="tel:+441539720000"' in text
    assert 'href="mailto:hello@alder.example"' in text
    assert "<p>First paragraph continues.</p>" in text
    assert "<p>Second paragraph.</p>" in text
    assert "<li>Bupa</li>" in text
    assert "<li>AXA Health</li>" in text
    assert 'href="/book/alder-physio"' in text
    assert 'href="/enquire/alder-physio"' in text
    assert '<meta name="robots" content="index, follow">' in text
    assert "Preview" not in text
    assert page.headers["cache-control"] == "no-cache"
    assert "Opening hours" not in text, "no week set: no table of closed days"


@pytest.mark.parametrize(("booking", "leads"), [(True, False), (False, True), (False, False)])
def test_only_the_open_ways_in_are_linked(
    web: TestClient, factory: Factory, db: sessionmaker[Session], booking: bool, leads: bool
) -> None:
    clinic = factory.clinic("alder")
    _profile(db, clinic.id, booking_enabled=booking, leads_enabled=leads)
    text = web.get("/practice/alder-physio").text
    assert ("/book/alder-physio" in text) is booking
    assert ("/enquire/alder-physio" in text) is leads


def test_what_staff_typed_is_escaped(
    web: TestClient, factory: Factory, db: sessionmaker[Session]
) -> None:
    clinic = factory.clinic("alder")
    script = "<script>alert(1)</script>"
    _profile(
        db,
        clinic.id,
        display_name=f"Alder {script}",
        about=f"About {script}",
        insurances=[f"Ins {script}"],
        specialty='"><img src=x onerror=alert(1)>',
        email='a"@b.example',
    )
    text = web.get("/practice/alder-physio").text
    assert "<script>" not in text
    assert "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "mailto:a&#34;@b.example" in text


def test_hours_merge_the_active_providers_weeks(
    web: TestClient, factory: Factory, db: sessionmaker[Session]
) -> None:
    clinic = factory.clinic("alder")
    _profile(db, clinic.id)
    # A split shift, another provider overlapping the morning, one ending as another starts.
    _provider(db, clinic.id, [(0, "09:00", "13:00"), (0, "14:00", "18:00"), (2, "08:00", "12:00")])
    _provider(db, clinic.id, [(0, "10:00", "13:30"), (2, "12:00", "16:00"), (5, "09:00", "12:00")])
    # Inactive and removed providers do not open the practice.
    _provider(db, clinic.id, [(6, "09:00", "17:00"), (0, "07:00", "08:00")], active=False)
    _provider(db, clinic.id, [(3, "09:00", "17:00")], deleted_at=utcnow())
    # Another clinic's provider neither.
    other = factory.clinic("birch")
    _provider(db, other.id, [(1, "09:00", "17:00")])

    hours = _rows(web.get("/practice/alder-physio").text)
    assert hours == {
        "Monday": "09:00–13:30, 14:00–18:00",
        "Tuesday": "Closed",
        "Wednesday": "08:00–16:00",
        "Thursday": "Closed",
        "Friday": "Closed",
        "Saturday": "09:00–12:00",
        "Sunday": "Closed",
    }


def test_unpublished_unknown_and_odd_addresses_are_the_same_404(
    web: TestClient, factory: Factory, db: sessionmaker[Session]
) -> None:
    clinic = factory.clinic("alder")
    _profile(db, clinic.id, published=False)
    missing = web.get("/practice/no-such-practice")
    assert missing.status_code == 404
    for url in (
        "/practice/alder-physio",
        "/practice/alder-physio?preview=",
        "/practice/" + "a" * 80,
        "/practice/ALDER-PHYSIO",
    ):
        page = web.get(url)
        assert page.status_code == 404, url
        assert "There is nothing at this address" in page.text
        assert "Alder" not in page.text, "nothing tells the page exists"
    assert web.get("/practice/alder-physio/logo").status_code == 404


def test_a_preview_link_opens_the_unpublished_page_while_fresh(
    web: TestClient, factory: Factory, db: sessionmaker[Session], settings: Settings
) -> None:
    clinic = factory.clinic("alder")
    other = factory.clinic("birch")
    _profile(db, clinic.id, published=False)
    _profile(db, other.id, slug="birch-dental", display_name="Birch Dental", published=False)
    token, expires_at = preview_token(settings.secret_key, clinic.id, utcnow())
    assert timedelta(minutes=10) < expires_at - utcnow() <= timedelta(minutes=15)

    page = web.get(f"/practice/alder-physio?preview={token}")
    assert page.status_code == 200
    assert "Preview — not published" in page.text
    assert '<meta name="robots" content="noindex, nofollow">' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"

    expired, _ = preview_token(settings.secret_key, clinic.id, utcnow() - timedelta(minutes=16))
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    stretched = str(int(token.split(".")[0]) + 3600) + "." + token.split(".")[1]
    other_key, _ = preview_token("another-secret-key-of-32-characters!", clinic.id, utcnow())
    for bad in (expired, forged, stretched, other_key, "junk", "1." + "a" * 64):
        assert web.get(f"/practice/alder-physio?preview={bad}").status_code == 404, bad
    # A token is for its own clinic's page only.
    assert web.get(f"/practice/birch-dental?preview={token}").status_code == 404


def test_a_preview_of_a_published_page_is_not_indexed_or_kept(
    web: TestClient, factory: Factory, db: sessionmaker[Session], settings: Settings
) -> None:
    clinic = factory.clinic("alder")
    _profile(db, clinic.id)
    token, _ = preview_token(settings.secret_key, clinic.id, utcnow())
    page = web.get(f"/practice/alder-physio?preview={token}")
    assert "Preview —" in page.text
    assert "noindex" in page.text
    assert page.headers["cache-control"] == "no-store"
