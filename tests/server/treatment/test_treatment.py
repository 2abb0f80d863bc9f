"""Treatment plans at the desk's API, on both databases: a plan in phases moved on, notes
and photos under their phase, who may do what, every read audited; a photo kept as a
file outside the database, named by nothing of the patient's; uploads that are not a
photo, too large, or a PDF calling itself a JPEG refused in words with nothing kept; and
a photo of one patient never served for another, or to another clinic."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from common.roles import Role
from common.treatment import PHOTO_MAX_BYTES
from server.audit.models import AuditEvent
from server.config import Settings
from server.demo import demo_pdf
from server.treatment.models import ProgressNote, ProgressPhoto, TreatmentPlan
from sync.protocol import API_PREFIX
from tests.server.conftest import Factory
from tests.server.treatment import caremaker
from tests.server.treatment.caremaker import PNG


@pytest.fixture
def bay(factory: Factory, db: sessionmaker[Session]) -> caremaker.Clinic:
    return caremaker.clinic(factory, db, "bay")


def media_files(settings: Settings) -> list[Path]:
    root = Path(settings.media_dir)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def audits(db: sessionmaker[Session], entity: str) -> list[AuditEvent]:
    with db() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.entity == entity)))


def test_a_plan_moves_through_its_phases_with_notes_and_photos_and_reads_are_audited(
    client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    started = caremaker.start_plan(client, bay.desk, bay.rosa)
    plan = started["plan"]
    assert [p["name"] for p in plan["phases"]] == caremaker.PHASES
    assert [p["position"] for p in plan["phases"]] == [1, 2, 3, 4]
    assert plan["current_phase_id"] == caremaker.phase_id(plan, "Assessment")
    assert [p["current"] for p in plan["phases"]] == [True, False, False, False]

    moved = caremaker.move(client, bay.desk, bay.rosa, plan, "Fitting")
    assert moved.status_code == 200, moved.text
    assert moved.json()["plan"]["current_phase_id"] == caremaker.phase_id(plan, "Fitting")

    note = client.post(
        f"{API_PREFIX}/patients/{bay.rosa}/treatment/plans/{plan['id']}/notes",
        json={"phase_id": caremaker.phase_id(plan, "Fitting"), "text": "  Upper brace fitted.  "},
        headers=bay.desk,
    )
    assert note.status_code == 201, note.text
    assert note.json()["text"] == "Upper brace fitted."
    assert note.json()["written_by"] == "Front desk of bay"
    photo = caremaker.upload(client, bay.desk, bay.rosa, caremaker.phase_id(plan, "Fitting"), PNG)
    assert photo.status_code == 201, photo.text
    assert photo.json()["content_type"] == "image/png"
    assert photo.json()["size_bytes"] == len(PNG)

    shown = caremaker.treatment(client, bay.reader, bay.rosa)
    [again] = shown["plans"]
    assert again["title"] == "Braces, upper and lower"
    assert [n["text"] for n in again["notes"]] == ["Upper brace fitted."]
    assert [f["id"] for f in again["photos"]] == [photo.json()["id"]]
    assert again["photos"][0]["phase_id"] == caremaker.phase_id(plan, "Fitting")
    assert len(audits(db, "treatment_plans")) >= 1

    served = client.get(caremaker.photo_url(bay.rosa, photo.json()["id"]), headers=bay.reader)
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["cache-control"] == "no-store"
    assert served.headers["content-disposition"] == "inline"
    [read] = audits(db, "progress_photos")[-1:]
    assert read.action == "read"
    assert read.entity_id == uuid.UUID(photo.json()["id"])


def test_the_note_is_sealed_at_rest(
    client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    plan = caremaker.start_plan(client, bay.desk, bay.rosa)["plan"]
    secret = "Bracket-QX41 loosened on the lower left"
    answer = client.post(
        f"{API_PREFIX}/patients/{bay.rosa}/treatment/plans/{plan['id']}/notes",
        json={"phase_id": caremaker.phase_id(plan, "Assessment"), "text": secret},
        headers=bay.desk,
    )
    assert answer.status_code == 201, answer.text
    with db() as session:
        raw = session.execute(text("SELECT text FROM progress_notes")).scalar_one()
    assert "QX41" not in str(raw)


def test_reading_is_for_everyone_and_changing_for_those_who_may(
    client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    refused = client.post(
        f"{API_PREFIX}/patients/{bay.rosa}/treatment/plans",
        json={"title": "Braces", "phases": ["Fitting"]},
        headers=bay.reader,
    )
    assert refused.status_code == 403
    assert "role does not allow" in refused.json()["message"]
    plan = caremaker.start_plan(client, bay.desk, bay.rosa)["plan"]
    fitting = caremaker.phase_id(plan, "Fitting")
    assert caremaker.move(client, bay.reader, bay.rosa, plan, "Fitting").status_code == 403
    assert caremaker.upload(client, bay.reader, bay.rosa, fitting, PNG).status_code == 403
    note = client.post(
        f"{API_PREFIX}/patients/{bay.rosa}/treatment/plans/{plan['id']}/notes",
        json={"phase_id": fitting, "text": "Seen."},
        headers=bay.reader,
    )
    assert note.status_code == 403
    shown = caremaker.treatment(client, bay.reader, bay.rosa)
    assert shown["plans"][0]["current_phase_id"] == caremaker.phase_id(plan, "Assessment")
    assert shown["plans"][0]["notes"] == []


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"title": " ", "phases": ["Fitting"]}, "Give the plan a title"),
        ({"title": "Braces", "phases": []}, "Name the plan's phases"),
        ({"title": "Braces", "phases": ["Fitting", " fitting "]}, "named twice"),
        ({"title": "Braces", "phases": ["Fitting"], "language": "English"}, "not a language"),
    ],
    ids=["no title", "no phases", "a phase twice", "a language name"],
)
def test_a_plan_that_makes_no_sense_is_refused_in_words(
    client: TestClient, bay: caremaker.Clinic, body: dict[str, object], words: str
) -> None:
    answer = client.post(
        f"{API_PREFIX}/patients/{bay.rosa}/treatment/plans", json=body, headers=bay.desk
    )
    assert answer.status_code == 422
    assert words in answer.json()["message"]


def test_a_photo_is_a_file_outside_the_database_named_by_nothing_of_the_patient(
    client: TestClient,
    db: sessionmaker[Session],
    settings: Settings,
    database_url: str,
    bay: caremaker.Clinic,
) -> None:
    plan = caremaker.start_plan(client, bay.desk, bay.rosa)["plan"]
    answer = caremaker.upload(
        client, bay.desk, bay.rosa, caremaker.phase_id(plan, "Assessment"), PNG
    )
    assert answer.status_code == 201, answer.text
    with db() as session:
        row = session.scalars(select(ProgressPhoto)).one()
    [file] = media_files(settings)
    assert file == Path(settings.media_dir).resolve() / row.path
    assert file.read_bytes() == PNG
    assert row.size_bytes == len(PNG)
    assert row.sha256 == hashlib.sha256(PNG).hexdigest()
    assert row.content_type == "image/png"
    for word in ("rosa", "lind", str(bay.rosa), "bay"):
        assert word not in file.name.lower()
    assert file.stat().st_mode & 0o077 == 0, "only the server's user may read it"
    if database_url.startswith("sqlite"):
        stored = Path(database_url.removeprefix("sqlite:///")).read_bytes()
        assert PNG[40:200] not in stored, "the photo's bytes are in the database file"


def test_uploads_that_are_not_a_photo_are_refused_in_words_and_nothing_is_kept(
    client: TestClient, db: sessionmaker[Session], settings: Settings, bay: caremaker.Clinic
) -> None:
    plan = caremaker.start_plan(client, bay.desk, bay.rosa)["plan"]
    phase = caremaker.phase_id(plan, "Assessment")

    words = caremaker.upload(client, bay.desk, bay.rosa, phase, b"just some text", "image/png")
    assert words.status_code == 422
    assert "not a JPEG or PNG photo" in words.json()["message"]

    pretending = caremaker.upload(
        client, bay.desk, bay.rosa, phase, demo_pdf("Scan", ["A page"]), "image/jpeg"
    )
    assert pretending.status_code == 422
    assert "whatever its name says" in pretending.json()["message"]

    empty = caremaker.upload(client, bay.desk, bay.rosa, phase, b"", "image/jpeg")
    assert empty.status_code == 422
    assert "empty" in empty.json()["message"]

    large = b"\xff\xd8\xff\xe0" + b"\0" * PHOTO_MAX_BYTES
    too_large = caremaker.upload(client, bay.desk, bay.rosa, phase, large, "image/jpeg")
    assert too_large.status_code == 413
    assert "larger than 10 MB" in too_large.json()["message"]
    assert "smaller copy" in too_large.json()["message"]

    far_too_large = caremaker.upload(
        client, bay.desk, bay.rosa, phase, large + b"\0" * 200_000, "image/jpeg"
    )
    assert far_too_large.status_code == 413
    assert "too large" in far_too_large.json()["message"]

    with db() as session:
        assert session.scalar(select(func.count()).select_from(ProgressPhoto)) == 0
    assert media_files(settings) == []


def test_a_photo_on_an_unknown_phase_leaves_no_file_behind(
    client: TestClient, db: sessionmaker[Session], settings: Settings, bay: caremaker.Clinic
) -> None:
    answer = caremaker.upload(client, bay.desk, bay.rosa, str(uuid.uuid4()), PNG)
    assert answer.status_code == 404
    assert media_files(settings) == []


def test_a_photo_of_one_patient_is_not_found_for_another_or_at_another_clinic(
    client: TestClient, db: sessionmaker[Session], factory: Factory, bay: caremaker.Clinic
) -> None:
    cove = caremaker.clinic(factory, db, "cove")
    sam = caremaker.patient(db, bay.id, "Sam", "sam@example.org")
    plan = caremaker.start_plan(client, bay.desk, bay.rosa)["plan"]
    caremaker.start_plan(client, bay.desk, sam)
    photo = caremaker.upload(
        client, bay.desk, bay.rosa, caremaker.phase_id(plan, "Assessment"), PNG
    ).json()["id"]

    missing = client.get(caremaker.photo_url(bay.rosa, uuid.uuid4()), headers=bay.desk)
    as_sam = client.get(caremaker.photo_url(sam, photo), headers=bay.desk)
    at_cove = client.get(caremaker.photo_url(bay.rosa, photo), headers=cove.admin)
    at_cove_as_theirs = client.get(caremaker.photo_url(cove.rosa, photo), headers=cove.admin)
    for refused in (as_sam, at_cove, at_cove_as_theirs):
        assert refused.status_code == 404
        assert refused.json() == missing.json()
        assert PNG not in refused.content
    # Another clinic cannot see the plan, add to it, or move it either.
    assert (
        client.get(f"{API_PREFIX}/patients/{bay.rosa}/treatment", headers=cove.admin).status_code
        == 404
    )
    assert caremaker.move(client, cove.admin, bay.rosa, plan, "Fitting").status_code == 404
    assert (
        caremaker.upload(
            client, cove.admin, cove.rosa, caremaker.phase_id(plan, "Fitting"), PNG
        ).status_code
        == 404
    )
    with db() as session:
        mine = session.scalars(
            select(TreatmentPlan).where(TreatmentPlan.id == uuid.UUID(plan["id"]))
        ).one()
        assert mine.current_phase_id == uuid.UUID(caremaker.phase_id(plan, "Assessment"))
    assert [a.entity_id for a in audits(db, "progress_photos") if a.action == "read"] == []


def _note(client: TestClient, clinic: caremaker.Clinic, plan: dict[str, object], text: str) -> str:
    answer = client.post(
        f"{API_PREFIX}/patients/{clinic.rosa}/treatment/plans/{plan['id']}/notes",
        json={"phase_id": caremaker.phase_id(plan, "Assessment"), "text": text},
        headers=clinic.desk,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_a_note_and_a_photo_are_removed_kept_for_the_audit_trail_and_the_file_deleted(
    client: TestClient,
    db: sessionmaker[Session],
    settings: Settings,
    factory: Factory,
    bay: caremaker.Clinic,
) -> None:
    """A photo uploaded to the wrong patient comes off their plan: the desk and the
    portal no longer show it, its file is deleted, its row stays (marked when and by
    whom) and the removal is audited. Only those who may change plans may remove; another
    clinic, or the address of another patient, finds nothing."""
    plan = caremaker.start_plan(client, bay.desk, bay.rosa)["plan"]
    assessment = caremaker.phase_id(plan, "Assessment")
    wrong = _note(client, bay, plan, "Sam's bracket, not Rosa's.")
    kept = _note(client, bay, plan, "Assessment done.")
    photo = caremaker.upload(client, bay.desk, bay.rosa, assessment, PNG).json()["id"]
    [file] = media_files(settings)
    cove = caremaker.clinic(factory, db, "cove")
    sam = caremaker.patient(db, bay.id, "Sam", "sam@example.org")
    note_url = f"{API_PREFIX}/patients/{bay.rosa}/treatment/notes/{wrong}"

    assert client.delete(note_url, headers=bay.reader).status_code == 403
    assert (
        client.delete(caremaker.photo_url(bay.rosa, photo), headers=bay.reader).status_code == 403
    )
    assert client.delete(note_url, headers=cove.admin).status_code == 404
    assert client.delete(caremaker.photo_url(sam, photo), headers=bay.desk).status_code == 404
    assert file.exists()

    assert client.delete(note_url, headers=bay.desk).status_code == 204
    gone = client.delete(caremaker.photo_url(bay.rosa, photo), headers=bay.desk)
    assert gone.status_code == 204, gone.text
    again = client.delete(caremaker.photo_url(bay.rosa, photo), headers=bay.desk)
    assert again.status_code == 404
    assert "no such photo" in again.json()["message"]

    assert media_files(settings) == []
    shown = caremaker.treatment(client, bay.reader, bay.rosa)["plans"][0]
    assert [n["id"] for n in shown["notes"]] == [kept]
    assert shown["photos"] == []
    assert client.get(caremaker.photo_url(bay.rosa, photo), headers=bay.desk).status_code == 404
    desk_id = bay.made.staff[Role.FRONT_DESK].staff_id
    with db() as session:
        note_row = session.get(ProgressNote, uuid.UUID(wrong))
        photo_row = session.get(ProgressPhoto, uuid.UUID(photo))
        assert note_row is not None
        assert photo_row is not None
        assert note_row.removed_at is not None
        assert note_row.removed_by_staff_id == desk_id
        assert note_row.text == "Sam's bracket, not Rosa's."
        assert photo_row.removed_at is not None
        assert photo_row.removed_by_staff_id == desk_id
    removals = audits(db, "progress_notes") + audits(db, "progress_photos")
    deleted = {(a.entity, a.entity_id) for a in removals if a.action == "delete"}
    assert deleted == {("progress_notes", uuid.UUID(wrong)), ("progress_photos", uuid.UUID(photo))}


def test_a_photos_size_is_kept_with_it(
    client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    plan = caremaker.start_plan(client, bay.desk, bay.rosa)["plan"]
    caremaker.upload(client, bay.desk, bay.rosa, caremaker.phase_id(plan, "Assessment"), PNG)
    with db() as session:
        row = session.scalars(select(ProgressPhoto)).one()
    assert (row.width, row.height) == (24, 16)


def test_a_move_from_a_phase_the_plan_has_left_is_refused_in_words(
    client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    """Two desks saw the plan in Assessment; one moved it to Fitting. The other's move to
    Adjustment says where it is now and changes nothing; its move to Fitting (what the
    first did) is the same request sent again: 200, nothing new. A desk that does not say
    where it saw the plan (an older one) moves it as before."""
    plan = caremaker.start_plan(client, bay.desk, bay.rosa)["plan"]
    url = f"{API_PREFIX}/patients/{bay.rosa}/treatment/plans/{plan['id']}/current-phase"
    seen = caremaker.phase_id(plan, "Assessment")

    def move(to: str, from_phase: str | None) -> Any:
        body = {"phase_id": caremaker.phase_id(plan, to), "from_phase_id": from_phase}
        return client.put(url, json=body, headers=bay.desk)

    assert move("Fitting", seen).status_code == 200
    stale = move("Adjustment", seen)
    assert stale.status_code == 409, stale.text
    assert stale.json()["code"] == "conflict"
    assert "just moved “Braces, upper and lower” to “Fitting”" in stale.json()["message"]
    assert "not moved to “Adjustment”" in stale.json()["message"]
    with db() as session:
        row = session.get(TreatmentPlan, uuid.UUID(plan["id"]))
        assert row is not None
        assert row.current_phase_id == uuid.UUID(caremaker.phase_id(plan, "Fitting"))
    assert move("Fitting", seen).status_code == 200
    fitting = caremaker.phase_id(plan, "Fitting")
    assert move("Adjustment", fitting).status_code == 200
    assert move("Retention", None).status_code == 200
