from __future__ import annotations

from fastapi import APIRouter, Depends

from server.deps import DatabaseDep, DeviceContext, check_protocol
from server.mutations import service
from sync.protocol import PushRequest, PushResponse

router = APIRouter(tags=["sync"], dependencies=[Depends(check_protocol)])


@router.post("/sync/mutations")
def push(body: PushRequest, ctx: DeviceContext, db: DatabaseDep) -> PushResponse:
    """Apply a workstation's outbox entries in order. Each is its own transaction and is
    applied at most once; rejections are results with a code, not errors. Each mutation
    names the staff member who made it and is signed by them; their role is checked as
    it is applied."""
    return PushResponse(results=service.apply_batch(db, ctx, body.mutations))
