"""The diary over HTTP: providers, appointments, staff booking and moving, free time.

Staff bookings are idempotent (``Idempotency-Key``, see ``server.idempotency``) and go
through ``server.scheduling.service`` like every other entry point, so the booking
guarantee holds for them too. A taken slot is answered 409 ``slot_taken`` with the nearest
free times, in the message and as ``suggestions``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.appointments import AppointmentSource
from common.errors import DomainError, InvalidInput, NotFound
from common.roles import Permission
from server import kit
from server.audit import service as audit
from server.auth.context import AuthContext
from server.booking_requests import service as requests
from server.db import utcnow
from server.deps import DatabaseDep, StaffContext
from server.idempotency import service as idempotency
from server.messaging import automated
from server.scheduling import service as scheduling
from server.scheduling.models import Appointment, AppointmentType, Provider
from server.scheduling.schemas import AvailabilityAnswer, BookBody, Day, MoveBody, canonical
from server.scheduling.settings import type_rules
from sync.protocol import AppointmentRecord, ErrorBody, ProviderRecord, Slot, SlotTakenBody

MAX_AVAILABILITY_DAYS = 366
DEFAULT_AVAILABILITY_DAYS = 7

IdempotencyKeyHeader = Annotated[str | None, Header(alias=idempotency.KEY_HEADER)]

router = APIRouter(tags=["scheduling"])


@router.get("/providers", response_model=list[ProviderRecord])
def list_providers(ctx: StaffContext, db: DatabaseDep) -> Response:
    ctx.require(Permission.DIARY_READ)
    with db.reading() as session:
        providers = session.scalars(
            select(Provider)
            .where(Provider.clinic_id == ctx.clinic_id, Provider.deleted_at.is_(None))
            .order_by(Provider.display_name)
        )
        records = [ProviderRecord.model_validate(p, from_attributes=True) for p in providers]
    return kit.json_response(records)


@router.get("/appointments/{appointment_id}", response_model=AppointmentRecord)
def read_appointment(appointment_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    ctx.require(Permission.DIARY_READ)
    with db.reading() as session:
        appointment = kit.live(
            session, Appointment, ctx.clinic_id, appointment_id, what="appointment"
        )
        record = AppointmentRecord.model_validate(appointment, from_attributes=True)
    audit.read(
        db, ctx, entity="appointments", entity_id=appointment_id, reason="appointment details"
    )
    return kit.json_response(record)


REFUSALS: dict[int | str, dict[str, Any]] = {
    409: {"model": SlotTakenBody, "description": "The slot is taken (or the record changed)."},
    422: {"model": ErrorBody, "description": "Invalid input, or a reused idempotency key."},
}


@router.post("/appointments", status_code=201, response_model=AppointmentRecord, responses=REFUSALS)
def book_appointment(
    body: BookBody,
    ctx: StaffContext,
    db: DatabaseDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Book at the desk. ``Idempotency-Key`` is required: a retry with the same key and
    body gets the same answer and books nothing new."""
    ctx.require(Permission.DIARY_BOOK)
    key = idempotency.check_key(idempotency_key, required=True)
    with db.writing() as session:
        return _answer(
            session,
            ctx,
            key,
            idempotency.fingerprint("book", canonical(body)),
            body.provider_id,
            201,
            lambda: _confirmed(
                session,
                ctx,
                scheduling.book(
                    session,
                    ctx,
                    appointment_id=uuid.uuid4(),
                    provider_id=body.provider_id,
                    patient_id=body.patient_id,
                    starts_at=body.starts_at,
                    ends_at=body.ends_at,
                    source=AppointmentSource.DESK,
                    appointment_type_id=body.appointment_type_id,
                    location_id=body.location_id,
                ),
            ),
        )


def _confirmed(session: Session, ctx: AuthContext, appointment: Appointment) -> Appointment:
    """The new booking, its confirmation to the patient composed alongside."""
    automated.confirm_booking(session, ctx.clinic_id, appointment)
    return appointment


@router.post(
    "/appointments/{appointment_id}/move", response_model=AppointmentRecord, responses=REFUSALS
)
def move_appointment(
    appointment_id: uuid.UUID,
    body: MoveBody,
    ctx: StaffContext,
    db: DatabaseDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Move (or resize, or give to another provider) a booked or confirmed appointment,
    if nobody else changed it since ``base_version``. ``Idempotency-Key`` is optional."""
    ctx.require(Permission.DIARY_BOOK)
    key = idempotency.check_key(idempotency_key, required=False)
    with db.writing() as session:
        return _answer(
            session,
            ctx,
            key,
            idempotency.fingerprint(
                "move", {"appointment_id": str(appointment_id)} | canonical(body)
            ),
            body.provider_id,
            200,
            lambda: scheduling.move(
                session,
                ctx,
                appointment_id=appointment_id,
                base_version=body.base_version,
                provider_id=body.provider_id,
                starts_at=body.starts_at,
                ends_at=body.ends_at,
            ),
        )


def _answer(
    session: Session,
    ctx: AuthContext,
    key: str | None,
    request_fingerprint: str,
    provider_id: uuid.UUID,
    success: int,
    run: Callable[[], Appointment],
) -> Response:
    """Run a booking change once per idempotency key and answer it. A refusal is answered
    here (not by the shared handler) so that it can be stored with the key: the
    savepoint undoes the attempt, the transaction still commits the claim and answer."""
    claimed: idempotency.Claim | None = None
    if key is not None:
        claimed = idempotency.claim(session, ctx.clinic_id, key, request_fingerprint)
        if claimed.replay:
            return _replay(session, ctx, claimed)
    try:
        with session.begin_nested():
            appointment = run()
    except DomainError as error:
        refused = requests.refusal(session, ctx.clinic_id, error, provider_id)
        if claimed is not None:
            idempotency.settle(session, claimed, status_code=error.status, response=refused)
        return JSONResponse(refused, status_code=error.status)
    if claimed is not None:
        idempotency.settle(session, claimed, status_code=success, appointment_id=appointment.id)
    return _record(appointment, success)


def _replay(session: Session, ctx: AuthContext, stored: idempotency.Claim) -> Response:
    """The stored verdict; a success with the appointment as it stands now (it may have
    changed since, and a retry must not hand back an older copy)."""
    assert stored.status_code is not None
    refused = idempotency.stored_response(stored)
    if refused is not None:
        return JSONResponse(refused, status_code=stored.status_code)
    appointment = kit.find(
        session, Appointment, ctx.clinic_id, stored.appointment_id, include_deleted=True
    )
    if appointment is None:  # its tombstone was purged
        raise NotFound("The appointment made with this Idempotency-Key no longer exists.")
    return _record(appointment, stored.status_code)


def _record(appointment: Appointment, status_code: int) -> Response:
    record = AppointmentRecord.model_validate(appointment, from_attributes=True)
    return kit.json_response(record, status_code)


@router.get("/availability", response_model=AvailabilityAnswer)
def availability(
    ctx: StaffContext,
    db: DatabaseDep,
    appointment_type_id: uuid.UUID,
    provider_id: uuid.UUID | None = None,
    first_day: Annotated[Day | None, Query()] = None,
    last_day: Annotated[Day | None, Query()] = None,
    for_staff: bool = False,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> Response:
    """Free starts for an appointment type, earliest first: by default as patients see
    them (notice, horizon, caps, bookable online), with ``for_staff`` as the desk may
    book. Days are the clinic's local days; ``first_day`` defaults to today, ``last_day``
    to a week later; no provider means any provider (one slot per start)."""
    ctx.require(Permission.DIARY_READ)
    with db.reading() as session:
        answer = _free_time(
            session, ctx, appointment_type_id, provider_id, first_day, last_day, for_staff, limit
        )
    return kit.json_response(answer)


def _free_time(
    session: Session,
    ctx: AuthContext,
    appointment_type_id: uuid.UUID,
    provider_id: uuid.UUID | None,
    first_day: date | None,
    last_day: date | None,
    for_staff: bool,
    limit: int,
) -> AvailabilityAnswer:
    now = utcnow()
    zone = scheduling.clinic_zone(session, ctx.clinic_id)
    first = first_day or now.astimezone(zone).date()
    last = last_day or first + timedelta(days=DEFAULT_AVAILABILITY_DAYS - 1)
    if last < first:
        raise InvalidInput(
            f"last_day ({last}) is before first_day ({first}); first_day is today if not given."
        )
    if (last - first).days + 1 > MAX_AVAILABILITY_DAYS:
        raise InvalidInput(
            f"Ask for at most {MAX_AVAILABILITY_DAYS} days at a time "
            f"({first} to {last} is {(last - first).days + 1})."
        )
    kind = kit.live(
        session, AppointmentType, ctx.clinic_id, appointment_type_id, what="appointment type"
    )
    if provider_id is not None:
        kit.require_live(session, Provider, ctx.clinic_id, provider_id, what="provider")
    rules = type_rules(kind)
    if not kind.active:  # no longer offered to patients; staff may still book it
        rules = dataclasses.replace(rules, bookable_online=False)
    slots = scheduling.offered_slots(
        session,
        ctx.clinic_id,
        rules,
        first_day=first,
        last_day=last,
        now=now,
        provider_id=provider_id,
        for_staff=for_staff,
        limit=limit,
    )
    return AvailabilityAnswer(
        time_zone=str(zone),
        first_day=first,
        last_day=last,
        for_staff=for_staff,
        slots=[
            Slot(provider_id=s.provider_id, starts_at=s.starts_at, ends_at=s.ends_at) for s in slots
        ],
    )
