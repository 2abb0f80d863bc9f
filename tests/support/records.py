"""Small factories for sync records, so desk tests say only what matters to them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from common.appointments import AppointmentSource, AppointmentStatus
from sync.protocol import AppointmentRecord, ChangesPage, PatientRecord, ProviderRecord


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
