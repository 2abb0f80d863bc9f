"""Sign-in lock-outs for a clinic's admins: which accounts and networks were locked out,
when and until when. A run of them is how an admin learns someone is guessing passwords
(or that a colleague has forgotten theirs)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.roles import Permission
from server.auth.models import SignInLockout
from server.deps import DatabaseDep, StaffContext
from sync.protocol import LockoutInfo, LockoutList

router = APIRouter(tags=["auth"])


def record_lockout(
    session: Session,
    *,
    clinic_id: uuid.UUID | None,
    scope: str,
    email: str,
    address: str,
    at: datetime,
    until: datetime,
) -> None:
    session.add(
        SignInLockout(
            clinic_id=clinic_id, scope=scope, email=email, address=address, at=at, until=until
        )
    )


def recent_lockouts(session: Session, clinic_id: uuid.UUID, limit: int) -> list[SignInLockout]:
    """The clinic's newest lock-outs first."""
    return list(
        session.scalars(
            select(SignInLockout)
            .where(SignInLockout.clinic_id == clinic_id)
            .order_by(SignInLockout.at.desc(), SignInLockout.id)
            .limit(limit)
        )
    )


@router.get("/sign-in-lockouts")
def list_lockouts(
    ctx: StaffContext,
    db: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> LockoutList:
    """The clinic's recent sign-in lock-outs, newest first (clinic admins)."""
    ctx.require(Permission.STAFF_MANAGE)
    with db.reading() as session:
        found = recent_lockouts(session, ctx.clinic_id, limit)
    return LockoutList(
        lockouts=[
            LockoutInfo(
                scope=row.scope,
                email=row.email,
                address=row.address,
                at=row.at,
                until=row.until,
            )
            for row in found
        ]
    )
