"""The values the sync protocol accepts, bounded at the door.

What comes in is bounded, and the bounds are in the published schema: a number a
database column cannot hold, a date at the ends of the calendar (where date arithmetic
overflows) or a control character is refused in words, instead of failing deep inside
as a 500. ``sync.protocol`` uses these in its messages and re-exports them.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema


def _refuse_controls(value: str, allowed: str) -> str:
    # NUL and other control characters are refused at the door: PostgreSQL cannot store
    # NUL, and none belongs in a name, an address or a password.
    if any(ord(ch) < 32 and ch not in allowed for ch in value):
        raise ValueError("must not contain control characters")
    return value


# No control characters but the tab; prose (a message's body) may also break lines.
PRINTABLE_PATTERN = r"^[^\x00-\x08\x0A-\x1F]*$"
PROSE_PATTERN = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F]*$"


class _Text:
    """Refuses control characters in words, but those ``allowed``, and says so in the
    JSON schema as a pattern, so the published schema does not promise what is refused."""

    def __init__(self, allowed: str, pattern: str) -> None:
        self.allowed = allowed
        self.pattern = pattern

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            lambda value: _refuse_controls(value, self.allowed), handler(source)
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


Printable = _Text("\t", PRINTABLE_PATTERN)
Prose = _Text("\t\n\r", PROSE_PATTERN)


def _whole_number(value: Any) -> Any:
    # JSON Schema counts 7.0 as an integer, so it is one here too; true, false and "7"
    # are not (the schema refuses them, and so does the strict check after this).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = BeforeValidator(_whole_number)


# --- bounded values --------------------------------------------------------------------
#
# What comes in is bounded at the door, and the bounds are in the published schema: a
# number a database column cannot hold, or a date at the ends of the calendar (where date
# arithmetic overflows), is refused in words instead of failing deep inside as a 500.

# The largest count (version, sequence number) accepted: far inside a BIGINT column, and
# the largest integer every JSON reader keeps exactly (2**53 - 1; a bound of 2**63 - 1
# would be read as a float that rounds up past what the column holds).
LARGEST_COUNT = 2**53 - 1
# Far-off years are typos, and the ends of the calendar overflow date arithmetic.
FIRST_YEAR, LAST_YEAR = 2000, 2199

# Numbers the database keeps in BIGINT columns (record versions, a device's sequence).
# Strict: "5" or 5.0 is not a number here, as the schema says.
Version = Annotated[int, Strict(), Field(ge=0, le=LARGEST_COUNT), WholeNumber]
SequenceNumber = Annotated[int, Strict(), Field(ge=0, le=LARGEST_COUNT), WholeNumber]
# Only true or false: not 0, 1, "yes" or "off", which the schema does not allow either.
Flag = Annotated[bool, Strict()]

_YEAR = r"2[01][0-9]{2}"  # FIRST_YEAR to LAST_YEAR
_DAY = _YEAR + r"-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_CLOCK = r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
_FULL_CLOCK = r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"  # as RFC 3339
_OFFSET = r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
INSTANT_PATTERN = f"^{_DAY}T{_FULL_CLOCK}{_OFFSET}$"
DAY_PATTERN = f"^{_DAY}$"
# A time of day may come with an offset: it parses, and the server then refuses it in
# words as a rule (a working week is in local clock time), without refusing the batch.
CLOCK_PATTERN = f"^{_CLOCK}{_OFFSET}?$"


def _written(pattern: str, kind: type, example: str) -> BeforeValidator:
    """Accept a value of ``kind`` (built in Python) or text matching ``pattern`` exactly:
    no numbers read as timestamps, no other spellings the schema does not promise."""
    exact = re.compile(pattern)
    any_year = re.compile(pattern.replace(_YEAR, "[0-9]{4}"))

    def check(value: Any) -> Any:
        if isinstance(value, kind):
            return value
        if isinstance(value, str) and exact.fullmatch(value):
            return value
        if isinstance(value, str) and any_year.fullmatch(value):
            raise ValueError(f"must be between the years {FIRST_YEAR} and {LAST_YEAR}")
        raise ValueError(f"must be written like {example}")

    return BeforeValidator(check)


def _sane_year(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be between the years {FIRST_YEAR} and {LAST_YEAR}")
    return value


# An instant with its offset, in the years FIRST_YEAR..LAST_YEAR.
Instant = Annotated[
    AwareDatetime,
    _written(INSTANT_PATTERN, datetime, "2026-03-02T09:30:00+00:00"),
    AfterValidator(_sane_year),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": INSTANT_PATTERN}),
]
# A calendar day in the years FIRST_YEAR..LAST_YEAR.
Day = Annotated[
    date,
    _written(DAY_PATTERN, date, "2026-03-02"),
    AfterValidator(_sane_year),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DAY_PATTERN}),
]
# A local time of day, HH:MM or HH:MM:SS, as sent ("09:00:00"): JSON Schema's ``time``
# format would demand an offset (RFC 3339), which a wall-clock time does not have.
ClockTime = Annotated[
    time,
    _written(CLOCK_PATTERN, time, "09:30"),
    WithJsonSchema({"type": "string", "pattern": CLOCK_PATTERN}),
]


# --- a patient's date of birth ---------------------------------------------------------
#
# Births are in the past, often well before FIRST_YEAR: a wider range than ``Day``. The
# rule that refuses a birth in the future or before 1900 is in ``common.patients`` (a
# rejection in words); this only keeps the calendar's ends out.
FIRST_BIRTH_YEAR = 1800
_BIRTH_YEAR = r"(1[89][0-9]{2}|2[01][0-9]{2})"  # FIRST_BIRTH_YEAR to LAST_YEAR
BIRTH_DAY_PATTERN = f"^{_BIRTH_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


def _sane_birth_year(value: date) -> date:
    if not FIRST_BIRTH_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be between the years {FIRST_BIRTH_YEAR} and {LAST_YEAR}")
    return value


BirthDay = Annotated[
    date,
    _written(BIRTH_DAY_PATTERN, date, "1980-05-17"),
    AfterValidator(_sane_birth_year),
    WithJsonSchema({"type": "string", "format": "date", "pattern": BIRTH_DAY_PATTERN}),
]
