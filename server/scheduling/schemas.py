"""What the diary endpoints take and answer."""

from __future__ import annotations

import uuid
from datetime import UTC, date
from typing import Any

# The protocol's bounded values: the same limits on every way in.
from sync.protocol import Day as Day
from sync.protocol import Instant, Message, Slot, Version


class BookBody(Message):
    provider_id: uuid.UUID
    patient_id: uuid.UUID
    starts_at: Instant
    ends_at: Instant
    appointment_type_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None


class MoveBody(Message):
    base_version: Version
    provider_id: uuid.UUID
    starts_at: Instant
    ends_at: Instant


class AvailabilityAnswer(Message):
    time_zone: str
    first_day: date
    last_day: date
    for_staff: bool
    slots: list[Slot]


def canonical(body: BookBody | MoveBody) -> dict[str, Any]:
    """The body as parsed, instants in UTC: what an idempotency key is bound to."""
    values: dict[str, Any] = body.model_dump(mode="json")
    values["starts_at"] = body.starts_at.astimezone(UTC).isoformat()
    values["ends_at"] = body.ends_at.astimezone(UTC).isoformat()
    return values
