"""Staff side of leads: list them (audited: they name people and carry their contact
details), add notes, mark contacted or discarded, find possible duplicates and convert."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from common.leads import LeadStatus
from common.roles import Permission
from server import kit
from server.audit import service as audit
from server.deps import DatabaseDep, StaffContext
from server.leads import service
from server.leads.models import Lead
from sync.protocol import (
    ConvertedLead,
    ConvertLead,
    LeadDuplicate,
    LeadNoteBody,
    LeadRecord,
    PatientRecord,
)

router = APIRouter(tags=["leads"])


@router.get("/leads", response_model=list[LeadRecord])
def list_leads(
    ctx: StaffContext,
    db: DatabaseDep,
    status: LeadStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """Leads in ``status`` (every status but spam when omitted), newest first."""
    with db.reading() as session:
        found = service.list_leads(session, ctx, status, limit=limit)
        records = service.records_of(session, ctx.clinic_id, found)
    audit.read(
        db,
        ctx,
        entity="leads",
        record_count=len(records),
        reason=f"leads ({status.value if status else 'all'})",
    )
    return kit.json_response(records)


@router.get("/leads/{lead_id}", response_model=LeadRecord)
def read_lead(lead_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    ctx.require(Permission.PATIENTS_READ)
    with db.reading() as session:
        lead = kit.live(session, Lead, ctx.clinic_id, lead_id, what="lead")
        record = service.record_of(session, lead)
    audit.read(db, ctx, entity="leads", entity_id=lead_id, reason="lead")
    return kit.json_response(record)


@router.get("/leads/{lead_id}/duplicates", response_model=list[LeadDuplicate])
def lead_duplicates(lead_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    """Patients on file who may be this person: the desk warns before registering."""
    with db.reading() as session:
        found = service.possible_duplicates(session, ctx, lead_id)
    audit.read(
        db,
        ctx,
        entity="patients",
        record_count=len(found),
        reason="possible duplicates of a lead",
    )
    return kit.json_response(found)


@router.post("/leads/{lead_id}/notes", response_model=LeadRecord)
def add_lead_note(
    lead_id: uuid.UUID, body: LeadNoteBody, ctx: StaffContext, db: DatabaseDep
) -> Response:
    with db.writing() as session:
        answer = service.record_of(session, service.add_note(session, ctx, lead_id, body.text))
    return kit.json_response(answer)


@router.post("/leads/{lead_id}/contacted", response_model=LeadRecord)
def mark_lead_contacted(
    lead_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep, body: LeadNoteBody | None = None
) -> Response:
    note = body.text if body else ""
    with db.writing() as session:
        answer = service.record_of(session, service.mark_contacted(session, ctx, lead_id, note))
    return kit.json_response(answer)


@router.post("/leads/{lead_id}/discard", response_model=LeadRecord)
def discard_lead(
    lead_id: uuid.UUID, body: LeadNoteBody, ctx: StaffContext, db: DatabaseDep
) -> Response:
    """Discarded with a note saying why (required)."""
    with db.writing() as session:
        answer = service.record_of(session, service.discard(session, ctx, lead_id, body.text))
    return kit.json_response(answer)


@router.post("/leads/{lead_id}/convert", response_model=ConvertedLead)
def convert_lead(
    lead_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep, body: ConvertLead | None = None
) -> Response:
    """Link to a patient on file (``patient_id``), or register a new one from the lead."""
    with db.writing() as session:
        lead, patient = service.convert(session, ctx, lead_id, body.patient_id if body else None)
        answer = ConvertedLead(
            lead=service.record_of(session, lead),
            patient=PatientRecord.model_validate(patient, from_attributes=True),
        )
    return kit.json_response(answer)
