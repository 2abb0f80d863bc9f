"""Treatment plans: made, moved from phase to phase, noted and photographed.

Staff with ``patients:write`` make plans, move them on and add notes and photos; anyone
with ``patients:read`` reads them (the endpoints audit each read). Every lookup is scoped
by the caller's clinic and the patient named in the address: another patient's plan,
phase or photo is not found, exactly as one that does not exist.

Moving a plan into a phase gives the patient the library's content for that phase
(``server.content.service.deliver``), once. The patient's row is locked first, so two
moves at once (two desks, or one request sent twice, or two plans of one patient) queue,
and the second finds the phase current already, or the content already given. A move
that names the phase its desk saw the plan in is refused if someone moved it since.

A note or photo put on the wrong plan or patient is removed: its row stays for the audit
trail, marked removed, and is shown to nobody again (the caller deletes a photo's file
once the removal is committed).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from common import treatment as rules
from common.content import check_language
from common.errors import Conflict
from common.roles import Permission
from server import kit
from server.audit import service as audit
from server.auth.context import AuthContext
from server.content import service as content
from server.content.models import ContentDelivery
from server.media import Stored
from server.patients.models import Patient
from server.treatment.models import ProgressNote, ProgressPhoto, TreatmentPhase, TreatmentPlan


@dataclass
class PlanView:
    """A plan as shown: its phases in order, and each phase's notes and photos (oldest
    first, as the treatment went)."""

    plan: TreatmentPlan
    phases: list[TreatmentPhase]
    notes: dict[uuid.UUID, list[ProgressNote]] = field(default_factory=dict)
    photos: dict[uuid.UUID, list[ProgressPhoto]] = field(default_factory=dict)

    @property
    def current(self) -> TreatmentPhase | None:
        return next((p for p in self.phases if p.id == self.plan.current_phase_id), None)


def views(session: Session, clinic_id: uuid.UUID, patient_ids: list[uuid.UUID]) -> list[PlanView]:
    """Every plan of these patients, newest first, with the notes and photos nobody
    removed."""
    if not patient_ids:
        return []
    plans = list(
        session.scalars(
            select(TreatmentPlan)
            .where(TreatmentPlan.clinic_id == clinic_id, TreatmentPlan.patient_id.in_(patient_ids))
            .order_by(TreatmentPlan.started_at.desc(), TreatmentPlan.id)
        )
    )
    if not plans:
        return []
    ids = [p.id for p in plans]
    phases: dict[uuid.UUID, list[TreatmentPhase]] = defaultdict(list)
    for phase in session.scalars(
        select(TreatmentPhase)
        .where(TreatmentPhase.clinic_id == clinic_id, TreatmentPhase.plan_id.in_(ids))
        .order_by(TreatmentPhase.position)
    ):
        phases[phase.plan_id].append(phase)
    notes: dict[uuid.UUID, list[ProgressNote]] = defaultdict(list)
    for note in session.scalars(
        select(ProgressNote)
        .where(
            ProgressNote.clinic_id == clinic_id,
            ProgressNote.plan_id.in_(ids),
            ProgressNote.removed_at.is_(None),
        )
        .order_by(ProgressNote.written_at, ProgressNote.id)
    ):
        notes[note.phase_id].append(note)
    photos: dict[uuid.UUID, list[ProgressPhoto]] = defaultdict(list)
    for photo in session.scalars(
        select(ProgressPhoto)
        .where(
            ProgressPhoto.clinic_id == clinic_id,
            ProgressPhoto.plan_id.in_(ids),
            ProgressPhoto.removed_at.is_(None),
        )
        .order_by(ProgressPhoto.taken_at, ProgressPhoto.id)
    ):
        photos[photo.phase_id].append(photo)
    return [PlanView(p, phases[p.id], dict(notes), dict(photos)) for p in plans]


def _patient(
    session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID, *, lock: bool = False
) -> Patient:
    return kit.live(session, Patient, clinic_id, patient_id, what="patient", lock=lock)


def _plan(
    session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID, plan_id: uuid.UUID
) -> TreatmentPlan:
    plan = kit.find(session, TreatmentPlan, clinic_id, plan_id, lock=True)
    if plan is None or plan.patient_id != patient_id:
        raise kit.not_found("treatment plan")
    return plan


def _phase(session: Session, plan: TreatmentPlan, phase_id: uuid.UUID) -> TreatmentPhase:
    phase = kit.find(session, TreatmentPhase, plan.clinic_id, phase_id)
    if phase is None or phase.plan_id != plan.id:
        raise kit.not_found("phase of this plan")
    return phase


def phase_of_patient(
    session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID, phase_id: uuid.UUID
) -> tuple[TreatmentPlan, TreatmentPhase]:
    phase = kit.find(session, TreatmentPhase, clinic_id, phase_id)
    plan = kit.find(session, TreatmentPlan, clinic_id, phase.plan_id) if phase else None
    if phase is None or plan is None or plan.patient_id != patient_id:
        raise kit.not_found("phase of this patient's treatment")
    return plan, phase


@dataclass(frozen=True, slots=True)
class Moved:
    plan: TreatmentPlan
    delivered: list[ContentDelivery]


def create_plan(
    session: Session,
    ctx: AuthContext,
    patient_id: uuid.UUID,
    *,
    title: str,
    phases: list[str],
    language: str,
    now: datetime,
    public_base_url: str,
) -> Moved:
    """A new plan, in its first phase (whose content the patient is given)."""
    ctx.require(Permission.PATIENTS_WRITE)
    checked_title = rules.check_title(title)
    names = rules.check_phases(phases)
    code = check_language(language)
    _patient(session, ctx.clinic_id, patient_id, lock=True)
    plan = TreatmentPlan(
        clinic_id=ctx.clinic_id,
        patient_id=patient_id,
        title=checked_title,
        language=code,
        started_at=now,
        created_by_staff_id=ctx.staff_id,
    )
    session.add(plan)
    session.flush()
    rows = [
        TreatmentPhase(clinic_id=ctx.clinic_id, plan_id=plan.id, position=n, name=name)
        for n, name in enumerate(names, start=1)
    ]
    session.add_all(rows)
    session.flush()
    first = rows[0]
    first.entered_at = now
    plan.current_phase_id = first.id
    audit.record(
        session,
        ctx,
        action="create",
        entity="treatment_plans",
        entity_id=plan.id,
        reason=f"treatment plan “{plan.title}” of patient {patient_id}",
    )
    given = content.deliver(session, ctx, plan, first, now, public_base_url)
    return Moved(plan, given)


def set_phase(
    session: Session,
    ctx: AuthContext,
    patient_id: uuid.UUID,
    plan_id: uuid.UUID,
    phase_id: uuid.UUID,
    *,
    now: datetime,
    public_base_url: str,
    from_phase_id: uuid.UUID | None = None,
) -> Moved:
    """Make ``phase_id`` the plan's current phase. Already current: nothing changes and
    nothing is given (a request sent twice). Back into a phase it was in before: it is
    current again, and its content, given the first time, is not given again.

    ``from_phase_id`` is the phase the desk saw the plan in (None: an older desk, which
    does not say): if the plan has been moved elsewhere since, nothing changes and the
    answer says where it is now, so two desks moving one plan do not silently undo each
    other's move."""
    ctx.require(Permission.PATIENTS_WRITE)
    _patient(session, ctx.clinic_id, patient_id, lock=True)
    plan = _plan(session, ctx.clinic_id, patient_id, plan_id)
    phase = _phase(session, plan, phase_id)
    if plan.current_phase_id == phase.id:
        return Moved(plan, [])
    if from_phase_id is not None and from_phase_id != plan.current_phase_id:
        now_in = kit.find(session, TreatmentPhase, plan.clinic_id, plan.current_phase_id)
        where = f"“{now_in.name}”" if now_in is not None else "another phase"
        raise Conflict(
            f"Someone else has just moved “{plan.title}” to {where}, so it was not moved "
            f"to “{phase.name}”. Look at the plan again, and move it if it still should be."
        )
    plan.current_phase_id = phase.id
    phase.entered_at = now
    audit.record(
        session,
        ctx,
        action="update",
        entity="treatment_plans",
        entity_id=plan.id,
        reason=f"treatment plan moved to the phase “{phase.name}”",
    )
    given = content.deliver(session, ctx, plan, phase, now, public_base_url)
    return Moved(plan, given)


def add_note(
    session: Session,
    ctx: AuthContext,
    patient_id: uuid.UUID,
    plan_id: uuid.UUID,
    phase_id: uuid.UUID,
    text: str,
    now: datetime,
) -> ProgressNote:
    ctx.require(Permission.PATIENTS_WRITE)
    checked = rules.check_note(text)
    plan = _plan(session, ctx.clinic_id, patient_id, plan_id)
    phase = _phase(session, plan, phase_id)
    note = ProgressNote(
        clinic_id=ctx.clinic_id,
        plan_id=plan.id,
        phase_id=phase.id,
        patient_id=patient_id,
        text=checked,
        written_at=now,
        written_by_staff_id=ctx.staff_id,
    )
    session.add(note)
    session.flush()
    audit.record(
        session,
        ctx,
        action="create",
        entity="progress_notes",
        entity_id=note.id,
        reason=f"progress note in “{phase.name}” of patient {patient_id}",
    )
    return note


def add_photo(
    session: Session,
    ctx: AuthContext,
    patient_id: uuid.UUID,
    phase_id: uuid.UUID,
    stored: Stored,
    content_type: str,
    now: datetime,
    size: tuple[int, int] | None = None,
) -> ProgressPhoto:
    """The row of a photo whose file is written already (checked by the caller with
    ``common.treatment.check_photo``); ``size``: its width and height as shown."""
    ctx.require(Permission.PATIENTS_WRITE)
    _patient(session, ctx.clinic_id, patient_id)
    plan, phase = phase_of_patient(session, ctx.clinic_id, patient_id, phase_id)
    photo = ProgressPhoto(
        clinic_id=ctx.clinic_id,
        plan_id=plan.id,
        phase_id=phase.id,
        patient_id=patient_id,
        path=stored.path,
        size_bytes=stored.size,
        content_type=content_type,
        sha256=stored.sha256,
        width=size[0] if size else None,
        height=size[1] if size else None,
        taken_at=now,
        added_by_staff_id=ctx.staff_id,
    )
    session.add(photo)
    session.flush()
    audit.record(
        session,
        ctx,
        action="create",
        entity="progress_photos",
        entity_id=photo.id,
        reason=f"progress photo in “{phase.name}” of patient {patient_id}",
    )
    return photo


def find_photo(
    session: Session, clinic_id: uuid.UUID, patient_ids: list[uuid.UUID], photo_id: uuid.UUID
) -> tuple[ProgressPhoto, TreatmentPhase] | None:
    """A photo of one of ``patient_ids`` at this clinic, with its phase; None for any
    other (another patient's, another clinic's, a removed one, none at all: the same
    answer)."""
    photo = kit.find(session, ProgressPhoto, clinic_id, photo_id)
    if photo is None or photo.patient_id not in patient_ids or photo.removed_at is not None:
        return None
    phase = kit.find(session, TreatmentPhase, clinic_id, photo.phase_id)
    return (photo, phase) if phase is not None else None


def remove_note(
    session: Session, ctx: AuthContext, patient_id: uuid.UUID, note_id: uuid.UUID, now: datetime
) -> ProgressNote:
    """Take a note off the patient's plan: nobody is shown it again; its row stays,
    marked removed and by whom. Removed already, or anyone else's: not found."""
    ctx.require(Permission.PATIENTS_WRITE)
    note = kit.find(session, ProgressNote, ctx.clinic_id, note_id, lock=True)
    if note is None or note.patient_id != patient_id or note.removed_at is not None:
        raise kit.not_found("progress note of this patient")
    note.removed_at, note.removed_by_staff_id = now, ctx.staff_id
    audit.record(
        session,
        ctx,
        action="delete",
        entity="progress_notes",
        entity_id=note.id,
        reason=f"progress note removed from the treatment plan of patient {patient_id}",
    )
    return note


def remove_photo(
    session: Session, ctx: AuthContext, patient_id: uuid.UUID, photo_id: uuid.UUID, now: datetime
) -> ProgressPhoto:
    """Take a photo off the patient's plan (and their portal): its row stays, marked
    removed and by whom; the caller deletes its file once this is committed."""
    ctx.require(Permission.PATIENTS_WRITE)
    photo = kit.find(session, ProgressPhoto, ctx.clinic_id, photo_id, lock=True)
    if photo is None or photo.patient_id != patient_id or photo.removed_at is not None:
        raise kit.not_found("photo of this patient")
    photo.removed_at, photo.removed_by_staff_id = now, ctx.staff_id
    audit.record(
        session,
        ctx,
        action="delete",
        entity="progress_photos",
        entity_id=photo.id,
        reason=f"progress photo removed from the treatment plan of patient {patient_id}",
    )
    return photo
