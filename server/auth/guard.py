"""A sign-in's password checked under guard: throttled, capped, in three short steps.

1. A short transaction counts the attempt (``LoginThrottle.admit``: a locked account or
   address is refused here, before any hash) and reads the account's stored hash.
2. The password is checked (``PasswordChecks``): the wait for a slot is on the event
   loop, the argon2 work in a thread of its own, and no transaction is open (on SQLite
   an open one would hold the database's only write lock for the whole check).
3. Another short transaction settles it. Right password: the caller's ``then`` runs
   (enrolls the workstation, opens the session) and the count is taken back. Wrong: the
   count stands, and a lock this attempt made is recorded and answered 429.

Both login routes (enrolling a workstation, signing in on one) go through
``guarded_sign_in``, so they share one account's count.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio.to_thread
from fastapi import FastAPI, Request
from sqlalchemy.orm import Session

from common.errors import DomainError, WrongCredentials
from server.auth import service
from server.auth.hashing import CheckedPassword, PasswordChecks
from server.auth.throttle import Admission, LoginThrottle, Policy, account_key, address_key
from server.clinics import repository as clinics
from server.clinics.models import Clinic
from server.config import Settings
from server.db import Database

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Found:
    clinic_id: uuid.UUID | None
    stored_hash: str | None
    admission: Admission


class SignInGuard:
    """One per app: the throttle (shared through the database) and this process's cap
    on password checks."""

    def __init__(self, settings: Settings) -> None:
        self.throttle = LoginThrottle(Policy.from_settings(settings))
        self.checks = PasswordChecks(
            settings.password_hash_concurrency, settings.password_hash_queue
        )

    async def sign_in(
        self,
        db: Database,
        *,
        clinic: str | uuid.UUID,
        email: str,
        password: str,
        address: str,
        then: Callable[[Session, CheckedPassword], T],
    ) -> T:
        """``clinic`` is the short name typed at enrollment, or the id of the clinic a
        workstation belongs to. ``then`` gets the checked password in the finishing
        transaction; it must confirm it (the services do, against the current hash)."""
        with self.checks.place():
            found = await anyio.to_thread.run_sync(self._admit, db, clinic, email, address)
            checked = await self.checks.check(found.stored_hash, password)
        if checked.ok:
            try:
                return await anyio.to_thread.run_sync(self._finish, db, found, checked, then)
            except WrongCredentials:
                pass  # the account changed between the steps: a failed attempt like any other
        raise await anyio.to_thread.run_sync(self._fail, db, found, email, address)

    def _admit(self, db: Database, clinic: str | uuid.UUID, email: str, address: str) -> _Found:
        with db.writing() as session:
            if isinstance(clinic, str):
                row, slug = clinics.by_slug(session, clinic), clinic
            else:
                row = session.get(Clinic, clinic)
                slug = row.slug if row is not None else str(clinic)
            admission = self.throttle.admit(
                session, account=account_key(slug, email), address=address_key(address)
            )
            staff = service.login_staff(session, row, email)
            return _Found(
                clinic_id=row.id if row is not None else None,
                stored_hash=staff.password_hash if staff is not None else None,
                admission=admission,
            )

    def _finish(
        self,
        db: Database,
        found: _Found,
        checked: CheckedPassword,
        then: Callable[[Session, CheckedPassword], T],
    ) -> T:
        with db.writing() as session:
            result = then(session, checked)
            self.throttle.succeeded(session, found.admission)
            return result

    def _fail(self, db: Database, found: _Found, email: str, address: str) -> DomainError:
        with db.writing() as session:
            locked = self.throttle.failed(
                session, found.admission, clinic_id=found.clinic_id, email=email, address=address
            )
        return locked or WrongCredentials(service.WRONG_CREDENTIALS)


_creating = threading.Lock()


def guard_for(app: FastAPI) -> SignInGuard:
    """The app's guard, made on first use from its settings."""
    with _creating:
        guard: SignInGuard | None = getattr(app.state, "sign_in_guard", None)
        if guard is None:
            guard = app.state.sign_in_guard = SignInGuard(app.state.settings)
        return guard


async def guarded_sign_in(
    request: Request,
    *,
    clinic: str | uuid.UUID,
    email: str,
    password: str,
    then: Callable[[Session, CheckedPassword], T],
) -> T:
    """Check a login's password under the app's guard (see the module docstring); the
    client's address is the connection's (behind a proxy, the one it forwards)."""
    address = request.client.host if request.client is not None else "unknown"
    return await guard_for(request.app).sign_in(
        request.app.state.database,
        clinic=clinic,
        email=email,
        password=password,
        address=address,
        then=then,
    )
