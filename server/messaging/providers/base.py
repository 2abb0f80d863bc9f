"""The one interface every sending provider implements.

The dispatcher hands a provider one ``Outgoing`` at a time and learns one of three
things: it was accepted (``Accepted``, with the provider's id for later receipts), it
failed for now and may be tried again later (``TransientFailure``: a 429, a 5xx, a
timeout), or it can never succeed as written (``PermanentFailure``: an invalid number, a
refused address). A provider never retries on its own; the dispatcher owns back-off.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Protocol

from common.messaging import Channel


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "text/calendar; method=REQUEST"
    content: bytes


@dataclass(frozen=True)
class Outgoing:
    """One delivery, ready to hand over: everything rendered, nothing left to look up."""

    delivery_id: uuid.UUID
    clinic_id: uuid.UUID
    channel: Channel
    to: str  # E.164 for SMS, an e-mail address for e-mail
    sender_name: str  # the clinic's name: every send says who it is from
    text: str
    subject: str = ""  # e-mail only
    html: str | None = None  # e-mail only
    attachments: tuple[Attachment, ...] = ()
    # E-mail headers such as List-Unsubscribe / List-Unsubscribe-Post (marketing).
    headers: dict[str, str] = field(default_factory=dict)
    # Where the provider should post delivery receipts for this message, if anywhere.
    status_callback: str | None = None
    # The clinic's own number to text from (SMS), when it has one; else the server's.
    sender_number: str | None = None


@dataclass(frozen=True)
class Accepted:
    provider_message_id: str | None
    segments: int | None = None
    # True when handing over *is* delivery (the development outbox): no receipt follows.
    delivered: bool = False


class SendFailure(Exception):
    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class TransientFailure(SendFailure):
    """Worth trying again later; ``retry_after`` seconds when the provider said so."""

    def __init__(
        self, reason: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason, code=code)
        self.retry_after = retry_after


class PermanentFailure(SendFailure):
    """Trying again would fail the same way (an invalid number, a refused address)."""


class Provider(Protocol):
    name: str
    channel: Channel

    def send(self, message: Outgoing) -> Accepted:
        """Hand ``message`` over, or raise ``TransientFailure`` / ``PermanentFailure``."""
        ...
