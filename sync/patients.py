"""A patient's file in the desk's copy: their details, their appointments, and the
patients already on file who may be the same person. All of it is local, so the Patients
page works offline like the diary.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select
from sqlalchemy.sql import ColumnElement

from common.appointments import AppointmentStatus
from common.patients import PatientDetails, Sex, duplicates
from sync.records import instant
from sync.schema import appointment_types, appointments, patients, providers


@dataclass(frozen=True)
class PatientFile:
    """One patient as this desk has them."""

    id: uuid.UUID
    version: int
    details: PatientDetails
    pending: bool = False  # changed here, not yet acknowledged by the server

    # What the duplicate check reads (``common.patients.PatientLike``).
    @property
    def first_name(self) -> str:
        return self.details.first_name

    @property
    def last_name(self) -> str:
        return self.details.last_name

    @property
    def date_of_birth(self) -> date | None:
        return self.details.date_of_birth

    @property
    def phone(self) -> str | None:
        return self.details.phone

    @property
    def email(self) -> str | None:
        return self.details.email

    @property
    def name(self) -> str:
        return self.details.name


@dataclass(frozen=True)
class Visit:
    """One of the patient's appointments, past or to come, as their file lists it."""

    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: AppointmentStatus
    provider_name: str
    type_name: str | None
    pending: bool


def _file(r: Any) -> PatientFile:
    """A row of the patients table as the file it is."""
    born = r.date_of_birth
    return PatientFile(
        id=uuid.UUID(r.id),
        version=r.version,
        details=PatientDetails(
            first_name=r.first_name,
            last_name=r.last_name,
            date_of_birth=date.fromisoformat(born) if born else None,
            sex=Sex(r.sex) if r.sex in set(Sex) else Sex.UNKNOWN,
            address_line1=r.address_line1,
            address_line2=r.address_line2,
            city=r.city,
            postcode=r.postcode,
            phone=r.phone,
            email=r.email,
            alerts=tuple(json.loads(r.alerts or "[]")),
        ),
        pending=bool(r.pending),
    )


def patient_file(conn: Connection, patient_id: uuid.UUID) -> PatientFile | None:
    row = conn.execute(select(patients).where(patients.c.id == str(patient_id))).first()
    return _file(row) if row is not None else None


def visits(conn: Connection, patient_id: uuid.UUID) -> list[Visit]:
    """The patient's appointments this desk keeps (its window of days), newest first."""
    query = (
        select(
            appointments.c.id,
            appointments.c.starts_at,
            appointments.c.ends_at,
            appointments.c.status,
            appointments.c.pending,
            providers.c.display_name,
            appointment_types.c.name.label("type_name"),
        )
        .outerjoin(providers, providers.c.id == appointments.c.provider_id)
        .outerjoin(appointment_types, appointment_types.c.id == appointments.c.appointment_type_id)
        .where(appointments.c.patient_id == str(patient_id))
        .order_by(appointments.c.starts_at.desc())
    )
    return [
        Visit(
            id=uuid.UUID(r.id),
            starts_at=instant(r.starts_at),
            ends_at=instant(r.ends_at),
            status=AppointmentStatus(r.status),
            provider_name=r.display_name or "Unknown provider",
            type_name=r.type_name,
            pending=bool(r.pending),
        )
        for r in conn.execute(query)
    ]


def possible_duplicates(
    conn: Connection,
    details: PatientDetails,
    country: str | None,
    ignore: uuid.UUID | None = None,
) -> list[PatientFile]:
    """Patients on file who may be the one described: the same name and birth date, the
    same phone or the same e-mail (``common.patients.duplicates`` decides; the query
    only narrows the file down to those worth asking about)."""
    wanted: list[ColumnElement[bool]] = []
    if details.date_of_birth is not None:
        wanted.append(
            (func.lower(patients.c.last_name) == details.last_name.lower())
            & (patients.c.date_of_birth == details.date_of_birth.isoformat())
        )
    if details.email:
        wanted.append(func.lower(patients.c.email) == details.email.lower())
    if details.phone:
        digits = "".join(ch for ch in details.phone if ch.isdigit())
        tail = digits[-9:]
        if tail:
            wanted.append(_digits_of_phone().endswith(tail, autoescape=True))
    if not wanted:
        return []
    rows = conn.execute(select(patients).where(or_(*wanted)).limit(50))
    found = [_file(r) for r in rows]
    matching = {d.patient_id for d in duplicates(details, found, country=country, ignore=ignore)}
    return [f for f in found if f.id in matching]


def _digits_of_phone() -> ColumnElement[Any]:
    """The phone column without spaces, dashes, brackets, dots or plus, in SQL."""
    stripped: ColumnElement[Any] = patients.c.phone
    for ch in " -()+.":
        stripped = func.replace(stripped, ch, "")
    return stripped
