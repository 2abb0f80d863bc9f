"""Patients of a clinic. Never hard-deleted; every read is audited."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from common.roles import Permission
from server import kit
from server.audit import service as audit
from server.deps import DatabaseDep, StaffContext
from server.patients.models import Patient
from sync.protocol import PatientRecord

router = APIRouter(tags=["patients"])


@router.get("/patients/{patient_id}", response_model=PatientRecord)
def read_patient(patient_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    """One patient of the caller's clinic; another clinic's patient is simply not found."""
    ctx.require(Permission.PATIENTS_READ)
    with db.reading() as session:
        patient = kit.live(session, Patient, ctx.clinic_id, patient_id, what="patient")
        record = PatientRecord.model_validate(patient, from_attributes=True)
    audit.read(db, ctx, entity="patients", entity_id=patient_id, reason="patient file")
    return kit.json_response(record)
