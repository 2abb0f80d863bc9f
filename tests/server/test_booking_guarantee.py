"""The booking guarantee under fire: many requests for one provider's time
at the same instant, over real connections to a real server, on SQLite and PostgreSQL.

Each round releases 50 requests together (a ``threading.Barrier``, one keep-alive httpx
client per thread) at a fresh slot. Exactly one may win; every other answer must be a
409 ``slot_taken``; nothing may be a 5xx; and the database must afterwards hold exactly
one active appointment there.

``CLINICDESK_RACE_ROUNDS`` sets the rounds: 10 by default (``make test``), 100 under
``make soak``; fewer shorten a local run. The one interleaving that matters, a booking
waiting for another's lock, is shown step by step in test_booking_interleaving.py.
"""

from __future__ import annotations

import os
import random
import sqlite3
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from common.appointments import AppointmentStatus
from server.booking_requests.models import BookingRequest, BookingRequestStatus
from server.db import transaction
from server.scheduling.models import Appointment
from sync.protocol import API_PREFIX
from tests.support.diary import ServedApp

pytestmark = pytest.mark.slow

RACERS = 50
ROUNDS = int(os.environ.get("CLINICDESK_RACE_ROUNDS", "10"))
# Rounds are two hours apart, far enough ahead that no booking rule is near.
FIRST_SLOT = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=30)
SPACING = timedelta(hours=2)

Call = Callable[[httpx.Client], httpx.Response]


class Racers:
    """``RACERS`` threads, each with its own keep-alive connection, started together."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        # One TLS context for all fifty: httpx builds one per client otherwise, loading the
        # CA bundle each time (seconds in all), for plain-HTTP loopback connections.
        tls = ssl.create_default_context()
        self.clients = [
            httpx.Client(base_url=url, headers=headers, timeout=120, verify=tls)
            for _ in range(RACERS)
        ]
        for client in self.clients:  # open the connections before the first round
            assert client.get("/healthz").status_code == 200
        self.pool = ThreadPoolExecutor(RACERS)

    def race(self, calls: list[Call]) -> list[httpx.Response]:
        assert len(calls) == RACERS
        barrier = threading.Barrier(RACERS)

        def run(client: httpx.Client, call: Call) -> httpx.Response:
            barrier.wait()
            return call(client)

        futures = [
            self.pool.submit(run, c, call) for c, call in zip(self.clients, calls, strict=True)
        ]
        return [f.result() for f in futures]

    def close(self) -> None:
        self.pool.shutdown()
        for client in self.clients:
            client.close()


@pytest.fixture
def arena(app, factory):
    """A clinic with one provider and a patient per racer, its front desk signed in once
    (argon2 is slow), and the app served on a loopback port."""
    clinic = factory.clinic("race", providers=1, patients=RACERS)
    headers = factory.staff_headers(clinic.front_desk)
    served = ServedApp(app)
    racers = Racers(served.url, headers)
    yield clinic, racers
    racers.close()
    served.stop()


@pytest.fixture
def timed(request, database_url) -> Iterator[None]:
    started = time.perf_counter()
    yield
    backend = "postgres" if database_url.startswith("postgresql") else "sqlite"
    seconds = time.perf_counter() - started
    print(f"\n{request.node.originalname} [{backend}]: {seconds:.1f} s for {ROUNDS} rounds")


def slot(n: int) -> datetime:
    return FIRST_SLOT + n * SPACING


def booking(clinic, start: datetime, end: datetime, racer: int) -> Call:
    body = {
        "provider_id": str(clinic.records.provider_ids[0]),
        "patient_id": str(clinic.records.patient_ids[racer]),
        "starts_at": start.isoformat(),
        "ends_at": end.isoformat(),
    }

    def call(client: httpx.Client) -> httpx.Response:
        return client.post(
            f"{API_PREFIX}/appointments",
            json=body,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )

    return call


def overlapping(instant: datetime, racer: int) -> tuple[datetime, datetime]:
    """50 different intervals (10 starts by 5 lengths), every one covering ``instant``."""
    start = instant - timedelta(minutes=5 * (racer % 10))
    end = instant + timedelta(minutes=5 + 5 * (racer // 10))
    return start, end


def active_around(db, clinic, instant: datetime) -> list[Appointment]:
    with db() as session:
        return list(
            session.scalars(
                select(Appointment).where(
                    Appointment.clinic_id == clinic.id,
                    Appointment.provider_id == clinic.records.provider_ids[0],
                    Appointment.status != AppointmentStatus.CANCELLED,
                    Appointment.deleted_at.is_(None),
                    Appointment.starts_at < instant + timedelta(hours=1),
                    Appointment.ends_at > instant - timedelta(hours=1),
                )
            )
        )


def judge(n: int, responses: list[httpx.Response]) -> httpx.Response:
    """Exactly one winner, every other answer a clear 409; the winner is returned."""
    statuses = sorted(r.status_code for r in responses)
    assert all(s < 500 for s in statuses), f"round {n}: {statuses}"
    winners = [r for r in responses if 200 <= r.status_code < 300]
    assert len(winners) == 1, f"round {n}: {len(winners)} accepted ({statuses})"
    for loser in responses:
        if loser is winners[0]:
            continue
        assert loser.status_code == 409, f"round {n}: {loser.status_code} {loser.text}"
        answer = loser.json()
        assert answer["code"] == "slot_taken", f"round {n}: {answer}"
        assert "already has an appointment then" in answer["message"]
    return winners[0]


@pytest.mark.soak
def test_fifty_bookings_of_one_slot(arena, db, timed):
    clinic, racers = arena
    for n in range(ROUNDS):
        start = slot(n)
        calls = [booking(clinic, start, start + timedelta(minutes=30), r) for r in range(RACERS)]
        winner = judge(n, racers.race(calls))
        [row] = active_around(db, clinic, start)
        assert str(row.id) == winner.json()["id"]
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Appointment)) == ROUNDS


@pytest.mark.soak
def test_fifty_bookings_of_overlapping_slots(arena, db, timed):
    clinic, racers = arena
    for n in range(ROUNDS):
        instant = slot(n)
        calls = [booking(clinic, *overlapping(instant, r), r) for r in range(RACERS)]
        winner = judge(n, racers.race(calls))
        [row] = active_around(db, clinic, instant)
        assert str(row.id) == winner.json()["id"]
        assert row.starts_at <= instant < row.ends_at
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Appointment)) == ROUNDS


@pytest.mark.soak
def test_confirming_fifty_overlapping_web_requests(arena, db, timed):
    clinic, racers = arena
    provider_id = clinic.records.provider_ids[0]
    with transaction(db) as session:
        rounds: list[list[uuid.UUID]] = []
        for n in range(ROUNDS):
            made = [
                BookingRequest(
                    clinic_id=clinic.id,
                    patient_id=clinic.records.patient_ids[r],
                    provider_id=provider_id,
                    starts_at=overlapping(slot(n), r)[0],
                    ends_at=overlapping(slot(n), r)[1],
                    status=BookingRequestStatus.PENDING,
                    note="",
                )
                for r in range(RACERS)
            ]
            session.add_all(made)
            session.flush()
            rounds.append([m.id for m in made])

    def confirming(request_id: uuid.UUID) -> Call:
        return lambda client: client.post(f"{API_PREFIX}/booking-requests/{request_id}/confirm")

    for n, request_ids in enumerate(rounds):
        winner = judge(n, racers.race([confirming(r) for r in request_ids]))
        [row] = active_around(db, clinic, slot(n))
        assert str(row.id) == winner.json()["appointment"]["id"]
        with db() as session:
            statuses = session.scalars(
                select(BookingRequest.status).where(BookingRequest.id.in_(request_ids))
            ).all()
        assert sorted(statuses) == [BookingRequestStatus.CONFIRMED] + [
            BookingRequestStatus.PENDING
        ] * (RACERS - 1)


@pytest.mark.soak
def test_a_reschedule_racing_bookings_into_one_slot(arena, db, timed):
    clinic, racers = arena
    provider_id = clinic.records.provider_ids[0]
    # One appointment per round to move, a month after its round's slot (clear of all).
    with transaction(db) as session:
        movable = [
            Appointment(
                clinic_id=clinic.id,
                provider_id=provider_id,
                patient_id=clinic.records.patient_ids[0],
                starts_at=slot(n) + timedelta(days=30),
                ends_at=slot(n) + timedelta(days=30, minutes=30),
                status=AppointmentStatus.BOOKED,
            )
            for n in range(ROUNDS)
        ]
        session.add_all(movable)
        session.flush()
        to_move = [(a.id, a.version, a.starts_at) for a in movable]
    shuffle = random.Random(4)
    moves_won = 0
    for n, (appointment_id, version, was_at) in enumerate(to_move):
        start, end = slot(n), slot(n) + timedelta(minutes=30)
        body = {
            "base_version": version,
            "provider_id": str(provider_id),
            "starts_at": start.isoformat(),
            "ends_at": end.isoformat(),
        }

        url = f"{API_PREFIX}/appointments/{appointment_id}/move"

        def move(
            client: httpx.Client, url: str = url, body: dict[str, object] = body
        ) -> httpx.Response:
            return client.post(url, json=body)

        calls = [booking(clinic, start, end, r) for r in range(1, RACERS)]
        calls.insert(shuffle.randrange(RACERS), move)
        winner = judge(n, racers.race(calls))
        [row] = active_around(db, clinic, start)
        assert str(row.id) == winner.json()["id"]
        moved = row.id == appointment_id
        moves_won += moved
        # A lost move leaves the appointment where it was; a won one leaves nothing there.
        assert [a.id for a in active_around(db, clinic, was_at)] == (
            [] if moved else [appointment_id]
        )
    print(f"\nthe move won {moves_won} of {ROUNDS} rounds")


@pytest.mark.soak
def test_the_same_key_sent_fifty_times_at_once_books_once(arena, db):
    clinic, racers = arena
    for n in range(max(1, ROUNDS // 5)):
        body = {
            "provider_id": str(clinic.records.provider_ids[0]),
            "patient_id": str(clinic.records.patient_ids[0]),
            "starts_at": slot(n).isoformat(),
            "ends_at": (slot(n) + timedelta(minutes=30)).isoformat(),
        }
        key = str(uuid.uuid4())

        def send(
            client: httpx.Client, body: dict[str, str] = body, key: str = key
        ) -> httpx.Response:
            return client.post(
                f"{API_PREFIX}/appointments", json=body, headers={"Idempotency-Key": key}
            )

        responses = racers.race([send] * RACERS)
        assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
        assert len({r.json()["id"] for r in responses}) == 1
        assert len(active_around(db, clinic, slot(n))) == 1


def test_the_database_itself_enforces_the_guarantee(database_url, db, factory):
    """Not only the service: on PostgreSQL an exclusion constraint refuses an overlapping
    active appointment written behind the service's back; on SQLite every transaction
    takes the write lock up front, so two overlap checks can never run side by side."""
    clinic = factory.clinic("walls", providers=2, patients=1)
    start = slot(0)
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1]
        with transaction(db) as session:
            session.execute(select(1))  # the app's connection: BEGIN IMMEDIATE
            other = sqlite3.connect(path, timeout=0.1, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
        return

    with db() as session:
        definition = session.execute(
            text(
                "SELECT contype, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conname = 'ex_appointments_no_overlap'"
            )
        ).one()
    assert definition[0] == "x"
    assert "EXCLUDE USING gist" in definition[1]

    def insert(minutes_in: int, *, provider: int = 0, status=AppointmentStatus.BOOKED) -> None:
        with transaction(db) as session:
            session.add(
                Appointment(
                    clinic_id=clinic.id,
                    provider_id=clinic.records.provider_ids[provider],
                    patient_id=clinic.records.patient_ids[0],
                    starts_at=start + timedelta(minutes=minutes_in),
                    ends_at=start + timedelta(minutes=minutes_in + 30),
                    status=status,
                )
            )

    insert(0)
    with pytest.raises(IntegrityError, match="ex_appointments_no_overlap"):
        insert(15)
    with pytest.raises(IntegrityError, match="ex_appointments_no_overlap"):
        insert(0)
    insert(30)  # touching is not overlapping: [start, end)
    insert(15, provider=1)  # another provider
    insert(15, status=AppointmentStatus.CANCELLED)  # cancelled rows hold no time
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Appointment)) == 4
