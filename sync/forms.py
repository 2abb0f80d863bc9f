"""The forms sent to patients, in the desk's copy: a patient's forms, how far the forms of
an appointment are filled in, and the patients whose forms are still open.

The server syncs each form sent (``form_requests``) without its answers, so all of this
is read locally and works offline; the answers themselves are read from the server on
demand. Intake and consent forms go to a patient once and belong to no appointment:
they count with each of the patient's appointments, open or complete, so that a visit
whose forms are all in says so ("Forms: all complete") rather than nothing, which is
kept for a patient sent no forms at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, case, func, or_, select, union_all

from common.appointments import AppointmentStatus
from common.forms import OPEN_STATUSES, FormKind, FormStatus
from sync.protocol import FormRequestRecord
from sync.records import epoch_seconds, form_request_row, instant, upsert
from sync.schema import appointments, form_requests, patients

# The most ids one query names (SQLite allows 32766 parameters; a week of a busy clinic
# names a few thousand appointments).
CHUNK = 500
_OPEN = tuple(s.value for s in OPEN_STATUSES)
_ONCE = tuple(k.value for k in FormKind if k.once_per_patient)
_KEPT = form_requests.c.status != FormStatus.WITHDRAWN.value  # a withdrawn form is not due
# Appointments a patient did not come to: they do not make the patient a known one.
_NOT_HELD = (AppointmentStatus.CANCELLED.value, AppointmentStatus.NO_SHOW.value)
_EXPECTED = (AppointmentStatus.BOOKED.value, AppointmentStatus.CONFIRMED.value)


@dataclass(frozen=True)
class FormRequestView:
    """One form sent to a patient, as their file lists it."""

    id: uuid.UUID
    version: int
    patient_id: uuid.UUID
    appointment_id: uuid.UUID | None
    title: str
    kind: FormKind
    status: FormStatus
    sent_at: datetime
    completed_at: datetime | None

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def consent_record(self) -> bool:
        """A signed consent form: the patient's consent, as this clinic records it."""
        return self.kind is FormKind.CONSENT and self.status is FormStatus.COMPLETE


@dataclass(frozen=True)
class Completion:
    """How many of the forms an appointment waits for are complete."""

    complete: int = 0
    total: int = 0

    def words(self) -> str:
        """ "Forms: 1 of 2 complete", "Forms: all complete", or "" with no forms."""
        if not self.total:
            return ""
        if self.complete >= self.total:
            return "Forms: all complete"
        return f"Forms: {self.complete} of {self.total} complete"


@dataclass(frozen=True)
class IncompleteForms:
    """A patient with forms still to fill in, for the worklist."""

    patient_id: uuid.UUID
    name: str
    new_patient: bool  # no visit held, as far as this desk keeps appointments
    next_appointment: datetime | None
    outstanding: tuple[str, ...]  # the open forms' titles, oldest sent first
    oldest_sent_at: datetime


def _view(r: Any) -> FormRequestView:
    """A row of ``form_requests`` as the form it is."""
    return FormRequestView(
        id=uuid.UUID(r.id),
        version=r.version,
        patient_id=uuid.UUID(r.patient_id),
        appointment_id=uuid.UUID(r.appointment_id) if r.appointment_id else None,
        title=r.title,
        kind=FormKind(r.kind),
        status=FormStatus(r.status),
        sent_at=instant(r.sent_at),
        completed_at=instant(r.completed_at) if r.completed_at is not None else None,
    )


def requests_of(conn: Connection, patient_id: uuid.UUID) -> list[FormRequestView]:
    """Every form sent to the patient, withdrawn ones too, newest first."""
    rows = conn.execute(
        select(form_requests)
        .where(form_requests.c.patient_id == str(patient_id))
        .order_by(form_requests.c.sent_at.desc(), form_requests.c.title)
    )
    return [_view(r) for r in rows]


def take(conn: Connection, record: FormRequestRecord) -> None:
    """The server's answer about one form (withdrawn from this desk), kept at once so
    the file and the worklist say so before the next pull brings it too."""
    upsert(conn, form_requests, [form_request_row(record)])


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield list(items[start : start + CHUNK])


def _count(rows: Iterable[tuple[str, str]]) -> dict[str, Completion]:
    """(appointment id, status of a form it waits for) rows, as each one's completion."""
    statuses: dict[str, list[str]] = {}
    for appointment_id, status in rows:
        statuses.setdefault(appointment_id, []).append(status)
    return {
        appointment_id: Completion(
            sum(1 for s in found if s == FormStatus.COMPLETE.value), len(found)
        )
        for appointment_id, found in statuses.items()
    }


def _waiting(visit_id: Any, patient_id: Any) -> tuple[Any, Any]:
    """The two ways a form belongs with a visit: sent with it, or an intake or consent
    form of the patient's (sent once, for every visit). Withdrawn ones aside."""
    own = and_(form_requests.c.appointment_id == visit_id, _KEPT)
    once = and_(
        form_requests.c.patient_id == patient_id,
        form_requests.c.appointment_id.is_(None),
        form_requests.c.kind.in_(_ONCE),
        _KEPT,
    )
    return own, once


def completion_of(conn: Connection, visits: Select[Any]) -> dict[str, Completion]:
    """For the appointments ``visits`` selects (their id and patient id, in that order),
    by id: how far the forms each waits for are filled in. An appointment without forms
    is left out. One grouped query over two indexed joins, however many appointments
    (a busy week): a row per appointment comes back, not a row per form."""
    picked = visits.subquery()
    visit_id, patient_id = picked.c[0], picked.c[1]
    own, once = _waiting(visit_id, patient_id)
    found = union_all(
        select(visit_id.label("visit"), form_requests.c.status).join(form_requests, own),
        select(visit_id.label("visit"), form_requests.c.status).join(form_requests, once),
    ).subquery()
    done = case((found.c.status == FormStatus.COMPLETE.value, 1), else_=0)
    rows = conn.execute(select(found.c.visit, func.sum(done), func.count()).group_by(found.c.visit))
    return {str(visit): Completion(int(complete), int(total)) for visit, complete, total in rows}


def completion(
    conn: Connection, visits: Iterable[tuple[uuid.UUID, uuid.UUID]]
) -> dict[str, Completion]:
    """``completion_of`` for appointments named one by one, (id, patient id) each: those
    fetched from the server for days this desk does not keep, so not in its copy."""
    pairs = [(str(a), str(p)) for a, p in visits]
    own: dict[str, list[str]] = {}  # appointment id: statuses of the forms sent with it
    once: dict[str, list[str]] = {}  # patient id: statuses of their once-only forms
    for chunk in _chunks(sorted({a for a, _ in pairs})):
        rows = conn.execute(
            select(form_requests.c.appointment_id, form_requests.c.status).where(
                form_requests.c.appointment_id.in_(chunk), _KEPT
            )
        )
        for appointment_id, status in rows:
            own.setdefault(appointment_id, []).append(status)
    for chunk in _chunks(sorted({p for _, p in pairs})):
        rows = conn.execute(
            select(form_requests.c.patient_id, form_requests.c.status).where(
                form_requests.c.patient_id.in_(chunk),
                form_requests.c.appointment_id.is_(None),
                form_requests.c.kind.in_(_ONCE),
                _KEPT,
            )
        )
        for patient_id, status in rows:
            once.setdefault(patient_id, []).append(status)
    return _count((a, status) for a, p in pairs for status in own.get(a, []) + once.get(p, []))


def incomplete(conn: Connection, now: datetime) -> list[IncompleteForms]:
    """Patients with forms still open: new patients first (no visit held yet, so the
    forms are what the clinic knows of them), then by their next appointment, soonest
    first. "New" is as far as this desk keeps appointments (its window of days)."""
    rows = conn.execute(
        select(
            form_requests.c.patient_id,
            form_requests.c.title,
            form_requests.c.sent_at,
            patients.c.first_name,
            patients.c.last_name,
        )
        .outerjoin(patients, patients.c.id == form_requests.c.patient_id)
        .where(form_requests.c.status.in_(_OPEN))
        .order_by(form_requests.c.sent_at, form_requests.c.title)
    ).all()
    if not rows:
        return []
    titles: dict[str, list[str]] = {}
    oldest: dict[str, int] = {}
    names: dict[str, str] = {}
    for r in rows:
        titles.setdefault(r.patient_id, []).append(r.title)
        oldest.setdefault(r.patient_id, r.sent_at)
        names[r.patient_id] = (
            f"{r.first_name} {r.last_name}" if r.first_name is not None else "Unknown patient"
        )
    ids = sorted(titles)
    seen: set[str] = set()
    coming: dict[str, int] = {}
    moment = epoch_seconds(now)
    for chunk in _chunks(ids):
        held = conn.execute(
            select(appointments.c.patient_id)
            .where(
                appointments.c.patient_id.in_(chunk),
                or_(
                    appointments.c.status == AppointmentStatus.COMPLETED.value,
                    and_(
                        appointments.c.starts_at < moment,
                        appointments.c.status.not_in(_NOT_HELD),
                    ),
                ),
            )
            .distinct()
        )
        seen.update(patient_id for (patient_id,) in held)
        upcoming = conn.execute(
            select(appointments.c.patient_id, appointments.c.starts_at).where(
                appointments.c.patient_id.in_(chunk),
                appointments.c.starts_at >= moment,
                appointments.c.status.in_(_EXPECTED),
            )
        )
        for patient_id, starts_at in upcoming:
            if patient_id not in coming or starts_at < coming[patient_id]:
                coming[patient_id] = starts_at
    found = [
        IncompleteForms(
            patient_id=uuid.UUID(patient_id),
            name=names[patient_id],
            new_patient=patient_id not in seen,
            next_appointment=instant(coming[patient_id]) if patient_id in coming else None,
            outstanding=tuple(titles[patient_id]),
            oldest_sent_at=instant(oldest[patient_id]),
        )
        for patient_id in ids
    ]
    far = float("inf")
    return sorted(
        found,
        key=lambda f: (
            not f.new_patient,
            f.next_appointment.timestamp() if f.next_appointment else far,
            f.name.casefold(),
        ),
    )
