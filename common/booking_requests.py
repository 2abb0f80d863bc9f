"""Web booking requests: their statuses and the rules for a rejection's reason, shared by
the server (which records them) and the desk (which asks for a reason before sending)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from common.errors import InvalidInput
from common.patients import PatientDetails, PatientInvalid, clean

NOTE_LENGTH = 500
INSURANCE_LENGTH = 200
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


@dataclass(frozen=True)
class Applicant:
    """Who asked for a time on the booking widget: possibly not a patient yet. What
    reception needs to match them to a file or register them, and to answer them."""

    first_name: str
    last_name: str
    date_of_birth: date | None = None
    phone: str | None = None
    email: str | None = None
    insurance: str = ""

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def details(self) -> PatientDetails:
        """As a patient's file would hold them (for the duplicate check, and for
        registering them)."""
        return PatientDetails(
            first_name=self.first_name,
            last_name=self.last_name,
            date_of_birth=self.date_of_birth,
            phone=self.phone,
            email=self.email,
        )


def clean_applicant(applicant: Applicant, *, country: str | None, today: date) -> Applicant:
    """The applicant as stored, by the same rules reception's patient form follows (names,
    birth date, a phone in E.164 read in the clinic's country, an e-mail's form), plus
    what a request needs to be answered: a phone or an e-mail. Every refusal is raised at
    once (``PatientInvalid`` and its ``also``), naming its field."""
    refused: list[PatientInvalid] = []
    checked = applicant.details()
    try:
        checked = clean(applicant.details(), country=country, today=today)
    except PatientInvalid as problem:
        refused.extend((problem, *problem.also))
    if applicant.date_of_birth is None and not any(p.field == "date_of_birth" for p in refused):
        refused.append(PatientInvalid("date_of_birth", "Give the date of birth."))
    if not (applicant.phone or "").strip() and not (applicant.email or "").strip():
        refused.append(
            PatientInvalid(
                "phone",
                "Give a mobile number or an e-mail address, so the clinic can tell you its answer.",
            )
        )
    insurance = " ".join(applicant.insurance.split())
    if len(insurance) > INSURANCE_LENGTH:
        refused.append(
            PatientInvalid("insurance", f"The insurance is at most {INSURANCE_LENGTH} characters.")
        )
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in applicant.insurance):
        refused.append(PatientInvalid("insurance", "The insurance must not contain codes."))
    if refused:
        first = refused[0]
        first.also = tuple(refused[1:])
        raise first
    return replace(
        applicant,
        first_name=checked.first_name,
        last_name=checked.last_name,
        date_of_birth=checked.date_of_birth,
        phone=checked.phone,
        email=checked.email,
        insurance=insurance,
    )
