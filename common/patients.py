"""A patient's file: the rules for what reception records, shared by the desk and the server.

The desk checks a registration or an edit before it queues it, so a receptionist hears
about a mistyped phone number while the form is still open; the server checks the same
rules again when the change arrives (the desk may be older, or the change forged), and a
refusal waits in "Needs attention" with the same words.

Phone numbers are kept in E.164 (``+447700900123``), read in the clinic's country when
typed without a country code, so the same number is always written the same way and can
be found and compared. A phone or e-mail that a patient's file already holds and that is
saved unchanged is kept as it is: records from before these rules are not refused for
what nobody touched.
"""

from __future__ import annotations

import re
import uuid
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from common.errors import InvalidInput

NAME_MAX = 100
ADDRESS_LINE_MAX = 200
CITY_MAX = 100
POSTCODE_MAX = 16
PHONE_MAX = 32
EMAIL_MAX = 254
ALERT_MAX = 120
ALERTS_MAX = 10
EARLIEST_BIRTH = date(1900, 1, 1)
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")

# How a refusal names a country ("not a valid UK number"); others go by their code.
COUNTRY_WORDS = {
    "GB": "UK",
    "IE": "Irish",
    "US": "US",
    "CA": "Canadian",
    "AU": "Australian",
    "NZ": "New Zealand",
    "DE": "German",
    "FR": "French",
    "NL": "Dutch",
    "ES": "Spanish",
    "IT": "Italian",
}
# Time zones whose country is certain, for when the system's zone table is not there.
ZONE_COUNTRIES = {
    "Europe/London": "GB",
    "Europe/Belfast": "GB",
    "Europe/Dublin": "IE",
    "Europe/Berlin": "DE",
    "Europe/Paris": "FR",
    "Europe/Amsterdam": "NL",
    "Europe/Madrid": "ES",
    "Europe/Rome": "IT",
    "America/New_York": "US",
    "America/Chicago": "US",
    "America/Denver": "US",
    "America/Los_Angeles": "US",
    "America/Toronto": "CA",
    "Australia/Sydney": "AU",
    "Pacific/Auckland": "NZ",
}


class Sex(StrEnum):
    """What a clinic records of a patient's sex: as stated, or that it was not."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"  # stated, and neither of the above (intersex, another answer)
    UNKNOWN = "unknown"  # not recorded, or the patient did not say

    @property
    def label(self) -> str:
        return {
            Sex.FEMALE: "Female",
            Sex.MALE: "Male",
            Sex.OTHER: "Other",
            Sex.UNKNOWN: "Not recorded",
        }[self]


class PatientInvalid(InvalidInput):
    """A refusal about one field of the form, so the desk can say it beside that field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        # The other fields refused in the same check, so a form can mark them all at once
        # (this one is the first; its message is what a server answer carries).
        self.also: tuple[PatientInvalid, ...] = ()


@dataclass(frozen=True)
class PatientDetails:
    """Everything reception records on a patient's file, as the rules want it."""

    first_name: str
    last_name: str
    date_of_birth: date | None = None
    sex: Sex = Sex.UNKNOWN
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    postcode: str = ""
    phone: str | None = None
    email: str | None = None
    alerts: tuple[str, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


# --- the clinic's country ------------------------------------------------------------


def country_words(country: str | None) -> str:
    if country is None:
        return "international"
    return COUNTRY_WORDS.get(country, country)


def check_country(country: str) -> str:
    code = country.strip().upper()
    if not COUNTRY_PATTERN.match(code) or code not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput(
            f"{country!r} is not a country we know: use its two-letter ISO code, such as 'GB'."
        )
    return code


def country_for_time_zone(zone: str) -> str | None:
    """The country a time zone belongs to (``Europe/London`` → ``GB``), from the system's
    zone table, or None when it cannot be told (``UTC``): a clinic's country is stored
    when it is created, and this is only the default offered then."""
    if zone in ZONE_COUNTRIES:
        return ZONE_COUNTRIES[zone]
    for folder in zoneinfo.TZPATH:
        table = Path(folder) / "zone.tab"
        try:
            lines = table.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            parts = line.split("\t")
            if len(parts) >= 3 and not line.startswith("#") and parts[2] == zone:
                return parts[0] if parts[0] in phonenumbers.SUPPORTED_REGIONS else None
        return None
    return None


# --- one field at a time ---------------------------------------------------------------


def _no_control(value: str, field_name: str, what: str) -> str:
    if any(ord(ch) < 32 and ch != "\t" for ch in value):
        raise PatientInvalid(field_name, f"The {what} must not contain line breaks or codes.")
    return value


def check_name(value: str, field_name: str = "first_name") -> str:
    what = "first name" if field_name == "first_name" else "last name"
    cleaned = " ".join(_no_control(value, field_name, what).split())
    if not cleaned:
        raise PatientInvalid(field_name, f"Type the patient's {what}.")
    if len(cleaned) > NAME_MAX:
        raise PatientInvalid(field_name, f"The {what} is too long: at most {NAME_MAX} characters.")
    if any(ch in cleaned for ch in "<>"):
        # No name has them, and names typed on the public pages reach every desk's
        # labels, where markup would be drawn rather than shown.
        raise PatientInvalid(field_name, f"The {what} cannot contain < or >.")
    return cleaned


def check_birth_date(born: date | None, today: date) -> date | None:
    if born is None:
        return None
    if born > today:
        raise PatientInvalid(
            "date_of_birth", f"The date of birth {born:%d/%m/%Y} is in the future."
        )
    if born < EARLIEST_BIRTH:
        raise PatientInvalid(
            "date_of_birth",
            f"The date of birth {born:%d/%m/%Y} is before {EARLIEST_BIRTH.year}: check the year.",
        )
    return born


def parse_birth_date(text: str) -> date | None:
    """What staff type for a date of birth: 17/05/1980, 17.05.1980 or 1980-05-17."""
    cleaned = text.strip()
    if not cleaned:
        return None
    for pattern in (r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})", r"(\d{4})-(\d{1,2})-(\d{1,2})"):
        found = re.fullmatch(pattern, cleaned)
        if found is None:
            continue
        numbers = [int(part) for part in found.groups()]
        day, month, year = numbers if pattern.startswith(r"(\d{1,2})") else numbers[::-1]
        try:
            return date(year, month, day)
        except ValueError:
            raise PatientInvalid(
                "date_of_birth",
                f"There is no such day as {cleaned}: check the day and the month.",
            ) from None
    raise PatientInvalid(
        "date_of_birth",
        f"{cleaned!r} is not a date of birth: write it like 17/05/1980.",
    )


def _line(value: str, field_name: str, what: str, longest: int) -> str:
    cleaned = " ".join(_no_control(value, field_name, what).split())
    if len(cleaned) > longest:
        raise PatientInvalid(field_name, f"The {what} is too long: at most {longest} characters.")
    return cleaned


def check_postcode(value: str, country: str | None) -> str:
    # Upper case first: a letter may become two ("ß" → "SS"), and the bound is on what is kept.
    cleaned = _line(value.upper(), "postcode", "postcode", POSTCODE_MAX)
    if cleaned and not re.fullmatch(r"[A-Z0-9][A-Z0-9 -]*", cleaned):
        raise PatientInvalid("postcode", f"{cleaned!r} is not a postcode: letters and digits only.")
    if cleaned and country == "GB":
        compact = cleaned.replace(" ", "")
        if not re.fullmatch(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}", compact):
            raise PatientInvalid(
                "postcode", f"{cleaned!r} is not a UK postcode: write it like SW1A 1AA."
            )
        cleaned = f"{compact[:-3]} {compact[-3:]}"
    return cleaned


def normalise_phone(value: str | None, country: str | None) -> str | None:
    """The number in E.164, read in ``country`` when typed without a country code; None
    for nothing typed. Refused in words when it is not a number that can be dialled."""
    typed = " ".join((value or "").split())
    if not typed:
        return None
    place = country_words(country)
    hint = (
        f"Check the digits, or write it with its country code (+{_calling_code(country)} …)."
        if country
        else "Write it with its country code, such as +44 7400 912345."
    )
    if len(typed) > PHONE_MAX:
        raise PatientInvalid("phone", f"That phone number is too long: {typed[:PHONE_MAX]}…")
    try:
        number = phonenumbers.parse(typed, country)
    except phonenumbers.NumberParseException:
        raise PatientInvalid(
            "phone", f"That phone number is not a valid {place} number: {typed}. {hint}"
        ) from None
    if not phonenumbers.is_valid_number(number):
        region = phonenumbers.region_code_for_number(number)
        if region and region != country:
            place = country_words(region)
        raise PatientInvalid(
            "phone", f"That phone number is not a valid {place} number: {typed}. {hint}"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _calling_code(country: str | None) -> int:
    return phonenumbers.country_code_for_region(country) if country else 44


def show_phone(phone: str | None, country: str | None) -> str:
    """A stored number as staff read it: national for the clinic's country, else
    international; anything that does not parse as it was stored."""
    if not phone:
        return ""
    try:
        number = phonenumbers.parse(phone, country)
    except phonenumbers.NumberParseException:
        return phone
    national = phonenumbers.region_code_for_number(number) == country
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if national
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


def normalise_email(value: str | None) -> str | None:
    """The address as it is stored and compared (domain in lower case, the local part as
    written), checked for its form only: nothing is looked up on the network."""
    typed = (value or "").strip()
    if not typed:
        return None
    if len(typed) > EMAIL_MAX:
        raise PatientInvalid("email", "That e-mail address is too long.")
    try:
        checked = validate_email(typed, check_deliverability=False)
    except EmailNotValidError as error:
        reason = str(error).rstrip(".")
        raise PatientInvalid(
            "email", f"That e-mail address is not valid: {typed}. {reason}."
        ) from None
    return checked.normalized


def check_alerts(alerts: Iterable[str]) -> tuple[str, ...]:
    """Staff alerts ("needs wheelchair access"): short lines, blanks and repeats dropped."""
    kept: list[str] = []
    for alert in alerts:
        cleaned = _line(alert, "alerts", "alert", ALERT_MAX) if alert.strip() else ""
        if cleaned and cleaned.casefold() not in {k.casefold() for k in kept}:
            kept.append(cleaned)
    if len(kept) > ALERTS_MAX:
        raise PatientInvalid("alerts", f"A patient's file holds at most {ALERTS_MAX} alerts.")
    return tuple(kept)


# --- the whole file --------------------------------------------------------------------


def clean(
    details: PatientDetails,
    *,
    country: str | None,
    today: date,
    previous: PatientDetails | None = None,
) -> PatientDetails:
    """``details`` as they are stored, or the first refusal (``PatientInvalid``, naming
    its field). ``previous``: what the file holds now; a phone or e-mail saved as it was
    is kept without being checked again (a phone also when retyped in another form, say
    national where it is stored international), so a number on file before these rules
    is never refused for what nobody changed."""
    sex = details.sex if isinstance(details.sex, Sex) else Sex(details.sex)
    phone_typed = (details.phone or "").strip() or None
    email_typed = (details.email or "").strip() or None
    kept_phone = previous is not None and (
        phone_typed == previous.phone
        or (
            phone_typed is not None
            and _phone_key(phone_typed, country) == _phone_key(previous.phone, country)
        )
    )
    kept_email = previous is not None and email_typed == previous.email
    checks: dict[str, Callable[[], Any]] = {
        "first_name": lambda: check_name(details.first_name, "first_name"),
        "last_name": lambda: check_name(details.last_name, "last_name"),
        "date_of_birth": lambda: check_birth_date(details.date_of_birth, today),
        "address_line1": lambda: _line(
            details.address_line1, "address_line1", "address line", ADDRESS_LINE_MAX
        ),
        "address_line2": lambda: _line(
            details.address_line2, "address_line2", "address line", ADDRESS_LINE_MAX
        ),
        "city": lambda: _line(details.city, "city", "town or city", CITY_MAX),
        "postcode": lambda: check_postcode(details.postcode, country),
        "phone": lambda: (
            previous.phone if kept_phone and previous else normalise_phone(phone_typed, country)
        ),
        "email": lambda: email_typed if kept_email else normalise_email(email_typed),
        "alerts": lambda: check_alerts(details.alerts),
    }
    values: dict[str, Any] = {}
    refused: list[PatientInvalid] = []
    for name, check in checks.items():  # every field, so all refusals are said at once
        try:
            values[name] = check()
        except PatientInvalid as problem:
            refused.append(problem)
    if refused:
        first = refused[0]
        first.also = tuple(refused[1:])
        raise first
    return PatientDetails(sex=sex, **values)


# --- duplicates ------------------------------------------------------------------------


class PatientLike(Protocol):
    """What the duplicate check reads of a patient already on file."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str: ...
    @property
    def date_of_birth(self) -> date | None: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...


@dataclass(frozen=True)
class Duplicate:
    """A patient on file who may be the same person, and why it looks so."""

    patient_id: uuid.UUID
    reasons: tuple[str, ...]


def _folded(name: str) -> str:
    return " ".join(name.split()).casefold()


def _phone_key(phone: str | None, country: str | None) -> str | None:
    """A number compared as E.164 when it parses (so ``07700 900123`` and
    ``+447700900123`` are one), else by its digits."""
    if not phone:
        return None
    try:
        number = phonenumbers.parse(phone, country)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        digits = "".join(ch for ch in phone if ch.isdigit())
        return digits or None


def duplicates(
    candidate: PatientDetails,
    on_file: Iterable[PatientLike],
    *,
    country: str | None = None,
    ignore: uuid.UUID | None = None,
) -> list[Duplicate]:
    """Patients on file who may be ``candidate``: the same name and date of birth, the
    same phone, or the same e-mail. A warning for staff to weigh, never a refusal:
    twins share a phone, families an e-mail address."""
    phone = _phone_key(candidate.phone, country)
    email = candidate.email.casefold() if candidate.email else None
    name = (_folded(candidate.first_name), _folded(candidate.last_name))
    found: list[Duplicate] = []
    for patient in on_file:
        if patient.id == ignore:
            continue
        reasons: list[str] = []
        if (
            candidate.date_of_birth is not None
            and patient.date_of_birth == candidate.date_of_birth
            and (_folded(patient.first_name), _folded(patient.last_name)) == name
        ):
            reasons.append("same name and date of birth")
        if phone is not None and _phone_key(patient.phone, country) == phone:
            reasons.append("same phone")
        if email is not None and patient.email and patient.email.casefold() == email:
            reasons.append("same e-mail")
        if reasons:
            found.append(Duplicate(patient.id, tuple(reasons)))
    return found
