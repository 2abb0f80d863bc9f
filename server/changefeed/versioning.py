"""Stamp every changed synced row with the next number of its clinic's counter.

The counter is bumped with ``UPDATE … RETURNING`` in the same transaction as the change.
That row lock is held until commit, so a transaction that got a higher version cannot
commit before one that got a lower version: a desk that has seen version N has seen
every change numbered below N, and a cursor can never skip a row committed late.

The same hook tells connected desks (``live.note_changed``): on PostgreSQL with a
``pg_notify`` in the changing transaction, delivered to every server process on commit.

The hook sees ORM flushes only: change synced rows through the ORM, never with a bulk
``update()``/``delete()`` statement, or the change never reaches the desks.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from server.changefeed import live
from server.clinics.models import Clinic
from server.db import Synced


def _changed_synced_rows(session: Session) -> dict[uuid.UUID, list[Synced]]:
    by_clinic: dict[uuid.UUID, list[Synced]] = defaultdict(list)
    for obj in session.new:
        if isinstance(obj, Synced):
            by_clinic[obj.clinic_id].append(obj)
    for obj in session.dirty:
        if isinstance(obj, Synced) and session.is_modified(obj, include_collections=False):
            by_clinic[obj.clinic_id].append(obj)
    return by_clinic


def changed_by_someone_else(row: Synced, base_version: int, device_id: uuid.UUID | None) -> bool:
    """Has ``row`` moved past ``base_version`` through anyone but ``device_id``?

    A workstation's own later edits do not count: offline it may chain several changes
    to one record, each based on the last version it saw, and they arrive in order.
    """
    return row.version != base_version and (
        device_id is None or row.changed_by_device_id != device_id
    )


def reserve_versions(session: Session, clinic_id: uuid.UUID, count: int) -> range:
    """Take ``count`` consecutive versions from the clinic's counter."""
    last = session.execute(
        update(Clinic)
        .where(Clinic.id == clinic_id)
        .values(sync_version=Clinic.sync_version + count)
        .returning(Clinic.sync_version)
    ).scalar_one()
    return range(last - count + 1, last + 1)


@event.listens_for(Session, "before_flush")
def _stamp_versions(session: Session, _context: Any, _instances: Any) -> None:
    # Clinics in a fixed order, so two flushes touching the same clinics cannot deadlock.
    for clinic_id, rows in sorted(_changed_synced_rows(session).items()):
        live.note_changed(session, clinic_id)
        for row, version in zip(rows, reserve_versions(session, clinic_id, len(rows)), strict=True):
            row.version = version
