"""Scheduling set-up for server tests (working weeks, appointment types, web requests,
local times) and an app served by a real uvicorn on a loopback port, over any database."""

from __future__ import annotations

import socket
import threading
import time as clock
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from server.booking_requests.models import BookingRequest, BookingRequestStatus
from server.db import transaction
from server.scheduling.models import AppointmentType, BookingRules, Provider

LONDON = ZoneInfo("Europe/London")


def local(day: date, hour: int, minute: int = 0, zone: ZoneInfo = LONDON) -> datetime:
    """``hour:minute`` on the clinic's clock that day, as a UTC instant."""
    return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)


def days_ahead(days: int, zone: ZoneInfo = LONDON) -> date:
    return datetime.now(zone).date() + timedelta(days=days)


def working_week(
    db: sessionmaker[Session],
    provider_id: uuid.UUID,
    *,
    start: str = "09:00",
    end: str = "17:00",
    weekdays: range = range(7),
) -> None:
    """Every day of the week (by default), ``start``–``end`` local time."""
    with transaction(db) as session:
        provider = session.get(Provider, provider_id)
        assert provider is not None
        provider.working_hours = [
            {"weekday": d, "start": start, "end": end, "location_id": None} for d in weekdays
        ]


def appointment_type(
    db: sessionmaker[Session],
    clinic_id: uuid.UUID,
    *,
    name: str = "Consultation",
    minutes: int = 30,
    before: int = 0,
    after: int = 0,
    provider_ids: tuple[uuid.UUID, ...] = (),
    bookable_online: bool = True,
    active: bool = True,
) -> uuid.UUID:
    with transaction(db) as session:
        kind = AppointmentType(
            clinic_id=clinic_id,
            name=name,
            colour="#4a90d9",
            duration_minutes=minutes,
            buffer_before_minutes=before,
            buffer_after_minutes=after,
            provider_ids=[str(p) for p in provider_ids],
            bookable_online=bookable_online,
            requires_confirmation=True,
            active=active,
        )
        session.add(kind)
        session.flush()
        return kind.id


def booking_rules(db: sessionmaker[Session], clinic_id: uuid.UUID, **changes: object) -> None:
    values: dict[str, object] = {
        "horizon_days": 60,
        "min_notice_minutes": 120,
        "slot_rounding": 15,
        "allow_any_provider": True,
        "daily_cap": None,
        "patient_cancel_cutoff_hours": 24,
        "patient_reschedule_cutoff_hours": 24,
        "patients_may_cancel": True,
    } | changes
    with transaction(db) as session:
        session.add(BookingRules(clinic_id=clinic_id, **values))


def web_request(
    db: sessionmaker[Session],
    clinic_id: uuid.UUID,
    *,
    provider_id: uuid.UUID,
    patient_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
) -> uuid.UUID:
    """A pending request written straight to the database (no web rules checked)."""
    with transaction(db) as session:
        request = BookingRequest(
            clinic_id=clinic_id,
            provider_id=provider_id,
            patient_id=patient_id,
            starts_at=starts_at,
            ends_at=ends_at,
            status=BookingRequestStatus.PENDING,
            note="",
        )
        session.add(request)
        session.flush()
        return request.id


class ServedApp:
    """``app`` served by uvicorn in a thread on a random loopback port, for tests that
    need real concurrent connections (the TestClient runs one request at a time)."""

    def __init__(self, app: FastAPI) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=1,
                backlog=512,
                # Callers keep connections open between bursts (the booking races: one per
                # racer across rounds). uvicorn drops one idle for 5 s, and on a loaded
                # machine a round can leave it idle that long: the next request sent on it
                # would meet a reset connection rather than the server.
                timeout_keep_alive=300,
            )
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = clock.monotonic() + 60
        while not self._server.started:
            if clock.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            clock.sleep(0.02)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._socket.close()
