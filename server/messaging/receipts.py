"""Provider callbacks read into neutral events, so the webhook endpoints only verify the
signature, store what arrived and hand these over.

Every event has an ``event_key`` that is the same each time the provider posts the same
thing: Twilio re-posts an identical status callback when our answer was slow, SendGrid
re-posts a batch for up to a day after an error. The endpoint records each key once.

A status event whose ``status`` is None changes no delivery (SendGrid's "processed",
"deferred", "open"; Twilio's "queued", "sending"); it is still returned, with the
provider's own word in ``provider_status``, for anyone who wants to record it.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from common.messaging import DeliveryStatus
from server.messaging.providers.sendgrid import DELIVERY_ID_ARG
from server.messaging.providers.twilio import error_words

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatusEvent:
    provider: str  # "twilio" / "sendgrid"
    event_key: str
    provider_message_id: str | None  # Twilio's MessageSid; SendGrid's X-Message-Id
    status: DeliveryStatus | None  # None: nothing for the delivery to change
    provider_status: str  # the provider's own word: "delivered", "bounce", "deferred"…
    error_code: str | None = None
    error_text: str | None = None  # in words for staff
    delivery_id: uuid.UUID | None = None  # when the provider carries ours back (SendGrid)
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class InboundSms:
    event_key: str
    provider_message_id: str
    from_number: str  # E.164
    to_number: str
    body: str


TWILIO_STATUSES = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.FAILED,
}
SENDGRID_STATUSES = {
    "delivered": DeliveryStatus.DELIVERED,
    "bounce": DeliveryStatus.BOUNCED,
    "dropped": DeliveryStatus.FAILED,
}
_DIGITS_ONLY = re.compile(r"\d{7,15}")


def twilio_status(params: Mapping[str, object]) -> StatusEvent:
    """A Twilio status callback (form fields ``MessageSid``, ``MessageStatus``,
    ``ErrorCode``…) as an event. ``params`` may be the request's form as it is."""
    sid = _required(params, "MessageSid", "Twilio status callback")
    state = _required(params, "MessageStatus", "Twilio status callback").lower()
    error_code = _optional(params, "ErrorCode")
    status = TWILIO_STATUSES.get(state)
    error_text = None
    if error_code is not None and status is not None and status.went_wrong:
        error_text = error_words(error_code)
    return StatusEvent(
        provider="twilio",
        event_key=f"twilio:{sid}:{state}",
        provider_message_id=sid,
        status=status,
        provider_status=state,
        error_code=error_code,
        error_text=error_text,
    )


def twilio_inbound(params: Mapping[str, object]) -> InboundSms:
    """A text a patient sent to the clinic's number (Twilio's incoming message webhook)."""
    sid = _required(params, "MessageSid", "Twilio incoming message")
    return InboundSms(
        event_key=f"twilio:in:{sid}",
        provider_message_id=sid,
        from_number=_e164(_required(params, "From", "Twilio incoming message")),
        to_number=_e164(_required(params, "To", "Twilio incoming message")),
        body=body if isinstance(body := params.get("Body"), str) else "",
    )


def sendgrid_events(body: bytes) -> list[StatusEvent]:
    """A SendGrid Event Webhook post (a JSON array of events) as events.

    Raises ``ValueError`` when the body is not such an array. A single event without an
    ``sg_event_id`` cannot be recorded once and only once, so it is skipped (and logged),
    rather than refusing the batch SendGrid would then re-post for a day.
    """
    try:
        posted = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"The SendGrid event post is not JSON: {exc}.") from exc
    if not isinstance(posted, list):
        raise ValueError("The SendGrid event post is not a list of events.")
    events = []
    skipped = 0
    for item in posted:
        event = _sendgrid_event(item)
        if event is None:
            skipped += 1
        else:
            events.append(event)
    if skipped:
        log.warning("skipped %d SendGrid event(s) without an event id or type", skipped)
    return events


def _sendgrid_event(item: object) -> StatusEvent | None:
    if not isinstance(item, dict):
        return None
    event_id, kind = item.get("sg_event_id"), item.get("event")
    if not isinstance(event_id, str) or not event_id or not isinstance(kind, str):
        return None
    status = SENDGRID_STATUSES.get(kind)
    reason = item.get("reason") if isinstance(item.get("reason"), str) else None
    error_code = item.get("status") if isinstance(item.get("status"), str) else None
    error_text = None
    if status is DeliveryStatus.BOUNCED:
        blocked = item.get("type") == "blocked"
        what = "The receiving mail server blocked the e-mail" if blocked else "The e-mail bounced"
        error_text = f"{what}: {reason}" if reason else f"{what}."
    elif status is DeliveryStatus.FAILED:
        error_text = f"The e-mail provider did not send it: {reason or 'no reason given'}."
    return StatusEvent(
        provider="sendgrid",
        event_key=f"sendgrid:{event_id}",
        provider_message_id=_sendgrid_message_id(item.get("sg_message_id")),
        status=status,
        provider_status=kind,
        error_code=error_code if status is not None and status.went_wrong else None,
        error_text=error_text,
        delivery_id=_uuid_or_none(item.get(DELIVERY_ID_ARG)),
        occurred_at=_moment(item.get("timestamp")),
    )


def _sendgrid_message_id(value: object) -> str | None:
    """The X-Message-Id sending returned, from ``sg_message_id`` (that id, then
    ".filter…" or ".recvd…"). Today's ids have no dot, so the part before the first dot;
    older ones did ("14c5d75ce93.dfd.64b469.filter0001…"), so a ".filter" suffix is cut off
    whole first."""
    if not isinstance(value, str):
        return None
    head, marker, _ = value.partition(".filter")
    return (head if marker else value.split(".", 1)[0]) or None


def _optional(params: Mapping[str, object], name: str) -> str | None:
    value = params.get(name)
    return (value.strip() or None) if isinstance(value, str) else None


def _required(params: Mapping[str, object], name: str, what: str) -> str:
    value = _optional(params, name)
    if value is None:
        raise ValueError(f"The {what} has no {name}.")
    return value


def _e164(number: str) -> str:
    """Twilio sends E.164; a "+" lost to form decoding (read as a space) is put back."""
    return f"+{number}" if _DIGITS_ONLY.fullmatch(number) else number


def _moment(value: object) -> datetime | None:
    """SendGrid's ``timestamp``: Unix seconds."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _uuid_or_none(value: object) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
