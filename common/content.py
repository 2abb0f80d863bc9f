"""The clinic's educational content library: what an item may be, and how it is tagged.

An item is an article (a title and its text), a PDF the clinic uploads, or a link to a
video (https only: a patient's phone follows it out of the portal). Items are tagged with
the treatment phases they suit ("Fitting", "Retention") and with their language; when a
patient's plan moves into a phase, the items tagged with it in the patient's language
are delivered to them (``server.content``). The desk's editor and the server check an
item with ``check_item``, so both refuse the same things in the same words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from common.errors import InvalidInput
from common.treatment import PHASE_NAME_LENGTH, TooLarge, fold

TITLE_LENGTH = 160
BODY_LENGTH = 20_000
URL_LENGTH = 500
MAX_TAGS = 20
PDF_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_LANGUAGE = "en"
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
PDF_MAGIC = b"%PDF-"


class ContentKind(StrEnum):
    ARTICLE = "article"
    PDF = "pdf"
    VIDEO = "video"

    @property
    def label(self) -> str:
        return {
            ContentKind.ARTICLE: "Article",
            ContentKind.PDF: "PDF",
            ContentKind.VIDEO: "Video link",
        }[self]


@dataclass(frozen=True, slots=True)
class Item:
    """An item as checked: text trimmed, tags named once each, language as
    ``check_language`` spells it."""

    kind: ContentKind
    title: str
    body: str
    url: str
    phases: tuple[str, ...]
    language: str


def check_language(code: str) -> str:
    """The code in the one spelling it is kept and compared in: the language in lower
    case, a region in capitals, a script capitalised (``pt-br`` and ``PT-BR`` are both
    ``pt-BR``; ``zh-hant`` is ``zh-Hant``), so a regional item finds its plan whatever
    case each was typed in."""
    cleaned = code.strip() or DEFAULT_LANGUAGE
    if not LANGUAGE.match(cleaned.lower()):
        raise InvalidInput(
            f"“{code[:20]}” is not a language code: use two letters, like en, fr or es "
            "(or a regional one like pt-BR)."
        )
    return canonical_language(cleaned)


def canonical_language(code: str) -> str:
    """``code`` with each part in its usual case (BCP 47): also for codes kept before
    they were checked this way, so comparing never depends on how they were typed."""
    head, _, tail = code.strip().partition("-")
    if not tail:
        return head.lower()
    if len(tail) == 2 and tail.isalpha():
        part = tail.upper()
    elif len(tail) == 4 and tail.isalpha():
        part = tail.title()
    else:
        part = tail.lower()
    return f"{head.lower()}-{part}"


def language_suits(item_language: str, reader_language: str) -> bool:
    """Whether an item in ``item_language`` is for a reader of ``reader_language``: the
    same language (in any case), or the item's is the reader's without the region (an
    item in ``en`` reaches a plan in ``en-GB``; one in ``en-US`` does not)."""
    item = canonical_language(item_language)
    reader = canonical_language(reader_language)
    return item in (reader, reader.partition("-")[0])


def check_phases(names: list[str]) -> tuple[str, ...]:
    """The phase tags, each once (compared as ``fold`` compares phase names)."""
    tags: list[str] = []
    seen: set[str] = set()
    for raw in names:
        name = " ".join(raw.split())
        if not name or fold(name) in seen:
            continue
        if len(name) > PHASE_NAME_LENGTH:
            raise InvalidInput(
                f"The phase tag “{name[:30]}…” is long: at most {PHASE_NAME_LENGTH} characters."
            )
        seen.add(fold(name))
        tags.append(name)
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"An item has at most {MAX_TAGS} phase tags.")
    return tuple(tags)


def check_video_url(url: str) -> str:
    """An https address with a host, or the refusal in words: also for an address the
    standard library cannot read (``https://[::1`` makes it raise ValueError), which would
    otherwise reach the server as a 500 and the desk's dialog as nothing at all."""
    cleaned = url.strip()
    try:
        parts = urlsplit(cleaned)
        host = parts.hostname  # a bracket left open, or a host that is no host, raises
        parts.port  # noqa: B018 - so does a port that is no number, or out of range
    except ValueError:
        parts, host = None, None
    if (
        parts is None
        or not host
        or parts.scheme != "https"
        or not parts.netloc
        or len(cleaned) > URL_LENGTH
        or any(ch in cleaned for ch in " <>\"'\\")
        or any(ord(ch) < 33 for ch in cleaned)
    ):
        raise InvalidInput(
            "The video link must be a secure web address starting with https://, like "
            "https://www.youtube.com/watch?v=…"
        )
    return cleaned


def check_item(
    kind: ContentKind, title: str, body: str, url: str, phases: list[str], language: str
) -> Item:
    cleaned_title = " ".join(title.split())
    if not cleaned_title:
        raise InvalidInput("Give the item a title patients will recognise.")
    if len(cleaned_title) > TITLE_LENGTH:
        raise InvalidInput(f"The title is at most {TITLE_LENGTH} characters.")
    text = body.strip()
    if len(text) > BODY_LENGTH:
        raise InvalidInput(
            f"The text is {len(text)} characters long: at most {BODY_LENGTH}. Make it a PDF "
            "instead, or split it in two articles."
        )
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in text):
        raise InvalidInput("The text has invisible control characters in it: paste it again.")
    if kind is ContentKind.ARTICLE and not text:
        raise InvalidInput("The article has no text: write it, or paste it in.")
    link = check_video_url(url) if kind is ContentKind.VIDEO else ""
    return Item(
        kind=kind,
        title=cleaned_title,
        body=text,
        url=link,
        phases=check_phases(phases),
        language=check_language(language),
    )


def check_pdf(data: bytes) -> None:
    """A PDF by its first bytes, and not too large; a refusal in words otherwise."""
    if not data:
        raise InvalidInput("The PDF file is empty: choose it again.")
    if len(data) > PDF_MAX_BYTES:
        raise TooLarge(
            f"The PDF is larger than {PDF_MAX_BYTES // (1024 * 1024)} MB ({len(data):,} "
            "bytes). Save a smaller copy (a PDF printer's “smallest file” setting) and add that."
        )
    if not data.startswith(PDF_MAGIC):
        raise InvalidInput(
            "This file is not a PDF (whatever its name says): choose a PDF document."
        )


def matches(item_phases: list[str] | tuple[str, ...], phase: str) -> bool:
    """Whether an item tagged ``item_phases`` suits the phase named ``phase``."""
    wanted = fold(phase)
    return any(fold(tag) == wanted for tag in item_phases)


def shown_tags(phases: list[str] | tuple[str, ...]) -> str:
    """The tags in words; an untagged item is never delivered, only browsed."""
    return ", ".join(phases) if phases else "none (help centre only)"
