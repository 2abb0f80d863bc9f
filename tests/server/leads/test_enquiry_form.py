"""The public enquiry form, through a TestClient over https on SQLite and PostgreSQL:
what is recorded, what is refused and how, and what never leaks."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from common.leads import LeadChannel, LeadStatus, PreferredContact, attribute
from server.db import transaction
from server.leads.models import Lead
from server.web.models import PracticeProfile
from tests.server.conftest import Factory, MadeClinic
from tests.server.web.conftest import csrf_of

KEY = re.compile(r'name="form_key" value="([A-Za-z0-9_-]+)"')

GOOD = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "date_of_birth": "1985-12-10",
    "phone": "07400 912345",
    "email": "ada@example.org",
    "preferred_contact": "phone",
    "message": "Knee pain after running; evenings suit me.",
}
SAME_SITE = {"sec-fetch-site": "same-origin", "origin": "https://testserver"}


def open_clinic(
    factory: Factory, db: sessionmaker[Session], slug: str, *, leads: bool = True
) -> MadeClinic:
    clinic = factory.clinic(slug)
    with transaction(db) as session:
        session.add(
            PracticeProfile(
                clinic_id=clinic.id,
                slug=f"{slug}-web",
                display_name=f"{slug.title()} Physio",
                published=True,
                leads_enabled=leads,
                phone="020 7946 0000",
            )
        )
    return clinic


def submit(
    web: TestClient, page_url: str, action: str | None = None, **fields: Any
) -> httpx.Response:
    """Open the form as a person would and send it with its CSRF token and form key."""
    page = web.get(page_url)
    assert page.status_code == 200, page.text
    found = KEY.search(page.text)
    assert found
    data = {"csrf_token": csrf_of(page), "form_key": found.group(1), **fields}
    return web.post(action or page_url, data=data, headers=SAME_SITE, follow_redirects=False)


def leads_of(db: sessionmaker[Session], clinic_id: uuid.UUID) -> list[Lead]:
    with db() as session:
        rows = list(
            session.scalars(
                select(Lead).where(Lead.clinic_id == clinic_id).order_by(Lead.created_at)
            )
        )
        session.expunge_all()
        return rows


@pytest.fixture
def north(factory: Factory, db: sessionmaker[Session]) -> MadeClinic:
    return open_clinic(factory, db, "north")


def test_an_enquiry_is_recorded_and_thanked_without_personal_data(
    web: TestClient, north: MadeClinic, db: sessionmaker[Session]
) -> None:
    page = web.get("/enquire/north-web?utm_source=google&utm_medium=organic")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    for label in ("First name", "Last name", "Date of birth", "Phone number", "E-mail address"):
        assert f">{label}" in page.text
    assert 'name="utm_source" value="google"' in page.text
    assert "Leave this empty" in page.text
    sent = submit(
        web,
        "/enquire/north-web?utm_source=google",
        "/enquire/north-web",
        utm_source="google",
        **GOOD,
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == "/enquire/north-web/thanks"
    thanks = web.get(sent.headers["location"])
    assert thanks.status_code == 200
    assert "Thank you" in thanks.text
    for personal in ("Ada", "Lovelace", "07400", "ada@example.org", "Knee"):
        assert personal not in thanks.text
    [lead] = leads_of(db, north.id)
    assert (lead.first_name, lead.last_name) == ("Ada", "Lovelace")
    assert lead.phone == "+447400912345"
    assert lead.email == "ada@example.org"
    assert lead.preferred_contact is PreferredContact.PHONE
    assert lead.channel is LeadChannel.SEARCH
    assert lead.source_detail == "utm_source=google"
    assert lead.status is LeadStatus.NEW
    assert not lead.spam
    assert len(lead.ip_hash) == 32
    assert "testclient" not in lead.ip_hash
    assert lead.user_agent_family  # the TestClient names itself: a program
    # The phone is sealed in the database: the column holds no digits of it.
    with db() as session:
        raw = session.execute(text("SELECT phone FROM leads")).scalar_one()
    assert "7400912345" not in raw


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("first_name", "", "Please type your first name."),
        ("last_name", "   ", "Please type your last name."),
        ("date_of_birth", "2999-01-01", "is in the future"),
        ("date_of_birth", "next tuesday", "is not a date of birth"),
        ("phone", "12", "not a valid UK number"),
        ("email", "ada@", "That e-mail address is not valid"),
        ("preferred_contact", "pigeon", "Please choose how we should contact you."),
        ("message", "x" * 2001, "Your message is too long"),
    ],
)
def test_each_problem_is_said_in_words_and_keeps_what_was_typed(
    web: TestClient,
    north: MadeClinic,
    db: sessionmaker[Session],
    field: str,
    value: str,
    words: str,
) -> None:
    sent = submit(web, "/enquire/north-web", **{**GOOD, field: value})
    assert sent.status_code == 422
    assert words in sent.text
    assert 'class="problems"' in sent.text
    assert 'aria-invalid="true"' in sent.text or field == "preferred_contact"
    # Everything else typed is still there.
    for name in ("first_name", "last_name", "email"):
        if name != field:
            assert f'value="{GOOD[name]}"' in sent.text
    if field != "message":
        assert GOOD["message"] in sent.text
    assert leads_of(db, north.id) == []


def test_the_preferred_way_must_be_given(web: TestClient, north: MadeClinic) -> None:
    sent = submit(web, "/enquire/north-web", **{**GOOD, "phone": "", "preferred_contact": "phone"})
    assert sent.status_code == 422
    assert "Please give a phone number, or choose e-mail" in sent.text
    by_mail = submit(
        web, "/enquire/north-web", **{**GOOD, "phone": "", "preferred_contact": "email"}
    )
    assert by_mail.status_code == 303


def test_script_in_every_text_field_comes_back_escaped(
    web: TestClient, north: MadeClinic, db: sessionmaker[Session], factory: Factory
) -> None:
    evil = "<script>alert(1)</script>"
    # Refused (the phone and e-mail cannot hold it): the form comes back, escaped.
    page = web.get(f"/enquire/north-web?utm_source={evil}&ref={evil}")
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text
    fields = {
        **GOOD,
        "first_name": evil,
        "last_name": evil,
        "message": evil,
        "phone": evil,
        "email": evil,
        "utm_source": evil,
        "utm_medium": evil,
        "ref": evil,
        "date_of_birth": evil,
    }
    refused = submit(web, "/enquire/north-web", **fields)
    assert refused.status_code == 422
    assert "<script>" not in refused.text
    assert refused.text.count("&lt;script&gt;") >= 6
    # Accepted with the text fields that may hold anything; the thank-you page shows
    # nothing of it, and the desk's API hands it back as the text it was (data in JSON).
    accepted = submit(
        web,
        "/enquire/north-web",
        **{**GOOD, "first_name": evil, "last_name": evil, "message": evil, "ref": evil},
    )
    assert accepted.status_code == 303
    thanks = web.get(accepted.headers["location"])
    assert "<script" not in thanks.text
    assert "alert(1)" not in thanks.text
    headers = factory.staff_headers(north.front_desk)
    [record] = web.get("/api/v1/leads", headers=headers).json()
    assert record["first_name"] == evil
    assert record["message"] == evil
    assert record["source_detail"] == f"ref={evil}"


def test_a_filled_honeypot_is_thanked_but_kept_as_discarded_spam(
    web: TestClient, north: MadeClinic, db: sessionmaker[Session], factory: Factory
) -> None:
    sent = submit(web, "/enquire/north-web", website="http://cheap-pills.example", **GOOD)
    assert sent.status_code == 303
    [lead] = leads_of(db, north.id)
    assert lead.spam
    assert lead.status is LeadStatus.DISCARDED
    headers = factory.staff_headers(north.front_desk)
    assert web.get("/api/v1/leads", headers=headers).json() == []
    assert web.get("/api/v1/leads?status=new", headers=headers).json() == []
    [spam] = web.get("/api/v1/leads?status=discarded", headers=headers).json()
    assert spam["spam"] is True
    assert "spam trap" in spam["notes"][0]["text"]


@pytest.mark.parametrize(
    ("query", "channel"),
    [
        ({"utm_source": "google"}, LeadChannel.SEARCH),
        ({"utm_source": "Bing", "utm_medium": "organic"}, LeadChannel.SEARCH),
        ({"utm_source": "duckduckgo"}, LeadChannel.SEARCH),
        ({"utm_source": "google", "utm_medium": "cpc"}, LeadChannel.AD),
        ({"utm_source": "facebook", "utm_medium": "paid"}, LeadChannel.AD),
        ({"utm_medium": "ppc"}, LeadChannel.AD),
        ({"utm_source": "instagram", "utm_medium": "ads"}, LeadChannel.AD),
        ({"ref": "dr-jones"}, LeadChannel.REFERRAL),
        ({"utm_source": "physio-blog.example", "utm_medium": "referral"}, LeadChannel.REFERRAL),
        ({"ref": "walk-in"}, LeadChannel.WALK_IN),
        ({"ref": "Walk-In", "utm_source": "google"}, LeadChannel.WALK_IN),
        ({"utm_source": "newsletter"}, LeadChannel.UNKNOWN),
        ({}, LeadChannel.UNKNOWN),
    ],
)
def test_attribution_table(query: dict[str, str], channel: LeadChannel) -> None:
    found = attribute(query.get("utm_source"), query.get("utm_medium"), query.get("ref"))
    assert found.channel is channel
    for value in query.values():
        assert value in found.detail


def test_attribution_is_carried_and_checked_again(
    web: TestClient, north: MadeClinic, db: sessionmaker[Session]
) -> None:
    page = web.get("/enquire/north-web?utm_source=google&utm_medium=cpc&ref=" + "x" * 500)
    assert 'name="utm_medium" value="cpc"' in page.text
    assert 'value="' + "x" * 101 not in page.text  # bounded on the way in
    # What comes back is checked again, whatever the page said: here, a tampered field.
    sent = web.post(
        "/enquire/north-web",
        data={
            "csrf_token": csrf_of(page),
            "form_key": "k" * 32,
            "utm_source": "bing",
            "utm_medium": "referral\x00" + "y" * 400,
            **GOOD,
        },
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert sent.status_code == 303
    [lead] = leads_of(db, north.id)
    assert lead.channel is LeadChannel.SEARCH  # the mangled medium names nothing
    assert "\x00" not in lead.source_detail
    assert len(lead.source_detail) <= 300


def test_closed_or_unknown_or_other_pages_are_the_same_404(
    web: TestClient, factory: Factory, db: sessionmaker[Session], north: MadeClinic
) -> None:
    open_clinic(factory, db, "south", leads=False)
    missing = web.get("/enquire/nowhere")
    closed = web.get("/enquire/south-web")
    assert missing.status_code == closed.status_code == 404
    assert "There is nothing at this address" in closed.text
    assert web.get("/enquire/south-web/thanks").status_code == 404
    # A form taken from an open page cannot be posted to the closed one.
    token = csrf_of(web.get("/enquire/north-web"))
    posted = web.post(
        "/enquire/south-web",
        data={"csrf_token": token, "form_key": "k" * 32, **GOOD},
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert posted.status_code == 404
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == 0


def test_the_sixth_enquiry_from_one_address_in_an_hour_is_refused(
    web: TestClient, north: MadeClinic, db: sessionmaker[Session]
) -> None:
    for n in range(5):
        sent = submit(web, "/enquire/north-web", **{**GOOD, "first_name": f"Ada{n}"})
        assert sent.status_code == 303
    sixth = submit(web, "/enquire/north-web", **GOOD)
    assert sixth.status_code == 429
    assert "Too many enquiries from here" in sixth.text
    assert sixth.headers["content-type"].startswith("text/html")
    assert int(sixth.headers["retry-after"]) > 0
    assert len(leads_of(db, north.id)) == 5


def test_a_double_submit_records_one_enquiry(
    web: TestClient, north: MadeClinic, db: sessionmaker[Session]
) -> None:
    page = web.get("/enquire/north-web")
    key = page.text.split('name="form_key" value="')[1].split('"')[0]
    data = {"csrf_token": csrf_of(page), "form_key": key, **GOOD}
    first = web.post("/enquire/north-web", data=data, headers=SAME_SITE, follow_redirects=False)
    again = web.post("/enquire/north-web", data=data, headers=SAME_SITE, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert len(leads_of(db, north.id)) == 1
    # A form without its key is refused in words, not recorded.
    keyless = web.post(
        "/enquire/north-web",
        data={"csrf_token": csrf_of(page), **GOOD},
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert keyless.status_code == 422
    assert "Reload the page" in keyless.text


def test_a_post_from_another_site_is_refused(
    web: TestClient, north: MadeClinic, db: sessionmaker[Session]
) -> None:
    page = web.get("/enquire/north-web")
    data = {"csrf_token": csrf_of(page), "form_key": "k" * 32, **GOOD}
    cross = web.post("/enquire/north-web", data=data, headers={"sec-fetch-site": "cross-site"})
    assert cross.status_code == 403
    assert "another website" in cross.text
    evil_origin = web.post(
        "/enquire/north-web", data=data, headers={"origin": "https://evil.example"}
    )
    assert evil_origin.status_code == 403
    # A privacy-null Origin passes only with the browser's own word that it was ours.
    for headers in ({"origin": "null"}, {"origin": "null", "sec-fetch-site": "cross-site"}):
        assert web.post("/enquire/north-web", data=data, headers=headers).status_code == 403
    assert leads_of(db, north.id) == []
    same = web.post(
        "/enquire/north-web",
        data=data,
        headers={"origin": "null", "sec-fetch-site": "same-origin"},
        follow_redirects=False,
    )
    assert same.status_code == 303
