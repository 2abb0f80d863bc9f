"""What every server module repeats, written once: clinic-scoped lookups, the "lock it,
check its version, else it is stale" step of every change to a synced row, and answering
with a model.

Every lookup takes the clinic from the caller's context; a row of another clinic is
simply not found, exactly as a row that does not exist, so ids reveal nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import NotFound, StaleVersion
from server.changefeed.versioning import changed_by_someone_else
from server.db import ClinicScoped, Synced

R = TypeVar("R", bound=ClinicScoped)
S = TypeVar("S", bound=Synced)


def not_found(what: str) -> NotFound:
    return NotFound(f"There is no such {what} in this clinic.")


def find(
    session: Session,
    model: type[R],
    clinic_id: uuid.UUID,
    record_id: uuid.UUID | None,
    *,
    lock: bool = False,
    include_deleted: bool = False,
) -> R | None:
    """The row ``record_id`` of ``clinic_id`` (live only, unless ``include_deleted``),
    locked for the rest of the transaction if ``lock``; None if there is none."""
    if record_id is None:
        return None
    query = select(model).where(model.id == record_id, model.clinic_id == clinic_id)
    if not include_deleted and issubclass(model, Synced):
        query = query.where(model.deleted_at.is_(None))
    return session.scalar(query.with_for_update() if lock else query)


def live(
    session: Session,
    model: type[R],
    clinic_id: uuid.UUID,
    record_id: uuid.UUID,
    *,
    what: str,
    lock: bool = False,
) -> R:
    """The live row, or a 404 that names ``what`` ("There is no such room in this
    clinic.")."""
    row = find(session, model, clinic_id, record_id, lock=lock)
    if row is None:
        raise not_found(what)
    return row


def require_live(
    session: Session, model: type[S], clinic_id: uuid.UUID, record_id: uuid.UUID, *, what: str
) -> None:
    """Only that the row exists and is live (reads its id alone), else the 404."""
    found = session.scalar(
        select(model.id).where(
            model.id == record_id, model.clinic_id == clinic_id, model.deleted_at.is_(None)
        )
    )
    if found is None:
        raise not_found(what)


def unchanged(row: S, base_version: int, device_id: uuid.UUID | None, stale: str) -> S:
    """``row``, if nobody but ``device_id`` changed it since ``base_version``; otherwise
    ``StaleVersion(stale)``. The row must be locked, or the check means nothing."""
    if changed_by_someone_else(row, base_version, device_id):
        raise StaleVersion(stale)
    return row


def for_change(
    session: Session,
    model: type[S],
    clinic_id: uuid.UUID,
    record_id: uuid.UUID,
    base_version: int,
    device_id: uuid.UUID | None,
    *,
    what: str,
    stale: str,
) -> S:
    """The live row, locked, if nobody else changed it since ``base_version``: the first
    step of every change a desk bases on the version it saw."""
    row = live(session, model, clinic_id, record_id, what=what, lock=True)
    return unchanged(row, base_version, device_id, stale)


_LISTS: dict[type[BaseModel], TypeAdapter[Any]] = {}


def json_response(answer: BaseModel | Sequence[BaseModel], status_code: int = 200) -> Response:
    """``answer`` as JSON, serialised once by pydantic straight to bytes.

    Endpoints return this (and declare ``response_model=`` for the API's schema) rather
    than the model itself: FastAPI would validate a returned model against its own type
    a second time, in one more trip through the worker threads, before encoding it."""
    if isinstance(answer, BaseModel):
        body = answer.model_dump_json().encode()
    else:
        kind = type(answer[0]) if answer else BaseModel
        adapter = _LISTS.get(kind)
        if adapter is None:
            adapter = _LISTS[kind] = TypeAdapter(list[kind])  # type: ignore[valid-type]
        body = adapter.dump_json(list(answer))
    return Response(body, status_code=status_code, media_type="application/json")
