"""Files kept outside the database: progress photos and the content library's PDFs.

A row holds the file's path (relative to ``Settings.media_dir``), size, type and SHA-256;
the bytes live in a file named by a random id, never by anything about the patient, so a
listing of the folder or a backup's index says nothing about whose photos they are.
Files are written whole (to a temporary name, synced, then renamed), readable by the
server's user only, and checked against their digest when read back: a file changed or
cut short on disk is never served as if it were the one uploaded.

A file is written before the row that names it, in the request's write transaction; if
that transaction fails, ``kept_unless_failed`` removes the file again, so a failed upload
leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

log = logging.getLogger(__name__)

PHOTOS = "photos"
DOCUMENTS = "documents"


@dataclass(frozen=True, slots=True)
class Stored:
    path: str  # "photos/3f9c….jpg", relative to the media folder
    size: int
    sha256: str


async def raw_body(request: Request) -> bytes:
    """A file sent as the request's body, read before the endpoint's worker thread runs
    (the body limit has refused anything far larger already). Name it after the caller
    (``StaffContext``) in an endpoint's parameters: whoever is not signed in is refused
    before a byte of the body is read."""
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]


class MissingFile(Exception):
    """The row's file is not on disk as it was written (gone, or changed)."""


def _inside(media_dir: Path, relative: str) -> Path:
    root = media_dir.resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise MissingFile(f"{relative!r} is not inside the media folder")
    return path


def save(media_dir: Path, folder: str, data: bytes, suffix: str) -> Stored:
    """Write ``data`` under ``folder`` with a new random name ending in ``suffix``."""
    name = f"{secrets.token_hex(16)}{suffix}"
    directory = media_dir.resolve() / folder
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / name
    partial = directory / f".{name}.part"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Stored(f"{folder}/{name}", len(data), hashlib.sha256(data).hexdigest())


def read(media_dir: Path, relative: str, sha256: str) -> bytes:
    """The file's bytes, as they were written; ``MissingFile`` otherwise."""
    path = _inside(media_dir, relative)
    try:
        data = path.read_bytes()
    except OSError as exc:
        log.error("media file %s cannot be read: %s", relative, exc)
        raise MissingFile(relative) from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        log.error("media file %s does not match its digest: not served", relative)
        raise MissingFile(relative)
    return data


def remove(media_dir: Path, relative: str) -> None:
    try:
        _inside(media_dir, relative).unlink(missing_ok=True)
    except (OSError, MissingFile) as exc:
        log.warning("media file %s could not be removed: %s", relative, exc)


@contextmanager
def kept_unless_failed(media_dir: Path, stored: Stored) -> Iterator[Stored]:
    """Remove the file just written if what follows (its row's transaction) fails."""
    try:
        yield stored
    except BaseException:
        remove(media_dir, stored.path)
        raise


def served(data: bytes, content_type: str, *, download_as: str | None = None) -> Response:
    """A stored file as an answer: never cached (a patient's photo on a shared computer
    stays theirs), shown in place (a photo) or saved under ``download_as`` (a PDF), and
    never sniffed as anything but the type it was checked to be."""
    disposition = f'attachment; filename="{download_as}"' if download_as else "inline"
    return Response(
        data,
        media_type=content_type,
        headers={
            "cache-control": "no-store",
            "content-disposition": disposition,
            "x-content-type-options": "nosniff",
        },
    )
