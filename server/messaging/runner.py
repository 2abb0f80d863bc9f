"""Running dispatchers: a thread inside the server (the embedded default), or processes of
their own (``clinicdesk dispatch``) next to several server workers on PostgreSQL.

A message composed in this process wakes the thread once it is committed
(``server.messaging.wakeup``); one composed by another process waits at most one poll.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import httpx

from server.config import Settings
from server.db import Database, utcnow
from server.messaging.dispatcher import Dispatcher
from server.messaging.wakeup import composed


def make_dispatcher(db: Database, settings: Settings, client: httpx.Client) -> Dispatcher:
    from server.messaging import inbound
    from server.messaging.calendar_attachments import confirmation_attachments
    from server.messaging.providers.registry import providers_from
    from server.messaging.unsubscribe import url_maker

    return Dispatcher(
        db,
        providers_from(settings, client),
        public_base_url=settings.public_base_url,
        attachments=confirmation_attachments,
        unsubscribe_url=url_maker(settings),
        chores=(
            lambda: inbound.process_pending(db),
            Daily(lambda: purge_portal_logs(db)),
            Daily(lambda: remind_forms(db, settings.public_base_url), every=timedelta(hours=1)),
            Daily(lambda: bills_overdue(db, settings.public_base_url), every=timedelta(hours=1)),
        ),
    )


def purge_portal_logs(db: Database) -> int:
    """The portal's session log and spent sign-in links are kept 90 days, then go."""
    from server.portal import accounts

    with db.writing() as session:
        return accounts.purge(session, utcnow())


def remind_forms(db: Database, public_base_url: str) -> int:
    """Forms left unanswered two days: a reminder to each patient (hourly)."""
    from server.forms import reminders

    with db.writing() as session:
        return reminders.send_due(session, utcnow(), public_base_url)


def bills_overdue(db: Database, public_base_url: str) -> int:
    """Bills past their due date and unpaid: the patient is told once (hourly, so a bill
    is noticed within the hour its clinic's day ends)."""
    from server.billing import service

    with db.writing() as session:
        return service.send_overdue(session, utcnow(), public_base_url)


class Daily:
    """A chore of the dispatcher's loop that does its work on the first round, then
    once a day (the loop comes round every second or so). The next run is booked before
    the work, so a failing one waits a day too rather than fail every round. Several
    dispatchers each doing it is harmless: the work is a delete of what is old."""

    def __init__(
        self,
        job: Callable[[], object],
        *,
        every: timedelta = timedelta(days=1),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job = job
        self.every = every.total_seconds()
        self.clock = clock
        self.next_at: float | None = None

    def __call__(self) -> None:
        now = self.clock()
        if self.next_at is not None and now < self.next_at:
            return
        self.next_at = now + self.every
        self.job()


class DispatcherThread:
    """One dispatcher on a daemon thread, stopped (and its HTTP client closed) by
    ``stop``."""

    def __init__(self, db: Database, settings: Settings, *, idle: float = 1.0) -> None:
        self._client = httpx.Client(timeout=httpx.Timeout(10.0))
        self.dispatcher = make_dispatcher(db, settings, self._client)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self.dispatcher.run,
            kwargs={"stop": self._stop, "wake": composed, "idle": idle},
            name="dispatcher",
            daemon=True,
        )

    def start(self) -> DispatcherThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        composed.set()
        self._thread.join(timeout=15)
        self._client.close()
