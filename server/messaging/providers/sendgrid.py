"""E-mail through SendGrid's v3 Mail Send API (``POST /v3/mail/send``).

SendGrid answers 202 with an empty body and the message's id in ``X-Message-Id``; the
event webhook later names the message by that id (``sg_message_id`` starts with it) and
carries our ``custom_args`` (the delivery id) back as top-level keys, so a receipt finds
its delivery either way. Errors come as ``{"errors": [{"message", "field", "help"}]}``:

- 400 / 413 → ``PermanentFailure``: the request as written is refused (too large, an
  invalid address); sending it again fails the same way.
- 401 / 403 → ``TransientFailure`` with code ``provider_auth``: our API key is wrong or
  lacks permission, or our sender is not verified. Not the patient's fault; the message
  is kept until staff correct the setting.
- 429 → ``TransientFailure``, waiting until ``X-RateLimit-Reset`` (epoch seconds) or
  ``Retry-After``.
- 5xx, timeouts and network errors → ``TransientFailure``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import httpx

from common.messaging import Channel
from server.messaging.providers import failures
from server.messaging.providers.base import (
    Accepted,
    Outgoing,
    PermanentFailure,
    SendFailure,
    TransientFailure,
)
from server.messaging.providers.http import json_body, post, retry_after
from server.messaging.redact import redact

API_URL = "https://api.sendgrid.com/v3/mail/send"
PROVIDER = "The e-mail provider (SendGrid)"
DELIVERY_ID_ARG = "delivery_id"  # the custom arg receipts carry back


class SendGridEmail:
    name = "sendgrid"
    channel = Channel.EMAIL

    def __init__(
        self,
        api_key: str,
        from_address: str,
        *,
        client: httpx.Client,
        api_url: str = API_URL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._from_address = from_address
        self._client = client
        self._url = api_url
        self._clock = clock

    def send(self, message: Outgoing) -> Accepted:
        response = post(
            self._client,
            self._url,
            provider=PROVIDER,
            json=self.payload(message),
            headers=self._headers,
        )
        if response.is_success:
            return Accepted(provider_message_id=response.headers.get("X-Message-Id") or None)
        raise self._failure(response)

    def payload(self, message: Outgoing) -> dict[str, Any]:
        """The Mail Send body: plain text first, as the API requires, then the HTML."""
        content = [{"type": "text/plain", "value": message.text}]
        if message.html:
            content.append({"type": "text/html", "value": message.html})
        payload: dict[str, Any] = {
            "personalizations": [
                {
                    "to": [{"email": message.to}],
                    "custom_args": {DELIVERY_ID_ARG: str(message.delivery_id)},
                }
            ],
            "from": {"email": self._from_address, "name": message.sender_name},
            "subject": message.subject,
            "content": content,
        }
        if message.attachments:
            payload["attachments"] = [
                {
                    "content": base64.b64encode(attachment.content).decode("ascii"),
                    "type": attachment.content_type,
                    "filename": attachment.filename,
                    "disposition": "attachment",
                }
                for attachment in message.attachments
            ]
        if message.headers:
            payload["headers"] = dict(message.headers)
        return payload

    def _failure(self, response: httpx.Response) -> SendFailure:
        status = response.status_code
        said = _error_messages(json_body(response))
        if status in (400, 413):
            return PermanentFailure(
                f"{PROVIDER} refused the message: {said or f'HTTP {status}'}.",
                code=failures.REJECTED,
            )
        if status in (401, 403):
            return TransientFailure(
                f"{PROVIDER} refused our API key or sender"
                + (f": {said}." if said else f" (HTTP {status}).")
                + " Check the SendGrid API key and the verified sender address.",
                code=failures.PROVIDER_AUTH,
            )
        if status == httpx.codes.TOO_MANY_REQUESTS:
            return TransientFailure(
                f"{PROVIDER} asked us to slow down; the message will be tried again.",
                code=failures.RATE_LIMITED,
                retry_after=self._rate_limit_wait(response),
            )
        if 400 <= status < 500:
            return PermanentFailure(
                f"{PROVIDER} refused the message (HTTP {status})" + (f": {said}." if said else "."),
                code=failures.REJECTED,
            )
        return TransientFailure(
            f"{PROVIDER} is not working right now (HTTP {status}); the message will be tried "
            "again.",
            code=failures.PROVIDER_DOWN,
            retry_after=retry_after(response, self._clock()),
        )

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        now = self._clock()
        reset = response.headers.get("X-RateLimit-Reset", "").strip()
        if reset.isdigit():
            return max(0.0, float(reset) - now)
        return retry_after(response, now)


def _error_messages(body: object) -> str:
    """SendGrid's error messages joined, each with the field it names; addresses masked."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return ""
    said = []
    for error in errors:
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            continue
        field = error.get("field")
        said.append(
            error["message"].rstrip(".") + (f" ({field})" if isinstance(field, str) else "")
        )
    return redact("; ".join(said))
