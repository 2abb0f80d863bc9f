"""The practice page's staff API: defaults from the clinic, saving with every problem said
in words, a taken address refused, the logo checked by what it really is, the preview
link, and who may change what."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.roles import Role
from server.audit.models import AuditEvent
from server.db import transaction
from server.web.models import LOGO_MAX_BYTES, PracticeProfile
from sync.protocol import API_PREFIX
from tests.server.conftest import Factory, MadeClinic

URL = f"{API_PREFIX}/practice-profile"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture
def alder(factory: Factory) -> MadeClinic:
    return factory.clinic("alder", roles=(Role.CLINIC_ADMIN, Role.FRONT_DESK))


@pytest.fixture
def admin(factory: Factory, alder: MadeClinic) -> dict[str, str]:
    return factory.staff_headers(alder.staff[Role.CLINIC_ADMIN])


def _fields(**changes: Any) -> dict[str, Any]:
    return {
        "slug": "alder-physio",
        "display_name": "Alder Physio",
        "specialty": "Physiotherapy",
        "address": "1 Alder Row",
        "phone": "+44 20 7946 0000",
        "email": "hello@alder.example",
        "about": "We treat backs.",
        "insurances": ["Bupa", "AXA"],
        "brand_colour": "#1F5F8B",
        "published": True,
        "booking_enabled": True,
        "leads_enabled": False,
        "button_size": "large",
        "button_colour": "#ffcc00",
        **changes,
    }


def test_defaults_come_from_the_clinic_until_saved(
    client: TestClient, factory: Factory, alder: MadeClinic, admin: dict[str, str]
) -> None:
    front = factory.staff_headers(alder.front_desk)
    body = client.get(URL, headers=front).json()
    assert body["saved"] is False
    assert (body["display_name"], body["slug"]) == ("Alder Clinic", "alder")
    assert body["public_base_url"] == "http://127.0.0.1:8765"
    assert body["published"] is False

    saved = client.put(URL, headers=admin, json=_fields())
    assert saved.status_code == 200, saved.text
    answer = saved.json()
    assert answer["saved"] is True
    assert answer["slug"] == "alder-physio"
    assert answer["brand_colour"] == "#1f5f8b", "colours are kept in lower case"
    assert client.get(URL, headers=front).json() == answer


def test_a_clinics_own_slug_taken_by_another_page_is_not_offered(
    client: TestClient, factory: Factory, db: sessionmaker[Session], admin: dict[str, str]
) -> None:
    other = factory.clinic("birch")
    with transaction(db) as session:
        session.add(PracticeProfile(clinic_id=other.id, slug="alder", display_name="Birch"))
    assert client.get(URL, headers=admin).json()["slug"] == ""


def test_saving_the_same_again_changes_nothing_and_a_change_is_audited(
    client: TestClient, db: sessionmaker[Session], alder: MadeClinic, admin: dict[str, str]
) -> None:
    client.put(URL, headers=admin, json=_fields())
    with db() as session:
        stamp = session.scalars(select(PracticeProfile.modified_at)).one()
        audited = session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "practice_profile")
        ).all()
    assert [(a.action, a.clinic_id) for a in audited] == [("create", alder.id)]
    assert client.put(URL, headers=admin, json=_fields()).status_code == 200
    with db() as session:
        assert session.scalars(select(PracticeProfile.modified_at)).one() == stamp
        assert session.query(AuditEvent).filter_by(entity="practice_profile").count() == 1
    client.put(URL, headers=admin, json=_fields(about="Backs and knees."))
    with db() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity == "practice_profile")
        ).all()
    assert sorted(actions) == ["create", "update"]


BAD_VALUES: list[tuple[dict[str, Any], str]] = [
    ({"slug": "Alder Physio!"}, "cannot be used: use lower-case letters"),
    ({"slug": "alder--physio"}, "single hyphens"),
    ({"slug": ""}, "The page address is missing."),
    ({"display_name": "  "}, "The practice name is missing."),
    ({"brand_colour": "blue"}, "The page colour 'blue' is not a colour"),
    ({"button_colour": "#12345"}, "The button colour '#12345' is not a colour"),
    ({"button_size": "huge"}, "small, medium or large"),
    ({"phone": "1" * 41}, "The phone number is too long: at most 40"),
    ({"insurances": [f"Insurer {n}" for n in range(31)]}, "At most 30 insurances"),
    ({"insurances": ["x" * 81]}, "at most 80 characters"),
    ({"display_name": "Alder\x00Physio"}, "cannot be shown"),
    ({"about": "Line\x1bescape"}, "cannot be shown"),
]


def test_bad_values_are_refused_in_words(
    client: TestClient, db: sessionmaker[Session], admin: dict[str, str]
) -> None:
    for changes, words in BAD_VALUES:
        answer = client.put(URL, headers=admin, json=_fields(**changes))
        assert answer.status_code == 422, changes
        assert answer.json()["code"] == "invalid"
        assert words in answer.json()["message"], (changes, answer.json()["message"])
    with db() as session:
        assert session.scalars(select(PracticeProfile)).all() == []


def test_an_address_another_clinic_has_is_taken(
    client: TestClient, factory: Factory, admin: dict[str, str]
) -> None:
    other = factory.clinic("birch", roles=(Role.CLINIC_ADMIN,))
    other_admin = factory.staff_headers(other.staff[Role.CLINIC_ADMIN])
    assert client.put(URL, headers=other_admin, json=_fields()).status_code == 200
    answer = client.put(URL, headers=admin, json=_fields(slug="ALDER-physio"))
    assert answer.status_code in (409, 422)
    assert answer.json()["message"].startswith("That address is already taken")


def test_front_desk_staff_cannot_change_the_page(
    client: TestClient, factory: Factory, db: sessionmaker[Session], alder: MadeClinic
) -> None:
    front = factory.staff_headers(alder.front_desk)
    assert client.put(URL, headers=front, json=_fields()).status_code == 403
    assert client.put(f"{URL}/logo", headers=front, content=PNG).status_code == 403
    assert client.delete(f"{URL}/logo", headers=front).status_code == 403
    assert client.get(URL).status_code == 401
    with db() as session:
        assert session.scalars(select(PracticeProfile)).all() == []


def test_logo_is_checked_by_its_bytes_and_served_with_its_type(
    client: TestClient, admin: dict[str, str]
) -> None:
    early = client.put(f"{URL}/logo", headers=admin, content=PNG)
    assert early.status_code == 422
    assert "Save the practice page's details first" in early.json()["message"]
    client.put(URL, headers=admin, json=_fields())

    fake = client.put(
        f"{URL}/logo", headers={**admin, "content-type": "image/png"}, content=b"<svg></svg>"
    )
    assert fake.status_code == 422
    assert fake.json()["message"] == "The logo must be a PNG or JPEG image."
    big = client.put(f"{URL}/logo", headers=admin, content=PNG + b"\x00" * LOGO_MAX_BYTES)
    assert big.status_code == 422
    assert "too large" in big.json()["message"]

    raw = client.put(f"{URL}/logo", headers=admin, content=PNG)
    assert raw.status_code == 200, raw.text
    assert raw.json()["has_logo"] is True
    version = raw.json()["logo_version"]
    served = client.get(f"/practice/alder-physio/logo?v={version}")
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "max-age=31536000" in served.headers["cache-control"]

    as_json = client.put(
        f"{URL}/logo", headers=admin, json={"content_base64": base64.b64encode(JPEG).decode()}
    )
    assert as_json.status_code == 200
    assert as_json.json()["logo_version"] != version
    assert client.get("/practice/alder-physio/logo").headers["content-type"] == "image/jpeg"
    junk = client.put(f"{URL}/logo", headers=admin, json={"content_base64": "not base64!"})
    assert junk.status_code == 422

    removed = client.delete(f"{URL}/logo", headers=admin)
    assert removed.json()["has_logo"] is False
    gone = client.get("/practice/alder-physio/logo", headers={"accept": "text/html"})
    assert gone.status_code == 404
    assert "There is nothing at this address" in gone.text


def test_preview_link_for_a_saved_page(
    client: TestClient, factory: Factory, alder: MadeClinic, admin: dict[str, str]
) -> None:
    front = factory.staff_headers(alder.front_desk)
    assert client.post(f"{URL}/preview-link", headers=front).status_code == 404
    client.put(URL, headers=admin, json=_fields(published=False))
    link = client.post(f"{URL}/preview-link", headers=front)
    assert link.status_code == 200
    assert link.json()["url"].startswith("http://127.0.0.1:8765/practice/alder-physio?preview=")
