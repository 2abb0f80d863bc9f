"""SMS through Twilio's Messages API (``POST /2010-04-01/Accounts/{sid}/Messages.json``).

Twilio answers 201 with the message resource (``sid``, ``status``, ``num_segments`` as a
string) or an error body ``{"code", "message", "more_info", "status"}``. What an error
means for the message:

- 400 with a code about the recipient (21211 not a valid number, 21614 not a mobile,
  21610 the patient texted STOP) → ``PermanentFailure``: sending again fails the same way.
- 400 with a code about our sender (21212, 21606, 21659) and 401/403/404 (20003: our
  account SID or auth token is wrong or suspended) → ``TransientFailure`` with code
  ``provider_config`` / ``provider_auth``. A wrong credential will not fix itself on
  retry, but it is not the patient's fault either: the message is kept, staff see "the SMS
  provider refused our credentials", and it goes out once the setting is corrected.
- 429 (20429) → ``TransientFailure`` with ``retry_after`` from ``Retry-After``.
- 5xx, timeouts and network errors → ``TransientFailure``.

Twilio's own error texts quote the patient's number; reasons use our words where we know
the code and otherwise Twilio's text with numbers masked.
"""

from __future__ import annotations

import logging
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

log = logging.getLogger(__name__)

API_BASE = "https://api.twilio.com/2010-04-01"
PROVIDER = "The SMS provider (Twilio)"

# Twilio's error codes (sending and delivery receipts) in words reception can act on.
ERROR_WORDS: dict[int, str] = {
    20003: "The SMS provider refused our credentials: check the Twilio account SID and auth token.",
    20429: "The SMS provider asked us to slow down.",
    21211: "The phone number is not a valid number.",
    21212: "The clinic's sending number is not a valid number on the SMS account.",
    21408: "Texts to this country are not enabled on the clinic's SMS account.",
    21606: "The clinic's sending number cannot send texts.",
    21610: "The patient has replied STOP to the clinic's texts; the SMS provider will not "
    "send to them until they reply START.",
    21612: "The SMS provider cannot reach this number.",
    21614: "The phone number is not a mobile number, so it cannot receive texts.",
    21617: "The message is too long to send as a text.",
    21659: "The clinic's sending number is not a number of the clinic's SMS account.",
    30003: "The phone was unreachable (switched off or out of signal).",
    30004: "The message was blocked by the recipient's phone or network.",
    30005: "The number does not exist or is no longer in service.",
    30006: "The number is a landline or cannot receive texts.",
    30007: "The mobile network filtered the message as possible spam.",
    30008: "The mobile network could not deliver the message and gave no reason.",
}
FAILURE_CODES: dict[int, str] = {
    21211: failures.INVALID_ADDRESS,
    21610: failures.OPTED_OUT,
    21612: failures.INVALID_ADDRESS,
    21614: failures.NOT_MOBILE,
    30005: failures.INVALID_ADDRESS,
    30006: failures.NOT_MOBILE,
}
SENDER_CODES = frozenset({21212, 21606, 21659})  # our sender is not set up: not the patient's


def error_words(code: int | str | None, fallback: str | None = None) -> str:
    """A Twilio error code in words, with the code itself for anyone asking Twilio;
    ``fallback`` (Twilio's own text, numbers masked) for a code we have no words for."""
    number = _as_int(code)
    if number is None:
        return redact(fallback) if fallback else "The SMS provider gave no reason."
    words = ERROR_WORDS.get(number) or (redact(fallback) if fallback else None)
    if words is None:
        return f"The SMS provider reported Twilio error {number}."
    return f"{words} (Twilio error {number})"


class TwilioSms:
    """Sends through one Twilio account, from a number or a messaging service."""

    name = "twilio"
    channel = Channel.SMS

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        client: httpx.Client,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        api_base: str = API_BASE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not (from_number or messaging_service_sid):
            raise ValueError("Twilio needs a sending number or a messaging service SID.")
        self._auth = (account_sid, auth_token)
        self._client = client
        self._from_number = from_number
        self._messaging_service_sid = messaging_service_sid
        self._url = f"{api_base}/Accounts/{account_sid}/Messages.json"
        self._clock = clock

    def send(self, message: Outgoing) -> Accepted:
        form = {"To": message.to, "Body": message.text}
        # The clinic's own number first (its patients' replies come back to it); else a
        # messaging service picks the sender itself (and handles STOP for every number).
        if message.sender_number:
            form["From"] = message.sender_number
        elif self._messaging_service_sid:
            form["MessagingServiceSid"] = self._messaging_service_sid
        elif self._from_number:
            form["From"] = self._from_number
        if message.status_callback:
            form["StatusCallback"] = message.status_callback
        response = post(self._client, self._url, provider=PROVIDER, data=form, auth=self._auth)
        if response.is_success:
            return self._accepted(response)
        raise self._failure(response)

    def _accepted(self, response: httpx.Response) -> Accepted:
        body = json_body(response)
        body = body if isinstance(body, dict) else {}
        sid = body.get("sid")
        if not isinstance(sid, str):
            # Accepted all the same: sending again would text the patient twice.
            log.warning("Twilio accepted a message but its answer names no sid")
            sid = None
        return Accepted(provider_message_id=sid, segments=_as_int(body.get("num_segments")))

    def _failure(self, response: httpx.Response) -> SendFailure:
        body: Any = json_body(response)
        body = body if isinstance(body, dict) else {}
        code = _as_int(body.get("code"))
        text = body.get("message") if isinstance(body.get("message"), str) else None
        status = response.status_code
        wait = retry_after(response, self._clock())
        if status == httpx.codes.TOO_MANY_REQUESTS:
            return TransientFailure(
                error_words(code or 20429, text), code=failures.RATE_LIMITED, retry_after=wait
            )
        if status in (401, 403, 404):  # 404: no such account at the URL our SID makes
            said = f"HTTP {status}" + (f", Twilio error {code}" if code is not None else "")
            return TransientFailure(
                f"{ERROR_WORDS[20003]} ({said})", code=failures.PROVIDER_AUTH, retry_after=wait
            )
        if not 400 <= status < 500:
            return TransientFailure(
                f"{PROVIDER} is not working right now (HTTP {status}); the message will be "
                "tried again.",
                code=failures.PROVIDER_DOWN,
                retry_after=wait,
            )
        if code in SENDER_CODES:
            return TransientFailure(error_words(code, text), code=failures.PROVIDER_CONFIG)
        refused = f"{PROVIDER} refused the message" + (f": {text}" if text else ".")
        kind = failures.REJECTED if code is None else FAILURE_CODES.get(code, failures.REJECTED)
        return PermanentFailure(error_words(code, refused), code=kind)


def _as_int(value: object) -> int | None:
    """Twilio sends some numbers as strings ("num_segments": "2")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
