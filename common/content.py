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
    """An item as checked: text trimmed, tags named once each, language lower-case."""

    kind: ContentKind
    title: str
    body: str
    url: str
    phases: tuple[str, ...]
    language: str


def check_language(code: str) -> str:
    cleaned = code.strip() or DEFAULT_LANGUAGE
    head, _, tail = cleaned.partition("-")
    cleaned = head.lower() + (f"-{tail}" if tail else "")
    if not LANGUAGE.match(cleaned):
        raise InvalidInput(
            f"“{code[:20]}” is not a language code: use two letters, like en, fr or es "
            "(or a regional one like pt-BR)."
        )
    return cleaned


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
    cleaned = url.strip()
    parts = urlsplit(cleaned)
    if (
        parts.scheme != "https"
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
