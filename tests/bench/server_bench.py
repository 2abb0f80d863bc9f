"""``make bench``: the server under load, as ``clinicdesk serve`` runs it.

Fifty clients for thirty seconds, mixing the reads a front desk makes (the diary's
providers, an appointment, a patient's file, a no-op sync pull, free time) with bookings
of free slots (and a few of one contested slot: a 409 is an answer, not an error):
requests per second, p95 and errors on SQLite (one process) and on PostgreSQL (1 and 4
workers), each beside a bare FastAPI endpoint served the same way in the same run. Then
forty clients post wrong passwords while one signed-in user keeps reading: that user's
p95.

The server is a real ``clinicdesk serve`` in processes of its own; the load comes from
one asyncio httpx client in this process. PostgreSQL runs use
``CLINICDESK_BENCH_DATABASE_URL`` (or ``CLINICDESK_TEST_DATABASE_URL``), whose ``public``
schema is dropped and rebuilt: never point it at data you want to keep.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine

from common.roles import Role
from server.auth.security import hash_token, new_token
from server.clinics.service import create_clinic
from server.db import make_sessionmaker, migrate, transaction, utcnow
from server.patients.models import Patient
from server.scheduling.models import Appointment, AppointmentType, Provider
from server.staff.models import Device, StaffSession
from server.staff.service import create_staff_user
from sync.protocol import (
    API_PREFIX,
    DEVICE_TOKEN_HEADER,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    Cursor,
)
from tests.bench.sync_bench import Row, p95
from tests.support.served import ROOT, ServeProcess, free_port
from tests.support.server_process import reset_postgres

EMAIL, PASSWORD = "load@bench.example", "bench-load-password-1"
PROVIDERS, PATIENTS = 10, 200
BOOKING_SHARE = 0.3  # of requests; the rest are reads
CONTESTED_SHARE = 0.05  # of bookings: all aimed at one slot
EXPECTED = {200, 201, 409}
# Figures measured before this bench existed, under the same load: the targets are 5x.
BEFORE_RPS = {"sqlite": 1.6, "postgres": 31.0}
LOGIN_P95_TARGET_MS = 500


@dataclass
class Clinic:
    provider_ids: list[uuid.UUID]
    patient_ids: list[uuid.UUID]
    appointment_ids: list[uuid.UUID]
    type_id: uuid.UUID
    staff_headers: list[dict[str, str]]
    device_token: str
    cursor: str  # the feed's position right after seeding: later pulls bring what changed


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int | str, int] = field(default_factory=dict)

    def note(self, status: int | str, seconds: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status in EXPECTED:
            self.latencies.append(seconds)
        else:
            self.errors += 1


def seed(database_url: str, sessions: int) -> Clinic:
    """A clinic, its staff signed in on ``sessions`` workstations (tokens written straight
    to the database: argon2 is not what this measures), some diary to read."""
    migrate(database_url)
    engine = create_engine(database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            clinic = create_clinic(
                session, slug="load", name="Load Clinic", time_zone="Europe/London"
            )
            staff = create_staff_user(
                session,
                clinic,
                email=EMAIL,
                display_name="Load",
                password=PASSWORD,
                role=Role.FRONT_DESK,
            )
            week = [
                {"weekday": d, "start": "08:00", "end": "18:00", "location_id": None}
                for d in range(7)
            ]
            providers = [
                Provider(clinic_id=clinic.id, display_name=f"Dr {n}", working_hours=week)
                for n in range(PROVIDERS)
            ]
            patients = [
                Patient(clinic_id=clinic.id, first_name=f"P{n}", last_name="Load")
                for n in range(PATIENTS)
            ]
            kind = AppointmentType(
                clinic_id=clinic.id, name="Consultation", colour="#4a90d9", duration_minutes=15
            )
            session.add_all([*providers, *patients, kind])
            session.flush()
            first = datetime.combine(utcnow().date(), datetime.min.time(), UTC)
            booked = [
                Appointment(
                    clinic_id=clinic.id,
                    provider_id=providers[n % PROVIDERS].id,
                    patient_id=patients[n].id,
                    starts_at=first + timedelta(hours=9, minutes=15 * (n // PROVIDERS)),
                    ends_at=first + timedelta(hours=9, minutes=15 * (n // PROVIDERS) + 15),
                )
                for n in range(100)
            ]
            session.add_all(booked)
            device_token = new_token()
            device = Device(
                clinic_id=clinic.id,
                name="Bench desk",
                token_hash=hash_token(device_token),
                enrolled_by_id=staff.id,
                expires_at=utcnow() + timedelta(days=30),
            )
            session.add(device)
            session.flush()
            headers = []
            for _ in range(sessions):
                token = new_token()
                session.add(
                    StaffSession(
                        clinic_id=clinic.id,
                        token_hash=hash_token(token),
                        staff_id=staff.id,
                        device_id=device.id,
                        expires_at=utcnow() + timedelta(hours=12),
                    )
                )
                headers.append({"Authorization": f"Bearer {token}"})
            session.refresh(clinic)  # the counter moved in SQL, under the ORM's feet
            return Clinic(
                cursor=str(Cursor(clinic.dataset_epoch, clinic.sync_version)),
                provider_ids=[p.id for p in providers],
                patient_ids=[p.id for p in patients],
                appointment_ids=[a.id for a in booked],
                type_id=kind.id,
                staff_headers=headers,
                device_token=device_token,
            )
    finally:
        engine.dispose()


# --- the load --------------------------------------------------------------------------


def LIMITS(clients: int) -> httpx.Limits:  # noqa: N802 - reads as the constant it stands for
    """A connection per client, dropped after 2 s idle: before uvicorn's own 5 s, so the
    client never sends on a connection the server is closing at that moment."""
    return httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0
    )


Call = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


async def hammer(url: str, clients: int, seconds: float, work: Callable[[int, int], Call]) -> Tally:
    """``clients`` callers, each sending its next request as soon as it has its answer,
    for ``seconds``; ``work(client, n)`` is the n-th request of a client."""
    tally = Tally()
    deadline = time.monotonic() + seconds
    limits = LIMITS(clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as session:

        async def caller(number: int) -> None:
            n = 0
            while time.monotonic() < deadline:
                started = time.monotonic()
                status: int | str
                try:
                    response = await work(number, n)(session)
                    status = response.status_code
                except httpx.HTTPError as error:  # counted as an error, by kind
                    status = type(error).__name__
                tally.note(status, time.monotonic() - started)
                n += 1

        await asyncio.gather(*(caller(number) for number in range(clients)))
    return tally


def desk_work(clinic: Clinic, seed_value: int = 1) -> Callable[[int, int], Call]:
    """The mixed front-desk load. Each client books its own lane of slots (a provider
    and a stretch of future days), so bookings succeed; a few aim at one shared slot."""
    rng = random.Random(seed_value)
    sync_headers = {PROTOCOL_HEADER: str(PROTOCOL_VERSION)}
    lane_start = datetime.combine(utcnow().date() + timedelta(days=30), datetime.min.time(), UTC)
    contested = lane_start - timedelta(days=5)
    day = (utcnow().date() + timedelta(days=1)).isoformat()
    cursors: dict[int, str] = {}

    def work(number: int, n: int) -> Call:
        staff = clinic.staff_headers[number % len(clinic.staff_headers)]
        choice = rng.random()
        if choice < BOOKING_SHARE:
            provider = clinic.provider_ids[number % PROVIDERS]
            if rng.random() < CONTESTED_SHARE:
                start = contested
            else:  # this client's own lane: no one else books there
                start = lane_start + timedelta(minutes=15 * (n * 8 + number // PROVIDERS))
            body = {
                "provider_id": str(provider),
                "patient_id": str(rng.choice(clinic.patient_ids)),
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(minutes=15)).isoformat(),
            }
            headers = {**staff, "Idempotency-Key": str(uuid.uuid4())}
            return lambda c: c.post(f"{API_PREFIX}/appointments", json=body, headers=headers)
        read = rng.randrange(5)
        if read == 0:
            return lambda c: c.get(f"{API_PREFIX}/providers", headers=staff)
        if read == 1:
            appointment = rng.choice(clinic.appointment_ids)
            return lambda c: c.get(f"{API_PREFIX}/appointments/{appointment}", headers=staff)
        if read == 2:
            patient = rng.choice(clinic.patient_ids)
            return lambda c: c.get(f"{API_PREFIX}/patients/{patient}", headers=staff)
        if read == 3:
            params = {"appointment_type_id": str(clinic.type_id), "first_day": day}
            params |= {"last_day": day, "for_staff": "true", "limit": "50"}
            return lambda c: c.get(f"{API_PREFIX}/availability", params=params, headers=staff)
        headers = {**staff, **sync_headers}

        async def pull(c: httpx.AsyncClient) -> httpx.Response:
            # Each client is a desk keeping its own cursor: it pulls what changed since
            # its last pull (mostly the other clients' bookings).
            cursor = cursors.get(number, clinic.cursor)
            response = await c.get(
                f"{API_PREFIX}/sync/changes", params={"cursor": cursor}, headers=headers
            )
            if response.status_code == 200:
                cursors[number] = response.json()["next_cursor"]
            return response

        return pull

    return work


def bare_work(_number: int, _n: int) -> Call:
    return lambda c: c.get("/bare")


# --- the servers -------------------------------------------------------------------------


@contextlib.contextmanager
def bare_server(work: Path, workers: int) -> Iterator[str]:
    """A FastAPI app with one plain endpoint, run by uvicorn the way ``serve`` runs ours."""
    port = free_port()
    log = (work / f"bare-{workers}.log").open("wb")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "tests.bench.bare_app:app"),
            *("--port", str(port), "--workers", str(workers), "--log-level", "warning"),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/bare", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the bare FastAPI app did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def _rate(tally: Tally, seconds: float) -> float:
    return (len(tally.latencies) + tally.errors) / seconds


def load_rows(
    label: str,
    backend: str,
    database_url: str,
    work: Path,
    *,
    workers: int,
    clients: int,
    seconds: float,
) -> list[Row]:
    """One configuration: the mixed load, the bare endpoint, then the login flood."""
    if backend == "postgres":
        reset_postgres(database_url)
    clinic = seed(database_url, sessions=clients + 1)
    rows: list[Row] = []
    with ServeProcess(database_url, work / f"{label}.log", workers=workers) as served:
        tally = asyncio.run(hammer(served.url, clients, seconds, desk_work(clinic)))
        rate = _rate(tally, seconds)
        target = BEFORE_RPS[backend] * 5
        rows.append(Row(f"{label}: requests/s", rate, "req/s", f">= {target:g}", rate >= target))
        rows.append(Row(f"{label}: p95", p95(tally.latencies) * 1000, "ms"))
        rows.append(Row(f"{label}: errors", tally.errors, "", "0", tally.errors == 0))
        flood = asyncio.run(login_flood(served.url, clinic, seconds / 2))
        rows.append(
            Row(
                f"{label}: signed-in p95, 40 wrong logins",
                p95(flood.latencies) * 1000 if flood.latencies else float("inf"),
                "ms",
                f"<= {LOGIN_P95_TARGET_MS}",
                bool(flood.latencies)
                and p95(flood.latencies) * 1000 <= LOGIN_P95_TARGET_MS
                and flood.errors == 0,
            )
        )
    with bare_server(work, workers) as bare_url:
        bare = asyncio.run(hammer(bare_url, clients, seconds, bare_work))
    rows.append(Row(f"{label}: share of a bare FastAPI endpoint", rate / _rate(bare, seconds), "x"))
    return rows


async def login_flood(url: str, clinic: Clinic, seconds: float) -> Tally:
    """Forty clients post wrong passwords while one signed-in user reads the diary: the
    user's latencies (a 401 to the flood is its expected answer; not counted)."""
    wrong = {"email": EMAIL, "password": "not-the-password"}
    device = {DEVICE_TOKEN_HEADER: clinic.device_token}
    user = clinic.staff_headers[-1]
    stop = time.monotonic() + seconds

    async def flood(client: httpx.AsyncClient) -> None:
        while time.monotonic() < stop:
            with contextlib.suppress(httpx.HTTPError):
                await client.post(f"{API_PREFIX}/sessions", json=wrong, headers=device)

    async def reader(client: httpx.AsyncClient) -> Tally:
        tally = Tally()
        await asyncio.sleep(min(1.0, seconds / 4))  # let the flood build up first
        while time.monotonic() < stop:
            started = time.monotonic()
            status: int | str
            try:
                status = (await client.get(f"{API_PREFIX}/providers", headers=user)).status_code
            except httpx.HTTPError as error:
                status = type(error).__name__
            tally.note(status, time.monotonic() - started)
        return tally

    limits = LIMITS(50)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        floods = [asyncio.create_task(flood(client)) for _ in range(40)]
        tally = await reader(client)
        await asyncio.gather(*floods)
    return tally


def postgres_url() -> str | None:
    return os.environ.get("CLINICDESK_BENCH_DATABASE_URL") or os.environ.get(
        "CLINICDESK_TEST_DATABASE_URL"
    )


def rows(work: Path, *, clients: int = 50, seconds: float = 30.0) -> list[Row]:
    """Every configuration this machine can run: PostgreSQL only when a URL is given."""
    found = load_rows(
        "server, SQLite, 1 process",
        "sqlite",
        f"sqlite:///{work / 'load.sqlite3'}",
        work,
        workers=1,
        clients=clients,
        seconds=seconds,
    )
    url = postgres_url()
    if url is None:
        print("server on PostgreSQL: skipped (set CLINICDESK_BENCH_DATABASE_URL)", file=sys.stderr)
        return found
    for workers in (1, 4):
        found += load_rows(
            f"server, PostgreSQL, {workers} worker{'s' if workers > 1 else ''}",
            "postgres",
            url,
            work,
            workers=workers,
            clients=clients,
            seconds=seconds,
        )
    return found
