"""What the diary endpoints take and answer."""

from __future__ import annotations

import uuid
from datetime import UTC, date
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field

from server.scheduling.service import FIRST_YEAR, LAST_YEAR
from sync.protocol import Message, Slot


def _sane_year(value: Any) -> Any:
    # Far-off dates are typos, and the ends of the calendar overflow date arithmetic.
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be between the years {FIRST_YEAR} and {LAST_YEAR}")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_sane_year)]
Day = Annotated[date, AfterValidator(_sane_year)]


class BookBody(Message):
    provider_id: uuid.UUID
    patient_id: uuid.UUID
    starts_at: Instant
    ends_at: Instant
    appointment_type_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None


class MoveBody(Message):
    base_version: Annotated[int, Field(ge=0, le=2**62)]
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
