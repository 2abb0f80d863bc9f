"""What the HTTP providers (Twilio, SendGrid) share: one POST that turns a network fault
into a ``TransientFailure``, and reading the provider's "wait this long" headers.

A timeout is transient even though the provider may have accepted the message before the
line dropped: neither API takes an idempotency key, and a rare duplicate reminder is
better than a lost one. The dispatcher keeps the delivery id on each attempt, so a receipt
for the first attempt still finds its delivery.
"""

from __future__ import annotations

import email.utils
from datetime import UTC
from typing import Any

import httpx

from server.messaging.providers import failures
from server.messaging.providers.base import TransientFailure


def post(client: httpx.Client, url: str, *, provider: str, **request: Any) -> httpx.Response:
    """``client.post(url, **request)``; a timeout or a network error is transient."""
    try:
        return client.post(url, **request)
    except httpx.TimeoutException as exc:
        raise TransientFailure(
            f"{provider} did not answer in time; the message will be tried again.",
            code=failures.NETWORK,
        ) from exc
    except httpx.TransportError as exc:
        raise TransientFailure(
            f"{provider} could not be reached ({type(exc).__name__}); the message will be "
            "tried again.",
            code=failures.NETWORK,
        ) from exc


def json_body(response: httpx.Response) -> Any:
    """The parsed body, or None when it is not JSON (a proxy's HTML error page)."""
    try:
        return response.json()
    except ValueError:
        return None


def retry_after(response: httpx.Response, now: float) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date), if it says."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
