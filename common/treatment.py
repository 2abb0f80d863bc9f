"""Treatment plans: a patient's treatment in phases, and what may be attached to them.

Orthodontic and physiotherapy treatment runs for months in phases ("Assessment",
"Fitting", "Adjustment", "Retention"). Staff keep a plan per treatment, move it on from
phase to phase, and attach progress notes and photos to the phase they belong to; the
patient follows it in the portal. Both ends check with these rules, so the desk refuses
what the server would before a photo of several megabytes is sent for nothing.

Photos are recognised by their first bytes, never by the name or type the sender gives
them: a PDF renamed ``.jpg`` is still a PDF.
"""

from __future__ import annotations

import struct
import unicodedata
from datetime import date

from common.errors import InvalidInput

TITLE_LENGTH = 120
PHASE_NAME_LENGTH = 60
MAX_PHASES = 20
NOTE_LENGTH = 4000
PHOTO_MAX_BYTES = 10 * 1024 * 1024

JPEG = "image/jpeg"
PNG = "image/png"
_MAGIC = ((b"\xff\xd8\xff", JPEG), (b"\x89PNG\r\n\x1a\n", PNG))
SUFFIXES = {JPEG: ".jpg", PNG: ".png"}
DEFAULT_PHASES = ("Assessment", "Fitting", "Adjustment", "Retention")
THUMBNAIL_WIDTH = 160  # the portal's thumbnails, in CSS pixels
# JPEG's start-of-frame markers, which carry the picture's size (not DHT, JPG or DAC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_MAX_SIDE = 100_000


class TooLarge(InvalidInput):
    """A file over its limit: 413, like a body over the server's, in words."""

    status = 413
    code = "too_large"


def fold(name: str) -> str:
    """A phase name as it is compared: "  Fitting " and "fitting" are one phase, so a
    library item tagged "fitting" reaches a plan whose phase is "Fitting"."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def check_title(title: str) -> str:
    cleaned = _one_line(title)
    if not cleaned:
        raise InvalidInput("Give the plan a title, like “Braces, upper and lower”.")
    if len(cleaned) > TITLE_LENGTH:
        raise InvalidInput(f"The plan's title is at most {TITLE_LENGTH} characters.")
    return cleaned


def check_phases(names: list[str]) -> list[str]:
    """The phases in order, each named once."""
    cleaned = [_one_line(n) for n in names if _one_line(n)]
    if not cleaned:
        raise InvalidInput(
            "Name the plan's phases in order, like Assessment, Fitting, Adjustment, Retention."
        )
    if len(cleaned) > MAX_PHASES:
        raise InvalidInput(f"A plan has at most {MAX_PHASES} phases.")
    seen: set[str] = set()
    for name in cleaned:
        if len(name) > PHASE_NAME_LENGTH:
            raise InvalidInput(
                f"The phase “{name[:30]}…” has a long name: at most {PHASE_NAME_LENGTH} characters."
            )
        if fold(name) in seen:
            raise InvalidInput(f"The phase “{name}” is named twice: give each phase its own name.")
        seen.add(fold(name))
    return cleaned


def check_note(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput("The note is empty: write what happened at this visit.")
    if len(cleaned) > NOTE_LENGTH:
        raise InvalidInput(
            f"The note is {len(cleaned)} characters long: at most {NOTE_LENGTH}. Split it in two."
        )
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in cleaned):
        raise InvalidInput("The note has invisible control characters in it: type it again.")
    return cleaned


def image_kind(data: bytes) -> str | None:
    """JPEG or PNG by the file's first bytes; None for anything else."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    return None


def check_photo(data: bytes) -> str:
    """The photo's content type, or a refusal in words: empty, too large, not a photo."""
    if not data:
        raise InvalidInput("The file is empty: choose the photo again.")
    if len(data) > PHOTO_MAX_BYTES:
        raise TooLarge(
            f"The photo is larger than {PHOTO_MAX_BYTES // (1024 * 1024)} MB ({len(data):,} "
            "bytes). Save a smaller copy (most phones offer a “medium” size) and add that."
        )
    kind = image_kind(data)
    if kind is None:
        raise InvalidInput(
            "This file is not a JPEG or PNG photo (whatever its name says). Progress photos "
            "must be JPEG or PNG: export the picture as one of those and add it again."
        )
    return kind


def image_size(data: bytes) -> tuple[int, int] | None:
    """A JPEG's or PNG's width and height in pixels as it is shown (a phone's portrait
    photo, stored sideways with an EXIF orientation, is taller than wide), read from its
    first bytes without decoding it; None when they cannot be read. The portal gives its
    thumbnails these proportions, so a page does not jump as its photos come in."""
    try:
        if image_kind(data) == PNG:
            if data[12:16] != b"IHDR":
                return None
            width, height = struct.unpack(">II", data[16:24])
            return _sane(width, height)
        if image_kind(data) == JPEG:
            return _jpeg_size(data)
    except (struct.error, IndexError):
        return None
    return None


def _sane(width: int, height: int) -> tuple[int, int] | None:
    return (width, height) if 0 < width <= _MAX_SIDE and 0 < height <= _MAX_SIDE else None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the JPEG's segments up to its frame header; EXIF orientations 5 to 8 turn
    the picture a quarter, so its width and height swap."""
    at, turned = 2, False
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # the end, or the picture's data: no frame header seen
            return None
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        segment = data[at + 4 : at + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\0\0"):
            turned = _exif_orientation(segment[6:]) in (5, 6, 7, 8)
        elif marker in _SOF:
            height, width = struct.unpack(">HH", segment[1:5])
            return _sane(height, width) if turned else _sane(width, height)
        at += 2 + length
    return None


def _exif_orientation(tiff: bytes) -> int:
    """The orientation tag of EXIF's first directory (1, upright, when there is none)."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None:
        return 1
    (first,) = struct.unpack(order + "I", tiff[4:8])
    (count,) = struct.unpack(order + "H", tiff[first : first + 2])
    for n in range(min(count, 500)):
        entry = tiff[first + 2 + 12 * n : first + 14 + 12 * n]
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag == 0x0112 and kind == 3:  # Orientation, a SHORT
            (value,) = struct.unpack(order + "H", entry[8:10])
            return int(value)
    return 1


def thumbnail_height(size: tuple[int, int] | None) -> int:
    """The height of a ``THUMBNAIL_WIDTH``-wide thumbnail of a photo of ``size`` (4:3, a
    camera's usual, when its size was not recorded)."""
    width, height = size or (4, 3)
    return max(1, round(THUMBNAIL_WIDTH * height / width))


def photo_alt(phase: str, taken: date) -> str:
    """What a screen reader says for a progress photo (the portal's alt text)."""
    return f"Progress photo, {phase}, {taken.day} {taken:%B %Y}"
