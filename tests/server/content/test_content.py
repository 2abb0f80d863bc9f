"""The content library and what it gives patients, on both databases.

Moving a plan into a phase gives the patient the published items tagged with it, in the
plan's language, once ever: the same request sent again, two desks moving it at once,
or coming back to the phase later gives nothing new and sends no second e-mail. Opening
an item in the portal (a POST, never a GET) is recorded once and shown at the desk.
Only ``content:manage`` keeps the library; bad items and files are refused in words."""

from __future__ import annotations

import threading
import time
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
from server.content import service as content_service
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
        ({"kind": "video", "url": "https://[::1"}, 422, "starting with https://"),
        ({"kind": "video", "url": "https://v.example.org:99999/"}, 422, "starting with https://"),
        ({"kind": "article", "body": ""}, 422, "has no text"),
        ({"kind": "article", "language": "english"}, 422, "not a language code"),
    ],
    ids=[
        "http video",
        "script link",
        "bracket left open",
        "port out of range",
        "empty article",
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
    # The item's fields first: until its file comes, no patient is shown or given it.
    made = caremaker.add_item(
        client, bay.admin, kind="pdf", title="Foods to avoid", body="", phases=["Fitting"]
    )
    assert made.status_code == 201, made.text
    assert made.json()["file_size"] is None
    item_id = made.json()["id"]
    base = portalmaker.signed_in(web, db, bay.id, bay.rosa)
    assert "Foods to avoid" not in web.get(f"{base}/help").text
    assert web.get(f"{base}/help/{item_id}").status_code == 404
    plan = caremaker.start_plan(client, bay.desk, bay.rosa, PHASES)["plan"]
    assert caremaker.move(client, bay.desk, bay.rosa, plan, "Fitting").json()["delivered"] == 0

    leaflet = demo_pdf("Foods to avoid", ["Toffee."])
    sent = caremaker.put_file(client, bay.admin, item_id, leaflet)
    assert sent.status_code == 200, sent.text
    assert sent.json()["file_size"] == len(leaflet)
    with db() as session:
        row = session.scalars(select(ContentItem)).one()
    assert row.file_path is not None
    path = Path(settings.media_dir).resolve() / row.file_path
    assert path.read_bytes() == leaflet
    assert path.parent.name == "documents"

    # Replacing the file removes the old one; changing the words keeps the file.
    newer = demo_pdf("Foods to avoid", ["Toffee.", "Nuts."])
    replaced = caremaker.put_file(client, bay.admin, item_id, newer)
    assert replaced.status_code == 200, replaced.text
    assert not path.exists()
    with db() as session:
        row = session.scalars(select(ContentItem)).one()
    assert row.file_path is not None
    assert [p.name for p in documents(settings)] == [Path(row.file_path).name]
    retitled = client.put(
        f"{API_PREFIX}/content/{row.id}",
        json={"kind": "pdf", "title": "Foods to avoid (2)", "phases": ["Fitting"]},
        headers=bay.admin,
    )
    assert retitled.status_code == 200, retitled.text
    assert retitled.json()["file_size"] == len(newer)

    page = web.get(f"{base}/help/{row.id}")
    assert page.status_code == 200
    assert f'href="{base}/help/{row.id}/file"' in page.text
    file = web.get(f"{base}/help/{row.id}/file")
    assert file.status_code == 200
    assert file.content == newer
    assert file.headers["content-type"] == "application/pdf"
    assert file.headers["content-disposition"] == 'attachment; filename="Foods to avoid 2.pdf"'


def documents(settings: Settings) -> list[Path]:
    folder = Path(settings.media_dir).resolve() / "documents"
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.exists() else []


@pytest.mark.parametrize(
    ("kind", "data", "status", "words"),
    [
        ("pdf", b"\xff\xd8\xff\xe0 a JPEG, named .pdf", 422, "not a PDF"),
        ("pdf", b"", 422, "empty"),
        ("pdf", b"%PDF-" + b"0" * PDF_MAX_BYTES, 413, "larger than 10 MB"),
        ("pdf", b"%PDF-" + b"0" * (PDF_MAX_BYTES + 200_000), 413, "too large"),
        ("article", demo_pdf("Leaflet", ["A page."]), 422, "only a PDF item takes a file"),
    ],
    ids=["jpeg as pdf", "empty", "too large", "far too large", "file on an article"],
)
def test_a_file_that_cannot_be_is_refused_in_words_and_nothing_is_kept(
    client: TestClient,
    db: sessionmaker[Session],
    settings: Settings,
    bay: caremaker.Clinic,
    kind: str,
    data: bytes,
    status: int,
    words: str,
) -> None:
    made = caremaker.add_item(client, bay.admin, kind=kind, title="Leaflet", phases=["Fitting"])
    assert made.status_code == 201, made.text
    answer = caremaker.put_file(client, bay.admin, made.json()["id"], data)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["message"]
    with db() as session:
        row = session.scalars(select(ContentItem)).one()
    assert (row.file_path, row.file_size) == (None, None)
    assert documents(settings) == []


def test_only_signed_in_content_managers_send_a_file_and_json_is_read_at_the_usual_limit(
    app: FastAPI,
    client: TestClient,
    db: sessionmaker[Session],
    settings: Settings,
    bay: caremaker.Clinic,
) -> None:
    """The items' JSON is no longer read up to 14 MB (it was, so a PDF could ride in it in
    base64, and FastAPI parses a JSON body before the sign-in is checked); the one route
    that takes a file reads it only once the caller is known."""
    item_id = caremaker.pdf_item(client, bay.admin, "Foods to avoid", ["Fitting"])
    padding = "x" * (2 * 1024 * 1024)
    big = {"kind": "article", "title": "Big", "body": padding}
    with TestClient(app) as stranger:
        unsigned = stranger.post(f"{API_PREFIX}/content", json=big)
        assert unsigned.status_code == 413, unsigned.text
        assert "too large" in unsigned.json()["message"]
        changed = stranger.put(f"{API_PREFIX}/content/{item_id}", json=big)
        assert changed.status_code == 413, changed.text
        file = stranger.put(
            f"{API_PREFIX}/content/{item_id}/file",
            content=demo_pdf("Not mine", ["A page."]),
            headers={"content-type": "application/pdf"},
        )
        assert file.status_code == 401, file.text
    signed = client.post(f"{API_PREFIX}/content", json=big, headers=bay.admin)
    assert signed.status_code == 413
    not_manager = caremaker.put_file(client, bay.desk, item_id, demo_pdf("Desk", ["A page."]))
    assert not_manager.status_code == 403
    elsewhere = caremaker.put_file(
        client, bay.admin, str(uuid.uuid4()), demo_pdf("Nowhere", ["A page."])
    )
    assert elsewhere.status_code == 404
    assert len(documents(settings)) == 1, "only the item's own file"


def test_two_file_replacements_at_once_leave_no_file_behind(
    app: FastAPI,
    client: TestClient,
    db: sessionmaker[Session],
    settings: Settings,
    bay: caremaker.Clinic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each replacement reads the file it replaces with the item's row locked: without
    the lock, both read the first file, and the file of whichever committed first was
    named by no row and never removed."""
    item_id = caremaker.pdf_item(client, bay.admin, "Foods to avoid", ["Fitting"])
    slow = content_service.set_file

    def set_file_slowly(*args: Any, **kwargs: Any) -> Any:
        done = slow(*args, **kwargs)
        time.sleep(0.4)  # the other replacement reads meanwhile
        return done

    monkeypatch.setattr(content_service, "set_file", set_file_slowly)
    answers: list[Any] = []
    start = threading.Barrier(2)

    def replace(n: int) -> None:
        with TestClient(app) as desk:
            start.wait()
            pdf = demo_pdf(f"Version {n}", ["A page."])
            answers.append(caremaker.put_file(desk, bay.admin, item_id, pdf))

    threads = [threading.Thread(target=replace, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.status_code for a in answers] == [200, 200]
    with db() as session:
        row = session.scalars(select(ContentItem)).one()
    assert row.file_path is not None
    assert documents(settings) == [Path(settings.media_dir).resolve() / row.file_path]


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


def test_a_withdrawn_item_stays_on_the_record_and_its_file_goes(
    web: TestClient,
    client: TestClient,
    db: sessionmaker[Session],
    settings: Settings,
    bay: caremaker.Clinic,
) -> None:
    """Removing a PDF the patient was given: the desk still lists the delivery (the
    dialog promises it stays on their record), marked withdrawn; "For you" says it is no
    longer available and offers no Open; the file is deleted once that is committed."""
    leaflet = caremaker.pdf_item(client, bay.admin, "Foods to avoid", ["Fitting"])
    caremaker.article(client, bay.admin, "Caring for your braces", ["Fitting"])
    plan = caremaker.start_plan(client, bay.desk, bay.rosa, PHASES)["plan"]
    assert caremaker.move(client, bay.desk, bay.rosa, plan, "Fitting").json()["delivered"] == 2
    assert len(documents(settings)) == 1
    given = given_of(db, "Foods to avoid").id

    removed = client.delete(f"{API_PREFIX}/content/{leaflet}", headers=bay.admin)
    assert removed.status_code == 200, removed.text
    assert documents(settings) == []
    desk = caremaker.treatment(client, bay.reader, bay.rosa)
    shown = {d["title"]: d["withdrawn"] for d in desk["deliveries"]}
    assert shown == {"Foods to avoid": True, "Caring for your braces": False}

    base = portalmaker.signed_in(web, db, bay.id, bay.rosa)
    listing = web.get(f"{base}/for-you").text
    card = listing.split("<h2>Foods to avoid</h2>")[1].split("</li>")[0]
    assert "No longer available" in card
    assert "<button" not in card
    assert "<strong>New</strong>" not in card
    assert listing.count("<strong>New</strong>") == 1
    assert "For you: 1 new to read" in web.get(f"{base}/treatment").text
    assert web.get(f"{base}/for-you/{given}").status_code == 404
    opened = web.post(
        f"{base}/for-you/{given}/open",
        data={"csrf_token": csrf_of(web.get(f"{base}/for-you"))},
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert opened.status_code == 404
    assert given_of(db, "Foods to avoid").opened_at is None


@pytest.mark.parametrize(
    ("item", "plan", "kept", "given"),
    [
        ("pt-br", "PT-BR", ("pt-BR", "pt-BR"), True),
        ("pt-BR", "pt-br", ("pt-BR", "pt-BR"), True),
        ("en", "en-GB", ("en", "en-GB"), True),
        ("EN", "en-gb", ("en", "en-GB"), True),
        ("en-US", "en-GB", ("en-US", "en-GB"), False),
        ("en-GB", "en", ("en-GB", "en"), False),
    ],
)
def test_a_language_code_matches_whatever_its_case_and_a_base_language_reaches_its_regions(
    client: TestClient,
    bay: caremaker.Clinic,
    item: str,
    plan: str,
    kept: tuple[str, str],
    given: bool,
) -> None:
    made = caremaker.add_item(
        client, bay.admin, title="Cuidados", phases=["Fitting"], language=item
    )
    assert made.status_code == 201, made.text
    started = caremaker.start_plan(client, bay.desk, bay.rosa, PHASES, language=plan)["plan"]
    assert (made.json()["language"], started["language"]) == kept
    moved = caremaker.move(client, bay.desk, bay.rosa, started, "Fitting")
    assert moved.json()["delivered"] == (1 if given else 0)


def test_the_help_centre_lists_phases_in_treatment_order(
    web: TestClient, client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    """The clinic's plans go Assessment, Fitting, Adjustment, Retention: so do the help
    centre's headings and its menu, whatever the alphabet says; a tag no plan has comes
    after them, by name, and "General" last."""
    library(client, bay)
    caremaker.article(client, bay.admin, "Whitening after braces", ["Aftercare"])
    caremaker.article(client, bay.admin, "Your first visit", ["assessment"])
    caremaker.start_plan(client, bay.desk, bay.rosa)  # the usual four phases
    sam = caremaker.patient(db, bay.id, "Sam", "sam@example.org")
    caremaker.start_plan(client, bay.desk, sam, ["Fitting", "Adjustment"], title="Aligners")
    base = portalmaker.signed_in(web, db, bay.id, bay.rosa)

    html = web.get(f"{base}/help").text

    headings = [h.split("</h2>")[0] for h in html.split("<h2>")[1:]]
    assert headings == ["assessment", "Fitting", "Adjustment", "Retention", "Aftercare", "General"]
    menu = html.split('aria-label="Stages of treatment"')[1].split("</nav>")[0]
    names = [a.split(">")[1].split("<")[0] for a in menu.split("<a ")[2:]]
    assert names == headings


def test_an_admin_viewing_as_the_patient_opens_reading_without_it_counting(
    app: FastAPI,
    web: TestClient,
    client: TestClient,
    db: sessionmaker[Session],
    bay: caremaker.Clinic,
) -> None:
    """Opened by a clinic admin viewing the portal as the patient: shown, and not
    recorded as the patient's opening (the desk would say they read it)."""
    library(client, bay)
    plan = caremaker.start_plan(client, bay.desk, bay.rosa, PHASES)["plan"]
    caremaker.move(client, bay.desk, bay.rosa, plan, "Fitting")
    portalmaker.signed_in(web, db, bay.id, bay.rosa)
    braces = str(given_of(db, "Caring for your braces").id)
    ticket = client.post(f"{API_PREFIX}/patients/{bay.rosa}/portal/impersonate", headers=bay.admin)
    assert ticket.status_code == 200, ticket.text
    token = ticket.json()["url"].rsplit("/", 1)[1]
    with TestClient(app, base_url="https://testserver", headers={"accept": "text/html"}) as admin:
        started = post(admin, f"/portal/link/{token}", f"/portal/link/{token}")
        assert started.status_code == 303, started.text
        opened = post(admin, "/portal/bay/for-you", f"/portal/bay/for-you/{braces}/open")
        assert opened.status_code == 303
        assert opened.headers["location"] == f"/portal/bay/for-you/{braces}"
        page = admin.get(opened.headers["location"])
        assert "<h1>Caring for your braces</h1>" in page.text
    assert given_of(db, "Caring for your braces").opened_at is None
    desk = caremaker.treatment(client, bay.reader, bay.rosa)
    assert all(d["opened_at"] is None for d in desk["deliveries"])
    # The patient's own opening still counts.
    assert post(web, "/portal/bay/for-you", f"/portal/bay/for-you/{braces}/open").status_code == 303
    assert given_of(db, "Caring for your braces").opened_at is not None


def test_two_plans_of_one_patient_moving_at_once_give_the_content_once(
    app: FastAPI, client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    """Two desks move two plans of the same patient into "Fitting" at the same moment: the
    patient's row is locked first, so the second finds the reading given already (one
    delivery per item, one e-mail), on PostgreSQL as on SQLite."""
    library(client, bay)
    plans = [
        caremaker.start_plan(client, bay.desk, bay.rosa, PHASES, title=title)["plan"]
        for title in ("Braces, upper", "Braces, lower")
    ]
    answers: list[Any] = []
    start = threading.Barrier(2)

    def move(plan: dict[str, Any]) -> None:
        with TestClient(app) as desk:
            start.wait()
            answers.append(caremaker.move(desk, bay.desk, bay.rosa, plan, "Fitting"))

    threads = [threading.Thread(target=move, args=(plan,)) for plan in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.status_code for a in answers] == [200, 200]
    assert sorted(a.json()["delivered"] for a in answers) == [0, 2]
    assert len(delivered(db)) == 2
    assert len(care_messages(db, bay.rosa)) == 1
