"""The demo's care, as ``clinicdesk seed-demo`` makes it: the portal patient's braces
plan at the fitting with a note and a real PNG photo on disk, and a library of two
articles, a video link and a real PDF; the fitting's reading given to the patient."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.content import ContentKind
from server.config import Settings
from server.content.models import ContentDelivery, ContentItem
from server.db import transaction
from server.demo import DEMO_PORTAL_EMAIL, seed_demo, seed_demo_care, seed_demo_portal
from server.patients.models import Patient
from server.treatment import service
from server.treatment.models import ProgressPhoto


def test_the_demo_has_a_braces_plan_and_a_library(
    db: sessionmaker[Session], settings: Settings
) -> None:
    with transaction(db) as session:
        clinic, _created = seed_demo(session)
        seed_demo_portal(session, clinic)
        seed_demo_care(session, clinic, settings.media_dir, "http://127.0.0.1:8765")
    with db() as session:
        holder = session.scalars(select(Patient).where(Patient.email == DEMO_PORTAL_EMAIL)).one()
        [plan] = service.views(session, clinic.id, [holder.id])
        assert [p.name for p in plan.phases] == ["Assessment", "Fitting", "Adjustment"]
        assert plan.current is not None
        assert plan.current.name == "Fitting"
        assert sum(len(n) for n in plan.notes.values()) == 1
        photo = session.scalars(select(ProgressPhoto)).one()
        items = session.scalars(select(ContentItem)).all()
        given = session.scalars(select(ContentDelivery)).all()
        kinds = sorted(i.kind.value for i in items)
        pdf = next(i for i in items if i.kind is ContentKind.PDF)
    assert (Path(settings.media_dir).resolve() / photo.path).read_bytes().startswith(b"\x89PNG")
    assert kinds == ["article", "article", "pdf", "video"]
    assert pdf.file_path is not None
    assert (Path(settings.media_dir).resolve() / pdf.file_path).read_bytes().startswith(b"%PDF-")
    assert {g.phase_name for g in given} == {"Assessment", "Fitting"}
    assert all(g.patient_id == holder.id for g in given)
