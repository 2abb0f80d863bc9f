"""``make bench``: sync and store figures for a large clinic, printed as a table.

A generated clinic (20 providers, 50,000 patients, 100,000 appointments inside the desk's
window) is served by a real uvicorn on loopback; a real desk store (SQLCipher) syncs it.
Nothing here asserts: the figures and their targets are for people to read.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import keyring
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from common.appointments import AppointmentSource, AppointmentStatus
from common.roles import Role
from server.auth.context import AuthContext
from server.changefeed.service import changes_since
from server.clinics.models import Clinic
from server.clinics.service import create_clinic
from server.db import make_engine, make_sessionmaker, migrate, transaction, utcnow
from server.patients.models import Patient
from server.scheduling.models import Appointment, Provider
from server.staff.service import create_staff_user
from sync import account, keys
from sync.client import ServerClient
from sync.engine import SyncEngine
from sync.protocol import ChangesPage, Cursor
from sync.signing import Author
from sync.store import Store
from tests.support.memory_keyring import MEMORY_KEYRING, MemoryKeyring

EMAIL, PASSWORD = "bench@bench.example", "bench-password-1"
SLOT = timedelta(minutes=30)


@dataclass
class Row:
    name: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18] if len(samples) >= 20 else max(samples)


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


# --- the clinic ------------------------------------------------------------------------


def generate(session: Session, providers: int, patients: int, appointments: int) -> uuid.UUID:
    """Bulk rows with versions taken from the clinic's counter, as the hook would give."""
    clinic = create_clinic(session, slug="bench", name="Bench Clinic", time_zone="Europe/London")
    create_staff_user(
        session, clinic, email=EMAIL, display_name="Bench", password=PASSWORD, role=Role.FRONT_DESK
    )
    rng = random.Random(1)
    version = clinic.sync_version
    now = utcnow()

    def base() -> dict[str, object]:
        nonlocal version
        version += 1
        return {
            "id": uuid.uuid4(),
            "clinic_id": clinic.id,
            "version": version,
            "created_at": now,
            "modified_at": now,
        }

    provider_rows = [
        base() | {"display_name": f"Provider {n}", "colour": "#3d7dd8", "active": True}
        for n in range(providers)
    ]
    session.execute(insert(Provider), provider_rows)
    patient_rows = [
        base()
        | {
            "first_name": f"First{n}",
            "last_name": f"Last{n % 9000}",
            "date_of_birth": date(1950, 1, 1) + timedelta(days=n % 20000),
            "phone": f"+4477009{n:05d}",
            "email": f"p{n}@example.com",
        }
        for n in range(patients)
    ]
    for chunk in range(0, len(patient_rows), 10_000):
        session.execute(insert(Patient), patient_rows[chunk : chunk + 10_000])
    # Every provider, every day of the window, half-hour slots from 08:00 (UTC) until full.
    first_day = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0) - timedelta(
        days=30
    )
    per_day = 24
    made: list[dict[str, object]] = []
    for n in range(appointments):
        day, rest = divmod(n, providers * per_day)
        provider, slot = divmod(rest, per_day)
        start = first_day + timedelta(days=day) + slot * SLOT
        made.append(
            base()
            | {
                "provider_id": provider_rows[provider]["id"],
                "patient_id": patient_rows[rng.randrange(patients)]["id"],
                "starts_at": start,
                "ends_at": start + SLOT,
                "status": AppointmentStatus.BOOKED,
                "source": AppointmentSource.DESK,
            }
        )
    for chunk in range(0, len(made), 10_000):
        session.execute(insert(Appointment), made[chunk : chunk + 10_000])
    session.execute(update(Clinic).where(Clinic.id == clinic.id).values(sync_version=version))
    return clinic.id


class CountingTransport(httpx.BaseTransport):
    """Counts the bytes that actually cross the wire (compressed, before decoding)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.bytes = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        counter = self

        class Counted(httpx.SyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                for chunk in response.stream:  # type: ignore[union-attr]
                    counter.bytes += len(chunk)
                    yield chunk

            def close(self) -> None:
                response.close()

        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=Counted(),
            extensions=response.extensions,
            request=request,
        )


# --- the run -----------------------------------------------------------------------------


def store_workload(store: Store, pages: list[ChangesPage], author: Author) -> dict[str, float]:
    """What a desk does with its store: apply a first download, read diary days, book."""
    applying = timed(lambda: [store.apply_page(p, synced_at=utcnow()) for p in pages])
    providers = store.providers()
    patient_id = uuid.UUID(str(pages[0].patients[0].id)) if pages[0].patients else uuid.uuid4()
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    diary = [
        timed(lambda d=d: store.diary(today + timedelta(days=d), today + timedelta(days=d + 1)))
        for d in range(-30, 170)
    ]
    booking = []
    for n in range(300):
        start = today + timedelta(days=n % 150, hours=21, minutes=(n // 150) * 30)
        booking.append(
            timed(
                lambda s=start, i=n: store.book(
                    author,
                    provider_id=providers[i % len(providers)].id,
                    patient_id=patient_id,
                    starts_at=s,
                    ends_at=s + SLOT,
                )
            )
        )
    return {
        "apply": applying,
        "diary_p95": p95(diary),
        "book_p95": p95(booking),
        "total": applying + sum(diary) + sum(booking),
    }


class ServerProcess:
    """``clinicdesk serve`` in a process of its own, as in production: the desk and the
    server do not share an interpreter (or its lock) while they are being measured."""

    def __init__(self, database: Path) -> None:
        self.database_url = f"sqlite:///{database}"
        migrate(self.database_url)
        self.sessionmaker = make_sessionmaker(make_engine(self.database_url))
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        env = os.environ | {"CLINICDESK_DATABASE_URL": self.database_url}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def close(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)


FULL_SIZE = {"providers": 20, "patients": 50_000, "appointments": 100_000}


def run(work: Path, size: dict[str, int] = FULL_SIZE) -> list[Row]:
    keys.TRUSTED_BACKENDS.add(MEMORY_KEYRING)
    keyring.set_keyring(MemoryKeyring())
    server = ServerProcess(work / "server.sqlite3")
    with transaction(server.sessionmaker) as session:
        clinic_id = generate(session, **size)
    server.start()
    rows: list[Row] = []
    try:
        desk = account.sign_in(work / "desk", server.url, "bench", EMAIL, PASSWORD)
        counting = CountingTransport()
        client = ServerClient(server.url, device_token=desk.device_token, transport=counting)
        engine = SyncEngine(desk.store, client, page_size=5000)
        pages: list[ChangesPage] = []
        original = client.changes

        def keep(
            cursor: Cursor,
            limit: int | None = None,
            window: tuple[datetime, datetime] | None = None,
        ) -> ChangesPage:
            page = original(cursor, limit, window)
            pages.append(page)
            return page

        client.changes = keep  # type: ignore[method-assign]
        engine.pull()  # fills ``pages`` for the store workload below
        client.changes = original  # type: ignore[method-assign]
        rows_synced = sum(p.row_count for p in pages)
        rows.append(Row("first sync: rows", rows_synced, "rows"))
        rows += _first_sync_rows(server, work, rows_synced)

        # No-op sync: the server's own time, and the round trip.
        cursor = desk.store.cursor()
        ctx = AuthContext(clinic_id=clinic_id, device_id=None, staff_id=None, role=None)
        server_side, round_trip = [], []
        for _ in range(50):
            with server.sessionmaker() as session, session.begin():
                server_side.append(timed(lambda s=session: changes_since(s, ctx, cursor, 1000)))
            round_trip.append(timed(lambda: client.changes(cursor)))
        rows.append(Row("no-op sync, server time p50", statistics.median(server_side) * 1000, "ms"))
        rows.append(
            Row(
                "no-op sync, round trip p50",
                statistics.median(round_trip) * 1000,
                "ms",
                "≤ 20 ms",
                statistics.median(round_trip) <= 0.020,
            )
        )
        rows.append(Row("no-op sync, round trip p95", p95(round_trip) * 1000, "ms"))

        # 500 rows changed on the server, then one pull.
        with transaction(server.sessionmaker) as session:
            for row in session.scalars(select(Appointment).limit(500)):
                row.status = AppointmentStatus.CONFIRMED
        changed = timed(engine.pull)
        rows.append(Row("sync 500 changed rows", changed * 1000, "ms", "≤ 500 ms", changed <= 0.5))

        # The same store workload, encrypted and plain.
        plain = Store.open_unencrypted_for_benchmark(work / "plain.db")
        cipher = Store.open(work / "cipher.db", secrets.token_bytes(32))
        on_plain = store_workload(plain, pages, desk.author)
        on_cipher = store_workload(cipher, pages, desk.author)
        rows.append(
            Row(
                "local booking + outbox p95",
                on_cipher["book_p95"] * 1000,
                "ms",
                "≤ 20 ms",
                on_cipher["book_p95"] <= 0.020,
            )
        )
        rows.append(Row("diary day-view query p95", on_cipher["diary_p95"] * 1000, "ms"))
        ratio = on_cipher["total"] / on_plain["total"]
        rows.append(Row("store workload, plain SQLite", on_plain["total"], "s"))
        rows.append(Row("store workload, SQLCipher", on_cipher["total"], "s"))
        rows.append(Row("SQLCipher / plain SQLite", ratio, "×", "≤ 1.5×", ratio <= 1.5))
        for store in (plain, cipher, desk.store):
            store.close()
        client.close()
    finally:
        server.close()
    return rows


def _first_sync_rows(server: ServerProcess, work: Path, expected: int) -> list[Row]:
    """Time a fresh desk's first download on its own (the run above also warmed caches)."""
    fresh = account.sign_in(work / "fresh", server.url, "bench", EMAIL, PASSWORD)
    wire = CountingTransport()
    client = ServerClient(server.url, device_token=fresh.device_token, transport=wire)
    seconds = timed(SyncEngine(fresh.store, client, page_size=5000).pull)
    client.close()
    fresh.store.close()
    return [
        Row("first sync: time", seconds, "s", "≤ 10 s", seconds <= 10),
        Row("first sync: rows/s", expected / seconds, "rows/s"),
        Row("first sync: bytes per row on the wire", wire.bytes / expected, "B"),
    ]


def print_table(rows: list[Row]) -> None:
    width = max(len(r.name) for r in rows)
    print(f"{'measure':<{width}}  {'value':>12}  unit    target    met")
    print("-" * (width + 40))
    for r in rows:
        met = "" if r.ok is None else ("yes" if r.ok else "NO")
        print(f"{r.name:<{width}}  {r.value:>12,.2f}  {r.unit:<6}  {r.target:<8}  {met}")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        print_table(run(Path(folder)))


if __name__ == "__main__":
    main()
