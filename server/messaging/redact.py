"""Phone numbers and e-mail addresses kept out of logs and failure reasons.

A failure reason is stored beside the delivery and shown to staff, and may end up in a log
line or a support ticket; the patient's full number or address adds nothing there (staff
already see whom the message was for), so every text a provider hands back passes through
``redact`` before it becomes a reason.
"""

from __future__ import annotations

import re

BULLETS = "••••••"  # always six: the mask does not tell how long the number was

# Digits with the usual separators; a run counts as a number from eight digits when it
# starts with "+" (E.164), from ten otherwise (a national number, not an error code).
_PHONE_LIKE = re.compile(r"\+?\d(?:[\d\s().-]{5,}\d)")
_EMAIL_LIKE = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
_MIN_INTERNATIONAL_DIGITS = 8
_MIN_NATIONAL_DIGITS = 10


def mask_phone(number: str) -> str:
    """``+447700900123`` → ``+44••••••23``: the country and the last two digits, which is
    what a person needs to tell two numbers of one patient apart."""
    digits = re.sub(r"\D", "", number)
    if len(digits) < 4:
        return BULLETS
    head = ("+" if number.strip().startswith("+") else "") + digits[:2]
    return f"{head}{BULLETS}{digits[-2:]}"


def mask_email(address: str) -> str:
    """``jane.doe@example.com`` → ``j••••••@example.com``."""
    local, at, domain = address.partition("@")
    if not at:
        return BULLETS
    return f"{local[:1]}{BULLETS}@{domain}"


def redact(text: str) -> str:
    """``text`` with every phone-number-like run and e-mail address masked."""

    def phone(match: re.Match[str]) -> str:
        found = match.group(0)
        digits = len(re.sub(r"\D", "", found))
        enough = _MIN_INTERNATIONAL_DIGITS if found.startswith("+") else _MIN_NATIONAL_DIGITS
        return mask_phone(found) if digits >= enough else found

    return _PHONE_LIKE.sub(phone, _EMAIL_LIKE.sub(lambda m: mask_email(m.group(0)), text))
