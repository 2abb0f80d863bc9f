"""The desk's side of treatment plans: a patient's plans with their notes, photos and
the library content they were given; starting a plan, moving it on, adding a note or a
photo, removing one; and a photo's bytes.

Online only: nothing of it is cached on the desks. Every read is audited, a photo's too;
every address names the patient, and a plan, phase or photo of anyone else (or of another
clinic) is not found, exactly as one that does not exist.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.roles import Permission
from common.treatment import PHOTO_MAX_BYTES, SUFFIXES, check_photo, image_size
from server import kit, media
from server.audit import service as audit
from server.content import service as content
from server.db import utcnow
from server.deps import DatabaseDep, SettingsDep, StaffContext
from server.http import Upload
from server.patients.models import Patient
from server.staff.models import StaffUser
from server.treatment import service
from server.treatment.service import PlanView
from sync.protocol import (
    API_PREFIX,
    ContentDeliveryRecord,
    NewProgressNote,
    NewTreatmentPlan,
    PatientTreatmentRecord,
    PhaseMoved,
    ProgressNoteRecord,
    ProgressPhotoRecord,
    SetCurrentPhase,
    TreatmentPhaseRecord,
    TreatmentPlanRecord,
)

router = APIRouter(tags=["treatment"])
# A photo's upload may be larger than the server's usual body limit, up to the photo's own.
UPLOADS = (
    Upload(
        "POST",
        re.compile(re.escape(API_PREFIX) + r"/patients/[^/]+/treatment/phases/[^/]+/photos"),
        PHOTO_MAX_BYTES + 64 * 1024,
    ),
)
IMAGE = {"schema": {"type": "string", "format": "binary"}}
PHOTO_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"image/jpeg": IMAGE, "image/png": IMAGE, "application/octet-stream": IMAGE},
    }
}
PHOTO_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"description": "The photo", "content": {"image/jpeg": IMAGE, "image/png": IMAGE}}
}


def staff_names(
    session: Session, clinic_id: uuid.UUID, ids: set[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = session.execute(
        select(StaffUser.id, StaffUser.display_name).where(
            StaffUser.clinic_id == clinic_id, StaffUser.id.in_(wanted)
        )
    )
    return {row.id: row.display_name for row in rows}


def plan_record(view: PlanView, names: dict[uuid.UUID, str]) -> TreatmentPlanRecord:
    plan = view.plan
    return TreatmentPlanRecord(
        id=plan.id,
        patient_id=plan.patient_id,
        title=plan.title,
        language=plan.language,
        current_phase_id=plan.current_phase_id,
        started_at=plan.started_at,
        phases=[
            TreatmentPhaseRecord(
                id=p.id,
                position=p.position,
                name=p.name,
                current=p.id == plan.current_phase_id,
                entered_at=p.entered_at,
            )
            for p in view.phases
        ],
        notes=[
            ProgressNoteRecord(
                id=n.id,
                phase_id=n.phase_id,
                text=n.text,
                written_at=n.written_at,
                written_by=names.get(n.written_by_staff_id, "") if n.written_by_staff_id else "",
            )
            for p in view.phases
            for n in view.notes.get(p.id, [])
        ],
        photos=[
            ProgressPhotoRecord(
                id=f.id,
                phase_id=f.phase_id,
                content_type=f.content_type,
                size_bytes=f.size_bytes,
                taken_at=f.taken_at,
                added_by=names.get(f.added_by_staff_id, "") if f.added_by_staff_id else "",
            )
            for p in view.phases
            for f in view.photos.get(p.id, [])
        ],
    )


def plan_records(
    session: Session, clinic_id: uuid.UUID, views: list[PlanView]
) -> list[TreatmentPlanRecord]:
    who: set[uuid.UUID | None] = set()
    for view in views:
        who |= {n.written_by_staff_id for ns in view.notes.values() for n in ns}
        who |= {f.added_by_staff_id for fs in view.photos.values() for f in fs}
    names = staff_names(session, clinic_id, who)
    return [plan_record(view, names) for view in views]


def _one_plan(
    session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID, plan_id: uuid.UUID
) -> TreatmentPlanRecord:
    [record] = [
        r
        for r in plan_records(session, clinic_id, service.views(session, clinic_id, [patient_id]))
        if r.id == plan_id
    ]
    return record


@router.get("/patients/{patient_id}/treatment", response_model=PatientTreatmentRecord)
def read_treatment(patient_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    """The patient's plans (phases, notes, photos' facts) and the content given to them."""
    ctx.require(Permission.PATIENTS_READ)
    with db.reading() as session:
        kit.require_live(session, Patient, ctx.clinic_id, patient_id, what="patient")
        plans = plan_records(
            session, ctx.clinic_id, service.views(session, ctx.clinic_id, [patient_id])
        )
        given = [
            ContentDeliveryRecord(
                id=g.delivery.id,
                item_id=g.item.id,
                title=g.item.title,
                kind=g.item.kind,
                phase_name=g.delivery.phase_name,
                delivered_at=g.delivery.delivered_at,
                opened_at=g.delivery.opened_at,
                withdrawn=g.withdrawn,
            )
            for g in content.given_to(session, ctx.clinic_id, [patient_id])
        ]
    audit.read(
        db,
        ctx,
        entity="treatment_plans",
        entity_id=patient_id,
        record_count=len(plans),
        reason=f"treatment plans, progress notes and content given of patient {patient_id}",
    )
    return kit.json_response(PatientTreatmentRecord(plans=plans, deliveries=given))


@router.post("/patients/{patient_id}/treatment/plans", response_model=PhaseMoved, status_code=201)
def start_plan(
    patient_id: uuid.UUID,
    body: NewTreatmentPlan,
    ctx: StaffContext,
    db: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    """A new plan in its first phase: the patient is given that phase's content."""
    with db.writing() as session:
        moved = service.create_plan(
            session,
            ctx,
            patient_id,
            title=body.title,
            phases=list(body.phases),
            language=body.language,
            now=utcnow(),
            public_base_url=settings.public_base_url,
        )
        record = _one_plan(session, ctx.clinic_id, patient_id, moved.plan.id)
    return kit.json_response(PhaseMoved(plan=record, delivered=len(moved.delivered)), 201)


@router.put(
    "/patients/{patient_id}/treatment/plans/{plan_id}/current-phase", response_model=PhaseMoved
)
def move_plan(
    patient_id: uuid.UUID,
    plan_id: uuid.UUID,
    body: SetCurrentPhase,
    ctx: StaffContext,
    db: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    """Make a phase current. Sent again, or back into a phase it was in: the content of
    the phase is not given twice, and no second e-mail goes. With ``from_phase_id``, a
    plan someone moved elsewhere since is not moved: 409, saying where it is now."""
    with db.writing() as session:
        moved = service.set_phase(
            session,
            ctx,
            patient_id,
            plan_id,
            body.phase_id,
            now=utcnow(),
            public_base_url=settings.public_base_url,
            from_phase_id=body.from_phase_id,
        )
        record = _one_plan(session, ctx.clinic_id, patient_id, plan_id)
    return kit.json_response(PhaseMoved(plan=record, delivered=len(moved.delivered)))


@router.post(
    "/patients/{patient_id}/treatment/plans/{plan_id}/notes",
    response_model=ProgressNoteRecord,
    status_code=201,
)
def add_note(
    patient_id: uuid.UUID,
    plan_id: uuid.UUID,
    body: NewProgressNote,
    ctx: StaffContext,
    db: DatabaseDep,
) -> Response:
    """A progress note under one of the plan's phases (the patient sees it)."""
    with db.writing() as session:
        note = service.add_note(
            session, ctx, patient_id, plan_id, body.phase_id, body.text, utcnow()
        )
        names = staff_names(session, ctx.clinic_id, {note.written_by_staff_id})
        record = ProgressNoteRecord(
            id=note.id,
            phase_id=note.phase_id,
            text=note.text,
            written_at=note.written_at,
            written_by=names.get(note.written_by_staff_id, "") if note.written_by_staff_id else "",
        )
    return kit.json_response(record, 201)


@router.post(
    "/patients/{patient_id}/treatment/phases/{phase_id}/photos",
    response_model=ProgressPhotoRecord,
    status_code=201,
    openapi_extra=PHOTO_BODY,
)
def add_photo(
    patient_id: uuid.UUID,
    phase_id: uuid.UUID,
    ctx: StaffContext,  # before the body: nobody signed out makes the server read 10 MB
    data: media.RawBody,
    db: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    """A JPEG or PNG photo (the body itself, at most 10 MB), recognised by its first
    bytes whatever it is called. Kept as a file named by a random id, with its width and
    height (read from its first bytes) for the portal's thumbnails."""
    ctx.require(Permission.PATIENTS_WRITE)
    kind = check_photo(data)
    stored = media.save(settings.media_dir, media.PHOTOS, data, SUFFIXES[kind])
    with media.kept_unless_failed(settings.media_dir, stored), db.writing() as session:
        photo = service.add_photo(
            session, ctx, patient_id, phase_id, stored, kind, utcnow(), image_size(data)
        )
        names = staff_names(session, ctx.clinic_id, {photo.added_by_staff_id})
        record = ProgressPhotoRecord(
            id=photo.id,
            phase_id=photo.phase_id,
            content_type=photo.content_type,
            size_bytes=photo.size_bytes,
            taken_at=photo.taken_at,
            added_by=names.get(photo.added_by_staff_id, "") if photo.added_by_staff_id else "",
        )
    return kit.json_response(record, 201)


@router.get(
    "/patients/{patient_id}/treatment/photos/{photo_id}",
    response_class=Response,
    responses=PHOTO_ANSWER,
)
def read_photo(
    patient_id: uuid.UUID,
    photo_id: uuid.UUID,
    ctx: StaffContext,
    db: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    """The photo itself, for this clinic's staff; never cached. Audited."""
    ctx.require(Permission.PATIENTS_READ)
    with db.reading() as session:
        found = service.find_photo(session, ctx.clinic_id, [patient_id], photo_id)
        if found is None:
            raise kit.not_found("photo of this patient")
        photo = found[0]
        path, digest, kind = photo.path, photo.sha256, photo.content_type
    try:
        data = media.read(settings.media_dir, path, digest)
    except media.MissingFile:
        raise kit.not_found("photo of this patient") from None
    audit.read(
        db,
        ctx,
        entity="progress_photos",
        entity_id=photo_id,
        reason=f"progress photo of patient {patient_id}",
    )
    return media.served(data, kind)


@router.delete("/patients/{patient_id}/treatment/notes/{note_id}", status_code=204)
def remove_note(
    patient_id: uuid.UUID, note_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep
) -> Response:
    """Take a progress note off the plan (written on the wrong patient's, say): the
    patient and the desks no longer see it; its row stays for the audit trail."""
    with db.writing() as session:
        kit.require_live(session, Patient, ctx.clinic_id, patient_id, what="patient")
        service.remove_note(session, ctx, patient_id, note_id, utcnow())
    return Response(status_code=204)


@router.delete("/patients/{patient_id}/treatment/photos/{photo_id}", status_code=204)
def remove_photo(
    patient_id: uuid.UUID,
    photo_id: uuid.UUID,
    ctx: StaffContext,
    db: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    """Take a progress photo off the plan and out of the patient's portal: its row stays
    for the audit trail, its file is deleted once that is committed."""
    with db.writing() as session:
        kit.require_live(session, Patient, ctx.clinic_id, patient_id, what="patient")
        photo = service.remove_photo(session, ctx, patient_id, photo_id, utcnow())
        path = photo.path
    media.remove(settings.media_dir, path)
    return Response(status_code=204)
