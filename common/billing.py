"""Bills and payments: money, invoice lines, and amounts as staff type them.

Money is kept as a whole number of minor units (pence, cents) with its ISO currency, never
as a float: 0.1 + 0.2 is not 0.3 in binary, and a bill must add up to the penny on the
desk, in the portal, on the PDF and at the payment provider alike. A clinic bills in one
currency, its country's (``currency_for``); the desk and the server check lines and typed
amounts with the same rules here, so the desk refuses in words exactly what the server
would.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from common.errors import InvalidInput

MAX_LINES = 50
LARGEST_LINE = 10_000_000  # 100,000.00 in minor units: more is a typing slip, not a bill
DESCRIPTION_LENGTH = 200
VOID_REASON_LENGTH = 300
DEFAULT_DUE_DAYS = 14
LONGEST_DUE_DAYS = 365


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    symbol: str
    digits: int = 2  # minor units per major unit, as a power of ten


CURRENCIES = {
    "GBP": Currency("GBP", "£"),
    "EUR": Currency("EUR", "€"),
    "USD": Currency("USD", "$"),
}
# The clinic's country decides what it bills in; anywhere not listed bills in pounds
# until the clinic's country is added here.
COUNTRY_CURRENCY = {
    "GB": "GBP",
    "IE": "EUR",
    "DE": "EUR",
    "FR": "EUR",
    "ES": "EUR",
    "IT": "EUR",
    "NL": "EUR",
    "US": "USD",
}
DEFAULT_CURRENCY = "GBP"


def currency_for(country: str | None) -> str:
    """The ISO code a clinic in ``country`` (ISO 3166 alpha-2) bills in."""
    return COUNTRY_CURRENCY.get((country or "").upper(), DEFAULT_CURRENCY)


def currency_of(code: str) -> Currency:
    return CURRENCIES.get(code.upper(), Currency(code.upper(), f"{code.upper()} "))


def shown(minor: int, currency: str) -> str:
    """``4500, "GBP"`` → "£45.00"; thousands grouped ("£1,200.00"), a credit signed."""
    kind = currency_of(currency)
    whole, part = divmod(abs(minor), 10**kind.digits)
    sign = "-" if minor < 0 else ""
    return f"{sign}{kind.symbol}{whole:,}.{part:0{kind.digits}d}"


def as_typed(minor: int, currency: str) -> str:
    """An amount as staff would type it ("68.50"): what a field is filled with."""
    digits = currency_of(currency).digits
    whole, part = divmod(abs(minor), 10**digits)
    return f"{'-' if minor < 0 else ''}{whole}.{part:0{digits}d}"


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    VOID = "void"

    @property
    def label(self) -> str:
        return {"open": "To pay", "paid": "Paid", "void": "Void"}[self.value]


class PaymentMethod(StrEnum):
    CARD_ONLINE = "card_online"
    CASH = "cash"
    CARD_DESK = "card_desk"

    @property
    def label(self) -> str:
        return {
            "card_online": "Card, online",
            "cash": "Cash",
            "card_desk": "Card at the desk",
        }[self.value]


# What staff may record at the desk; online payments come only from the provider.
DESK_METHODS = (PaymentMethod.CASH, PaymentMethod.CARD_DESK)


# --- amounts as typed ------------------------------------------------------------------------

_PLAIN = re.compile(r"^\d+(?:\.\d{1,2})?$")
_GROUPED = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?$")
_DECIMAL_COMMA = re.compile(r"^\d+,\d{1,2}$")


def parse_amount(text: str, currency: str, *, what: str = "The amount") -> int:
    """An amount as staff type it ("45", "45.5", "£45.50", "1,200", "45,50") in minor
    units of ``currency``. Refused in words: nothing, nonsense, another currency's
    symbol, a fraction of a penny, nothing to pay, or more than one line may hold."""
    kind = currency_of(currency)
    typed = text.strip().replace(" ", "").replace("\u00a0", "")
    if not typed:
        raise InvalidInput(f"{what} is missing: type it in {kind.code}, for example 45.00.")
    for other in CURRENCIES.values():
        if other.code != kind.code and other.symbol != kind.symbol and other.symbol in typed:
            raise InvalidInput(
                f"{what} is in {other.code}, but this clinic bills in {kind.code} "
                f"({kind.symbol}): type it without the {other.symbol}."
            )
    if typed.upper().startswith(kind.code):
        typed = typed[len(kind.code) :]
    typed = typed.removeprefix(kind.symbol)
    if typed.startswith("-"):
        raise InvalidInput(f"{what} must be more than nothing: a refund is not a bill line.")
    if _GROUPED.match(typed):
        typed = typed.replace(",", "")
    elif _DECIMAL_COMMA.match(typed):
        typed = typed.replace(",", ".")
    if not _PLAIN.match(typed):
        if re.match(r"^\d+\.\d{3,}$", typed):
            raise InvalidInput(f"{what} has more than two decimals: type pounds and pence, 45.50.")
        raise InvalidInput(
            f"“{text.strip()[:40]}” is not an amount: type a number such as 45 or 45.50."
        )
    whole, _, part = typed.partition(".")
    minor = int(whole) * 10**kind.digits + int((part + "00")[: kind.digits])
    return check_amount(minor, currency, what=what)


def check_amount(minor: int, currency: str, *, what: str = "The amount") -> int:
    """An amount already in minor units, within what one line (or payment) may be."""
    if minor <= 0:
        raise InvalidInput(f"{what} must be more than nothing.")
    if minor > LARGEST_LINE:
        raise InvalidInput(f"{what} is more than {shown(LARGEST_LINE, currency)}: check it.")
    return minor


# --- invoice lines ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    description: str
    amount_minor: int

    def to_json(self) -> dict[str, Any]:
        return {"description": self.description, "amount_minor": self.amount_minor}


class LinesInvalid(InvalidInput):
    """A line refused; ``field`` names it ("line3"), counted from 1 as staff see them."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def check_lines(lines: Iterable[Line | Mapping[str, Any]], currency: str) -> list[Line]:
    """An invoice's lines, checked: one at least, fifty at most, each described, each an
    amount above nothing and at most 100,000.00."""
    checked: list[Line] = []
    amount: Any
    for number, raw in enumerate(lines, start=1):
        if number > MAX_LINES:
            raise LinesInvalid(
                f"An invoice has at most {MAX_LINES} lines: split it in two.", "lines"
            )
        if isinstance(raw, Line):
            description, amount = raw.description, raw.amount_minor
        else:
            description, amount = raw.get("description", ""), raw.get("amount_minor")
        text = " ".join(str(description).split())
        if not text:
            raise LinesInvalid(f"Line {number} needs a description.", f"line{number}")
        if len(text) > DESCRIPTION_LENGTH:
            raise LinesInvalid(
                f"Line {number}'s description is longer than {DESCRIPTION_LENGTH} characters.",
                f"line{number}",
            )
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise LinesInvalid(f"Line {number} needs an amount.", f"line{number}")
        try:
            check_amount(amount, currency, what=f"Line {number}'s amount")
        except InvalidInput as refused:
            raise LinesInvalid(refused.message, f"line{number}") from None
        checked.append(Line(text, amount))
    if not checked:
        raise LinesInvalid("An invoice needs at least one line.", "lines")
    return checked


def total(lines: Iterable[Line]) -> int:
    return sum(line.amount_minor for line in lines)


def check_void_reason(text: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise InvalidInput("Say why the invoice is void: the reason stays on the patient's file.")
    if len(reason) > VOID_REASON_LENGTH:
        raise InvalidInput(f"Keep the reason under {VOID_REASON_LENGTH} characters.")
    return reason
