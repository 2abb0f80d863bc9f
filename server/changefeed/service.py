"""Read one page of a clinic's changes since a cursor."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import InvalidInput
from server.audit import service as audit
from server.auth.context import AuthContext
from server.clinics.models import Clinic
from server.db import Synced, utcnow
from server.patients.models import Patient
from server.scheduling.models import Appointment, Provider
from sync.protocol import (
    AppointmentRecord,
    ChangesPage,
    Cursor,
    Entity,
    PatientRecord,
    ProviderRecord,
    Record,
    Tombstone,
)

FEED: dict[Entity, tuple[type[Synced], type[Record]]] = {
    "providers": (Provider, ProviderRecord),
    "patients": (Patient, PatientRecord),
    "appointments": (Appointment, AppointmentRecord),
}


def parse_cursor(text: str | None) -> Cursor:
    if not text:
        return Cursor.start()
    try:
        return Cursor.parse(text)
    except ValueError:
        raise InvalidInput(
            "The sync position sent by this workstation is not valid; it will download "
            "everything again."
        ) from None


def changes_since(session: Session, ctx: AuthContext, cursor: Cursor, limit: int) -> ChangesPage:
    """The ``limit`` oldest changes after ``cursor`` across every synced table.

    Each table is read in version order up to ``limit`` rows; the merged list cut at
    ``limit`` is then exactly the clinic's next ``limit`` changes.
    """
    clinic = session.get(Clinic, ctx.clinic_id)
    assert clinic is not None
    # A cursor from another epoch, or ahead of the counter (say, after a restore from
    # backup), cannot be continued from: the desk starts again from the beginning.
    reset = cursor.epoch != clinic.dataset_epoch or cursor.version > clinic.sync_version
    since = 0 if reset else cursor.version
    # Every version up to the counter as read here is already committed (see versioning).
    # On PostgreSQL each read below sees commits made after this one; reading no further
    # than this keeps the page a gap-free prefix, so the cursor never skips a row.
    until = clinic.sync_version

    rows: list[tuple[int, Entity, Synced]] = []
    for entity, (model, _record) in FEED.items():
        found = session.scalars(
            select(model)
            .where(model.clinic_id == ctx.clinic_id, model.version > since)
            .where(model.version <= until)
            .order_by(model.version)
            .limit(limit + 1)
        )
        rows.extend((row.version, entity, row) for row in found)
    rows.sort(key=lambda item: item[0])
    has_more = len(rows) > limit
    rows = rows[:limit]

    page: dict[Entity, list[Record]] = {entity: [] for entity in FEED}
    tombstones: list[Tombstone] = []
    for version, entity, row in rows:
        if row.deleted_at is not None:
            tombstones.append(Tombstone(entity=entity, id=row.id, version=version))
        else:
            page[entity].append(FEED[entity][1].model_validate(row, from_attributes=True))

    for entity in ("patients", "appointments"):  # who the clinic sees, and when
        if page[entity]:
            audit.record(
                session,
                ctx,
                action="sync_pull",
                entity=entity,
                record_count=len(page[entity]),
                reason="cached on the clinic's enrolled workstation",
            )
    last_version = rows[-1][0] if rows else since
    return ChangesPage(
        next_cursor=str(Cursor(clinic.dataset_epoch, last_version)),
        has_more=has_more,
        reset=reset,
        server_time=utcnow(),
        providers=page["providers"],
        patients=page["patients"],
        appointments=page["appointments"],
        tombstones=tombstones,
    )
