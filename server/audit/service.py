from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.auth.context import AuthContext


def record(
    session: Session,
    ctx: AuthContext,
    *,
    action: str,
    entity: str,
    reason: str,
    entity_id: uuid.UUID | None = None,
    record_count: int = 1,
) -> None:
    """Append an audit row in the caller's transaction, so the read and its trace stand
    or fall together."""
    session.add(
        AuditEvent(
            clinic_id=ctx.clinic_id,
            staff_id=ctx.staff_id,
            device_id=ctx.device_id,
            action=action,
            entity=entity,
            entity_id=entity_id,
            record_count=record_count,
            reason=reason,
        )
    )
