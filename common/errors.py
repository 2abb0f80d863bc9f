"""Expected failures as typed errors.

Each carries an HTTP status, a machine-readable ``code`` and a message a person can act
on. One handler on the server turns them into JSON; the desk shows the same message in a
dialog. An expected conflict is therefore a 4xx with words, never a 500 with a trace.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    status = 422
    code = "invalid"


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"


class WrongCredentials(NotAuthenticated):
    code = "wrong_credentials"


class DeviceTokenExpired(NotAuthenticated):
    code = "device_token_expired"


class DeviceRevoked(NotAuthenticated):
    """A clinic admin removed this workstation: nobody may use it until it is enrolled
    again by an online sign-in."""

    code = "device_revoked"


class SessionExpired(NotAuthenticated):
    code = "session_expired"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class StaleVersion(Conflict):
    """The record changed since the version the change was based on."""

    code = "stale_version"


class SlotTaken(Conflict):
    """The provider already has an active appointment overlapping the requested time.

    ``suggestions`` holds the nearest free ``(start, end)`` pairs for the same provider.
    """

    code = "slot_taken"

    def __init__(
        self, message: str, suggestions: list[tuple[datetime, datetime]] | None = None
    ) -> None:
        super().__init__(message)
        self.suggestions = suggestions or []


class TooManyAttempts(DomainError):
    """Signing in is refused for a while (too many wrong passwords for an account, or
    from one network). ``retry_after`` is in seconds; the server also sends it as the
    ``Retry-After`` header, so any client can wait the right time."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerBusy(TooManyAttempts):
    """Too many sign-ins at the same moment: every password check the server allows at
    once is taken and the queue behind them is full. Trying again shortly will work."""

    code = "server_busy"


class UpgradeRequired(DomainError):
    status = 426
    code = "upgrade_required"


ERRORS_BY_CODE: dict[str, type[DomainError]] = {
    cls.code: cls
    for cls in (
        DomainError,
        InvalidInput,
        NotAuthenticated,
        WrongCredentials,
        DeviceTokenExpired,
        DeviceRevoked,
        SessionExpired,
        Forbidden,
        NotFound,
        Conflict,
        StaleVersion,
        SlotTaken,
        TooManyAttempts,
        ServerBusy,
        UpgradeRequired,
    )
}


def error_from_code(code: str, message: str) -> DomainError:
    """Rebuild a typed error from the ``{code, message}`` body the server sends."""
    return ERRORS_BY_CODE.get(code, DomainError)(message)
