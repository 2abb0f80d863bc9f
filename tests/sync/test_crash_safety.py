"""Crash safety of the desk's outbox and sync (docs/architecture.md).

Each trial forks a desk process that makes seeded random changes (book, move, cancel,
check in, no-show, contact edits) interleaved with syncs, and dies on the spot: with
``os._exit`` at a named crash point — inside the local write (both rows written, not
committed), after the server committed a push but before the desk read the reply, or
half-way through applying a pull page — or with SIGKILL at a random moment. The test then
reopens the store, checks ``PRAGMA integrity_check``, syncs until nothing is pending and
checks that no change was lost, none was applied twice, nothing uncommitted leaked, and
the desk's copy equals the server's.

The server runs in its own process and the test process stays single-threaded, so
forking is safe; one server and one store serve every trial.

``CLINICDESK_CRASH_TRIALS`` sets the number of trials and ``CLINICDESK_CRASH_SEED`` the
seed. ``make test`` runs 40: the three named points take turns, so each kills the desk
about a dozen times (with pull pages of 2, 5 and 1,000 rows), and about one trial in
eight is a SIGKILL; at least 80 % of trials must really crash, and every point must.
``make soak`` runs 400. PostgreSQL too when ``CLINICDESK_TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import NoReturn

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import server.models  # noqa: F401  - the version stamping hook, for the web side's writes
from common.appointments import AppointmentSource, AppointmentStatus
from common.errors import SlotTaken
from common.roles import Role
from server.auth.context import AuthContext
from server.auth.security import hash_token
from server.changefeed.service import FEED
from server.clinics.models import Clinic
from server.db import make_engine, make_sessionmaker, transaction
from server.demo import DEMO_SLUG
from server.mutations.models import AppliedMutation
from server.patients.models import Patient
from server.scheduling import service as scheduling
from server.scheduling.models import Appointment, Provider
from server.staff.models import Device
from sync import account, crash, keys
from sync.client import ServerClient
from sync.engine import SyncEngine
from sync.protocol import Cursor
from sync.schema import CACHED_TABLES, appointments, outbox
from sync.signing import Author
from sync.store import Store
from tests.support.desk_child import (
    EMAIL,
    MOVABLE,
    PASSWORD,
    ZONE,
    Change,
    Slot,
    clinic_time,
    desk_snapshot,
    differences,
    patient_ids,
    pending_marks,
    provider_ids,
    random_change,
    seeded_uuid4,
    server_snapshot,
)
from tests.support.live_server import DemoTemplates
from tests.support.postgres import postgres_url
from tests.support.server_process import ServerProcess, reset_postgres

pytestmark = pytest.mark.slow

TRIALS = int(os.environ.get("CLINICDESK_CRASH_TRIALS", "40"))
SEED = os.environ.get("CLINICDESK_CRASH_SEED", "clinicdesk-crash-1")
POINTS = ("local_write", "after_push_response", "mid_pull_page")
KILL_SHARE = 0.12  # trials killed with SIGKILL at a random moment instead
CHILD_TIMEOUT = 60.0
EVENING_DAYS = 30  # bookings go to 18:00–22:00 on the next 30 days: the demo closes at 17:00


def _backends() -> list[object]:
    backends: list[object] = [pytest.param("sqlite", id="sqlite")]
    if postgres_url():
        backends.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))
    return backends


@dataclass
class Backend:
    server: ServerProcess
    db: sessionmaker[Session]
    clinic_id: uuid.UUID


@pytest.fixture(scope="module", params=_backends())
def backend(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    demo_templates: DemoTemplates,
) -> Iterator[Backend]:
    """The demo clinic served by a uvicorn *process*, and sessions on its database (on
    SQLite a copy of the session's seeded demo, which the process finds and keeps)."""
    folder = tmp_path_factory.mktemp(f"crash-server-{request.param}")
    if request.param == "sqlite":
        demo_templates.copy_to(folder / "server.sqlite3")
        url = f"sqlite:///{folder / 'server.sqlite3'}"
    else:
        url = postgres_url()
        reset_postgres(url)
    server = ServerProcess(url, folder / "server.log")
    engine = make_engine(url)
    try:
        db = make_sessionmaker(engine)
        with db() as session:
            clinic_id = session.scalars(select(Clinic.id).where(Clinic.slug == DEMO_SLUG)).one()
        yield Backend(server, db, clinic_id)
    finally:
        engine.dispose()
        server.close()


# --- the desk ------------------------------------------------------------------------------


@dataclass
class Enrolled:
    """A desk installation enrolled with the server; the store itself is closed."""

    path: Path
    key: bytes
    token: str
    author: Author
    device_id: uuid.UUID


def enroll(backend: Backend, folder: Path) -> Enrolled:
    desk = account.sign_in(folder, backend.server.url, DEMO_SLUG, EMAIL, PASSWORD)
    path = desk.store.path
    assert desk.device_token is not None
    desk.store.close()
    with backend.db() as session:
        device_id = session.scalars(
            select(Device.id).where(Device.token_hash == hash_token(desk.device_token))
        ).one()
    return Enrolled(path, keys.store_key(path), desk.device_token, desk.author, device_id)


def evening_slot(providers: list[uuid.UUID]) -> Callable[[random.Random], Slot]:
    today = datetime.now(ZONE).date()

    def pick(rng: random.Random) -> Slot:
        day = today + timedelta(days=rng.randint(1, EVENING_DAYS))
        start = clinic_time(day, 18, 30 * rng.randint(0, 6))
        return rng.choice(providers), start, start + timedelta(minutes=rng.choice((30, 60)))

    return pick


def in_the_evening(moment: datetime) -> bool:
    local = moment.astimezone(ZONE)
    return local.hour >= 18 and local.date() > datetime.now(ZONE).date()


class CursorLog(httpx.BaseTransport):
    """Real HTTP, noting the cursor of every change-feed request before it is sent."""

    def __init__(self, note: Callable[[str], None]) -> None:
        self._inner = httpx.HTTPTransport()
        self._note = note

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/sync/changes"):
            self._note(request.url.params.get("cursor", ""))
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class WebSide:
    """Changes from the web between trials (the widget books, staff in a browser cancel
    and move), straight through the server's scheduling service, so the desk's pulls carry
    other people's changes, not only its own, and its changes meet conflicts."""

    def __init__(self, backend: Backend, staff_id: uuid.UUID) -> None:
        self.db = backend.db
        self.clinic_id = backend.clinic_id
        self.ctx = AuthContext(
            clinic_id=backend.clinic_id, device_id=None, staff_id=staff_id, role=Role.FRONT_DESK
        )
        with backend.db() as session:
            self.patients = list(
                session.scalars(
                    select(Patient.id)
                    .where(Patient.clinic_id == self.clinic_id)
                    .order_by(Patient.last_name, Patient.first_name, Patient.date_of_birth)
                )
            )
            self.providers = list(
                session.scalars(
                    select(Provider.id)
                    .where(Provider.clinic_id == self.clinic_id)
                    .order_by(Provider.display_name)
                )
            )

    def act(self, rng: random.Random, ledger: Ledger) -> None:
        slot = evening_slot(self.providers)
        for _ in range(rng.randint(0, 3)):
            kind = rng.choice(("book", "book", "cancel", "move"))
            provider, start, end = slot(rng)
            try:
                with transaction(self.db) as session:
                    done = self._change(session, rng, kind, (provider, start, end))
            except SlotTaken:
                ledger.outcomes["web slot taken"] += 1
                continue
            if done:
                ledger.outcomes[f"web {kind}"] += 1
                ledger.web_bookings += kind == "book"

    def _change(self, session: Session, rng: random.Random, kind: str, slot: Slot) -> bool:
        provider, start, end = slot
        if kind == "book":
            scheduling.book(
                session,
                self.ctx,
                appointment_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                provider_id=provider,
                patient_id=rng.choice(self.patients),
                starts_at=start,
                ends_at=end,
                source=AppointmentSource.WIDGET,
            )
            return True
        targets = [
            a
            for a in session.scalars(
                select(Appointment)
                .where(
                    Appointment.clinic_id == self.clinic_id,
                    Appointment.status.in_(MOVABLE),
                )
                .order_by(Appointment.starts_at, Appointment.id)
            )
            if in_the_evening(a.starts_at)
        ]
        if not targets:
            return False
        target = rng.choice(targets)
        if kind == "cancel":
            scheduling.set_status(
                session,
                self.ctx,
                appointment_id=target.id,
                base_version=target.version,
                status=AppointmentStatus.CANCELLED,
            )
        else:
            scheduling.move(
                session,
                self.ctx,
                appointment_id=target.id,
                base_version=target.version,
                provider_id=provider,
                starts_at=start,
                ends_at=end,
            )
        return True


# --- trials ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One trial: the desk's steps, and where it dies (``point`` None: SIGKILL after
    ``kill_after`` seconds)."""

    trial: int
    steps: tuple[str, ...]
    point: str | None
    after: int
    page_size: int
    kill_after: float = 0.0


def passes(steps: tuple[str, ...]) -> dict[str, int]:
    """How often each crash point is passed, at least, when the steps run to the end."""
    syncs_with_changes = pending = 0
    for step in steps:
        if step == "local":
            pending += 1
        else:
            syncs_with_changes += pending > 0
            pending = 0
    return {
        "local_write": steps.count("local"),
        "after_push_response": syncs_with_changes,  # one push batch holds every change
        "mid_pull_page": steps.count("sync"),  # every pull applies at least one page
    }


def plan(trial: int) -> Plan:
    rng = random.Random(f"{SEED}:plan:{trial}")
    page_size = rng.choice((2, 5, 1000))
    if rng.random() < KILL_SHARE:
        steps = tuple(rng.choice(("local", "local", "sync")) for _ in range(80))
        return Plan(trial, steps, None, 0, page_size, kill_after=rng.uniform(0.02, 0.5))
    middle = [rng.choice(("local", "local", "sync")) for _ in range(rng.randint(1, 9))]
    steps = ("local", *middle, "sync")
    counts = passes(steps)
    point = POINTS[trial % len(POINTS)]  # every point equally often
    return Plan(trial, steps, point, rng.randint(1, counts[point]), page_size)


def run_child(desk: Enrolled, url: str, plan_: Plan, log_path: Path, error_path: Path) -> NoReturn:
    """The forked desk: never returns, never runs pytest's teardown."""
    code = 1
    try:
        uuid.uuid4 = seeded_uuid4(random.Random(f"{SEED}:ids:{plan_.trial}"))
        if plan_.point is not None:
            crash.arm(plan_.point, after=plan_.after)
        store = Store.open(desk.path, desk.key)
        engine = SyncEngine(
            store, ServerClient(url, device_token=desk.token), page_size=plan_.page_size
        )
        rng = random.Random(f"{SEED}:desk:{plan_.trial}")
        slot = evening_slot(provider_ids(store))
        patients_ = patient_ids(store)
        with log_path.open("a") as log:
            for step in plan_.steps:
                if step == "sync":
                    engine.sync()
                    continue
                change = random_change(
                    store, desk.author, rng, slot=slot, within=in_the_evening, patients_=patients_
                )
                # Only now, after the commit: a change in the log was committed.
                log.write(f"{change.kind} {change.mutation_id} {change.appointment_id}\n")
                log.flush()
        code = 0
    except BaseException:
        with contextlib.suppress(BaseException):
            error_path.write_text(traceback.format_exc())
    finally:
        os._exit(code)


def fork_desk(
    desk: Enrolled, url: str, plan_: Plan, log_path: Path, error_path: Path
) -> tuple[int, str]:
    """Fork a desk child for ``plan_``; returns its exit code and its traceback if any."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        run_child(desk, url, plan_, log_path, error_path)
    if plan_.point is None:
        time.sleep(plan_.kill_after)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + CHILD_TIMEOUT
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"trial {plan_.trial}: the desk child hung")
        time.sleep(0.002)
    error = error_path.read_text() if error_path.exists() else ""
    return os.waitstatus_to_exitcode(status), error


def read_log(path: Path) -> list[Change]:
    if not path.exists():
        return []
    changes = []
    for line in path.read_text().splitlines():
        kind, mutation_id, appointment_id = line.split()
        changes.append(
            Change(
                kind,
                uuid.UUID(mutation_id),
                None if appointment_id == "None" else uuid.UUID(appointment_id),
            )
        )
    return changes


@dataclass
class Ledger:
    """Every change the desk committed, across all trials, and what happened to them."""

    changes: dict[uuid.UUID, Change] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    unlogged: int = 0
    web_bookings: int = 0

    def add(self, change: Change) -> None:
        assert change.mutation_id not in self.changes, "a mutation id was logged twice"
        self.changes[change.mutation_id] = change


def outbox_entries(store: Store) -> dict[uuid.UUID, tuple[str, str, str]]:
    with store.engine.connect() as conn:
        return {
            uuid.UUID(r.mutation_id): (r.state, r.kind, r.command)
            for r in conn.execute(
                select(outbox.c.mutation_id, outbox.c.state, outbox.c.kind, outbox.c.command)
            )
        }


def check_pending_marks(store: Store) -> None:
    """Right after a crash: a row is marked pending exactly when a pending outbox entry
    changes it (a crash inside the local write leaves neither the row nor the entry)."""
    entries = outbox_entries(store)
    targets = set()
    for state, _kind, command in entries.values():
        if state == "pending":
            parsed = json.loads(command)
            targets.add(parsed.get("appointment_id"))
    with store.engine.connect() as conn:
        marked = {
            r.id for r in conn.execute(select(appointments.c.id).where(appointments.c.pending != 0))
        }
        cached = {r.id for r in conn.execute(select(appointments.c.id))}
    assert marked == targets & cached, "pending marks and pending outbox entries disagree"


def sync_until_quiet(store: Store, desk: Enrolled, url: str) -> None:
    client = ServerClient(url, device_token=desk.token)
    try:
        engine = SyncEngine(store, client)
        for _ in range(5):
            engine.sync()
            if store.outbox_counts()["pending"] == 0:
                return
        pytest.fail(f"the outbox never emptied: {store.outbox_counts()}")
    finally:
        client.close()


def check_everything(
    backend: Backend, desk: Enrolled, store: Store, ledger: Ledger, demo: int
) -> None:
    """Zero lost, zero duplicated, nothing uncommitted leaked; the desk equals the server."""
    with backend.db() as session:
        answered = {
            row.mutation_id: row.status
            for row in session.execute(
                select(AppliedMutation.mutation_id, AppliedMutation.status).where(
                    AppliedMutation.device_id == desk.device_id
                )
            )
        }
        on_server = set(
            session.scalars(
                select(Appointment.id).where(Appointment.clinic_id == backend.clinic_id)
            )
        )
        appointment_count = session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.clinic_id == backend.clinic_id)
        )
    entries = outbox_entries(store)
    attention = {a.mutation_id for a in store.needs_attention()}
    assert store.outbox_counts()["pending"] == 0

    # Every committed change reached the server exactly once (the claim is unique per
    # device), and nothing the desk did not commit ever did.
    lost = set(ledger.changes) - set(answered)
    leaked = set(answered) - set(ledger.changes)
    assert not lost, f"{len(lost)} committed changes never reached the server: {sorted(lost)[:3]}"
    assert not leaked, f"{len(leaked)} changes the desk never committed were applied"
    assert set(answered.values()) <= {"applied", "rejected"}
    # Acknowledged (applied, and gone from the outbox) or waiting in "Needs attention".
    rejected = {m for m, status in answered.items() if status == "rejected"}
    assert attention == rejected
    assert set(entries) == attention

    # No booking applied twice, none phantom: the server holds the demo's appointments
    # plus exactly one per applied booking, and no rejected booking's appointment.
    booked = [c for c in ledger.changes.values() if c.kind == "book"]
    applied_bookings = {c.appointment_id for c in booked if answered[c.mutation_id] == "applied"}
    refused_bookings = {c.appointment_id for c in booked if answered[c.mutation_id] == "rejected"}
    assert len(applied_bookings) + len(refused_bookings) == len(booked)
    assert applied_bookings <= on_server
    assert not refused_bookings & on_server
    assert appointment_count == demo + len(applied_bookings) + ledger.web_bookings

    # The desk's copy is the server's, with nothing left marked as pending.
    gaps = differences(desk_snapshot(store), server_snapshot(backend.db, backend.clinic_id))
    assert not gaps, "the desk differs from the server:\n" + "\n".join(gaps)
    assert pending_marks(store) == 0


@pytest.mark.soak
def test_crashes_at_every_named_point_lose_and_double_nothing(
    backend: Backend, tmp_path: Path
) -> None:
    desk = enroll(backend, tmp_path / "desk")
    url = backend.server.url
    store = Store.open(desk.path, desk.key)
    sync_until_quiet(store, desk, url)
    with backend.db() as session:
        demo = session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.clinic_id == backend.clinic_id)
        )
    assert demo
    store.close()

    ledger = Ledger()
    web = WebSide(backend, desk.author.staff_id)
    started = time.monotonic()
    for trial in range(TRIALS):
        plan_ = plan(trial)
        web.act(random.Random(f"{SEED}:web:{trial}"), ledger)
        log_path, error_path = tmp_path / f"trial-{trial}.log", tmp_path / f"trial-{trial}.err"
        code, error = fork_desk(desk, url, plan_, log_path, error_path)
        where = plan_.point or "sigkill"
        if code == crash.CRASH_EXIT_CODE or code == -signal.SIGKILL:
            ledger.outcomes[f"crashed {where}"] += 1
        elif code == 0:
            ledger.outcomes[f"finished {where}"] += 1
        else:
            pytest.fail(f"trial {trial} ({plan_}): the desk child failed ({code}):\n{error}")
        for change in read_log(log_path):
            ledger.add(change)

        store = Store.open(desk.path, desk.key)
        try:
            assert store.integrity_check() == "ok", f"trial {trial}: the store is damaged"
            # A change committed just before a SIGKILL may have missed the log; nothing
            # else may be in the outbox that the log does not know.
            unknown = set(outbox_entries(store)) - set(ledger.changes)
            assert len(unknown) <= (1 if plan_.point is None else 0), (
                f"{len(unknown)} outbox entries the desk never saw committed: a change "
                "outlived a crash inside its own local write"
            )
            for mutation_id in unknown:
                _state, kind, command = outbox_entries(store)[mutation_id]
                target = json.loads(command).get("appointment_id")
                ledger.add(Change(kind, mutation_id, uuid.UUID(target) if target else None))
                ledger.unlogged += 1
            check_pending_marks(store)
            sync_until_quiet(store, desk, url)
            check_everything(backend, desk, store, ledger, demo)
        except AssertionError as failure:
            raise AssertionError(f"trial {trial} ({plan_}): {failure}") from failure
        finally:
            store.close()

    elapsed = time.monotonic() - started
    print(
        f"\n{TRIALS} crash trials in {elapsed:.1f}s: {dict(sorted(ledger.outcomes.items()))}; "
        f"{len(ledger.changes)} changes ({ledger.unlogged} committed but unlogged at a SIGKILL), "
        f"{sum(1 for c in ledger.changes.values() if c.kind == 'book')} bookings"
    )
    crashed = sum(n for outcome, n in ledger.outcomes.items() if outcome.startswith("crashed"))
    assert crashed >= 0.8 * TRIALS, f"too few trials actually crashed: {ledger.outcomes}"
    for point in POINTS:
        assert ledger.outcomes[f"crashed {point}"] > 0 or len(POINTS) > TRIALS


PULL_PAGE = 100


def test_a_fresh_store_killed_mid_pull_page_resumes_from_its_stored_cursor(
    backend: Backend, tmp_path: Path
) -> None:
    rng = random.Random(f"{SEED}:first-sync")
    with backend.db() as session:
        rows = sum(
            session.scalar(
                select(func.count()).select_from(model).where(model.clinic_id == backend.clinic_id)
            )
            or 0
            for model, _record in FEED.values()  # every synced table, settings too
        )
    pages = math.ceil(rows / PULL_PAGE)
    assert pages >= 4
    for attempt in range(3):
        desk = enroll(backend, tmp_path / f"desk-{attempt}")
        crash_page = rng.randint(2, pages - 1)
        cursors = tmp_path / f"cursors-{attempt}.txt"
        error_path = tmp_path / f"child-{attempt}.err"

        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                crash.arm("mid_pull_page", after=crash_page)
                store = Store.open(desk.path, desk.key)
                with cursors.open("a") as noted:

                    def note(cursor: str, noted=noted) -> None:
                        noted.write(cursor + "\n")
                        noted.flush()

                    client = ServerClient(
                        backend.server.url, device_token=desk.token, transport=CursorLog(note)
                    )
                    SyncEngine(store, client, page_size=PULL_PAGE).pull()
                code = 0
            except BaseException:
                with contextlib.suppress(BaseException):
                    error_path.write_text(traceback.format_exc())
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        error = error_path.read_text() if error_path.exists() else ""
        assert os.waitstatus_to_exitcode(status) == crash.CRASH_EXIT_CODE, error

        requested = cursors.read_text().split()
        # The desk fetches the next page while it writes one, so it may have asked for
        # one page beyond the one it died writing.
        assert len(requested) in (crash_page, crash_page + 1)
        store = Store.open(desk.path, desk.key)
        try:
            assert store.integrity_check() == "ok"
            stored = store.cursor()
            # Pages 1 … crash_page − 1 were applied with their cursors; the page being
            # applied when the desk died was rolled back with its cursor.
            assert str(stored) == requested[crash_page - 1]
            assert stored != Cursor.start()
            cached = sum(store.count(entity) for entity in CACHED_TABLES)
            assert cached == (crash_page - 1) * PULL_PAGE

            resumed: list[str] = []
            client = ServerClient(
                backend.server.url, device_token=desk.token, transport=CursorLog(resumed.append)
            )
            try:
                report = SyncEngine(store, client, page_size=PULL_PAGE).pull()
            finally:
                client.close()
            assert resumed[0] == str(stored), "the desk did not resume from its stored cursor"
            assert report.pages == pages - crash_page + 1
            server = server_snapshot(backend.db, backend.clinic_id)
            gaps = differences(desk_snapshot(store), server)
            assert not gaps, "\n".join(gaps)
            for entity, rows_ in server.items():
                assert store.count(entity) == len(rows_)
        finally:
            store.close()
