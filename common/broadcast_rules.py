"""What a broadcast rule may say, checked the same at both ends: the server refuses a rule
in these words, and the desk's editor counts what its text would cost while it is typed.

The text is what the patient's phone shows, so its cost is counted as it will be sent:
with the clinic's name in front (``common.sms.signed``), a link as long as a real one and
a longish first name, since a text that spills into a fourth segment costs a fourth text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from common.booking_links import LINK_PLACEHOLDER, SMS_TEXT_LENGTH, TEXT_LENGTH, TITLE_LENGTH
from common.errors import InvalidInput
from common.sms import SmsSize, segments, signed

MAX_SEGMENTS = 3
MAX_WINDOW_DAYS = 365
MAX_VALID_DAYS = 90
# A link as long as one the server makes (32 characters of token after "/l/").
TYPICAL_BASE = "https://clinic.example.com"
TOKEN_CHARACTERS = 32
TYPICAL_FIRST_NAME = "Alexandra"
PLACEHOLDERS = ("{link}", "{clinic}", "{first_name}")
_BRACED = re.compile(r"\{\{?\s*([^{}]*?)\s*\}?\}")  # {word}, and {{ word }} as in wordings
DEFAULT_SMS = "Hello {first_name}, {clinic} invites you to book your appointment online: {link}"


def link_url(base: str, token: str) -> str:
    """The address a patient opens: ``{base}/l/{token}``."""
    return f"{base.rstrip('/')}/l/{token}"


def fill(sms_text: str, *, link: str, clinic: str, first_name: str) -> str:
    """The text with its blanks filled, signed with the clinic's name as it is sent."""
    text = (
        sms_text.replace("{link}", link)
        .replace("{clinic}", clinic)
        .replace("{first_name}", first_name)
    )
    return signed(text.strip(), clinic)


def typical_size(sms_text: str, clinic: str, base: str = TYPICAL_BASE) -> SmsSize:
    """What the text costs with a link of a real link's length and a longish name."""
    link = link_url(base, "x" * TOKEN_CHARACTERS)
    return segments(fill(sms_text, link=link, clinic=clinic, first_name=TYPICAL_FIRST_NAME))


@dataclass(frozen=True)
class RuleDays:
    earliest_days: int
    latest_days: int
    link_valid_days: int


def _controls(text: str, allow_lines: bool) -> bool:
    allowed = "\t\n\r" if allow_lines else "\t"
    return any((ord(ch) < 32 and ch not in allowed) or ord(ch) == 127 for ch in text)


def check_rule(
    *,
    title: str,
    days: RuleDays,
    welcome_text: str,
    sms_text: str,
    confirmation_text: str,
    clinic: str,
    base: str = TYPICAL_BASE,
) -> list[str]:
    """Every problem with these values, in words (empty: fine). Whether the type and the
    providers exist is the server's to say: the desk may not have them all."""
    problems: list[str] = []
    name = title.strip()
    if not name:
        problems.append("Give the rule a title: staff choose it by that name.")
    elif len(name) > TITLE_LENGTH:
        problems.append(f"The title is {len(name)} characters long; keep it to {TITLE_LENGTH}.")
    if _controls(title, allow_lines=False):
        problems.append("The title must be one line of ordinary characters.")
    if not 0 <= days.earliest_days <= MAX_WINDOW_DAYS:
        problems.append(
            f"The first bookable day must be 0 to {MAX_WINDOW_DAYS} days after the link is sent."
        )
    if not 0 <= days.latest_days <= MAX_WINDOW_DAYS:
        problems.append(
            f"The last bookable day must be 0 to {MAX_WINDOW_DAYS} days after the link is sent."
        )
    elif days.latest_days < days.earliest_days:
        problems.append("The last bookable day comes before the first: swap them.")
    if not 1 <= days.link_valid_days <= MAX_VALID_DAYS:
        problems.append(f"A link may stay valid for 1 to {MAX_VALID_DAYS} days.")
    for label, text in (("welcome text", welcome_text), ("confirmation text", confirmation_text)):
        if len(text) > TEXT_LENGTH:
            problems.append(f"The {label} is {len(text)} characters; keep it to {TEXT_LENGTH}.")
        if _controls(text, allow_lines=True):
            problems.append(f"The {label} holds characters that cannot be shown.")
    problems.extend(sms_problems(sms_text, clinic, base))
    return problems


def sms_problems(sms_text: str, clinic: str, base: str = TYPICAL_BASE) -> list[str]:
    problems: list[str] = []
    if LINK_PLACEHOLDER not in sms_text:
        problems.append("The text must contain {link}, where the patient's link goes.")
    unknown = sorted({f"{{{word}}}" for word in _BRACED.findall(sms_text)} - set(PLACEHOLDERS))
    if unknown:
        problems.append(
            f"The text names {', '.join(unknown)}, which is not filled in: use only "
            f"{', '.join(PLACEHOLDERS)}."
        )
    if len(sms_text) > SMS_TEXT_LENGTH:
        problems.append(f"The text is {len(sms_text)} characters; keep it to {SMS_TEXT_LENGTH}.")
    if _controls(sms_text, allow_lines=True):
        problems.append("The text holds characters a phone cannot show.")
    size = typical_size(sms_text, clinic, base)
    if size.segments > MAX_SEGMENTS:
        problems.append(
            f"With a link and a name filled in the text takes {size.segments} SMS; "
            f"shorten it to fit {MAX_SEGMENTS}."
        )
    return problems


def refuse(problems: list[str]) -> None:
    """Raise the problems as one refusal in words."""
    if problems:
        raise InvalidInput(" ".join(problems))
