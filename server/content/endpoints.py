"""The desk's side of the content library (Settings → Education library): the items,
adding and changing them (a PDF's file in base64 in the same request), and removing
them. Any staff member may look; ``content:manage`` changes. Online only.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid

from fastapi import APIRouter
from fastapi.responses import Response

from common.content import PDF_MAX_BYTES, ContentKind, check_pdf
from common.errors import InvalidInput
from common.roles import Permission
from server import kit, media
from server.content import service
from server.content.models import ContentItem
from server.db import utcnow
from server.deps import DatabaseDep, SettingsDep, StaffContext
from server.http import Upload
from sync.protocol import API_PREFIX, ContentItemRecord, SaveContentItem

router = APIRouter(tags=["content library"])
# A PDF travels in base64 (a third larger) inside the item's JSON.
_PDF_BODY = PDF_MAX_BYTES * 4 // 3 + 256 * 1024
UPLOADS = (
    Upload("POST", re.compile(re.escape(API_PREFIX) + r"/content"), _PDF_BODY),
    Upload("PUT", re.compile(re.escape(API_PREFIX) + r"/content/[^/]+"), _PDF_BODY),
)


def record(item: ContentItem) -> ContentItemRecord:
    return ContentItemRecord(
        id=item.id,
        kind=item.kind,
        title=item.title,
        body=item.body,
        url=item.url,
        phases=list(item.phases or []),
        language=item.language,
        published=item.published,
        file_size=item.file_size,
        changed_at=item.modified_at,
    )


def _draft(body: SaveContentItem) -> service.Draft:
    return service.Draft(
        kind=body.kind,
        title=body.title,
        body=body.body,
        url=body.url,
        phases=list(body.phases),
        language=body.language,
        published=body.published,
    )


def _pdf(body: SaveContentItem) -> bytes | None:
    if body.pdf_base64 is None:
        return None
    if body.kind is not ContentKind.PDF:
        raise InvalidInput("Only a PDF item takes a file.")
    try:
        data = base64.b64decode(body.pdf_base64, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise InvalidInput(
            "The PDF could not be read: send the file's bytes in base64 as pdf_base64."
        ) from exc
    check_pdf(data)
    return data


def _save(
    body: SaveContentItem,
    ctx: StaffContext,
    db: DatabaseDep,
    settings: SettingsDep,
    item_id: uuid.UUID | None,
) -> ContentItemRecord:
    ctx.require(Permission.CONTENT_MANAGE)
    data = _pdf(body)
    if data is None:
        with db.writing() as session:
            return record(service.save_item(session, ctx, _draft(body), item_id=item_id))
    stored = media.save(settings.media_dir, media.DOCUMENTS, data, ".pdf")
    with media.kept_unless_failed(settings.media_dir, stored), db.writing() as session:
        before = service.find_item(session, ctx.clinic_id, item_id) if item_id else None
        replaced = before.file_path if before is not None else None
        item = service.save_item(session, ctx, _draft(body), item_id=item_id, file=stored)
        saved = record(item)
    if replaced:
        media.remove(settings.media_dir, replaced)  # the old file, once the new one is in
    return saved


@router.get("/content", response_model=list[ContentItemRecord])
def list_items(ctx: StaffContext, db: DatabaseDep) -> Response:
    """The clinic's library (published or not; never the removed), by title."""
    ctx.require(Permission.PATIENTS_READ)
    with db.reading() as session:
        records = [record(item) for item in service.items_of(session, ctx.clinic_id)]
    return kit.json_response(records)


@router.post("/content", response_model=ContentItemRecord, status_code=201)
def add_item(
    body: SaveContentItem, ctx: StaffContext, db: DatabaseDep, settings: SettingsDep
) -> Response:
    """An article, a PDF (its file in ``pdf_base64``, at most 10 MB) or a video link."""
    return kit.json_response(_save(body, ctx, db, settings, None), 201)


@router.put("/content/{item_id}", response_model=ContentItemRecord)
def save_item(
    item_id: uuid.UUID,
    body: SaveContentItem,
    ctx: StaffContext,
    db: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    """Change an item; a PDF keeps its file unless another is sent."""
    return kit.json_response(_save(body, ctx, db, settings, item_id))


@router.delete("/content/{item_id}", response_model=ContentItemRecord)
def remove_item(item_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    """Out of the library and the portal's help centre. What patients were given stays
    recorded (and its file kept, so the record still says what it was)."""
    with db.writing() as session:
        item = service.remove_item(session, ctx, item_id, utcnow())
        removed = record(item)
    return kit.json_response(removed)
