"""The content library and what it gives patients, on both databases.

Moving a plan into a phase gives the patient the published items tagged with it, in the
plan's language, once ever: the same request sent again, two desks moving it at once,
or coming back to the phase later gives nothing new and sends no second e-mail. Opening
an item in the portal (a POST, never a GET) is recorded once and shown at the desk.
Only ``content:manage`` keeps the library; bad items and files are refused in words."""

from __future__ import annotations

import base64
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from common.content import PDF_MAX_BYTES
from common.messaging import Channel
from common.portal import Relation
from server.config import Settings
from server.content.models import ContentDelivery, ContentItem
from server.db import transaction
from server.demo import demo_pdf
from server.messaging.models import Delivery, Message
from server.patients.models import Patient
from server.portal import accounts
from server.portal.models import PortalAccount
from sync.protocol import API_PREFIX
from tests.server.conftest import Factory
from tests.server.portal import portalmaker
from tests.server.portal.portalmaker import SAME_SITE, post
from tests.server.treatment import caremaker
from tests.server.web.conftest import csrf_of

PHASES = ["Assessment", "Fitting", "Retention"]


@pytest.fixture
def bay(factory: Factory, db: sessionmaker[Session]) -> caremaker.Clinic:
    return caremaker.clinic(factory, db, "bay")


def library(client: TestClient, bay: caremaker.Clinic) -> dict[str, str]:
    """What a move into "Fitting" should and should not give an English reader."""
    admin = bay.admin
    made = {
        "braces": caremaker.article(client, admin, "Caring for your braces", ["Fitting"]),
        "lower": caremaker.article(client, admin, "Sore gums", [" fitting ", "Adjustment"]),
        "french": caremaker.article(
            client, admin, "Prendre soin de vos bagues", ["Fitting"], language="fr"
        ),
        "later": caremaker.article(client, admin, "Wearing a retainer", ["Retention"]),
        "draft": caremaker.article(client, admin, "Draft", ["Fitting"], published=False),
        "gone": caremaker.article(client, admin, "Old leaflet", ["Fitting"]),
        "general": caremaker.article(client, admin, "Opening hours", []),
    }
    removed = client.delete(f"{API_PREFIX}/content/{made['gone']}", headers=admin)
    assert removed.status_code == 200, removed.text
    return made


def care_messages(db: sessionmaker[Session], patient_id: uuid.UUID) -> list[Message]:
    with db() as session:
        return list(
            session.scalars(
                select(Message).where(
                    Message.patient_id == patient_id, Message.kind == "care_content"
                )
            )
        )


def given_of(db: sessionmaker[Session], title: str) -> ContentDelivery:
    with db() as session:
        return session.scalars(
            select(ContentDelivery)
            .join(ContentItem, ContentItem.id == ContentDelivery.item_id)
            .where(ContentItem.title == title)
        ).one()


def delivered(db: sessionmaker[Session]) -> list[ContentDelivery]:
    with db() as session:
        return list(session.scalars(select(ContentDelivery).order_by(ContentDelivery.id)))


def test_a_phase_gives_its_content_once_with_one_email(
    client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    made = library(client, bay)
    started = caremaker.start_plan(client, bay.desk, bay.rosa, PHASES)
    assert started["delivered"] == 0, "nothing is tagged Assessment"
    plan = started["plan"]

    first = caremaker.move(client, bay.desk, bay.rosa, plan, "Fitting")
    assert first.status_code == 200, first.text
    assert first.json()["delivered"] == 2
    again = caremaker.move(client, bay.desk, bay.rosa, plan, "Fitting")  # sent twice
    assert again.json()["delivered"] == 0
    assert caremaker.move(client, bay.desk, bay.rosa, plan, "Assessment").json()["delivered"] == 0
    back = caremaker.move(client, bay.desk, bay.rosa, plan, "Fitting")
    assert back.json()["delivered"] == 0
    assert back.json()["plan"]["current_phase_id"] == caremaker.phase_id(plan, "Fitting")

    given = delivered(db)
    assert {str(d.item_id) for d in given} == {made["braces"], made["lower"]}
    assert {d.phase_name for d in given} == {"Fitting"}
    [message] = care_messages(db, bay.rosa)
    assert {d.message_id for d in given} == {message.id}
    with db() as session:
        [email] = session.scalars(select(Delivery).where(Delivery.message_id == message.id)).all()
    assert email.channel is Channel.EMAIL
    assert email.to_address == "rosa@example.org"
    assert "/portal/bay/for-you" in email.text
    assert "Caring for your braces" in email.text
    assert "Sore gums" in email.text
    assert "Prendre soin" not in email.text
    assert "Draft" not in email.text

    desk = caremaker.treatment(client, bay.reader, bay.rosa)
    assert {d["title"] for d in desk["deliveries"]} == {"Caring for your braces", "Sore gums"}
    assert all(d["opened_at"] is None for d in desk["deliveries"])


def test_a_french_reader_is_given_the_french_item(
    client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    made = library(client, bay)
    plan = caremaker.start_plan(client, bay.desk, bay.rosa, PHASES, language="FR")["plan"]
    assert plan["language"] == "fr"
    assert caremaker.move(client, bay.desk, bay.rosa, plan, "Fitting").json()["delivered"] == 1
    assert [str(d.item_id) for d in delivered(db)] == [made["french"]]


def test_two_moves_at_once_give_the_content_once(
    app: FastAPI, client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    library(client, bay)
    plan = caremaker.start_plan(client, bay.desk, bay.rosa, PHASES)["plan"]
    answers: list[Any] = []
    start = threading.Barrier(2)

    def move() -> None:
        with TestClient(app) as desk:
            start.wait()
            answers.append(caremaker.move(desk, bay.desk, bay.rosa, plan, "Fitting"))

    threads = [threading.Thread(target=move) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.status_code for a in answers] == [200, 200]
    assert sorted(a.json()["delivered"] for a in answers) == [0, 2]
    assert len(delivered(db)) == 2
    assert len(care_messages(db, bay.rosa)) == 1


def test_a_plan_starting_in_a_tagged_phase_gives_it_at_once(
    client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    library(client, bay)
    started = caremaker.start_plan(client, bay.desk, bay.rosa, ["Fitting", "Retention"])
    assert started["delivered"] == 2
    assert len(care_messages(db, bay.rosa)) == 1


def test_opening_in_the_portal_is_recorded_once_and_the_desk_sees_it(
    web: TestClient, client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    library(client, bay)
    plan = caremaker.start_plan(client, bay.desk, bay.rosa, PHASES)["plan"]
    caremaker.move(client, bay.desk, bay.rosa, plan, "Fitting")
    base = portalmaker.signed_in(web, db, bay.id, bay.rosa)
    braces_id = str(given_of(db, "Caring for your braces").id)

    listing = web.get(f"{base}/for-you")
    assert listing.status_code == 200
    assert "Caring for your braces" in listing.text
    assert listing.text.count("<strong>New</strong>") == 2
    assert 'Open<span class="hidden"> “Caring for your braces”</span>' in listing.text

    # Reading it straight by its address (a link scanner would) records nothing.
    page = web.get(f"{base}/for-you/{braces_id}")
    assert page.status_code == 200
    assert "<h1>Caring for your braces</h1>" in page.text
    assert all(d.opened_at is None for d in delivered(db))

    opened = post(web, f"{base}/for-you", f"{base}/for-you/{braces_id}/open")
    assert opened.status_code == 303
    assert opened.headers["location"] == f"{base}/for-you/{braces_id}"
    first = given_of(db, "Caring for your braces").opened_at
    assert first is not None
    assert given_of(db, "Sore gums").opened_at is None
    assert post(web, f"{base}/for-you", f"{base}/for-you/{braces_id}/open").status_code == 303
    assert given_of(db, "Caring for your braces").opened_at == first

    reading = web.get(f"{base}/for-you/{braces_id}")
    assert "<h1>Caring for your braces</h1>" in reading.text
    assert "Some text." in reading.text
    desk = caremaker.treatment(client, bay.reader, bay.rosa)
    seen = {d["title"]: d["opened_at"] for d in desk["deliveries"]}
    assert seen["Caring for your braces"] is not None
    assert seen["Sore gums"] is None


def _items(client: TestClient, bay: caremaker.Clinic) -> list[dict[str, Any]]:
    answer = client.get(f"{API_PREFIX}/content", headers=bay.desk)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()
    return items


def test_someone_elses_delivery_is_not_found_in_the_portal(
    web: TestClient, client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    library(client, bay)
    sam = caremaker.patient(db, bay.id, "Sam", "sam@example.org")
    plan = caremaker.start_plan(client, bay.desk, sam, PHASES)["plan"]
    caremaker.move(client, bay.desk, sam, plan, "Fitting")
    sams = delivered(db)[0].id
    base = portalmaker.signed_in(web, db, bay.id, bay.rosa)
    assert web.get(f"{base}/for-you/{sams}").status_code == 404
    page = web.get(f"{base}/for-you")
    refused = web.post(
        f"{base}/for-you/{sams}/open",
        data={"csrf_token": csrf_of(page)},
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert refused.status_code == 404
    assert all(d.opened_at is None for d in delivered(db))
    assert "Nothing yet" in page.text


def test_only_content_managers_keep_the_library(
    client: TestClient, db: sessionmaker[Session], settings: Settings, bay: caremaker.Clinic
) -> None:
    refused = caremaker.add_item(client, bay.desk, title="Mine")
    assert refused.status_code == 403
    made = caremaker.add_item(client, bay.admin, title=" Braces  care ", phases=["Fitting"])
    assert made.status_code == 201, made.text
    item = made.json()
    assert item["title"] == "Braces care"
    assert item["language"] == "en"
    change = client.put(
        f"{API_PREFIX}/content/{item['id']}",
        json={"kind": "article", "title": "Braces care", "body": "New text.", "phases": []},
        headers=bay.desk,
    )
    assert change.status_code == 403
    assert client.delete(f"{API_PREFIX}/content/{item['id']}", headers=bay.desk).status_code == 403
    changed = client.put(
        f"{API_PREFIX}/content/{item['id']}",
        json={"kind": "article", "title": "Braces care", "body": "New text.", "phases": []},
        headers=bay.admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["body"] == "New text."
    assert changed.json()["phases"] == []
    assert [i["title"] for i in _items(client, bay)] == ["Braces care"]


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"kind": "video", "url": "http://example.org/v"}, 422, "starting with https://"),
        ({"kind": "video", "url": "javascript:alert(1)"}, 422, "starting with https://"),
        ({"kind": "article", "body": ""}, 422, "has no text"),
        ({"kind": "pdf"}, 422, "Choose the PDF file"),
        (
            {"kind": "pdf", "pdf_base64": base64.b64encode(b"\xff\xd8\xff\xe0 a JPEG").decode()},
            422,
            "not a PDF",
        ),
        ({"kind": "pdf", "pdf_base64": "not base64!"}, 422, "could not be read"),
        (
            {
                "kind": "pdf",
                "pdf_base64": base64.b64encode(b"%PDF-" + b"0" * PDF_MAX_BYTES).decode(),
            },
            413,
            "larger than 10 MB",
        ),
        ({"kind": "article", "pdf_base64": caremaker.pdf_body()}, 422, "Only a PDF"),
        ({"kind": "article", "language": "english"}, 422, "not a language code"),
    ],
    ids=[
        "http video",
        "script link",
        "empty article",
        "pdf without file",
        "jpeg as pdf",
        "not base64",
        "pdf too large",
        "file on an article",
        "language name",
    ],
)
def test_an_item_that_cannot_be_is_refused_in_words_and_nothing_is_kept(
    client: TestClient,
    db: sessionmaker[Session],
    settings: Settings,
    bay: caremaker.Clinic,
    fields: dict[str, Any],
    status: int,
    words: str,
) -> None:
    answer = caremaker.add_item(client, bay.admin, **fields)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["message"]
    with db() as session:
        assert session.scalar(select(func.count()).select_from(ContentItem)) == 0
    media = Path(settings.media_dir)
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_a_pdf_is_kept_as_a_file_and_downloaded_from_the_help_centre(
    web: TestClient,
    client: TestClient,
    db: sessionmaker[Session],
    settings: Settings,
    bay: caremaker.Clinic,
) -> None:
    leaflet = demo_pdf("Foods to avoid", ["Toffee."])
    made = caremaker.add_item(
        client,
        bay.admin,
        kind="pdf",
        title="Foods to avoid",
        body="",
        phases=["Fitting"],
        pdf_base64=base64.b64encode(leaflet).decode(),
    )
    assert made.status_code == 201, made.text
    assert made.json()["file_size"] == len(leaflet)
    with db() as session:
        row = session.scalars(select(ContentItem)).one()
    assert row.file_path is not None
    path = Path(settings.media_dir).resolve() / row.file_path
    assert path.read_bytes() == leaflet
    assert path.parent.name == "documents"

    # Replacing the file removes the old one; changing the words keeps the file.
    newer = demo_pdf("Foods to avoid", ["Toffee.", "Nuts."])
    replaced = client.put(
        f"{API_PREFIX}/content/{row.id}",
        json={
            "kind": "pdf",
            "title": "Foods to avoid",
            "phases": ["Fitting"],
            "pdf_base64": base64.b64encode(newer).decode(),
        },
        headers=bay.admin,
    )
    assert replaced.status_code == 200, replaced.text
    assert not path.exists()
    with db() as session:
        row = session.scalars(select(ContentItem)).one()
    assert row.file_path is not None
    retitled = client.put(
        f"{API_PREFIX}/content/{row.id}",
        json={"kind": "pdf", "title": "Foods to avoid (2)", "phases": ["Fitting"]},
        headers=bay.admin,
    )
    assert retitled.status_code == 200, retitled.text
    assert retitled.json()["file_size"] == len(newer)

    base = portalmaker.signed_in(web, db, bay.id, bay.rosa)
    page = web.get(f"{base}/help/{row.id}")
    assert page.status_code == 200
    assert f'href="{base}/help/{row.id}/file"' in page.text
    file = web.get(f"{base}/help/{row.id}/file")
    assert file.status_code == 200
    assert file.content == newer
    assert file.headers["content-type"] == "application/pdf"
    assert file.headers["content-disposition"] == 'attachment; filename="Foods to avoid 2.pdf"'


def test_the_help_centre_lists_what_is_published_by_phase_and_searches(
    web: TestClient, client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    made = library(client, bay)
    caremaker.article(
        client,
        bay.admin,
        "Brushing with braces",
        ["Fitting"],
        kind="video",
        url="https://video.example.org/brushing",
        body="Four minutes.",
    )
    base = portalmaker.signed_in(web, db, bay.id, bay.rosa)

    page = web.get(f"{base}/help")
    assert page.status_code == 200
    html = page.text
    headings = [h.split("</h2>")[0] for h in html.split("<h2>")[1:]]
    assert headings == ["Adjustment", "Fitting", "Retention", "General"]
    assert "Caring for your braces" in html
    assert 'lang="fr">Prendre soin de vos bagues</a>' in html
    assert "Draft" not in html
    assert "Old leaflet" not in html
    assert 'aria-current="page">Help</a>' in html

    found = web.get(f"{base}/help", params={"q": "BRACES"}).text
    assert "2 found for “BRACES”" in found
    assert "Wearing a retainer" not in found
    in_phase = web.get(f"{base}/help", params={"phase": "Retention"}).text
    assert "Wearing a retainer" in in_phase
    assert "Caring for your braces" not in in_phase
    nothing = web.get(f"{base}/help", params={"q": "zebra"}).text
    assert "Nothing matches that" in nothing

    video = next(i for i in _items(client, bay) if i["kind"] == "video")
    watch = web.get(f"{base}/help/{video['id']}").text
    assert 'href="https://video.example.org/brushing"' in watch
    assert "(video.example.org)" in watch
    assert web.get(f"{base}/help/{made['draft']}").status_code == 404
    assert web.get(f"{base}/help/{made['gone']}").status_code == 404
    assert web.get(f"{base}/help/{uuid.uuid4()}").status_code == 404


def test_a_childs_reading_is_e_mailed_to_the_account_holder(
    web: TestClient, client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    library(client, bay)
    portalmaker.signed_in(web, db, bay.id, bay.rosa)
    with transaction(db) as session:
        child = Patient(clinic_id=bay.id, first_name="Leo", last_name="Lind")
        session.add(child)
        session.flush()
        holder = session.scalars(select(PortalAccount)).one()
        accounts.link_record(session, holder, bay.id, child.id, Relation.DEPENDANT)
        child_id = child.id
    plan = caremaker.start_plan(client, bay.desk, child_id, PHASES)["plan"]
    assert caremaker.move(client, bay.desk, child_id, plan, "Fitting").json()["delivered"] == 2
    [message] = care_messages(db, child_id)
    with db() as session:
        [email] = session.scalars(select(Delivery).where(Delivery.message_id == message.id)).all()
    assert email.to_address == "rosa@example.org"
    assert email.text.startswith("Hello,")
    assert "Leo's treatment" in email.text

    listing = web.get("/portal/bay/for-you").text
    assert listing.count("for Leo Lind") == 2
