"""Enquiries from people who are not yet patients ("leads"): their statuses and the
moves between them, where an enquiry came from (channel attribution), and the checks of
what the public form and the desk send. Shared by the server (which records leads) and
the desk (which offers only the moves the server will accept).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from common.errors import InvalidInput
from common.patients import (
    NAME_MAX,
    PatientInvalid,
    check_birth_date,
    normalise_email,
    normalise_phone,
    parse_birth_date,
)

MESSAGE_MAX = 2000
NOTE_MAX = 1000
NOTES_MAX = 200  # notes kept on one lead; a lead is worked for days, not years
# One attribution parameter as it arrived (a campaign name, a referrer's name).
PARAMETER_MAX = 100
SOURCE_DETAIL_MAX = 300


class LeadStatus(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    CONVERTED = "converted"
    DISCARDED = "discarded"

    @property
    def label(self) -> str:
        return self.value.capitalize()


# Converted and discarded are final: a discarded enquiry that comes back comes back as a
# new enquiry, with its own trail.
TRANSITIONS: dict[LeadStatus, frozenset[LeadStatus]] = {
    LeadStatus.NEW: frozenset({LeadStatus.CONTACTED, LeadStatus.CONVERTED, LeadStatus.DISCARDED}),
    LeadStatus.CONTACTED: frozenset({LeadStatus.CONVERTED, LeadStatus.DISCARDED}),
    LeadStatus.CONVERTED: frozenset(),
    LeadStatus.DISCARDED: frozenset(),
}


def may_move(current: LeadStatus, to: LeadStatus) -> bool:
    return to in TRANSITIONS[current]


class LeadChannel(StrEnum):
    """How the person found the clinic, as far as the link they followed says."""

    SEARCH = "search"
    AD = "ad"
    REFERRAL = "referral"
    WALK_IN = "walk_in"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return {
            LeadChannel.SEARCH: "Search",
            LeadChannel.AD: "Advert",
            LeadChannel.REFERRAL: "Referral",
            LeadChannel.WALK_IN: "Walk-in",
            LeadChannel.UNKNOWN: "Unknown",
        }[self]


class PreferredContact(StrEnum):
    PHONE = "phone"
    EMAIL = "email"

    @property
    def label(self) -> str:
        return "Phone" if self is PreferredContact.PHONE else "E-mail"


SEARCH_ENGINES = frozenset(
    {
        "google",
        "bing",
        "duckduckgo",
        "yahoo",
        "ecosia",
        "baidu",
        "yandex",
        "startpage",
        "qwant",
        "brave",
    }
)
PAID_MEDIA = frozenset(
    {"cpc", "ppc", "paid", "ads", "ad", "paidsearch", "paid_search", "paid-search", "display"}
)
WALK_IN_REFS = frozenset({"walk-in", "walkin", "walk_in"})


def bounded(value: str | None, longest: int = PARAMETER_MAX) -> str:
    """An attribution parameter as it is kept: printable, one line, trimmed, bounded.
    They arrive from anyone's link, so they are data, never trusted."""
    text = "".join(ch for ch in (value or "") if ch.isprintable())
    return " ".join(text.split())[:longest]


@dataclass(frozen=True)
class Attribution:
    channel: LeadChannel
    detail: str  # the raw parameters, bounded: "utm_source=google utm_medium=cpc"


def attribute(utm_source: str | None, utm_medium: str | None, ref: str | None) -> Attribution:
    """The channel a link's parameters name. Paid beats organic (an advert on Google is
    an advert); ``ref`` names a person or site that sent them, or the QR code at
    reception (``ref=walk-in``)."""
    source, medium, referrer = bounded(utm_source), bounded(utm_medium), bounded(ref)
    detail = " ".join(
        f"{name}={value}"
        for name, value in (("utm_source", source), ("utm_medium", medium), ("ref", referrer))
        if value
    )[:SOURCE_DETAIL_MAX]
    source_key, medium_key, ref_key = source.casefold(), medium.casefold(), referrer.casefold()
    if ref_key in WALK_IN_REFS:
        channel = LeadChannel.WALK_IN
    elif medium_key in PAID_MEDIA:
        channel = LeadChannel.AD
    elif medium_key == "referral" or ref_key:
        channel = LeadChannel.REFERRAL
    elif source_key in SEARCH_ENGINES or medium_key == "organic":
        channel = LeadChannel.SEARCH
    else:
        channel = LeadChannel.UNKNOWN
    return Attribution(channel, detail)


# --- what the public form sends ----------------------------------------------------------


@dataclass(frozen=True)
class Enquiry:
    """An enquiry as the rules want it (names tidied, phone in E.164, e-mail normalised)."""

    first_name: str
    last_name: str
    date_of_birth: date | None
    phone: str | None
    email: str | None
    message: str
    preferred_contact: PreferredContact


def _name(value: str, what: str) -> str:
    if any(ord(ch) < 32 for ch in value):
        raise PatientInvalid("name", f"Your {what} must not contain line breaks or codes.")
    cleaned = " ".join(value.split())
    if not cleaned:
        raise PatientInvalid("name", f"Please type your {what}.")
    if len(cleaned) > NAME_MAX:
        raise PatientInvalid("name", f"Your {what} is too long: at most {NAME_MAX} characters.")
    return cleaned


def check_message(text: str) -> str:
    message = text.replace("\r\n", "\n").strip()
    if len(message) > MESSAGE_MAX:
        raise InvalidInput(f"Your message is too long: at most {MESSAGE_MAX} characters.")
    if any(ord(ch) < 32 and ch not in "\t\n" for ch in message):
        raise InvalidInput("Your message must not contain control codes.")
    return message


def check_enquiry(
    fields: dict[str, str], *, country: str | None, today: date
) -> tuple[Enquiry | None, dict[str, str]]:
    """The enquiry, or every problem with it at once, keyed by field name, in words for
    the person filling in the form (so all of them can be shown beside their fields)."""
    errors: dict[str, str] = {}
    values: dict[str, object] = {}

    def check(name: str, step: object) -> None:
        try:
            values[name] = step() if callable(step) else step
        except InvalidInput as problem:
            errors[name] = problem.message

    check("first_name", lambda: _name(fields.get("first_name", ""), "first name"))
    check("last_name", lambda: _name(fields.get("last_name", ""), "last name"))
    check(
        "date_of_birth",
        lambda: check_birth_date(parse_birth_date(fields.get("date_of_birth", "")), today),
    )
    check("phone", lambda: normalise_phone(fields.get("phone"), country))
    check("email", lambda: normalise_email(fields.get("email")))
    check("message", lambda: check_message(fields.get("message", "")))
    preferred = fields.get("preferred_contact", "")
    if preferred not in {p.value for p in PreferredContact}:
        errors["preferred_contact"] = "Please choose how we should contact you."
    else:
        chosen = PreferredContact(preferred)
        values["preferred_contact"] = chosen
        wanted = "phone" if chosen is PreferredContact.PHONE else "email"
        if wanted not in errors and not values.get(wanted):
            errors[wanted] = (
                "Please give a phone number, or choose e-mail as the way to contact you."
                if chosen is PreferredContact.PHONE
                else "Please give an e-mail address, or choose phone as the way to contact you."
            )
    if errors:
        return None, errors
    return Enquiry(**values), {}  # type: ignore[arg-type]


def check_note(text: str, *, required: bool = True) -> str:
    """A staff note on a lead: trimmed, bounded, no control codes but line breaks."""
    note = text.replace("\r\n", "\n").strip()
    if required and not note:
        raise InvalidInput("Type a note: say what happened or why.")
    if len(note) > NOTE_MAX:
        raise InvalidInput(f"A note is at most {NOTE_MAX} characters.")
    if any(ord(ch) < 32 and ch not in "\t\n" for ch in note):
        raise InvalidInput("A note must not contain control codes.")
    return note
