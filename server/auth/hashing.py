"""Password checks, a few at a time, waiting without holding a worker thread.

An argon2 check costs 64 MiB and a core for a moment. Run for every login as it comes,
a flood of 40 takes gigabytes and every core, and each check also sits on one of the
threads the server runs its ordinary (sync) endpoints on, so a signed-in user waits
behind the flood. Here at most ``concurrency`` checks run at once in each worker
process; the rest wait as coroutines on the event loop (an anyio ``CapacityLimiter``
hands out the slots, so waiting costs no thread and no memory to speak of). The queue
is bounded too: beyond ``concurrency + queue`` sign-ins in flight the server answers
at once that it is busy, rather than letting a flood pile up behind it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import anyio
import anyio.to_thread

from common.errors import ServerBusy
from server.auth.security import verify_password

BUSY_RETRY_SECONDS = 5
BUSY = (
    "The server is busy checking other sign-ins right now. Try again in a few seconds; "
    "your password was not checked."
)


@dataclass(frozen=True, slots=True)
class CheckedPassword:
    """A typed password, already checked against the hash stored when it was read
    (``None``: no such account; a dummy hash was checked so it took the same time).

    It is only good for that hash: if the account's password changed in between, the
    check says nothing about the new one.
    """

    stored_hash: str | None
    ok: bool

    def matches(self, current_hash: str | None) -> bool:
        return self.ok and current_hash is not None and current_hash == self.stored_hash


@dataclass(frozen=True, slots=True)
class HashingLoad:
    """What tests (and anyone curious) can read: checks running now and waiting for a
    slot, the most that ever ran at once, how many have run, and sign-ins holding a place
    (checking, waiting, or in their database steps around the check)."""

    running: int
    waiting: int
    peak: int
    total: int
    in_flight: int
    concurrency: int


@dataclass(slots=True)
class _Queued:
    waiting: bool = True


class PasswordChecks:
    """The per-process gate in front of argon2 (see the module docstring)."""

    def __init__(
        self,
        concurrency: int,
        queue: int,
        verify: Callable[[str | None, str], bool] = verify_password,
    ) -> None:
        self.concurrency = concurrency
        self.queue = queue
        # Replaceable so a test can hold checks in place while it looks at the server.
        self.verify = verify
        # One limiter for the process: created outside an event loop, anyio binds it to
        # the loop that first uses it (a server runs exactly one).
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._waiting = 0
        self._running = 0
        self._peak = 0
        self._total = 0

    @contextmanager
    def place(self) -> Iterator[None]:
        """Hold a place for one sign-in (its database steps and its check), or raise
        ``ServerBusy`` when the queue is full. Claimed before anything is counted, so a
        sign-in turned away as busy is not held against the account."""
        with self._lock:
            if self._in_flight >= self.concurrency + self.queue:
                raise ServerBusy(BUSY, retry_after=BUSY_RETRY_SECONDS)
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    async def check(self, stored_hash: str | None, password: str) -> CheckedPassword:
        """Check ``password`` against ``stored_hash`` (a dummy hash when ``None``) once a
        slot is free; the wait is on the event loop, the check in a thread of its own."""
        queued = _Queued()
        with self._lock:
            self._waiting += 1
        try:
            ok = await anyio.to_thread.run_sync(
                self._run, queued, stored_hash, password, limiter=self._limiter
            )
        finally:
            self._leave_queue(queued)  # if never started (the wait was cancelled)
        return CheckedPassword(stored_hash, ok)

    def _run(self, queued: _Queued, stored_hash: str | None, password: str) -> bool:
        self._leave_queue(queued)
        with self._lock:
            self._running += 1
            self._total += 1
            self._peak = max(self._peak, self._running)
        try:
            return self.verify(stored_hash, password)
        finally:
            with self._lock:
                self._running -= 1

    def _leave_queue(self, queued: _Queued) -> None:
        with self._lock:
            if queued.waiting:
                queued.waiting = False
                self._waiting -= 1

    def load(self) -> HashingLoad:
        with self._lock:
            return HashingLoad(
                running=self._running,
                waiting=self._waiting,
                peak=self._peak,
                total=self._total,
                in_flight=self._in_flight,
                concurrency=self.concurrency,
            )
