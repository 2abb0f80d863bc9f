"""Leads: an enquiry recorded from the public form, and the desk's work on it — notes,
contacted, discarded, converted into a patient (one on file, or a new one registered
through the patients' own service, with the duplicate check staff see first).

Every move is checked against ``common.leads.TRANSITIONS`` on the locked row, so two
desks acting at once are answered one after the other, the second in words saying what
the first did and when.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from common.errors import Conflict, InvalidInput
from common.leads import (
    NOTES_MAX,
    Attribution,
    Enquiry,
    LeadStatus,
    check_note,
    may_move,
)
from common.patients import PatientDetails, duplicates
from common.roles import Permission
from server import kit
from server.audit import service as audit
from server.auth.context import AuthContext
from server.changefeed import live
from server.clinics.models import Clinic
from server.crypto import phone_index
from server.db import utcnow
from server.leads.models import Lead
from server.patients import service as patients
from server.patients.models import Patient
from server.scheduling import service as scheduling
from server.staff.models import StaffUser
from sync.protocol import LeadDuplicate, LeadNote, LeadRecord, RegisterPatient

USER_AGENT_MAX = 1000  # what is hashed of a User-Agent header (real ones are ~200)
DUPLICATE_CANDIDATES = 500

# --- the public form ------------------------------------------------------------------

_BROWSERS = (
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/")),
    ("Opera", re.compile(r"OPR/|Opera")),
    ("Samsung Internet", re.compile(r"SamsungBrowser/")),
    ("Firefox", re.compile(r"Firefox/|FxiOS/")),
    ("Chrome", re.compile(r"Chrome/|CriOS/|Chromium/")),
    ("Safari", re.compile(r"Safari/")),
)
_SYSTEMS = (
    ("Android", re.compile(r"Android")),
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Macintosh|Mac OS X")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux")),
)
_ROBOTS = re.compile(r"bot|crawl|spider|curl|wget|python|httpx|requests|java/|go-http", re.I)


def browser_family(user_agent: str) -> str:
    """A short readable family for triage ("Chrome on Android"); the header itself is
    kept only as a keyed hash."""
    agent = user_agent[:USER_AGENT_MAX]
    if not agent.strip():
        return "No browser named"
    if _ROBOTS.search(agent):
        return "A program, not a browser"
    browser = next((name for name, pattern in _BROWSERS if pattern.search(agent)), None)
    system = next((name for name, pattern in _SYSTEMS if pattern.search(agent)), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or (f"A browser on {system}" if system else "Another browser")


def form_key_used(session: Session, clinic_id: uuid.UUID, form_key: str) -> bool:
    return (
        session.scalar(
            select(Lead.id).where(Lead.clinic_id == clinic_id, Lead.form_key == form_key)
        )
        is not None
    )


def record_enquiry(
    session: Session,
    clinic_id: uuid.UUID,
    enquiry: Enquiry,
    attribution: Attribution,
    *,
    form_key: str,
    ip_hash: str,
    user_agent_hash: str,
    user_agent_family: str,
    spam: bool = False,
) -> Lead:
    """A new lead from the public form. One caught by the honeypot is kept, discarded
    and marked spam (it never reaches the desk's "new" list), so a flood can still be
    seen for what it was."""
    lead = Lead(
        clinic_id=clinic_id,
        first_name=enquiry.first_name,
        last_name=enquiry.last_name,
        date_of_birth=enquiry.date_of_birth,
        phone=enquiry.phone,
        email=enquiry.email,
        message=enquiry.message,
        preferred_contact=enquiry.preferred_contact,
        channel=attribution.channel,
        source_detail=attribution.detail,
        ip_hash=ip_hash,
        user_agent_hash=user_agent_hash,
        user_agent_family=user_agent_family,
        form_key=form_key,
        spam=spam,
        status=LeadStatus.DISCARDED if spam else LeadStatus.NEW,
        notes=[],
    )
    if spam:
        lead.decided_at = utcnow()
        trapped = "Caught by the spam trap (a hidden field was filled)."
        lead.notes = [_note(None, "The form", trapped)]
    session.add(lead)
    session.flush()
    if not spam:
        live.note_changed(session, clinic_id)  # connected desks list it within moments
    return lead


def mark(session: Session, clinic_id: uuid.UUID) -> tuple[int, object]:
    """What changes whenever the clinic's leads do (a new one, a move, a note): for the
    desks' event stream, which asks every few seconds."""
    count, latest = session.execute(
        select(func.count(), func.max(Lead.modified_at)).where(Lead.clinic_id == clinic_id)
    ).one()
    return int(count), latest


# --- the desk's list --------------------------------------------------------------------


def list_leads(
    session: Session, ctx: AuthContext, status: LeadStatus | None, *, limit: int
) -> list[Lead]:
    """Newest first; all statuses when ``status`` is None (spam only under discarded)."""
    ctx.require(Permission.PATIENTS_READ)
    query = select(Lead).where(Lead.clinic_id == ctx.clinic_id)
    if status is not None:
        query = query.where(Lead.status == status)
    else:
        query = query.where(Lead.spam.is_(False))
    return list(session.scalars(query.order_by(Lead.created_at.desc(), Lead.id).limit(limit)))


def counts(session: Session, ctx: AuthContext) -> dict[LeadStatus, int]:
    ctx.require(Permission.PATIENTS_READ)
    rows = session.execute(
        select(Lead.status, func.count())
        .where(Lead.clinic_id == ctx.clinic_id)
        .group_by(Lead.status)
    )
    found = {LeadStatus(status): int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in LeadStatus}


def records_of(session: Session, clinic_id: uuid.UUID, leads: Sequence[Lead]) -> list[LeadRecord]:
    """The leads with the names staff read them by and how often their address was seen:
    one query per kind, however many leads, each scoped by the clinic."""
    hashes = {lead.ip_hash for lead in leads}
    seen = (
        dict(
            session.execute(
                select(Lead.ip_hash, func.count())
                .where(Lead.clinic_id == clinic_id, Lead.ip_hash.in_(hashes))
                .group_by(Lead.ip_hash)
            ).all()
        )
        if hashes
        else {}
    )
    staff_ids = {lead.decided_by_staff_id for lead in leads} - {None}
    staff: dict[uuid.UUID | None, str] = (
        dict(
            session.execute(
                select(StaffUser.id, StaffUser.display_name).where(
                    StaffUser.clinic_id == clinic_id, StaffUser.id.in_(staff_ids)
                )
            ).all()
        )
        if staff_ids
        else {}
    )
    patient_ids = {lead.patient_id for lead in leads} - {None}
    names: dict[uuid.UUID | None, str] = (
        dict(
            session.execute(
                select(Patient.id, Patient.first_name + " " + Patient.last_name).where(
                    Patient.clinic_id == clinic_id, Patient.id.in_(patient_ids)
                )
            ).all()
        )
        if patient_ids
        else {}
    )
    return [
        LeadRecord(
            id=lead.id,
            first_name=lead.first_name,
            last_name=lead.last_name,
            date_of_birth=lead.date_of_birth,
            phone=lead.phone,
            email=lead.email,
            message=lead.message,
            preferred_contact=lead.preferred_contact,
            channel=lead.channel,
            source_detail=lead.source_detail,
            ip_hash=lead.ip_hash,
            same_address=int(seen.get(lead.ip_hash, 1)),
            user_agent_hash=lead.user_agent_hash,
            user_agent_family=lead.user_agent_family,
            spam=lead.spam,
            status=lead.status,
            notes=[LeadNote.model_validate(note) for note in lead.notes or []],
            patient_id=lead.patient_id,
            patient_name=names.get(lead.patient_id),
            decided_by_staff_id=lead.decided_by_staff_id,
            decided_by_name=staff.get(lead.decided_by_staff_id),
            decided_at=lead.decided_at,
            created_at=lead.created_at,
        )
        for lead in leads
    ]


def record_of(session: Session, lead: Lead) -> LeadRecord:
    return records_of(session, lead.clinic_id, [lead])[0]


# --- working a lead ---------------------------------------------------------------------


def _note(staff_id: uuid.UUID | None, staff_name: str, text: str) -> dict[str, object]:
    return {
        "at": utcnow().isoformat(),
        "staff_id": str(staff_id) if staff_id else None,
        "staff_name": staff_name,
        "text": text,
    }


def _staff_name(session: Session, ctx: AuthContext) -> str:
    staff = session.get(StaffUser, ctx.staff_id) if ctx.staff_id else None
    return staff.display_name if staff is not None else "Staff"


def _locked(session: Session, ctx: AuthContext, lead_id: uuid.UUID) -> Lead:
    return kit.live(session, Lead, ctx.clinic_id, lead_id, what="lead", lock=True)


def _append(session: Session, ctx: AuthContext, lead: Lead, text: str) -> None:
    notes = list(lead.notes or [])
    if len(notes) >= NOTES_MAX:
        raise InvalidInput(f"A lead holds at most {NOTES_MAX} notes.")
    notes.append(_note(ctx.staff_id, _staff_name(session, ctx), text))
    lead.notes = notes  # a new list: the JSON column sees the change


def _move(session: Session, ctx: AuthContext, lead: Lead, to: LeadStatus, now: datetime) -> None:
    """Refused in words when the move is not allowed from where the lead is: who moved it
    there and when ("already converted by Ann Smith at 10:42 on Tue 01 Dec")."""
    if not may_move(lead.status, to):
        decider = lead.decided_by_staff_id
        staff = session.get(StaffUser, decider) if decider else None
        who = f" by {staff.display_name}" if staff else (" as spam" if lead.spam else "")
        at = ""
        if lead.decided_at is not None:
            local = lead.decided_at.astimezone(scheduling.clinic_zone(session, lead.clinic_id))
            at = f" at {local:%H:%M} on {local:%a %d %b}"
        done = "marked contacted" if lead.status is LeadStatus.CONTACTED else lead.status.value
        if lead.status is to:
            raise Conflict(f"This lead was already {done}{who}{at}.")
        raise Conflict(f"This lead was already {done}{who}{at}, so it cannot be {to.value} now.")
    lead.status = to
    lead.decided_by_staff_id = ctx.staff_id
    lead.decided_at = now


def add_note(session: Session, ctx: AuthContext, lead_id: uuid.UUID, text: str) -> Lead:
    ctx.require(Permission.PATIENTS_WRITE)
    note = check_note(text)
    lead = _locked(session, ctx, lead_id)
    _append(session, ctx, lead, note)
    session.flush()
    live.note_changed(session, ctx.clinic_id)
    return lead


def mark_contacted(session: Session, ctx: AuthContext, lead_id: uuid.UUID, note: str = "") -> Lead:
    ctx.require(Permission.PATIENTS_WRITE)
    text = check_note(note, required=False)
    lead = _locked(session, ctx, lead_id)
    _move(session, ctx, lead, LeadStatus.CONTACTED, utcnow())
    if text:
        _append(session, ctx, lead, text)
    session.flush()
    live.note_changed(session, ctx.clinic_id)
    return lead


def discard(session: Session, ctx: AuthContext, lead_id: uuid.UUID, note: str) -> Lead:
    """Discarded with a note saying why (required: spam, not for us, went elsewhere)."""
    ctx.require(Permission.PATIENTS_WRITE)
    text = check_note(note)
    lead = _locked(session, ctx, lead_id)
    _move(session, ctx, lead, LeadStatus.DISCARDED, utcnow())
    _append(session, ctx, lead, text)
    session.flush()
    live.note_changed(session, ctx.clinic_id)
    return lead


def details_of(lead: Lead) -> PatientDetails:
    return PatientDetails(
        first_name=lead.first_name,
        last_name=lead.last_name,
        date_of_birth=lead.date_of_birth,
        phone=lead.phone,
        email=lead.email,
    )


def possible_duplicates(
    session: Session, ctx: AuthContext, lead_id: uuid.UUID
) -> list[LeadDuplicate]:
    """Patients on file who may be the person who enquired (same name and birth date,
    same phone, same e-mail): shown before a new patient is registered from the lead."""
    ctx.require(Permission.PATIENTS_READ)
    lead = kit.live(session, Lead, ctx.clinic_id, lead_id, what="lead")
    matches = [func.lower(Patient.last_name) == lead.last_name.lower()]
    if lead.phone:
        matches.append(Patient.phone_index == phone_index(lead.phone))
    if lead.email:
        matches.append(func.lower(Patient.email) == lead.email.lower())
    candidates = list(
        session.scalars(
            select(Patient)
            .where(Patient.clinic_id == ctx.clinic_id, Patient.deleted_at.is_(None), or_(*matches))
            .order_by(Patient.last_name, Patient.first_name, Patient.id)
            .limit(DUPLICATE_CANDIDATES)
        )
    )
    clinic = session.get(Clinic, ctx.clinic_id)
    found = duplicates(details_of(lead), candidates, country=clinic.country if clinic else None)
    by_id = {patient.id: patient for patient in candidates}
    return [
        LeadDuplicate(
            patient_id=match.patient_id,
            name=f"{by_id[match.patient_id].first_name} {by_id[match.patient_id].last_name}",
            date_of_birth=by_id[match.patient_id].date_of_birth,
            phone=by_id[match.patient_id].phone,
            email=by_id[match.patient_id].email,
            reasons=list(match.reasons),
        )
        for match in found
    ]


def convert(
    session: Session, ctx: AuthContext, lead_id: uuid.UUID, patient_id: uuid.UUID | None
) -> tuple[Lead, Patient]:
    """Link the lead to a patient: ``patient_id`` on file, or, without one, a new patient
    registered from the lead's details by the patients' own service (its rules, its
    audit row; the desks receive the patient through the change feed)."""
    ctx.require(Permission.PATIENTS_WRITE)
    lead = _locked(session, ctx, lead_id)
    now = utcnow()
    _move(session, ctx, lead, LeadStatus.CONVERTED, now)
    if patient_id is not None:
        patient = kit.live(session, Patient, ctx.clinic_id, patient_id, what="patient")
        how = f"Linked to {patient.first_name} {patient.last_name}, already on file."
    else:
        patient = patients.register(
            session,
            ctx,
            RegisterPatient(
                patient_id=uuid.uuid4(),
                first_name=lead.first_name,
                last_name=lead.last_name,
                date_of_birth=lead.date_of_birth,
                phone=lead.phone,
                email=lead.email,
            ),
        )
        how = f"Registered as a new patient, {patient.first_name} {patient.last_name}."
    lead.patient_id = patient.id
    _append(session, ctx, lead, how)
    audit.record(
        session,
        ctx,
        action="convert",
        entity="leads",
        entity_id=lead.id,
        reason="lead converted to a patient",
    )
    session.flush()
    live.note_changed(session, ctx.clinic_id)
    return lead, patient
