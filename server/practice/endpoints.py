"""Staff endpoints of the practice page: any staff member reads the profile; clinic
admins change it and its logo. A preview link shows the page before it is published."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from common.errors import NotFound
from common.roles import Permission
from server.db import utcnow
from server.deps import DatabaseDep, SettingsDep, StaffContext
from server.kit import json_response
from server.practice import service
from sync.protocol import (
    PracticeLogoUpload,
    PracticeProfileBody,
    PracticeProfileFields,
    PreviewLink,
)

router = APIRouter(tags=["practice page"])


async def raw_body(request: Request) -> bytes:
    """The request body as sent (a logo); read before the endpoint's worker thread runs.
    The server's body limit has already refused anything far too large."""
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]


@router.get("/practice-profile", response_model=PracticeProfileBody)
def get_practice_profile(ctx: StaffContext, db: DatabaseDep, settings: SettingsDep) -> Response:
    """The clinic's public profile, or the defaults a new one starts from (``saved``
    false). Any staff member may look: it is what the public sees."""
    with db.reading() as session:
        body = service.body_of(session, ctx.clinic_id, settings.public_base_url)
    return json_response(body)


@router.put("/practice-profile", response_model=PracticeProfileBody)
def put_practice_profile(
    fields: PracticeProfileFields, ctx: StaffContext, db: DatabaseDep, settings: SettingsDep
) -> Response:
    """Clinic admins only. The address must be free on this server."""
    ctx.require(Permission.SETTINGS_MANAGE)
    with db.writing() as session:
        service.save(session, ctx, fields)
        body = service.body_of(session, ctx.clinic_id, settings.public_base_url)
    return json_response(body)


LOGO_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": PracticeLogoUpload.model_json_schema()},
        },
    }
}


@router.put("/practice-profile/logo", response_model=PracticeProfileBody, openapi_extra=LOGO_BODY)
def put_practice_logo(
    request: Request, data: RawBody, ctx: StaffContext, db: DatabaseDep, settings: SettingsDep
) -> Response:
    """A PNG or JPEG, as the body itself or base64 in JSON (``content_base64``)."""
    ctx.require(Permission.SETTINGS_MANAGE)
    logo = service.logo_bytes(data, request.headers.get("content-type", ""))
    with db.writing() as session:
        service.set_logo(session, ctx, logo)
        body = service.body_of(session, ctx.clinic_id, settings.public_base_url)
    return json_response(body)


@router.delete("/practice-profile/logo", response_model=PracticeProfileBody)
def delete_practice_logo(ctx: StaffContext, db: DatabaseDep, settings: SettingsDep) -> Response:
    ctx.require(Permission.SETTINGS_MANAGE)
    with db.writing() as session:
        service.remove_logo(session, ctx)
        body = service.body_of(session, ctx.clinic_id, settings.public_base_url)
    return json_response(body)


@router.post("/practice-profile/preview-link", response_model=PreviewLink)
def practice_preview_link(ctx: StaffContext, db: DatabaseDep, settings: SettingsDep) -> Response:
    """A link showing the page as it is now, published or not, for a few minutes. Changes
    nothing; a POST so that no cache or prefetch ever holds one."""
    with db.reading() as session:
        profile = service.profile_of(session, ctx.clinic_id)
        slug = profile.slug if profile is not None else None
    if slug is None:
        raise NotFound("This clinic has no practice page yet: save its details, then preview it.")
    token, expires_at = service.preview_token(settings.secret_key, ctx.clinic_id, utcnow())
    base = settings.public_base_url.rstrip("/")
    return json_response(
        PreviewLink(url=f"{base}/practice/{slug}?preview={token}", expires_at=expires_at)
    )
