"""How many texts a message costs, counted as it is typed.

A stand-in until the shared count (``common.sms.segments``) is in: same answers for the
composer (segments, encoding, room left), without its finer points (a character that
needs two units is never split across parts there). A text is GSM-7 when every
character is in the GSM 03.38 sets (an extension character costs two), else UCS-2 in
UTF-16 units; one text holds 160 or 70, a longer one goes in parts of 153 or 67.
"""

from __future__ import annotations

from dataclasses import dataclass

_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENDED = frozenset("\f^{}\\[~]|€")
# (one text, each part of a longer one), in units of the encoding.
_ROOM = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


@dataclass(frozen=True)
class SmsCount:
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int
    remaining: int  # units still free in the last segment


def segments(text: str) -> SmsCount:
    if all(ch in _BASIC or ch in _EXTENDED for ch in text):
        encoding, units = "GSM-7", sum(2 if ch in _EXTENDED else 1 for ch in text)
    else:
        encoding, units = "UCS-2", len(text.encode("utf-16-le")) // 2
    single, part = _ROOM[encoding]
    if units <= single:
        return SmsCount(encoding, 1 if units else 0, single - units)
    count = -(-units // part)
    return SmsCount(encoding, count, count * part - units)
