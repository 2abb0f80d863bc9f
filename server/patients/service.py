"""Changes to a patient's file. Patients are never hard-deleted."""

from __future__ import annotations

import re
import uuid

from sqlalchemy.orm import Session

from common.errors import InvalidInput
from common.roles import Permission
from common.validation import normalise_email
from server import kit
from server.auth.context import AuthContext
from server.patients.models import Patient

PHONE = re.compile(r"^\+?[0-9 ()-]{6,24}$")


def update_contact(
    session: Session,
    ctx: AuthContext,
    *,
    patient_id: uuid.UUID,
    base_version: int,
    phone: str | None,
    email: str | None,
) -> Patient:
    ctx.require(Permission.PATIENTS_WRITE)
    phone = (phone or "").strip() or None
    if phone is not None and not PHONE.match(phone):
        raise InvalidInput(f"{phone!r} does not look like a phone number.")
    typed_email = (email or "").strip()
    email = normalise_email(typed_email) if typed_email else None
    patient = kit.for_change(
        session,
        Patient,
        ctx.clinic_id,
        patient_id,
        base_version,
        ctx.device_id,
        what="patient",
        stale="Someone else changed this patient's details in the meantime.",
    )
    patient.phone = phone
    patient.email = email
    patient.changed_by_device_id = ctx.device_id
    session.flush()
    return patient
