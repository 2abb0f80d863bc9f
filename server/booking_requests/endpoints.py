"""Staff side of web booking requests: list them, confirm (books it) or reject."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from sqlalchemy import select

from common.errors import SlotTaken
from server.audit import service as audit
from server.booking_requests import service
from server.booking_requests.models import BookingRequest, BookingRequestStatus
from server.db import transaction
from server.deps import StaffApart, sessions
from sync.protocol import AppointmentRecord, Message, SlotTakenBody

router = APIRouter(tags=["booking requests"])


class BookingRequestRecord(Message):
    id: uuid.UUID
    patient_id: uuid.UUID
    provider_id: uuid.UUID
    appointment_type_id: uuid.UUID | None
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    status: BookingRequestStatus
    appointment_id: uuid.UUID | None
    decided_by_staff_id: uuid.UUID | None
    decided_at: AwareDatetime | None
    note: str
    created_at: AwareDatetime


class ConfirmedRequest(Message):
    request: BookingRequestRecord
    appointment: AppointmentRecord


def record_of(request: BookingRequest) -> BookingRequestRecord:
    return BookingRequestRecord.model_validate(request, from_attributes=True)


@router.get("/booking-requests")
def list_booking_requests(
    ctx: StaffApart,
    http: Request,
    status: BookingRequestStatus = BookingRequestStatus.PENDING,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[BookingRequestRecord]:
    """Requests in ``status`` (pending by default), earliest first. Audited: they name
    patients and carry the patient's note."""
    with transaction(sessions(http)) as session:
        requests = service.list_requests(session, ctx, status, limit=limit)
        audit.record(
            session,
            ctx,
            action="read",
            entity="booking_requests",
            record_count=len(requests),
            reason=f"booking requests ({status.value})",
        )
        return [record_of(r) for r in requests]


@router.post(
    "/booking-requests/{request_id}/confirm",
    response_model=ConfirmedRequest,
    responses={409: {"model": SlotTakenBody}},
)
def confirm_booking_request(request_id: uuid.UUID, ctx: StaffApart, http: Request) -> Response:
    with transaction(sessions(http)) as session:
        try:
            with session.begin_nested():
                request, appointment = service.confirm(session, ctx, request_id)
        except SlotTaken as error:
            # Answered here rather than by the shared handler, to name the nearest free
            # times; the savepoint undid the attempt and the request stays pending.
            provider_id = session.scalar(
                select(BookingRequest.provider_id).where(
                    BookingRequest.id == request_id, BookingRequest.clinic_id == ctx.clinic_id
                )
            )
            body = service.refusal(session, ctx.clinic_id, error, provider_id)
            return JSONResponse(body, status_code=error.status)
        answer = ConfirmedRequest(
            request=record_of(request),
            appointment=AppointmentRecord.model_validate(appointment, from_attributes=True),
        )
        return JSONResponse(answer.model_dump(mode="json"))


@router.post("/booking-requests/{request_id}/reject")
def reject_booking_request(
    request_id: uuid.UUID, ctx: StaffApart, http: Request
) -> BookingRequestRecord:
    with transaction(sessions(http)) as session:
        return record_of(service.reject(session, ctx, request_id))
