"""Claiming, settling and replaying idempotency keys.

The key is claimed (its row inserted) before the change runs, in the same transaction,
so a duplicate sent at the same moment waits on the unique ``(clinic, key)`` and then
reads the stored answer: one change per key, however the retries interleave. The answer
is stored whatever it was (a success, or a refusal such as a taken slot), so a retry is
told the same; only an unexpected failure rolls the claim back, and then a retry simply
runs again.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from common.errors import Conflict, InvalidInput
from server.db import utcnow
from server.idempotency.models import IdempotencyKey

KEY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


def check_key(raw: str | None, *, required: bool) -> str | None:
    """The header's value if it is usable; refused in words otherwise."""
    if raw is None:
        if required:
            raise InvalidInput(
                f"An {KEY_HEADER} header is required: send a new random value (a UUID) "
                "with each booking, and the same value when you retry it."
            )
        return None
    if not 1 <= len(raw) <= MAX_KEY_LENGTH:
        raise InvalidInput(
            f"The {KEY_HEADER} header must be 1 to {MAX_KEY_LENGTH} characters long "
            "(a UUID is plenty)."
        )
    if any(not 32 <= ord(ch) < 127 for ch in raw):
        raise InvalidInput(f"The {KEY_HEADER} header may only contain printable ASCII.")
    return raw


def fingerprint(operation: str, body: dict[str, Any]) -> str:
    """SHA-256 of the request in a canonical form (the parsed body, instants in UTC), so
    the same request sent with other whitespace or another UTC offset is the same."""
    canonical = json.dumps(
        {"operation": operation, "body": body}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Claim:
    """A claimed key: ``replay`` says whether it holds an earlier answer (replay it) or
    was claimed just now for this request (run it, then ``settle``)."""

    id: uuid.UUID
    replay: bool
    status_code: int | None = None
    appointment_id: uuid.UUID | None = None
    response: str = ""


def claim(session: Session, clinic_id: uuid.UUID, key: str, request_fingerprint: str) -> Claim:
    """Claim ``key`` for this request, or find the answer an earlier one got.

    One ``INSERT … ON CONFLICT DO NOTHING``: a duplicate sent at the same moment waits
    in it until the first request's transaction ends, then finds the stored answer
    (PostgreSQL reads the newest committed row per statement; SQLite runs one writer)."""
    now = utcnow()
    claimed = session.execute(
        _insert_for(session)(IdempotencyKey)
        .values(
            id=uuid.uuid4(),
            created_at=now,
            modified_at=now,
            clinic_id=clinic_id,
            key=key,
            fingerprint=request_fingerprint,
            response="",
        )
        .on_conflict_do_nothing(index_elements=["clinic_id", "key"])
        .returning(IdempotencyKey.id)
    ).scalar_one_or_none()
    if claimed is not None:
        return Claim(claimed, replay=False)
    found = _stored(session, clinic_id, key)
    if found is None:  # pragma: no cover - the conflicting row was there a moment ago
        raise Conflict("This request is still being processed. Try again in a moment.")
    if found.fingerprint != request_fingerprint:
        raise InvalidInput(
            f"This {KEY_HEADER} was already used for a different request. Send a new key "
            "for a new booking; reuse a key only to retry exactly the same request."
        )
    if found.status_code is None:  # pragma: no cover - claims commit with their answer
        raise Conflict("This request is still being processed. Try again in a moment.")
    return Claim(found.id, True, found.status_code, found.appointment_id, found.response)


def settle(
    session: Session,
    claimed: Claim,
    *,
    status_code: int,
    appointment_id: uuid.UUID | None = None,
    response: dict[str, Any] | None = None,
) -> None:
    """Store the answer with the claim, in the claiming transaction."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == claimed.id)
        .values(
            status_code=status_code,
            appointment_id=appointment_id,
            response=json.dumps(response) if response is not None else "",
            modified_at=utcnow(),
        )
    )


def stored_response(claimed: Claim) -> dict[str, Any] | None:
    """A stored refusal's body as it was sent (None: the answer was a success)."""
    if not claimed.response:
        return None
    body: dict[str, Any] = json.loads(claimed.response)
    return body


def _insert_for(session: Session) -> Callable[..., Any]:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


StoredKey = Row[uuid.UUID, str, int | None, uuid.UUID | None, str]


def _stored(session: Session, clinic_id: uuid.UUID, key: str) -> StoredKey | None:
    return session.execute(
        select(
            IdempotencyKey.id,
            IdempotencyKey.fingerprint,
            IdempotencyKey.status_code,
            IdempotencyKey.appointment_id,
            IdempotencyKey.response,
        ).where(IdempotencyKey.clinic_id == clinic_id, IdempotencyKey.key == key)
    ).first()
