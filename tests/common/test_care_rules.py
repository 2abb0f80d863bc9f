"""The care rules both ends share: a video link that is no address is refused in words
(never a ValueError out of ``urlsplit``); language codes kept in one spelling, an item in
a base language reaching a reader of a regional one; a photo's width and height read from
its first bytes, turned as a phone's EXIF orientation turns it."""

from __future__ import annotations

import struct

import pytest

from common.content import check_language, check_video_url, language_suits
from common.errors import InvalidInput
from common.treatment import image_size, thumbnail_height


@pytest.mark.parametrize(
    "url",
    [
        "https://[::1",
        "https://[zz]/watch",
        "https://[::1]:99999999/",
        "https://:80/watch",
        "https:///watch",
        "https://user@/watch",
    ],
)
def test_a_video_link_that_is_no_address_is_refused_in_words(url: str) -> None:
    with pytest.raises(InvalidInput, match="secure web address starting with https://"):
        check_video_url(url)


def test_a_video_link_with_a_bracketed_host_is_kept() -> None:
    assert check_video_url(" https://[::1]/watch ") == "https://[::1]/watch"


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("EN", "en"),
        ("pt-br", "pt-BR"),
        ("PT-BR", "pt-BR"),
        ("zh-hant", "zh-Hant"),
        ("es-419", "es-419"),
        ("de-ch", "de-CH"),
        ("  ", "en"),
    ],
)
def test_a_language_code_is_kept_in_one_spelling(typed: str, kept: str) -> None:
    assert check_language(typed) == kept


def test_an_item_reaches_readers_of_its_language_and_of_its_regions() -> None:
    assert language_suits("pt-br", "pt-BR")
    assert language_suits("en", "en-GB")
    assert language_suits("EN", "en-gb")
    assert not language_suits("en-US", "en-GB")
    assert not language_suits("en-GB", "en"), "a regional item is for its region's readers"
    assert not language_suits("fr", "en")


def _jpeg(width: int, height: int, orientation: int | None = None) -> bytes:
    """A JPEG's first segments, as a camera writes them: EXIF (if any), then the frame."""
    out = b"\xff\xd8"
    if orientation is not None:
        entry = struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
        tiff = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 1) + entry + b"\0" * 4
        exif = b"Exif\0\0" + tiff
        out += b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    frame = b"\x08" + struct.pack(">HH", height, width) + b"\x03" + b"\x01\x22\x00" * 3
    out += b"\xff\xc0" + struct.pack(">H", len(frame) + 2) + frame
    return out + b"\xff\xda\x00\x08" + b"\0" * 64 + b"\xff\xd9"


def _png(width: int, height: int) -> bytes:
    header = struct.pack(">II", width, height) + b"\x08\x02\x00\x00\x00"
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + header + b"\0" * 4


def test_a_photos_size_is_read_from_its_first_bytes() -> None:
    assert image_size(_png(48, 32)) == (48, 32)
    assert image_size(_jpeg(4032, 3024)) == (4032, 3024)
    assert image_size(_jpeg(4032, 3024, orientation=1)) == (4032, 3024)
    assert image_size(_jpeg(4032, 3024, orientation=6)) == (3024, 4032), "a portrait photo"
    assert image_size(_jpeg(4032, 3024, orientation=8)) == (3024, 4032)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xd8\xff",
        b"\xff\xd8\xff\xe0\x00",
        b"\x89PNG\r\n\x1a\n" + b"\0" * 8,
        b"\xff\xd8" + b"\xff\xc0\x00\x11" + b"\x08" + b"\0\0\0\0" + b"\x03",
        b"%PDF-1.4",
    ],
    ids=["empty", "jpeg magic only", "cut short", "png without header", "zero size", "a pdf"],
)
def test_a_size_that_cannot_be_read_is_none(data: bytes) -> None:
    assert image_size(data) is None


def test_a_thumbnail_keeps_the_photos_proportions() -> None:
    assert thumbnail_height((48, 32)) == 107
    assert thumbnail_height((3024, 4032)) == 213
    assert thumbnail_height(None) == 120
