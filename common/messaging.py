"""The words of messaging, shared by the server (which sends) and the desk (which shows).

A *message* is what was said: a direction, a body, a purpose. Each channel it goes out on
gets a *delivery*, which moves queued → sent → delivered, or ends failed / bounced /
undelivered. Consent is given per channel and per purpose: a patient may want reminders
by SMS yet no marketing at all.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"

    @property
    def label(self) -> str:
        return "SMS" if self is Channel.SMS else "Email"


class Direction(StrEnum):
    OUT = "out"
    IN = "in"


class Purpose(StrEnum):
    """Why a message is sent: what consent it needs and whether quiet hours hold it."""

    CARE = "care"  # about the patient's own care: confirmations, replies, running late
    REMINDER = "reminder"
    MARKETING = "marketing"
    SURVEY = "survey"
    REVIEW = "review"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def needs_opt_in(self) -> bool:
        """Marketing, surveys and review requests go only to those who said yes; care and
        reminders go to whoever gave the clinic their number or address, until they say
        no (the patient gave it for exactly this)."""
        return self in OPT_IN_PURPOSES


OPT_IN_PURPOSES = frozenset({Purpose.MARKETING, Purpose.SURVEY, Purpose.REVIEW})


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed by a dispatcher, in a provider's hands right now
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    BOUNCED = "bounced"
    UNDELIVERED = "undelivered"
    HELD = "held"  # not sent, and never will be: no consent, opted out, no address

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def went_wrong(self) -> bool:
        return self in PROBLEM_STATUSES


FINAL_STATUSES = frozenset(
    {
        DeliveryStatus.DELIVERED,
        DeliveryStatus.FAILED,
        DeliveryStatus.BOUNCED,
        DeliveryStatus.UNDELIVERED,
        DeliveryStatus.HELD,
    }
)
PROBLEM_STATUSES = frozenset(
    {
        DeliveryStatus.FAILED,
        DeliveryStatus.BOUNCED,
        DeliveryStatus.UNDELIVERED,
        DeliveryStatus.HELD,
    }
)
# A receipt may only move a delivery forwards: a late "sent" never undoes "delivered".
STATUS_RANK = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENDING: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.FAILED: 3,
    DeliveryStatus.BOUNCED: 3,
    DeliveryStatus.UNDELIVERED: 3,
    DeliveryStatus.HELD: 3,
}


class ConsentSource(StrEnum):
    """How a consent was given or withdrawn: the record a regulator asks for."""

    DESK = "desk"  # staff recorded what the patient said (in person, on the phone)
    SMS_KEYWORD = "sms_keyword"  # STOP / START texted by the patient
    UNSUBSCRIBE_LINK = "unsubscribe_link"  # the one-click link in a marketing e-mail
    PORTAL = "portal"
    WEB_FORM = "web_form"

    @property
    def label(self) -> str:
        return {
            ConsentSource.DESK: "recorded at the desk",
            ConsentSource.SMS_KEYWORD: "by text message",
            ConsentSource.UNSUBSCRIBE_LINK: "by the e-mail unsubscribe link",
            ConsentSource.PORTAL: "in the patient portal",
            ConsentSource.WEB_FORM: "on the clinic's web form",
        }[self]
