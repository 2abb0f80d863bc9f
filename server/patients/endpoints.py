from __future__ import annotations

import uuid

from fastapi import APIRouter

from common.errors import NotFound
from common.roles import Permission
from server.audit import service as audit
from server.deps import SessionDep, StaffContext
from server.patients import repository
from sync.protocol import PatientRecord

router = APIRouter(tags=["patients"])


@router.get("/patients/{patient_id}")
def read_patient(patient_id: uuid.UUID, ctx: StaffContext, session: SessionDep) -> PatientRecord:
    """One patient of the caller's clinic; another clinic's patient is simply not found."""
    ctx.require(Permission.PATIENTS_READ)
    patient = repository.in_clinic(session, ctx.clinic_id, patient_id)
    if patient is None:
        raise NotFound("There is no such patient in this clinic.")
    audit.record(
        session, ctx, action="read", entity="patients", entity_id=patient.id, reason="patient file"
    )
    return PatientRecord.model_validate(patient, from_attributes=True)
