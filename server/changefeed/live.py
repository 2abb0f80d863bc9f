"""Telling connected desks "something changed", so they pull at once (DESIGN.md §4.6).

After a commit that changed a clinic's synced rows, every desk of that clinic listening
on ``GET /sync/events`` is woken. The hub is in-process; a change committed by another
process (a second worker, the CLI) is still seen within ``FALLBACK_POLL`` seconds,
because each stream also checks the clinic's counter. Several workers would share
notifications through Redis (DESIGN.md §10); the desks' polling stays the last resort.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

FALLBACK_POLL = 2.0
KEEPALIVE_EVERY = 15.0
CHANGED_CLINICS = "clinicdesk.changed_clinics"


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
            self._listeners[clinic_id] = {
                pair for pair in self._listeners[clinic_id] if pair[1] is not wake
            }

    def notify(self, clinic_ids: set[uuid.UUID]) -> None:
        with self._lock:
            waiting = [pair for clinic in clinic_ids for pair in self._listeners.get(clinic, ())]
        for loop, wake in waiting:
            if not loop.is_closed():
                loop.call_soon_threadsafe(wake.set)


hub = ChangeHub()


def note_changed(session: Session, clinic_id: uuid.UUID) -> None:
    """Called by the version stamping hook: this transaction changed ``clinic_id``."""
    session.info.setdefault(CHANGED_CLINICS, set()).add(clinic_id)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    changed = session.info.pop(CHANGED_CLINICS, None)
    if changed:
        hub.notify(changed)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(CHANGED_CLINICS, None)


def sse(event_name: str, data: Any) -> str:
    return f"event: {event_name}\ndata: {data}\n\n"
