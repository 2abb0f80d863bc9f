"""Telling connected desks "something changed", so they pull at once.

After a commit that changed a clinic's synced rows or its booking requests, every desk
of that clinic listening on ``GET /sync/events`` is woken:

- in the process that committed, straight from the session's ``after_commit``;
- in every other process (several workers, several machines) through PostgreSQL: the
  version stamping hook sends ``pg_notify`` in the changing transaction, which PostgreSQL
  delivers exactly when (and only if) it commits, and each server process keeps one
  listener thread (``PostgresListener``, its own connection, reconnecting) that wakes the
  process's hub. No Redis is needed: the database already knows when a change commits.

Each stream also re-reads its clinic's counter every so often: every ``FALLBACK_POLL``
seconds on SQLite (a change made by the CLI, another process), and every ``SLOW_POLL``
seconds while the PostgreSQL listener is connected. The desks' own polling stays the
last resort.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import uuid
from collections import defaultdict
from typing import Any

import psycopg
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

FALLBACK_POLL = 2.0
SLOW_POLL = 10.0  # under KEEPALIVE_EVERY's rhythm: a desk hears something every 20 s
KEEPALIVE_EVERY = 15.0
CHANGED_CLINICS = "clinicdesk.changed_clinics"
CHANNEL = "clinicdesk_changes"
RECONNECT_AFTER = (0.5, 1.0, 2.0, 5.0, 10.0)
LISTENER_NAME = "clinicdesk-listener"


class ChangeHub:
    """Wakes asyncio listeners (on the server's event loop) from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[uuid.UUID, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]]
        self._listeners = defaultdict(set)

    def listen(self, clinic_id: uuid.UUID) -> asyncio.Event:
        wake = asyncio.Event()
        with self._lock:
            self._listeners[clinic_id].add((asyncio.get_running_loop(), wake))
        return wake

    def forget(self, clinic_id: uuid.UUID, wake: asyncio.Event) -> None:
        with self._lock:
            left = {pair for pair in self._listeners[clinic_id] if pair[1] is not wake}
            if left:
                self._listeners[clinic_id] = left
            else:
                del self._listeners[clinic_id]

    def notify(self, clinic_ids: set[uuid.UUID]) -> None:
        with self._lock:
            waiting = [pair for clinic in clinic_ids for pair in self._listeners.get(clinic, ())]
        self._wake(waiting)

    def notify_all(self) -> None:
        """Every listener checks its clinic: after notifications may have been missed."""
        with self._lock:
            waiting = [pair for pairs in self._listeners.values() for pair in pairs]
        self._wake(waiting)

    @staticmethod
    def _wake(waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
        for loop, wake in waiting:
            if not loop.is_closed():
                loop.call_soon_threadsafe(wake.set)


hub = ChangeHub()


def note_changed(session: Session, clinic_id: uuid.UUID) -> None:
    """This transaction changed something ``clinic_id``'s desks show: called by the
    version stamping hook (synced rows), and by booking requests (not synced, but listed
    live). On PostgreSQL the notification to other processes is queued in the same
    transaction."""
    changed: set[uuid.UUID] = session.info.setdefault(CHANGED_CLINICS, set())
    if clinic_id in changed:
        return
    changed.add(clinic_id)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_notify(CHANNEL, str(clinic_id))))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        # A savepoint released (SQLAlchemy calls this hook for those too): nothing is
        # committed yet, and a desk told now would pull, see nothing new, and wait for
        # the next poll. The outermost commit tells.
        return
    changed = session.info.pop(CHANGED_CLINICS, None)
    if changed:
        hub.notify(changed)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(CHANGED_CLINICS, None)


def sse(event_name: str, data: Any) -> str:
    return f"event: {event_name}\ndata: {data}\n\n"


class PostgresListener:
    """One thread per server process: ``LISTEN`` on its own connection and wake the hub.

    It reconnects after any failure (a database restart, a dropped connection), and then
    wakes every stream, since notifications sent meanwhile were lost."""

    def __init__(self, database_url: str, target: ChangeHub = hub) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._hub = target
        self._stop = threading.Event()
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clinicdesk-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
                failures = 0
            except (psycopg.Error, OSError) as error:
                if failures == 0:
                    log.warning("live updates: lost PostgreSQL LISTEN (%s); reconnecting", error)
                failures += 1
            self.connected.clear()
            self._stop.wait(RECONNECT_AFTER[min(failures, len(RECONNECT_AFTER) - 1)])

    def _listen(self) -> None:
        with psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=10,
            application_name=f"{LISTENER_NAME} {os.getpid()}",  # which process, for operators
        ) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self.connected.set()
            self._hub.notify_all()  # anything sent while we were not listening
            while not self._stop.is_set():
                for note in connection.notifies(timeout=1.0):
                    with contextlib.suppress(ValueError):
                        self._hub.notify({uuid.UUID(note.payload)})


_listeners: dict[str, PostgresListener] = {}
_listeners_lock = threading.Lock()


def listen_to(database_url: str) -> PostgresListener | None:
    """This process's listener for ``database_url`` (started on first use), or None where
    there is nothing to listen to (SQLite: one process, the hub sees every commit)."""
    if not database_url.startswith("postgresql"):
        return None
    with _listeners_lock:
        listener = _listeners.get(database_url)
        if listener is None:
            listener = _listeners[database_url] = PostgresListener(database_url)
            listener.start()
        return listener


def poll_every(listener: PostgresListener | None) -> float:
    """How often a stream re-reads its clinic's counter by itself."""
    return SLOW_POLL if listener is not None and listener.connected.is_set() else FALLBACK_POLL
