from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from common.roles import Permission
from server import kit
from server.audit import service as audit
from server.booking_requests import service as booking_requests
from server.changefeed import service
from server.changefeed.live import KEEPALIVE_EVERY, hub, listen_to, poll_every, sse
from server.clinics.models import Clinic
from server.deps import DatabaseDep, DeviceContext, SettingsDep, SyncContext, check_protocol
from server.leads import service as leads
from sync.protocol import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    AppointmentRecord,
    ChangesPage,
    Instant,
)

router = APIRouter(tags=["sync"], dependencies=[Depends(check_protocol)])


@router.get("/sync/changes", response_model=ChangesPage)
def changes(
    ctx: SyncContext,
    db: DatabaseDep,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    window_start: Instant | None = None,
    window_end: Instant | None = None,
) -> Response:
    """Changes of the caller's clinic after ``cursor``, oldest first, one page at a time.

    The page is serialised once, straight from the model that built it: the largest
    response the server sends is not validated a second time on its way out.
    """
    ctx.require(Permission.SYNC_PULL)
    window = None
    if window_start is not None and window_end is not None and window_start < window_end:
        window = (window_start, window_end)
    since = service.parse_cursor(cursor)
    with db.reading() as session:  # one snapshot: the page is a gap-free prefix
        page = service.changes_since(session, ctx, since, limit, window)
    service.audit_page(db, ctx, page)
    return kit.json_response(page)


@router.get("/sync/events")
async def events(
    ctx: DeviceContext, db: DatabaseDep, settings: SettingsDep, request: Request
) -> StreamingResponse:
    """Server-sent events: ``changed`` whenever the caller's clinic has something new
    to pull, ``requests`` whenever its pending booking requests or its leads changed (they
    are not synced: a desk lists them again when told).

    The desk pulls when told; an event carries nothing but the clinic's latest version, so
    a listener learns nothing it could not pull anyway.
    """
    ctx.require(Permission.SYNC_PULL)
    listener = listen_to(settings.database_url)  # this process's, started on first use

    def latest() -> tuple[int, object]:
        with db.reading() as session:
            version = int(
                session.scalar(select(Clinic.sync_version).where(Clinic.id == ctx.clinic_id)) or 0
            )
            # Booking requests and leads are listed live, not synced: one mark for both.
            return version, (
                booking_requests.pending_mark(session, ctx.clinic_id),
                leads.mark(session, ctx.clinic_id),
            )

    async def stream() -> AsyncIterator[str]:
        wake = hub.listen(ctx.clinic_id)
        try:
            seen, requests_seen = await run_in_threadpool(latest)
            yield sse("hello", seen)
            quiet_since = time.monotonic()
            while not await request.is_disconnected():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=poll_every(listener))
                wake.clear()
                version, requests_now = await run_in_threadpool(latest)
                told = False
                if version != seen:
                    seen, told = version, True
                    yield sse("changed", version)
                if requests_now != requests_seen:
                    requests_seen, told = requests_now, True
                    yield sse("requests", version)
                if told:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > KEEPALIVE_EVERY:
                    quiet_since = time.monotonic()
                    yield ": still here\n\n"
        finally:
            hub.forget(ctx.clinic_id, wake)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/sync/appointments", response_model=list[AppointmentRecord])
def appointments(ctx: SyncContext, db: DatabaseDep, start: Instant, end: Instant) -> Response:
    """Appointments overlapping ``[start, end)``, whatever the desk's cursor."""
    ctx.require(Permission.SYNC_PULL)
    with db.reading() as session:
        records = service.appointments_between(session, ctx, start, end)
    if records:
        audit.read(
            db,
            ctx,
            entity="appointments",
            record_count=len(records),
            reason="diary days fetched by a workstation",
        )
    return kit.json_response(records)
