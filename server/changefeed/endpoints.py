from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from common.roles import Permission
from server.changefeed import service
from server.deps import SessionDep, SyncContext, check_protocol
from sync.protocol import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, ChangesPage

router = APIRouter(tags=["sync"], dependencies=[Depends(check_protocol)])


@router.get("/sync/changes")
def changes(
    ctx: SyncContext,
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> ChangesPage:
    """Changes of the caller's clinic after ``cursor``, oldest first, one page at a time."""
    ctx.require(Permission.SYNC_PULL)
    return service.changes_since(session, ctx, service.parse_cursor(cursor), limit)
