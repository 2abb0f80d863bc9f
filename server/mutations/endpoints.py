from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from server.deps import DeviceContext, check_protocol
from server.mutations import service
from sync.protocol import PushRequest, PushResponse

router = APIRouter(tags=["sync"], dependencies=[Depends(check_protocol)])


@router.post("/sync/mutations")
def push(body: PushRequest, ctx: DeviceContext, request: Request) -> PushResponse:
    """Apply a workstation's outbox entries in order. Each is its own transaction and is
    applied at most once; rejections are results with a code, not errors. Each mutation
    names the staff member who made it, whose role is checked as it is applied."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    return PushResponse(results=service.apply_batch(factory, ctx, body.mutations))
