"""The one transaction style: reads never take SQLite's write lock, writes queue in
process, a change inside a read is refused, and with as many threads as connections many
concurrent bookings and reads are all answered (no 500, no "database is locked")."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import timedelta

import anyio.to_thread
import httpx
import pytest
from sqlalchemy import func, select

from common.roles import Role
from server.app import create_app
from server.audit.models import AuditEvent
from server.db import Database, ReadOnlyTransaction, ServerBusy, make_engine
from server.patients.models import Patient
from server.scheduling.models import Appointment, Provider
from sync.protocol import API_PREFIX
from tests.support.diary import ServedApp, days_ahead, local, working_week

PROVIDERS = f"{API_PREFIX}/providers"
APPOINTMENTS = f"{API_PREFIX}/appointments"


@pytest.fixture
def clinic(factory):
    return factory.clinic("ash", roles=(Role.FRONT_DESK,), providers=2, patients=3)


@pytest.fixture
def desk(factory, clinic):
    return factory.staff_headers(clinic.front_desk)


def test_a_read_is_answered_while_another_transaction_holds_the_write_lock(
    app, client, clinic, desk
):
    """Holding a write transaction open (on SQLite: the file's one write lock) must not
    stop a plain read: if reads took the lock, this request would wait for a transaction
    that ends only after it, and fail with "database is locked"."""
    database: Database = app.state.database
    with database.writing() as session:
        provider = session.get(Provider, clinic.records.provider_ids[0])
        assert provider is not None
        provider.display_name = "Dr Held"
        session.flush()
        response = client.get(PROVIDERS, headers=desk)

    assert response.status_code == 200, response.text
    # The read saw the last committed state, not the uncommitted change.
    assert "Dr Held" not in response.text
    assert len(response.json()) == 2


def test_a_change_flushed_inside_a_read_is_refused_and_not_written(app, clinic):
    database: Database = app.state.database

    def change_inside_a_read() -> None:
        with database.reading() as session:
            patient = session.get(Patient, clinic.records.patient_ids[0])
            assert patient is not None
            patient.phone = "+44 20 7946 0000"
            session.flush()

    with pytest.raises(ReadOnlyTransaction):
        change_inside_a_read()

    with database.reading() as session:
        patient = session.get(Patient, clinic.records.patient_ids[0])
        assert patient is not None
        assert patient.phone is None


def test_writers_of_one_process_queue_and_each_counts(app, clinic):
    """Sixteen threads each read-modify-write one row: every increment survives, and none
    fails half-way with "database is locked" (SQLite) or a lost update (the row lock)."""
    database: Database = app.state.database
    provider_id = clinic.records.provider_ids[0]
    with database.writing() as session:
        provider = session.get(Provider, provider_id)
        assert provider is not None
        provider.colour = "#000000"
    failures: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(5):
                with database.writing() as session:
                    provider = session.get(Provider, provider_id, with_for_update=True)
                    assert provider is not None
                    provider.colour = f"#{int(provider.colour[1:], 16) + 1:06x}"
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)

    threads = [threading.Thread(target=bump) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    with database.reading() as session:
        provider = session.get(Provider, provider_id)
        assert provider is not None
        assert int(provider.colour[1:], 16) == 16 * 5


def test_a_writer_that_cannot_get_its_turn_is_told_to_retry(database_url):
    database = Database(make_engine(database_url), write_wait=0.2)
    if not database.is_sqlite:
        pytest.skip("PostgreSQL orders writers with row locks, not an in-process queue")
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with database.writing():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        held.wait(10)
        with pytest.raises(ServerBusy) as busy, database.writing():
            pass
    finally:
        release.set()
        holder.join()
        database.dispose()
    assert busy.value.status == 503
    assert "Try again" in busy.value.message


def test_reading_patient_data_commits_its_audit_row_before_answering(client, db, clinic, desk):
    patient_id = clinic.records.patient_ids[0]

    response = client.get(f"{API_PREFIX}/patients/{patient_id}", headers=desk)

    assert response.status_code == 200, response.text
    with db() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.entity_id == patient_id)).all()
    assert [(row.action, row.entity, row.staff_id) for row in rows] == [
        ("read", "patients", clinic.front_desk.staff_id)
    ]


def test_the_thread_limiter_matches_the_connection_pool(settings, factory, clinic, desk):
    settings = settings.model_copy(update={"db_pool_size": 3, "db_max_overflow": 1})
    app = create_app(settings, run_migrations=False)

    @app.get("/test-limiter")
    async def limiter() -> int:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    served = ServedApp(app)
    try:
        response = httpx.get(served.url + PROVIDERS, headers=desk)
        assert response.status_code == 200, response.text
        assert httpx.get(served.url + "/test-limiter").json() == 4
        assert app.state.engine.pool.size() == 3
    finally:
        served.stop()
        app.state.database.dispose()


def test_many_concurrent_bookings_and_reads_with_few_threads_are_all_answered(
    settings, db, factory, clinic, desk
):
    """Three worker threads and three connections, forty callers at once, bookings and
    reads mixed: each gets its answer (201, or 409 for a slot someone else took first;
    200 for reads). A request never waits for a lock held by one that cannot run."""
    settings = settings.model_copy(update={"db_pool_size": 3, "db_max_overflow": 0})
    app = create_app(settings, run_migrations=False)
    for provider_id in clinic.records.provider_ids:
        working_week(db, provider_id)
    day = days_ahead(3)
    served = ServedApp(app)

    async def call(client: httpx.AsyncClient, n: int) -> int:
        if n % 2:
            response = await client.get(PROVIDERS, headers=desk)
            return response.status_code
        start = local(day, 9) + timedelta(minutes=15 * (n % 10))
        response = await client.post(
            APPOINTMENTS,
            headers={**desk, "Idempotency-Key": str(uuid.uuid4())},
            json={
                "provider_id": str(clinic.records.provider_ids[n % 4 // 2]),
                "patient_id": str(clinic.records.patient_ids[n % 3]),
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(minutes=15)).isoformat(),
            },
        )
        return response.status_code

    async def crowd() -> list[int]:
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(base_url=served.url, timeout=60, limits=limits) as client:
            return await asyncio.gather(*(call(client, n) for n in range(80)))

    try:
        statuses = asyncio.run(crowd())
    finally:
        served.stop()
        app.state.database.dispose()

    reads = statuses[1::2]
    bookings = statuses[0::2]
    assert set(reads) == {200}
    # Ten distinct (provider, start) pairs among the forty bookings: each booked once.
    assert sorted(set(bookings)) == [201, 409]
    assert bookings.count(201) == 10
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Appointment)) == 10
