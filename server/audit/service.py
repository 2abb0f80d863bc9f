"""Writing the audit trail.

Every read of patient data leaves a row saying who read what and why. A read runs in
``Database.reading()`` (never SQLite's write lock), and its audit row is then written in
a short ``Database.writing()`` of its own (``read``) *before* the endpoint returns: data
is never sent without its audit row committed, and if that write fails the request fails
and sends nothing. A change to patient data records its row in the change's own
transaction (``record``), so the change and its trace stand or fall together.
"""

from __future__ import annotations

import uuid

from sqlalchemy import insert
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.auth.context import AuthContext
from server.db import Database, utcnow


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
    """Append an audit row in the caller's (write) transaction."""
    session.add(
        AuditEvent(
            clinic_id=ctx.clinic_id,
            staff_id=ctx.staff_id,
            device_id=ctx.device_id,
            acting_patient_id=ctx.patient_id,
            action=action,
            entity=entity,
            entity_id=entity_id,
            record_count=record_count,
            reason=reason,
        )
    )


def read(
    db: Database,
    ctx: AuthContext,
    *,
    entity: str,
    reason: str,
    action: str = "read",
    entity_id: uuid.UUID | None = None,
    record_count: int = 1,
) -> None:
    """Commit the audit row of a read that has just been made, in a write of its own.
    Call it after the read transaction and before answering."""
    db.write_once(
        insert(AuditEvent).values(
            id=uuid.uuid4(),
            created_at=(now := utcnow()),
            modified_at=now,
            at=now,
            clinic_id=ctx.clinic_id,
            staff_id=ctx.staff_id,
            device_id=ctx.device_id,
            acting_patient_id=ctx.patient_id,
            action=action,
            entity=entity,
            entity_id=entity_id,
            record_count=record_count,
            reason=reason,
        )
    )
