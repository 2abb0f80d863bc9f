from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.patients.models import Patient


def in_clinic(
    session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID, *, for_update: bool = False
) -> Patient | None:
    """A live patient of ``clinic_id``; another clinic's patient is simply not there."""
    query = select(Patient).where(
        Patient.id == patient_id, Patient.clinic_id == clinic_id, Patient.deleted_at.is_(None)
    )
    return session.scalar(query.with_for_update() if for_update else query)
