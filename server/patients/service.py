"""Changes to a patient's file. Patients are never hard-deleted."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import InvalidInput
from common.patients import PatientDetails, Sex, clean
from common.roles import Permission
from common.validation import normalise_email
from server import kit
from server.audit import service as audit
from server.auth.context import AuthContext
from server.clinics.models import Clinic
from server.crypto import e164_form, phone_index
from server.patients.models import Patient
from sync.protocol import PatientFields, RegisterPatient, UpdatePatient

PHONE = re.compile(r"^\+?[0-9 ()-]{6,24}$")


def patients_with_phone(session: Session, clinic_id: uuid.UUID, e164: str) -> list[Patient]:
    """The clinic's live patients whose file holds ``e164`` (an inbound message's
    sender, say), oldest registration first. Phones are sealed in the database, so they
    are found by their blind index; several patients may share a number (a family, a
    carer). A number on file without its country code (from before numbers were kept in
    E.164) is not found until it is saved again; a sender that is no number at all (an
    alphanumeric sender id) finds nobody."""
    number = e164_form(e164)
    if number is None:
        return []
    return list(
        session.scalars(
            select(Patient)
            .where(
                Patient.clinic_id == clinic_id,
                Patient.phone_index == phone_index(number),
                Patient.deleted_at.is_(None),
            )
            .order_by(Patient.created_at, Patient.id)
        )
    )


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


# --- registering a patient and editing their details -----------------------------------
#
# The same rules the desk applied before queueing (``common.patients``), checked again
# here: the desk may be older, or the change not what a desk would send. The phone is
# read in the clinic's country.

ID_UNUSABLE = (
    "This patient's id cannot be used for a new patient. Register the patient again "
    "(they will get a new id)."
)


def _details(command: PatientFields) -> PatientDetails:
    return PatientDetails(
        first_name=command.first_name,
        last_name=command.last_name,
        date_of_birth=command.date_of_birth,
        sex=command.sex,
        address_line1=command.address_line1,
        address_line2=command.address_line2,
        city=command.city,
        postcode=command.postcode,
        phone=command.phone,
        email=command.email,
        alerts=tuple(command.alerts),
    )


def details_of(patient: Patient) -> PatientDetails:
    return PatientDetails(
        first_name=patient.first_name,
        last_name=patient.last_name,
        date_of_birth=patient.date_of_birth,
        sex=Sex(patient.sex),
        address_line1=patient.address_line1,
        address_line2=patient.address_line2,
        city=patient.city,
        postcode=patient.postcode,
        phone=patient.phone,
        email=patient.email,
        alerts=tuple(patient.alerts or ()),
    )


def _write(patient: Patient, details: PatientDetails) -> None:
    patient.first_name = details.first_name
    patient.last_name = details.last_name
    patient.date_of_birth = details.date_of_birth
    patient.sex = details.sex
    patient.address_line1 = details.address_line1
    patient.address_line2 = details.address_line2
    patient.city = details.city
    patient.postcode = details.postcode
    patient.phone = details.phone
    patient.email = details.email
    patient.alerts = list(details.alerts)


def _clinic_today(session: Session, ctx: AuthContext) -> tuple[str | None, date]:
    clinic = session.get(Clinic, ctx.clinic_id)
    assert clinic is not None
    # A birth "today" is allowed wherever the clinic is; so the latest today on earth.
    today = max(datetime.now(ZoneInfo(clinic.time_zone)).date(), datetime.now(UTC).date())
    return clinic.country, today


def register(session: Session, ctx: AuthContext, command: RegisterPatient) -> Patient:
    """A new patient, with the id the desk chose."""
    ctx.require(Permission.PATIENTS_WRITE)
    country, today = _clinic_today(session, ctx)
    details = clean(_details(command), country=country, today=today)
    holder = session.execute(
        select(Patient.clinic_id, Patient.deleted_at).where(Patient.id == command.patient_id)
    ).one_or_none()
    if holder is not None:
        # Only the caller's own clinic's live patient is named; any other holder of the id
        # gets the same words, so an id tells nothing about other clinics.
        if holder.clinic_id == ctx.clinic_id and holder.deleted_at is None:
            raise InvalidInput("A patient with this id is already registered.")
        raise InvalidInput(ID_UNUSABLE)
    patient = Patient(id=command.patient_id, clinic_id=ctx.clinic_id)
    _write(patient, details)
    patient.changed_by_device_id = ctx.device_id
    session.add(patient)
    session.flush()
    audit.record(
        session,
        ctx,
        action="create",
        entity="patients",
        entity_id=patient.id,
        reason="registered at the desk",
    )
    return patient


def update(session: Session, ctx: AuthContext, command: UpdatePatient) -> Patient:
    """A patient's details as staff saved them, unless someone else changed them since."""
    ctx.require(Permission.PATIENTS_WRITE)
    country, today = _clinic_today(session, ctx)
    patient = kit.for_change(
        session,
        Patient,
        ctx.clinic_id,
        command.patient_id,
        command.base_version,
        ctx.device_id,
        what="patient",
        stale="Someone else changed this patient's details in the meantime.",
    )
    before = details_of(patient)
    details = clean(_details(command), country=country, today=today, previous=before)
    if details == before:
        return patient  # nothing to change: no new version, nothing for desks to pull
    _write(patient, details)
    patient.changed_by_device_id = ctx.device_id
    session.flush()
    audit.record(
        session,
        ctx,
        action="update",
        entity="patients",
        entity_id=patient.id,
        reason="details changed at the desk",
    )
    return patient
