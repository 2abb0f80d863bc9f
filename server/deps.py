"""Request dependencies, defined once as ``Annotated`` aliases and used everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session, sessionmaker

from common.errors import NotAuthenticated, UpgradeRequired
from server.auth import service as auth
from server.auth.context import AuthContext
from server.config import Settings
from server.db import transaction
from server.staff.models import Device
from sync.protocol import DEVICE_TOKEN_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the endpoint returns (before the
    response is sent, so a failed commit is the caller's error), rolled back on error."""
    with request.app.state.sessionmaker() as session, session.begin():
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def check_protocol(
    protocol: Annotated[str | None, Header(alias=PROTOCOL_HEADER)] = None,
) -> None:
    """Desks send their protocol version; ones we no longer speak are told to upgrade."""
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


def enrolled_device(
    session: SessionDep,
    device_token: Annotated[str | None, Header(alias=DEVICE_TOKEN_HEADER)] = None,
) -> Device:
    if not device_token:
        raise NotAuthenticated("This workstation is not enrolled. Sign in to enroll it.")
    return auth.device_for_token(session, device_token)


def staff_context(
    session: SessionDep,
    authorization: Annotated[str | None, Header()] = None,
) -> AuthContext:
    token = _bearer(authorization)
    if token is None:
        raise NotAuthenticated("You are not signed in. Sign in again.")
    return auth.context_for_session_token(session, token)


def sync_context(
    session: SessionDep,
    authorization: Annotated[str | None, Header()] = None,
    device_token: Annotated[str | None, Header(alias=DEVICE_TOKEN_HEADER)] = None,
) -> AuthContext:
    """The change feed accepts a signed-in staff session or, so the desk's cache stays
    fresh while nobody is signed in, the workstation's own device token."""
    token = _bearer(authorization)
    if token is not None:
        return auth.context_for_session_token(session, token)
    if device_token:
        return auth.context_for_device(auth.device_for_token(session, device_token))
    raise NotAuthenticated("This workstation is not enrolled. Sign in to enroll it.")


def device_context(
    request: Request,
    device_token: Annotated[str | None, Header(alias=DEVICE_TOKEN_HEADER)] = None,
) -> AuthContext:
    """The calling workstation, resolved in a short transaction of its own, for endpoints
    that run one transaction per item (pushing mutations) and must not hold a lock meanwhile."""
    if not device_token:
        raise NotAuthenticated("This workstation is not enrolled. Sign in to enroll it.")
    with request.app.state.sessionmaker() as session, session.begin():
        return auth.context_for_device(auth.device_for_token(session, device_token))


def sessions(request: Request) -> sessionmaker[Session]:
    """The app's session factory, for endpoints that run their own transaction."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    return factory


def staff_context_apart(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> AuthContext:
    """The signed-in staff member, resolved in a short transaction of its own (as
    ``device_context`` does for workstations), for endpoints that then run their one
    transaction entirely inside their own worker thread.

    Why: on SQLite a transaction takes the write lock with its first statement. With
    ``SessionDep`` that is the sign-in check, a dependency that runs in one worker
    thread, while the endpoint body needs another; when every worker thread is taken by
    requests waiting for that lock, the request holding it can never continue, and all
    of them wait out the busy timeout and fail. Booking endpoints are exactly the ones
    that get many requests at the same moment.
    """
    token = _bearer(authorization)
    if token is None:
        raise NotAuthenticated("You are not signed in. Sign in again.")
    with transaction(sessions(request)) as session:
        return auth.context_for_session_token(session, token)


DeviceDep = Annotated[Device, Depends(enrolled_device)]
DeviceContext = Annotated[AuthContext, Depends(device_context)]
StaffContext = Annotated[AuthContext, Depends(staff_context)]
SyncContext = Annotated[AuthContext, Depends(sync_context)]
StaffApart = Annotated[AuthContext, Depends(staff_context_apart)]
