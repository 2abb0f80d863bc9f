"""The desk's side of the content library (Settings → Education library): the items,
adding and changing them, a PDF item's file, and removing them. Any staff member may
look; ``content:manage`` changes. Online only.

An item's fields are JSON at the server's usual body limit; a PDF's file is the body of
a request of its own (``PUT /content/{id}/file``), the only one here that may be larger,
read once the caller is known to be signed-in staff: nobody signed out makes the server
take in megabytes, let alone parse them.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from common.content import PDF_MAX_BYTES, check_pdf
from common.roles import Permission
from server import kit, media
from server.content import service
from server.content.models import ContentItem
from server.db import utcnow
from server.deps import DatabaseDep, SettingsDep, StaffContext
from server.http import Upload
from sync.protocol import API_PREFIX, ContentItemRecord, SaveContentItem

router = APIRouter(tags=["content library"])
UPLOADS = (
    Upload(
        "PUT", re.compile(re.escape(API_PREFIX) + r"/content/[^/]+/file"), PDF_MAX_BYTES + 64 * 1024
    ),
)
PDF = {"schema": {"type": "string", "format": "binary"}}
PDF_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/pdf": PDF, "application/octet-stream": PDF},
    }
}


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


@router.get("/content", response_model=list[ContentItemRecord])
def list_items(ctx: StaffContext, db: DatabaseDep) -> Response:
    """The clinic's library (published or not; never the removed), by title."""
    ctx.require(Permission.PATIENTS_READ)
    with db.reading() as session:
        records = [record(item) for item in service.items_of(session, ctx.clinic_id)]
    return kit.json_response(records)


@router.post("/content", response_model=ContentItemRecord, status_code=201)
def add_item(body: SaveContentItem, ctx: StaffContext, db: DatabaseDep) -> Response:
    """An article, a video link, or a PDF item, whose file follows on ``PUT
    /content/{id}/file`` (until then, no patient is shown or given it)."""
    ctx.require(Permission.CONTENT_MANAGE)
    with db.writing() as session:
        saved = record(service.save_item(session, ctx, _draft(body)))
    return kit.json_response(saved, 201)


@router.put("/content/{item_id}", response_model=ContentItemRecord)
def save_item(
    item_id: uuid.UUID, body: SaveContentItem, ctx: StaffContext, db: DatabaseDep
) -> Response:
    """Change an item's fields; a PDF keeps its file."""
    ctx.require(Permission.CONTENT_MANAGE)
    with db.writing() as session:
        saved = record(service.save_item(session, ctx, _draft(body), item_id=item_id))
    return kit.json_response(saved)


@router.put("/content/{item_id}/file", response_model=ContentItemRecord, openapi_extra=PDF_BODY)
def put_file(
    item_id: uuid.UUID,
    ctx: StaffContext,  # before the body: nobody signed out makes the server read 10 MB
    data: media.RawBody,
    db: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    """A PDF item's file (the body itself, at most 10 MB), recognised by its first bytes
    whatever it is called; the file it replaces is removed once the new one is in."""
    ctx.require(Permission.CONTENT_MANAGE)
    check_pdf(data)
    stored = media.save(settings.media_dir, media.DOCUMENTS, data, ".pdf")
    with media.kept_unless_failed(settings.media_dir, stored), db.writing() as session:
        item, replaced = service.set_file(session, ctx, item_id, stored)
        saved = record(item)
    if replaced:
        media.remove(settings.media_dir, replaced)
    return kit.json_response(saved)


@router.delete("/content/{item_id}", response_model=ContentItemRecord)
def remove_item(
    item_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep, settings: SettingsDep
) -> Response:
    """Out of the library and the portal's help centre. What patients were given stays
    on their record, listed as withdrawn; a PDF's file is removed once that is committed."""
    with db.writing() as session:
        item = service.remove_item(session, ctx, item_id, utcnow())
        removed, file = record(item), item.file_path
    if file:
        media.remove(settings.media_dir, file)
    return kit.json_response(removed)
