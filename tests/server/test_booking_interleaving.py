"""The booking guarantee one step at a time, on SQLite and PostgreSQL.

A first transaction books a slot through ``server.scheduling.service.book`` and stays
open, holding the provider's lock. A second booking of an overlapping slot, in another
thread, must wait for it; when the first commits, the second is refused with
``slot_taken`` and only the first appointment exists. When the first rolls back instead,
the second goes ahead and books. The races in test_booking_guarantee.py show that fifty
requests at once never break the guarantee; this shows the interleaving that matters,
every run, without relying on timing.

"Waits" is observed, not assumed. Engine events note the statement the second
transaction's connection is executing, and:

* on PostgreSQL the server itself reports that backend blocked by the first one
  (``pg_blocking_pids``), on the provider's ``SELECT … FOR UPDATE``;
* on SQLite the statement in flight is one that needs the write lock (``BEGIN
  IMMEDIATE``, or the first write of a transaction that began deferred), and a third
  connection confirms that the first transaction holds that lock, so the statement cannot
  have got past it.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from common.appointments import AppointmentSource, AppointmentStatus
from common.errors import SlotTaken
from common.roles import Role
from server.auth.context import AuthContext
from server.db import make_sessionmaker, transaction
from server.scheduling.models import Appointment
from server.scheduling.service import book
from tests.support.diary import working_week

# Far from "now" and from any booking rule; the service checks overlaps, not hours.
FIRST = (datetime(2031, 3, 4, 10, 0, tzinfo=UTC), datetime(2031, 3, 4, 10, 30, tzinfo=UTC))
OVERLAPPING = (FIRST[0] + timedelta(minutes=15), FIRST[1] + timedelta(minutes=15))
# Statements that need SQLite's single write lock.
WRITE_LOCKING = re.compile(r"\s*(BEGIN\s+(IMMEDIATE|EXCLUSIVE)|INSERT|UPDATE|DELETE)\b", re.I)
# Only a limit for a broken run: the conditions awaited are observed, not timed.
PATIENCE = 20.0


class InFlight:
    """The statement an engine's connection is executing at this moment, if any."""

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock()
        self._statement: str | None = None
        self.dbapi_connection: Any = None
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "handle_error", self._failed)

    @property
    def statement(self) -> str | None:
        with self._lock:
            return self._statement

    def _before(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        with self._lock:
            self._statement = statement
            self.dbapi_connection = conn.connection.dbapi_connection

    def _after(self, *_args: Any) -> None:
        with self._lock:
            self._statement = None

    def _failed(self, _context: Any) -> None:
        with self._lock:
            self._statement = None


class ChangedMind(Exception):
    """Raised inside the first transaction so that ``transaction()`` rolls it back."""


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never saw {what}")
        time.sleep(0.005)


def sqlite_write_lock_is_held(path: str) -> bool:
    """Whether another connection holds the write lock (tried without waiting)."""
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if "locked" in str(error):
            return True
        raise
    else:
        probe.execute("ROLLBACK")
        return False
    finally:
        probe.close()


def postgres_waits_for(probe: Engine, holder_pid: int, in_flight: InFlight) -> bool:
    """Whether the second connection is blocked by ``holder_pid`` on the provider's lock."""
    if in_flight.dbapi_connection is None:
        return False
    waiter_pid = in_flight.dbapi_connection.info.backend_pid
    with probe.connect() as connection:
        row = connection.execute(
            text(
                "SELECT query, CAST(:holder AS integer) = ANY(pg_blocking_pids(pid)) AS blocked "
                "FROM pg_stat_activity WHERE pid = :waiter"
            ),
            {"holder": holder_pid, "waiter": waiter_pid},
        ).one()
    if not row.blocked:
        return False
    query = " ".join(row.query.split()).upper()
    assert "FROM PROVIDERS" in query, f"the second booking waits, not on a provider: {query}"
    assert "FOR UPDATE" in query, f"the second booking waits, not on a row lock: {query}"
    return True


def active_appointments(db: sessionmaker[Session], provider_id: uuid.UUID) -> list[uuid.UUID]:
    with db() as session:
        return list(
            session.scalars(
                select(Appointment.id).where(
                    Appointment.provider_id == provider_id,
                    Appointment.status != AppointmentStatus.CANCELLED,
                    Appointment.deleted_at.is_(None),
                    Appointment.starts_at < FIRST[1] + timedelta(hours=2),
                    Appointment.ends_at > FIRST[0] - timedelta(hours=2),
                )
            )
        )


@pytest.mark.parametrize("first_ends_with", ["commit", "rollback"])
def test_a_second_booking_waits_for_the_first_then_is_refused_or_goes_ahead(
    database_url: str,
    db: sessionmaker[Session],
    factory: Any,
    engine_factory: Callable[[], Engine],
    first_ends_with: str,
) -> None:
    clinic = factory.clinic("interleave", providers=1, patients=2)
    provider_id = clinic.records.provider_ids[0]
    working_week(db, provider_id)  # suggestions are times the provider works
    ctx = AuthContext(
        clinic_id=clinic.id,
        device_id=None,
        staff_id=clinic.front_desk.staff_id,
        role=Role.FRONT_DESK,
    )
    first_id, second_id = uuid.uuid4(), uuid.uuid4()

    def booking(session: Session, appointment_id: uuid.UUID, patient: int, slot: Any) -> None:
        book(
            session,
            ctx,
            appointment_id=appointment_id,
            provider_id=provider_id,
            patient_id=clinic.records.patient_ids[patient],
            starts_at=slot[0],
            ends_at=slot[1],
            source=AppointmentSource.DESK,
        )

    second_engine = engine_factory()
    in_flight = InFlight(second_engine)
    second_db = make_sessionmaker(second_engine)
    outcome: list[BaseException | None] = []

    def second_booking() -> None:
        try:
            with transaction(second_db) as session:
                booking(session, second_id, 1, OVERLAPPING)
        except BaseException as error:
            outcome.append(error)
        else:
            outcome.append(None)

    second = threading.Thread(target=second_booking, daemon=True)

    def first_booking() -> None:
        """Book, make sure the second booking waits behind this transaction, then end it."""
        with transaction(db) as first:
            booking(first, first_id, 0, FIRST)
            if database_url.startswith("sqlite"):
                path = database_url.split(":///", 1)[1]

                def waiting() -> bool:
                    statement = in_flight.statement
                    return bool(statement and WRITE_LOCKING.match(statement))

                second.start()
                wait_until(waiting, "the second booking reach a statement needing the write lock")
                assert sqlite_write_lock_is_held(path), "the first booking holds no write lock"
            else:
                holder_pid = first.scalar(text("SELECT pg_backend_pid()"))
                probe = engine_factory()
                second.start()
                wait_until(
                    lambda: postgres_waits_for(probe, holder_pid, in_flight),
                    "the second booking blocked by the first",
                )
            # Blocked behind this transaction's lock, it cannot have finished.
            assert second.is_alive()
            assert outcome == []
            if first_ends_with == "rollback":
                raise ChangedMind

    if first_ends_with == "commit":
        first_booking()
    else:
        with pytest.raises(ChangedMind):
            first_booking()

    second.join(timeout=PATIENCE)
    assert not second.is_alive(), "the second booking never finished"
    [error] = outcome
    if first_ends_with == "commit":
        assert isinstance(error, SlotTaken), repr(error)
        assert error.code == "slot_taken"
        assert "already has an appointment then" in str(error)
        assert error.suggestions, "a taken slot comes with the nearest free times"
        assert active_appointments(db, provider_id) == [first_id]
    else:
        assert error is None, repr(error)
        assert active_appointments(db, provider_id) == [second_id]
