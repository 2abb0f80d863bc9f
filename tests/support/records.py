"""Small factories for sync records, so desk tests say only what matters to them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from common.appointments import AppointmentSource, AppointmentStatus
from common.messaging import Channel, ConsentSource, DeliveryStatus, Direction, Purpose
from sync.protocol import (
    AppointmentRecord,
    AppointmentTypeRecord,
    ChangesPage,
    ConsentRecord,
    DeliverySummary,
    MessageRecord,
    PatientRecord,
    ProviderRecord,
    WorkingHoursEntry,
)
from sync.signing import Author, new_private_key


def provider(name: str = "Dr A", *, version: int = 1, colour: str = "#336699") -> ProviderRecord:
    return ProviderRecord(
        id=uuid.uuid4(), version=version, display_name=name, colour=colour, active=True
    )


def patient(first: str = "Ada", last: str = "Lovelace", *, version: int = 2) -> PatientRecord:
    return PatientRecord(
        id=uuid.uuid4(),
        version=version,
        first_name=first,
        last_name=last,
        date_of_birth=None,
        phone=None,
        email=None,
    )


def appointment(
    of: ProviderRecord,
    who: PatientRecord,
    start: datetime,
    *,
    minutes: int = 30,
    version: int = 3,
    status: AppointmentStatus = AppointmentStatus.BOOKED,
    source: AppointmentSource = AppointmentSource.DESK,
) -> AppointmentRecord:
    return AppointmentRecord(
        id=uuid.uuid4(),
        version=version,
        provider_id=of.id,
        patient_id=who.id,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        status=status,
        source=source,
    )


def page(next_cursor: str = "1.10", **parts: object) -> ChangesPage:
    fields: dict[str, object] = {
        "next_cursor": next_cursor,
        "has_more": False,
        "server_time": datetime.now(UTC),
    }
    fields.update(parts)
    return ChangesPage.model_validate(fields)


def provider_with_hours(
    name: str = "Dr A",
    *,
    colour: str = "#336699",
    weekdays: range = range(5),
    hours: tuple[str, ...] = ("09:00", "17:00"),
) -> ProviderRecord:
    """A provider working ``hours`` (pairs of local start and end times, e.g.
    ``("09:00", "12:30", "13:30", "17:00")`` for a split shift) on ``weekdays``."""
    pairs = list(zip(hours[::2], hours[1::2], strict=True))
    week = [
        WorkingHoursEntry(weekday=day, start=time.fromisoformat(a), end=time.fromisoformat(b))
        for day in weekdays
        for a, b in pairs
    ]
    return provider(name, colour=colour).model_copy(update={"working_hours": week})


def appointment_type(
    name: str = "Consultation",
    *,
    colour: str = "#7b61c9",
    minutes: int = 30,
    providers: tuple[ProviderRecord, ...] = (),
    version: int = 1,
) -> AppointmentTypeRecord:
    return AppointmentTypeRecord(
        id=uuid.uuid4(),
        version=version,
        name=name,
        colour=colour,
        duration_minutes=minutes,
        buffer_before_minutes=0,
        buffer_after_minutes=0,
        provider_ids=[p.id for p in providers],
        bookable_online=True,
        requires_confirmation=False,
        active=True,
    )


def patient_with(
    first: str, last: str, *, born: date | None = None, phone: str | None = None
) -> PatientRecord:
    return patient(first, last).model_copy(update={"date_of_birth": born, "phone": phone})


def typed(record: AppointmentRecord, kind: AppointmentTypeRecord) -> AppointmentRecord:
    return record.model_copy(update={"appointment_type_id": kind.id})


def author(staff_id: uuid.UUID | None = None) -> Author:
    """Someone making changes on a desk that never talks to a server (the key is made
    here, not registered anywhere)."""
    return Author(staff_id or uuid.uuid4(), uuid.uuid4(), new_private_key())


def message(
    who: PatientRecord | None,
    body: str,
    at: datetime,
    *,
    direction: Direction = Direction.IN,
    read_at: datetime | None = None,
    counterpart: str | None = "+447700900123",
    deliveries: tuple[tuple[Channel, DeliveryStatus, str | None], ...] = (),
    version: int = 5,
) -> MessageRecord:
    """A message as the server's feed has it: from (or to) ``who``, or from an unknown
    number when ``who`` is None."""
    return MessageRecord(
        id=uuid.uuid4(),
        version=version,
        patient_id=who.id if who else None,
        direction=direction,
        purpose=Purpose.CARE,
        kind="inbound" if direction is Direction.IN else "reply",
        channels=[d[0] for d in deliveries] or [Channel.SMS],
        body=body,
        counterpart=counterpart,
        due_at=at,
        read_at=read_at,
        deliveries=[
            DeliverySummary(channel=channel, status=status, error=error, at=at)
            for channel, status, error in deliveries
        ],
        created_at=at,
    )


def consent(
    who: PatientRecord,
    channel: Channel,
    purpose: Purpose,
    granted: bool,
    at: datetime,
    *,
    source: ConsentSource = ConsentSource.DESK,
    staff_id: uuid.UUID | None = None,
    version: int = 6,
) -> ConsentRecord:
    return ConsentRecord(
        id=uuid.uuid4(),
        version=version,
        patient_id=who.id,
        channel=channel,
        purpose=purpose,
        granted=granted,
        source=source,
        decided_at=at,
        staff_id=staff_id,
    )
