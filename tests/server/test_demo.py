"""The demo clinic is something a receptionist can work with: numbers the patient form
accepts, alerts on some of today's patients, web requests waiting to be decided."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from common.booking_requests import BookingRequestStatus
from common.patients import normalise_phone
from server.booking_requests.models import BookingRequest
from server.db import transaction
from server.demo import DEMO_COUNTRY, DEMO_TIME_ZONE, seed_demo
from server.patients.models import Patient
from server.scheduling.models import Appointment

TODAY = datetime(2031, 3, 4, tzinfo=UTC).date()  # a Tuesday


def test_the_demo_gives_reception_valid_numbers_alerts_and_requests(db: Any) -> None:
    with transaction(db) as session:
        clinic, created = seed_demo(session, today=TODAY)
        assert created
        patients = session.scalars(select(Patient)).all()
        # Retyping a demo patient's own number in the patient form must be accepted.
        assert all(normalise_phone(p.phone, DEMO_COUNTRY) == p.phone for p in patients)

        alerted = {p.id for p in patients if p.alerts}
        assert len(alerted) == 3
        zone = ZoneInfo(DEMO_TIME_ZONE)
        todays = session.scalars(select(Appointment)).all()
        seen_today = {a.patient_id for a in todays if a.starts_at.astimezone(zone).date() == TODAY}
        assert alerted <= seen_today  # the hover card shows them on the day the demo opens

        requests = session.scalars(select(BookingRequest)).all()
        assert len(requests) == 3
        opens = datetime.combine(TODAY, time(8, 0), tzinfo=zone)
        assert all(r.status is BookingRequestStatus.PENDING for r in requests)
        assert all(r.starts_at > opens for r in requests)
        assert all(r.clinic_id == clinic.id for r in requests)
