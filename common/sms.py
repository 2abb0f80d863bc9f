"""The rules of a text message: what it costs, and what a patient's one-word reply means.

Both ends run this code: the desk counts segments live while a clinic admin edits a
template (a message that spills into a third segment costs a third text), and the server
reads every inbound SMS for STOP / START / HELP before anything else, because an opt-out
must be honoured whatever else the message might be taken for.

Size follows GSM 03.38 and the concatenation scheme every carrier uses. A text is GSM-7
when every character is in the basic set or its extension table (an extension character
is sent as an escape plus the character, so it costs two septets); one character outside
both turns the whole text into UCS-2, counted in UTF-16 code units. A single text holds
160 septets or 70 units; a longer one is sent in parts of 153 septets or 67 units (the rest
of each part is the header that glues them together). A part never ends between an escape
and its character, nor between the two halves of a surrogate pair, so such a character
that would straddle a boundary starts the next part instead.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

# GSM 03.38 basic character set, in table order (the escape, 0x1B, is left out: it is not
# a character a text may contain, only the prefix of an extension character).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs two septets (escape + character).
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE_GSM = 160
PART_GSM = 153
SINGLE_UCS2 = 70
PART_UCS2 = 67

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True, slots=True)
class SmsSize:
    """What a text costs: ``units`` are septets (GSM-7) or UTF-16 code units (UCS-2);
    ``remaining`` is what still fits in the last segment before another one is needed."""

    encoding: Encoding
    units: int
    segments: int
    per_segment: int
    remaining: int


def is_gsm7(text: str) -> bool:
    return all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in text)


def segments(text: str) -> SmsSize:
    if is_gsm7(text):
        costs = [2 if ch in _GSM_EXTENSION else 1 for ch in text]
        return _size("GSM-7", costs, SINGLE_GSM, PART_GSM)
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return _size("UCS-2", costs, SINGLE_UCS2, PART_UCS2)


def _size(encoding: Encoding, costs: list[int], single: int, part: int) -> SmsSize:
    """Pack the characters into segments; a character is never split across two."""
    units = sum(costs)
    if units <= single:
        return SmsSize(encoding, units, 1 if units else 0, single, single - units)
    count, used = 1, 0
    for cost in costs:
        if used + cost > part:
            count, used = count + 1, 0
        used += cost
    return SmsSize(encoding, units, count, part, part - used)


# --- keywords ----------------------------------------------------------------------------


class Keyword(StrEnum):
    """What a reply that is one carrier keyword asks for."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


_KEYWORDS = {
    **dict.fromkeys(
        ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"),
        Keyword.OPT_OUT,
    ),
    **dict.fromkeys(("start", "unstop"), Keyword.OPT_IN),
    **dict.fromkeys(("help", "info"), Keyword.HELP),
}


def keyword(body: str) -> Keyword | None:
    """The keyword an inbound text *is*, or None when it is anything more.

    Only a text that is the word alone counts — in any case, with spaces, line breaks or
    punctuation around it ("Stop.", " stop!") — so "please don't stop my appointment"
    stays a message for reception. Width variants (full-width letters a phone keyboard
    may produce) read as the plain word.
    """
    word = _strip_punctuation(unicodedata.normalize("NFKC", body)).casefold()
    return _KEYWORDS.get(word)


def _strip_punctuation(text: str) -> str:
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or _is_punctuation(text[start])):
        start += 1
    while end > start and (text[end - 1].isspace() or _is_punctuation(text[end - 1])):
        end -= 1
    return text[start:end]


def _is_punctuation(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


# --- the replies to keywords ------------------------------------------------------------
# Carriers expect one short confirmation per keyword, naming who sent it. Each fits one
# GSM-7 text for a clinic name of up to 40 characters.


def signed(text: str, sender: str) -> str:
    """Every text says who it is from: the sender's name first, unless the text already
    names it. The desk counts what a text costs with this, as the server sends it."""
    if not sender or sender.lower() in text.lower():
        return text
    return f"{sender}: {text}"


def help_reply(clinic_name: str, clinic_phone: str | None) -> str:
    """Without a phone number on file the reply still says how to stop the texts."""
    call = f" For help call {clinic_phone}." if clinic_phone and clinic_phone.strip() else ""
    return (
        f"{clinic_name}: appointment texts.{call} "
        "Reply STOP to stop our texts, START to get them again."
    )


def opt_out_reply(clinic_name: str) -> str:
    return f"{clinic_name}: you will get no more texts from us. Reply START to receive them again."


def opt_in_reply(clinic_name: str) -> str:
    return f"{clinic_name}: you will receive our texts again. Reply STOP to stop them."
