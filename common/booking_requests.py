"""Web booking requests: their statuses and the rules for a rejection's reason, shared by
the server (which records them) and the desk (which asks for a reason before sending)."""

from __future__ import annotations

from enum import StrEnum

from common.errors import InvalidInput

NOTE_LENGTH = 500
# A rejection's reason is told to the patient and kept on the request: a sentence or two.
REASON_LENGTH = 300


class BookingRequestStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return self.value.capitalize()


def check_reason(text: str) -> str:
    """A rejection's reason, trimmed; refused in words when missing, too long or holding
    control characters (it is shown to the patient)."""
    reason = text.strip()
    if not reason:
        raise InvalidInput("Say why the request is rejected: the patient is told the reason.")
    if len(reason) > REASON_LENGTH:
        raise InvalidInput(f"A reason is at most {REASON_LENGTH} characters.")
    if any(ord(ch) < 32 and ch != "\t" for ch in reason):
        raise InvalidInput("A reason is one line, without control characters.")
    return reason
