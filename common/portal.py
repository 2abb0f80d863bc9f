"""What the desk and the server agree on about the patient portal: the states of an
invitation, how an account's people relate to it, and the portable profile's fields.

A portal account belongs to the patient, not to a clinic: one per e-mail address on the
whole server. Each clinic keeps its own patient record, linked to the account (the
account holder's own record, or a dependant's: a child or an elderly parent managed by
the account holder, who has no account of their own).
"""

from __future__ import annotations

from enum import StrEnum


class InviteStatus(StrEnum):
    SENT = "sent"
    OPENED = "opened"  # the patient started setting up their account
    ACCEPTED = "accepted"  # the account exists and is linked to the clinic's record
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # replaced by a newer invitation, or called off by staff

    @property
    def label(self) -> str:
        return {
            InviteStatus.SENT: "Sent",
            InviteStatus.OPENED: "Opened",
            InviteStatus.ACCEPTED: "Account created",
            InviteStatus.EXPIRED: "Expired",
            InviteStatus.WITHDRAWN: "Withdrawn",
        }[self]


class Relation(StrEnum):
    SELF = "self"  # the account holder's own record at the clinic
    DEPENDANT = "dependant"  # someone the account holder manages care for

    @property
    def label(self) -> str:
        return "Account holder" if self is Relation.SELF else "Family member"


# The portable profile: what the patient keeps on their account and shares clinic by
# clinic. Field name → label, in the order forms and the desk show them.
PROFILE_FIELDS: dict[str, str] = {
    "date_of_birth": "Date of birth",
    "allergies": "Allergies",
    "conditions": "Chronic conditions",
    "blood_type": "Blood type",
    "insurance": "Insurance",
    "emergency_contacts": "Emergency contacts",
}
BLOOD_TYPES = ("", "A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-")
PROFILE_TEXT_LENGTH = 1000  # each free-text field of the profile

INVITE_VALID_DAYS = 14
