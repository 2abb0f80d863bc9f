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
from server.booking_requests.schemas import BookingRequestRecord, ConfirmedRequest, record_of
from server.deps import DatabaseDep, StaffContext
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
    """Requests in ``status`` (pending by default), earliest first. Audited: they name
    patients and carry the patient's note."""
    with db.reading() as session:
        records = [record_of(r) for r in service.list_requests(session, ctx, status, limit=limit)]
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
def confirm_booking_request(request_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    with db.writing() as session:
        try:
            with session.begin_nested():
                request, appointment = service.confirm(session, ctx, request_id)
        except SlotTaken as error:
            # Answered here rather than by the shared handler, to name the nearest free
            # times; the savepoint undid the attempt and the request stays pending.
            asked = kit.find(session, BookingRequest, ctx.clinic_id, request_id)
            body = service.refusal(
                session, ctx.clinic_id, error, asked.provider_id if asked else None
            )
            return JSONResponse(body, status_code=error.status)
        answer = ConfirmedRequest(
            request=record_of(request),
            appointment=AppointmentRecord.model_validate(appointment, from_attributes=True),
        )
    return json_response(answer)


@router.post("/booking-requests/{request_id}/reject", response_model=BookingRequestRecord)
def reject_booking_request(request_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    with db.writing() as session:
        answer = record_of(service.reject(session, ctx, request_id))
    return json_response(answer)
