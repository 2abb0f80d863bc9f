"""The diary's changes and look-ups, as functions for the ``db`` lane (no Qt here).

Every change goes through the store (local row + outbox entry in one transaction), so it
shows at once and works offline. Before writing, a booking or a move is checked against
the desk's own copy, so staff hear about a clash while the dialog is still open instead
of from the "Needs attention" list after the next sync. The server checks again: this
copy may be behind.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from common.availability import OfferedSlot, next_free
from common.errors import Conflict, InvalidInput
from sync.signing import Author
from sync.store import DiaryEntry, Store

FINDER_ROUNDING = 15  # minutes: the finder offers quarter hours
FINDER_DAYS = 60


class NotFree(Conflict):
    code = "not_free"


@dataclass(frozen=True)
class BookingRequest:
    """A new appointment as the booking dialog asks for it."""

    provider_id: uuid.UUID
    provider_name: str
    patient_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    appointment_type_id: uuid.UUID | None = None


def clash(
    store: Store,
    provider_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    *,
    ignore: uuid.UUID | None = None,
) -> DiaryEntry | None:
    """An active appointment of the provider overlapping ``[starts_at, ends_at)`` in this
    desk's copy (changes not yet sent included), other than ``ignore``."""
    for entry in store.diary(starts_at, ends_at):
        if (
            entry.provider_id == provider_id
            and entry.id != ignore
            and entry.status.occupies_time
            and entry.starts_at < ends_at
            and starts_at < entry.ends_at
        ):
            return entry
    return None


def _check(
    store: Store,
    provider_id: uuid.UUID,
    provider_name: str,
    starts_at: datetime,
    ends_at: datetime,
    zone: ZoneInfo,
    ignore: uuid.UUID | None = None,
) -> None:
    if ends_at <= starts_at:
        raise InvalidInput("An appointment must end after it starts.")
    found = clash(store, provider_id, starts_at, ends_at, ignore=ignore)
    if found is not None:
        start, end = found.starts_at.astimezone(zone), found.ends_at.astimezone(zone)
        raise NotFree(
            f"{provider_name} already has {found.patient_name} {start:%H:%M}–{end:%H:%M} "
            f"on {start:%a %d %b}. Choose another time or provider."
        )


def book_checked(
    store: Store, author: Author, request: BookingRequest, zone: ZoneInfo
) -> uuid.UUID:
    _check(
        store,
        request.provider_id,
        request.provider_name,
        request.starts_at,
        request.ends_at,
        zone,
    )
    return store.book(
        author,
        provider_id=request.provider_id,
        patient_id=request.patient_id,
        starts_at=request.starts_at,
        ends_at=request.ends_at,
        appointment_type_id=request.appointment_type_id,
    )


def move_checked(
    store: Store,
    author: Author,
    appointment_id: uuid.UUID,
    *,
    provider_id: uuid.UUID,
    provider_name: str,
    starts_at: datetime,
    ends_at: datetime,
    zone: ZoneInfo,
) -> uuid.UUID:
    """A move or a resize (a different end), unless it would clash here."""
    _check(store, provider_id, provider_name, starts_at, ends_at, zone, ignore=appointment_id)
    return store.move(
        author, appointment_id, provider_id=provider_id, starts_at=starts_at, ends_at=ends_at
    )


def find_next_free(
    store: Store,
    zone: ZoneInfo,
    length: timedelta,
    provider_ids: list[uuid.UUID],
    now: datetime | None = None,
) -> OfferedSlot | None:
    """The first free ``length`` from now with any of ``provider_ids`` (spread fairly),
    from the desk's copy: working hours, exceptions, and appointments including those
    booked here and not yet sent."""
    moment = now or datetime.now(UTC)
    schedule = store.schedule()
    schedules = [s for s in schedule.schedules() if s.provider_id in provider_ids]
    if not any(s.week for s in schedules):
        raise InvalidInput(
            "No working hours are set up for these providers, so there is no free time to "
            "find. An administrator sets them under Settings → Working hours."
        )
    busy = store.busy(moment - timedelta(days=1), moment + timedelta(days=FINDER_DAYS + 1))
    return next_free(
        schedules,
        busy,
        length,
        zone=zone,
        now=moment,
        rounding=FINDER_ROUNDING,
        search_days=FINDER_DAYS,
    )
