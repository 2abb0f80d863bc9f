"""Checks shared by every entry point, each failing with words a person can act on."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from common.errors import InvalidInput

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10


def check_slug(slug: str) -> str:
    if not SLUG_PATTERN.match(slug):
        raise InvalidInput(
            f"{slug!r} cannot be a clinic's short name: use lower-case letters, digits and "
            "hyphens, for example 'riverside-physio'."
        )
    return slug


def check_time_zone(name: str) -> ZoneInfo:
    if name not in available_timezones():
        raise InvalidInput(
            f"{name!r} is not a time zone we know: use an IANA name such as 'Europe/London'."
        )
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:  # pragma: no cover - listed but not loadable
        raise InvalidInput(f"The time zone {name!r} could not be loaded.") from None


def canonical_email(email: str) -> str:
    """How an e-mail address is stored and compared: trimmed, lower-case."""
    return email.strip().lower()


def normalise_email(email: str) -> str:
    cleaned = canonical_email(email)
    if not EMAIL_PATTERN.match(cleaned):
        raise InvalidInput(f"{email!r} does not look like an e-mail address.")
    return cleaned


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"A staff password needs at least {MIN_PASSWORD_LENGTH} characters.")
    return password
