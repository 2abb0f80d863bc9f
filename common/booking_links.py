"""Booking links: a single-use link, sent by SMS from the patient's file, that lets the
patient book one appointment of a kind the clinic chose (a "broadcast rule"), and the
manage link that comes with the booking's confirmation."""

from __future__ import annotations

from enum import StrEnum

LINK_PLACEHOLDER = "{link}"
TITLE_LENGTH = 120
TEXT_LENGTH = 2000
SMS_TEXT_LENGTH = 480


class BookingLinkStatus(StrEnum):
    """Where a link is: sent → accessed (the patient began) → booked → rescheduled (moved
    through its manage link); or expired (its time ran out, or staff expired it) or
    deleted (staff removed it from the file)."""

    SENT = "sent"
    ACCESSED = "accessed"
    BOOKED = "booked"
    RESCHEDULED = "rescheduled"
    EXPIRED = "expired"
    DELETED = "deleted"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def open(self) -> bool:
        """Still usable to book."""
        return self in (BookingLinkStatus.SENT, BookingLinkStatus.ACCESSED)
