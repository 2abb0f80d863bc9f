"""Rate limits for the patients' pages: requests counted per (scope, key) in fixed
windows, in the database (``RateCounter``) so every worker process of a server counts
together. Keys are keyed hashes of what is limited (an address, a link), never the thing
itself.

Over the limit is a 429 with a friendly page saying when to try again; nothing of the
refused request is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import datetime, timedelta

from fastapi import Request
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from common.errors import TooManyAttempts
from server.config import Settings
from server.db import Database, utcnow
from server.web.models import RateCounter

# Windows older than this are deleted now and then (the longest window in use is a day).
KEEP = timedelta(days=2)


def keyed(settings: Settings, scope: str, value: str) -> str:
    """A keyed hash of ``value`` (an IP address, a link's id): counters and spam triage
    can tell two apart without the database holding either."""
    mac = hmac.new(settings.secret_key.encode(), f"{scope}:{value}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def client_address(request: Request) -> str:
    """The caller's address as uvicorn saw it (behind a trusted proxy, the proxy's
    ``X-Forwarded-For``; see ``trusted_proxies``)."""
    return request.client.host if request.client else "unknown"


def address_hash(request: Request, settings: Settings) -> str:
    return keyed(settings, "address", network_of(client_address(request)))


def network_of(address: str) -> str:
    """What one client is, for counting: an IPv4 address, or an IPv6 address's /64 (one
    home or phone is given a whole /64, and could otherwise count as endless clients)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def hit(
    db: Database,
    scope: str,
    key: str,
    *,
    limit: int,
    window: timedelta,
    what: str = "requests",
    now: datetime | None = None,
) -> None:
    """Count one more request of ``scope`` from ``key``; over ``limit`` in the current
    window raises ``TooManyAttempts`` (a 429 saying when to come back). In a short
    transaction of its own, before the request's real work, so a refused request
    changes nothing else."""
    now = now or utcnow()
    seconds = int(window.total_seconds())
    start = datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, now.tzinfo)
    with db.writing() as session:
        count = _increment(session, scope, key, start)
        if count == 1 and int(now.timestamp()) % 97 == 0:
            session.execute(delete(RateCounter).where(RateCounter.window_start < now - KEEP))
    if count > limit:
        retry_after = max(1, int((start + window - now).total_seconds()))
        minutes = (retry_after + 59) // 60
        when = "in a minute" if minutes <= 1 else f"in {minutes} minutes"
        raise TooManyAttempts(
            f"Too many {what} from here in a short time. Please try again {when}, or call "
            "the clinic.",
            retry_after=retry_after,
        )


def _increment(session: Session, scope: str, key: str, start: datetime) -> int:
    values = {"scope": scope, "key": key, "window_start": start, "count": 1}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(RateCounter)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["scope", "key", "window_start"],
            set_={"count": RateCounter.count + 1},
        )
        .returning(RateCounter.count)
    )
    return int(session.execute(statement).scalar_one())
