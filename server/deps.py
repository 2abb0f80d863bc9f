"""Request dependencies, defined once as ``Annotated`` aliases and used everywhere.

The one transaction style (CONTRIBUTING, "Transactions"): an endpoint is a plain ``def``
that receives its caller, already resolved, and the ``Database``; it opens exactly the
transactions it needs (``db.reading()`` / ``db.writing()``) in its own thread. The caller
is resolved here in a short read transaction of its own, so no transaction ever spans
two threads: with ``SessionDep`` a transaction began in a dependency's worker thread and
went on in the endpoint's, and on SQLite, once every worker thread was taken by requests
waiting for the write lock, the request holding it could never continue.
"""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Header, Request
from sqlalchemy import update

from common.errors import NotAuthenticated, UpgradeRequired
from server.auth import service as auth
from server.auth.context import AuthContext
from server.config import Settings
from server.db import Database
from server.staff.models import Device
from sync.protocol import DEVICE_TOKEN_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    """The app's ``Database``. Async (no worker thread needed), and where the thread
    limiter is sized to the connection pool: the limiter belongs to the running event
    loop, which exists only once requests are served."""
    settings: Settings = request.app.state.settings
    limiter = anyio.to_thread.current_default_thread_limiter()
    if limiter.total_tokens != settings.worker_threads:
        limiter.total_tokens = settings.worker_threads
    database: Database = request.app.state.database
    return database


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]


async def check_protocol(
    protocol: Annotated[str | None, Header(alias=PROTOCOL_HEADER)] = None,
) -> None:
    """Desks send their protocol version; ones we no longer speak are told to upgrade.
    (Async: it does no I/O, so it need not wait for a worker thread.)"""
    if protocol is None:
        return
    # Compared as text: int() of a header could raise (e.g. thousands of digits) -> a 500.
    if protocol not in (str(PROTOCOL_VERSION), str(PROTOCOL_VERSION - 1)):
        raise UpgradeRequired(
            "This version of Clinicdesk does not match the server's (sync protocol "
            f"{protocol[:12]!r}; the server speaks {PROTOCOL_VERSION - 1} and "
            f"{PROTOCOL_VERSION}). Install the version your clinic's server expects."
        )


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return None


NOT_ENROLLED = "This workstation is not enrolled. Sign in to enroll it."
NOT_SIGNED_IN = "You are not signed in. Sign in again."


def _staff(db: Database, token: str) -> AuthContext:
    with db.reading() as session:
        return auth.context_for_session_token(session, token)


def _workstation(db: Database, token: str) -> AuthContext:
    """The workstation's context, read in a read transaction. Noting its last contact
    (at most once a minute) is a write: done after the read, in a short write of its own,
    so resolving a caller never takes SQLite's write lock otherwise."""
    with db.reading() as session:
        device = auth.device_for_token(session, token)
        context = auth.context_for_device(device)
        seen = device.last_seen_at if session.is_modified(device) else None
        session.expunge(device)  # the noted contact is written below, not in a read
    if seen is not None:
        with db.writing() as session:
            session.execute(update(Device).where(Device.id == device.id).values(last_seen_at=seen))
    return context


def staff_context(
    db: DatabaseDep, authorization: Annotated[str | None, Header()] = None
) -> AuthContext:
    """The signed-in staff member."""
    token = _bearer(authorization)
    if token is None:
        raise NotAuthenticated(NOT_SIGNED_IN)
    return _staff(db, token)


def sync_context(
    db: DatabaseDep,
    authorization: Annotated[str | None, Header()] = None,
    device_token: Annotated[str | None, Header(alias=DEVICE_TOKEN_HEADER)] = None,
) -> AuthContext:
    """The change feed accepts a signed-in staff session or, so the desk's cache stays
    fresh while nobody is signed in, the workstation's own device token."""
    token = _bearer(authorization)
    if token is not None:
        return _staff(db, token)
    if device_token:
        return _workstation(db, device_token)
    raise NotAuthenticated(NOT_ENROLLED)


def device_context(
    db: DatabaseDep,
    device_token: Annotated[str | None, Header(alias=DEVICE_TOKEN_HEADER)] = None,
) -> AuthContext:
    """The calling workstation (pushing mutations, the event stream)."""
    if not device_token:
        raise NotAuthenticated(NOT_ENROLLED)
    return _workstation(db, device_token)


DeviceContext = Annotated[AuthContext, Depends(device_context)]
StaffContext = Annotated[AuthContext, Depends(staff_context)]
SyncContext = Annotated[AuthContext, Depends(sync_context)]
