"""Staff side of web booking requests: list them, confirm (books it) or reject."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from common.errors import SlotTaken
from server import kit
from server.audit import service as audit
from server.booking_requests import service
from server.booking_requests.models import BookingRequest, BookingRequestStatus
from server.booking_requests.schemas import (
    BookingRequestRecord,
    ConfirmBookingRequest,
    ConfirmedRequest,
    PatientMatch,
    RejectBookingRequest,
    record_of,
    records_of,
)
from server.deps import DatabaseDep, SettingsDep, StaffContext
from server.kit import json_response
from sync.protocol import AppointmentRecord, SlotTakenBody

router = APIRouter(tags=["booking requests"])


@router.get("/booking-requests", response_model=list[BookingRequestRecord])
def list_booking_requests(
    ctx: StaffContext,
    db: DatabaseDep,
    status: BookingRequestStatus = BookingRequestStatus.PENDING,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """Requests in ``status`` (pending by default), earliest first, with the patient's,
    provider's and type's names. Audited: they name patients and carry the patient's
    note."""
    with db.reading() as session:
        found = service.list_requests(session, ctx, status, limit=limit)
        records = records_of(session, ctx.clinic_id, found)
    audit.read(
        db,
        ctx,
        entity="booking_requests",
        record_count=len(records),
        reason=f"booking requests ({status.value})",
    )
    return json_response(records)


@router.post(
    "/booking-requests/{request_id}/confirm",
    response_model=ConfirmedRequest,
    responses={409: {"model": SlotTakenBody}},
)
def confirm_booking_request(
    request_id: uuid.UUID,
    ctx: StaffContext,
    db: DatabaseDep,
    settings: SettingsDep,
    body: ConfirmBookingRequest | None = None,
) -> Response:
    """Book the requested time, or with a body another time (and perhaps provider) for
    the request's length. A taken time is a 409 naming the nearest free times the
    provider works; the request then stays pending. A request from someone not linked to
    a patient needs ``patient_id`` or ``new_patient`` (else a 422 in words)."""
    starts_at = body.starts_at if body else None
    provider_id = body.provider_id if body else None
    with db.writing() as session:
        try:
            with session.begin_nested():
                request, appointment = service.confirm(
                    session,
                    ctx,
                    request_id,
                    starts_at=starts_at,
                    provider_id=provider_id,
                    patient_id=body.patient_id if body else None,
                    new_patient=body.new_patient if body else None,
                    public_base_url=settings.public_base_url,
                )
        except SlotTaken as error:
            # Answered here rather than by the shared handler, to name the nearest free
            # times; the savepoint undid the attempt and the request stays pending.
            asked = kit.find(session, BookingRequest, ctx.clinic_id, request_id)
            tried = provider_id or (asked.provider_id if asked else None)
            if asked is not None and tried is not None:
                error.suggestions = service.free_times_near(
                    session, ctx.clinic_id, asked, tried, starts_at or asked.starts_at
                )
            refused = service.refusal(session, ctx.clinic_id, error, tried)
            return JSONResponse(refused, status_code=error.status)
        answer = ConfirmedRequest(
            request=record_of(session, request),
            appointment=AppointmentRecord.model_validate(appointment, from_attributes=True),
        )
    return json_response(answer)


@router.get("/booking-requests/{request_id}/matches", response_model=list[PatientMatch])
def booking_request_matches(request_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    """Patients on file who may be the request's applicant (same name and date of birth,
    phone or e-mail), to confirm it for one of them. Audited: it names patients."""
    with db.reading() as session:
        found = service.matches(session, ctx, request_id)
    audit.read(
        db,
        ctx,
        entity="patients",
        record_count=len(found),
        reason="possible matches for a booking request",
    )
    return json_response(found)


@router.post("/booking-requests/{request_id}/reject", response_model=BookingRequestRecord)
def reject_booking_request(
    request_id: uuid.UUID, body: RejectBookingRequest, ctx: StaffContext, db: DatabaseDep
) -> Response:
    """Turn the request down with the reason the patient is told (required)."""
    with db.writing() as session:
        answer = record_of(session, service.reject(session, ctx, request_id, body.reason))
    return json_response(answer)
