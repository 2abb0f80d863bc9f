"""Links sent to patients (booking links, manage links, later magic and survey links).

A link's token is 192 random bits, shown once (in the message) and stored only as its
SHA-256 digest, so a copy of the database opens no link. A fast hash is enough here: the
token is random and long, not a password anyone could guess.

Opening a link (GET or HEAD) never spends or changes it: mail scanners and SMS previews
open links before the patient does. Only the patient's POST does, in a transaction that
locks the link's row, so a double click spends it once.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from datetime import datetime

TOKEN_BYTES = 24  # 192 bits, 32 URL-safe characters
DIGEST_LENGTH = 64  # hex SHA-256


def new_token() -> str:
    """A fresh link token (URL-safe, no padding)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> str:
    """What is stored of a token and looked up by. Anything may arrive in a URL: an
    over-long or odd one simply finds nothing."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def plausible(token: str) -> bool:
    """Worth a database lookup: the shape ``new_token`` makes (refuses junk early)."""
    return 16 <= len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token)


def expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now


# A link's token in a path (``/l/{token}``, ``/m/{token}``, the portal's invitations and
# sign-in links): what logs must never keep.
_IN_PATH = re.compile(r"(/[lm]/|/portal/invite/|/portal/link/)[A-Za-z0-9_-]{8,}")


def masked(text: str) -> str:
    """``text`` with any link token in it replaced, for logs."""
    return _IN_PATH.sub(r"\1•••", text)


class MaskTokens(logging.Filter):
    """Keeps link tokens out of the server's logs (uvicorn's access log names every
    path it answers): a log file must open no link, as the database opens none."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(masked(arg) if isinstance(arg, str) else arg for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = masked(record.msg)
        return True
