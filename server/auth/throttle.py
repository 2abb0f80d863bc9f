"""Sign-in throttling per account and per client address, counted in the database.

The policy (each number is a setting in ``server.config``; the README lists them):

- An *account* is what was typed: the clinic's short name and the e-mail address,
  whether or not such a staff member exists. An unknown account gets exactly the
  answers (and the delays) a real one gets, so throttling tells a guesser nothing.
- Every attempt is counted against its account and its client address *before* its
  password is checked, and a right password takes its count back. Counting first is
  what makes the limit hold under concurrency: twenty guesses sent at once cannot all
  slip in before the first failure is written down.
- ``sign_in_account_attempts`` (5) counted attempts within ``sign_in_window_minutes``
  (15) lock the account. The attempt that reaches the limit is answered 429 if its
  password is wrong; while the lock lasts every attempt, right password included, is
  answered 429 with ``Retry-After`` and its password is not checked at all.
- The first lock lasts ``sign_in_lockout_seconds`` (30). While the window's count
  stands at the limit, each further attempt after a lock ends locks again for twice as
  long, up to ``sign_in_max_lockout_minutes`` (15). A window without failures after a
  lock has ended starts the doubling over.
- A client address follows the same rules with its own, higher limit,
  ``sign_in_address_attempts`` (30): a clinic's desks may share one NAT address. A right
  password takes back only its own count there: one valid login must not let a guesser
  on the same address start over.
- A right password clears its account's count, lock and doubling.
- Each new lock is recorded for the clinic's admins (``server.auth.lockouts``).

Race safety: each counter row is created-or-locked by one ``INSERT … ON CONFLICT DO
UPDATE`` (a row lock on PostgreSQL; SQLite serialises writers with ``BEGIN IMMEDIATE``),
always the account's row before the address's, so two attempts never wait on each other
in a circle. These transactions are short and never span the password check.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from common.errors import TooManyAttempts
from common.validation import canonical_email
from server.auth.lockouts import record_lockout
from server.auth.models import SignInCounter
from server.config import Settings
from server.db import utcnow

ACCOUNT = "account"
ADDRESS = "address"
# Stale rows deleted per attempt: enough to keep up with any flood, small enough that
# no attempt pays for a big clean-up.
PRUNE_BATCH = 100

ACCOUNT_LOCKED = (
    "Too many wrong passwords for this account. Wait {wait} and try again. If you have "
    "forgotten your password, ask a clinic admin to set a new one."
)
ADDRESS_LOCKED = (
    "Too many failed sign-ins from this network. Wait {wait} and try again. If this keeps "
    "happening, tell your clinic admin: someone on your network may be guessing passwords."
)


@dataclass(frozen=True, slots=True)
class Policy:
    account_attempts: int
    address_attempts: int
    window: timedelta
    first_lockout: timedelta
    max_lockout: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            account_attempts=settings.sign_in_account_attempts,
            address_attempts=settings.sign_in_address_attempts,
            window=timedelta(minutes=settings.sign_in_window_minutes),
            first_lockout=timedelta(seconds=settings.sign_in_lockout_seconds),
            max_lockout=timedelta(minutes=settings.sign_in_max_lockout_minutes),
        )

    def lockout(self, earlier_lockouts: int) -> timedelta:
        # Past 20 doublings any sane cap is long reached; stop before the number explodes.
        return min(self.first_lockout * (1 << min(earlier_lockouts, 20)), self.max_lockout)


def account_key(clinic_slug: str, email: str) -> str:
    return f"{clinic_slug} {canonical_email(email)}"[:320]


def address_key(host: str) -> str:
    return host[:64]


@dataclass(frozen=True, slots=True)
class Counted:
    """One counter as an attempt left it, so the attempt's outcome can settle it."""

    scope: str
    key: str
    window_started_at: datetime
    locked_until: datetime | None  # set when this attempt locked it
    earlier_locked_until: datetime | None
    earlier_lockouts: int


@dataclass(frozen=True, slots=True)
class Admission:
    """An attempt that was let through to have its password checked."""

    account: Counted
    address: Counted
    at: datetime

    @property
    def new_locks(self) -> list[Counted]:
        return [c for c in (self.account, self.address) if c.locked_until is not None]


class LoginThrottle:
    """The policy above over ``SignInCounter`` rows. ``clock`` is replaceable so tests
    can let a lock lapse without waiting for it."""

    def __init__(self, policy: Policy, clock: Callable[[], datetime] = utcnow) -> None:
        self.policy = policy
        self.clock = clock

    def admit(self, session: Session, *, account: str, address: str) -> Admission:
        """Count an attempt, or raise ``TooManyAttempts`` if its account or address is
        locked (the caller's transaction then rolls back, so a refusal counts nothing)."""
        now = self.clock()
        self._prune(session, now)
        account_row = self._lock_row(session, ACCOUNT, account, now)
        address_row = self._lock_row(session, ADDRESS, address, now)
        for row in (account_row, address_row):
            self._refresh(row, now)
        locked = [r for r in (account_row, address_row) if _locked_at(r, now)]
        if locked:
            longest = max(locked, key=lambda r: r.locked_until or now)
            assert longest.locked_until is not None
            raise refusal(longest.scope, longest.locked_until, now)
        admission = Admission(
            account=self._count(account_row, self.policy.account_attempts, now),
            address=self._count(address_row, self.policy.address_attempts, now),
            at=now,
        )
        session.flush()
        return admission

    def failed(
        self,
        session: Session,
        admission: Admission,
        *,
        clinic_id: uuid.UUID | None,
        email: str,
        address: str,
    ) -> TooManyAttempts | None:
        """Settle a wrong password: its count stands. If it locked its account or address,
        record the lock and return the refusal to answer with (else ``None``)."""
        locks = admission.new_locks
        for counted in locks:
            assert counted.locked_until is not None
            record_lockout(
                session,
                clinic_id=clinic_id,
                scope=counted.scope,
                email=canonical_email(email)[:254],
                address=address_key(address),
                at=admission.at,
                until=counted.locked_until,
            )
        if not locks:
            return None
        longest = max(locks, key=lambda c: c.locked_until or admission.at)
        assert longest.locked_until is not None
        return refusal(longest.scope, longest.locked_until, self.clock())

    def succeeded(self, session: Session, admission: Admission) -> None:
        """Settle a right password: its account starts afresh, and its address gets back
        the one count this attempt took (and the lock, if this attempt made it)."""
        session.execute(
            delete(SignInCounter)
            .where(SignInCounter.scope == ACCOUNT, SignInCounter.key == admission.account.key)
            .execution_options(synchronize_session=False)
        )
        counted = admission.address
        row = session.get(
            SignInCounter,
            (ADDRESS, counted.key),
            with_for_update=True,
            populate_existing=True,
        )
        if row is None:  # forgotten meanwhile: nothing to take back
            return
        if row.window_started_at == counted.window_started_at and row.failures > 0:
            row.failures -= 1
        if counted.locked_until is not None and row.locked_until == counted.locked_until:
            row.locked_until = counted.earlier_locked_until
            row.lockouts = counted.earlier_lockouts

    # -- one counter ---------------------------------------------------------------------

    def _lock_row(self, session: Session, scope: str, key: str, now: datetime) -> SignInCounter:
        """The counter for ``(scope, key)``, created if new, locked for this transaction
        either way (the conflict branch "updates" the row to itself just to lock it)."""
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(SignInCounter).values(
            scope=scope, key=key, failures=0, window_started_at=now, lockouts=0, forget_at=now
        )
        table = SignInCounter.__table__.c
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["scope", "key"], set_={"failures": table.failures}
            )
        )
        row = session.get(SignInCounter, (scope, key), populate_existing=True)
        assert row is not None  # the statement above made sure of it, under its lock
        return row

    def _refresh(self, row: SignInCounter, now: datetime) -> None:
        """Forget what no longer counts: a lock that ended a whole window ago (and with it
        the doubling), and the count of a window that is over."""
        if row.locked_until is not None and now >= row.locked_until + self.policy.window:
            row.locked_until = None
            row.lockouts = 0
        if now >= row.window_started_at + self.policy.window:
            row.failures = 0
            row.window_started_at = now

    def _count(self, row: SignInCounter, limit: int, now: datetime) -> Counted:
        earlier_locked_until, earlier_lockouts = row.locked_until, row.lockouts
        row.failures += 1
        locked_until = None
        if row.failures >= limit:
            locked_until = now + self.policy.lockout(row.lockouts)
            row.locked_until = locked_until
            row.lockouts += 1
        row.forget_at = max(row.window_started_at, row.locked_until or now) + self.policy.window
        return Counted(
            scope=row.scope,
            key=row.key,
            window_started_at=row.window_started_at,
            locked_until=locked_until,
            earlier_locked_until=earlier_locked_until,
            earlier_lockouts=earlier_lockouts,
        )

    def _prune(self, session: Session, now: datetime) -> None:
        """Delete a batch of counters nobody needs any more (made-up accounts would
        otherwise pile up). ``SKIP LOCKED``: never wait for, or deadlock with, an attempt
        that holds one; SQLite has no row locks and ignores it."""
        stale = (
            select(SignInCounter.scope, SignInCounter.key)
            .where(SignInCounter.forget_at < now)
            .limit(PRUNE_BATCH)
            .with_for_update(skip_locked=True)
        )
        session.execute(
            delete(SignInCounter)
            .where(tuple_(SignInCounter.scope, SignInCounter.key).in_(stale))
            .execution_options(synchronize_session=False)
        )


def _locked_at(row: SignInCounter, now: datetime) -> bool:
    return row.locked_until is not None and row.locked_until > now


def refusal(scope: str, until: datetime, now: datetime) -> TooManyAttempts:
    seconds = max(1, math.ceil((until - now).total_seconds()))
    template = ACCOUNT_LOCKED if scope == ACCOUNT else ADDRESS_LOCKED
    return TooManyAttempts(template.format(wait=wait_words(seconds)), retry_after=seconds)


def wait_words(seconds: int) -> str:
    """``Retry-After`` as a person reads it: seconds under a minute, else whole minutes
    rounded up (never promising a time before the lock ends)."""
    if seconds < 60:
        return "1 second" if seconds == 1 else f"{seconds} seconds"
    minutes = math.ceil(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
