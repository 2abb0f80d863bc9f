from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlalchemy import select

from common.errors import NotFound
from common.roles import Permission
from server.audit import service as audit
from server.deps import SessionDep, StaffContext
from server.patients.models import Patient
from sync.protocol import PatientRecord

router = APIRouter(tags=["patients"])


@router.get("/patients/{patient_id}")
def read_patient(patient_id: uuid.UUID, ctx: StaffContext, session: SessionDep) -> PatientRecord:
    """One patient of the caller's clinic; another clinic's patient is simply not found."""
    ctx.require(Permission.PATIENTS_READ)
    patient = session.scalar(
        select(Patient).where(
            Patient.id == patient_id,
            Patient.clinic_id == ctx.clinic_id,
            Patient.deleted_at.is_(None),
        )
    )
    if patient is None:
        raise NotFound("There is no such patient in this clinic.")
    audit.record(
        session, ctx, action="read", entity="patients", entity_id=patient.id, reason="patient file"
    )
    return PatientRecord.model_validate(patient, from_attributes=True)
