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
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.errors import Conflict, InvalidInput
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


def claim(
    session: Session, clinic_id: uuid.UUID, key: str, request_fingerprint: str
) -> tuple[IdempotencyKey, bool]:
    """The key's row and whether it holds an earlier answer (True: replay it) or was
    claimed just now for this request (False: run it, then ``settle``)."""
    found = _stored(session, clinic_id, key)
    if found is None:
        row = IdempotencyKey(
            clinic_id=clinic_id, key=key, fingerprint=request_fingerprint, response=""
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()  # a concurrent duplicate blocks here until we commit
        except IntegrityError:
            # The same key was used by a request running at the same moment, which has
            # committed by now (PostgreSQL reads the newest committed row per statement).
            found = _stored(session, clinic_id, key)
            if found is None:
                raise
        else:
            return row, False
    if found.fingerprint != request_fingerprint:
        raise InvalidInput(
            f"This {KEY_HEADER} was already used for a different request. Send a new key "
            "for a new booking; reuse a key only to retry exactly the same request."
        )
    if found.status_code is None:  # pragma: no cover - claims commit with their answer
        raise Conflict("This request is still being processed. Try again in a moment.")
    return found, True


def settle(
    session: Session,
    row: IdempotencyKey,
    *,
    status_code: int,
    appointment_id: uuid.UUID | None = None,
    response: dict[str, Any] | None = None,
) -> None:
    """Store the answer with the claim, in the claiming transaction."""
    row.status_code = status_code
    row.appointment_id = appointment_id
    row.response = json.dumps(response) if response is not None else ""
    session.flush()


def stored_response(row: IdempotencyKey) -> dict[str, Any] | None:
    """A stored refusal's body as it was sent (None: the answer was a success)."""
    if not row.response:
        return None
    body: dict[str, Any] = json.loads(row.response)
    return body


def _stored(session: Session, clinic_id: uuid.UUID, key: str) -> IdempotencyKey | None:
    return session.scalar(
        select(IdempotencyKey)
        .where(IdempotencyKey.clinic_id == clinic_id, IdempotencyKey.key == key)
        .execution_options(populate_existing=True)
    )
