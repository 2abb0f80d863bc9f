"""The practice page (``/practice/{slug}``): who the clinic is, where, when it is open,
which insurances it takes, and the ways in it has opened (booking, enquiries).

Only a published page is shown; an unpublished, unknown or mistyped address is the same
404 page. The widget and the enquiry form open on their own switches, published page or
not (a clinic may embed the widget on its own website and keep no page here), and the
logo is served to them and to link pages alike: a clinic with either switched on is
visible at its address by those. Staff preview an
unpublished page through a short-lived signed link (``server.practice.service``); a
preview is never cached or indexed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from server.db import utcnow
from server.deps import DatabaseDep
from server.practice import service
from server.web.pages import READ, WebRoute, brand_of, by_slug, not_found_page, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PREVIEW_LENGTH = 100


def _paragraphs(text: str) -> list[str]:
    """Paragraphs on blank lines; the template escapes each one."""
    blocks = [" ".join(line.strip() for line in block.splitlines()) for block in text.split("\n\n")]
    return [block for block in (b.strip() for b in blocks) if block]


@router.api_route("/practice/{slug}", methods=READ, response_class=HTMLResponse)
def practice_page(
    slug: str,
    request: Request,
    db: DatabaseDep,
    preview: Annotated[str | None, Query(max_length=PREVIEW_LENGTH)] = None,
) -> Response:
    settings = request.app.state.settings
    with db.reading() as session:
        found = by_slug(session, slug)
        if found is None:
            return not_found_page(request)
        clinic, profile = found
        previewing = preview is not None and service.preview_allows(
            settings.secret_key, preview, clinic.id, utcnow()
        )
        if not profile.published and not previewing:
            return not_found_page(request)
        brand = brand_of(clinic, profile)
        hours = service.opening_hours(session, clinic.id)
        context = {
            "profile": {
                "slug": profile.slug,
                "specialty": profile.specialty,
                "address_lines": [line for line in profile.address.splitlines() if line.strip()],
                "phone": profile.phone,
                "email": profile.email,
                "about": _paragraphs(profile.about),
                "insurances": list(profile.insurances or []),
                "booking": profile.booking_enabled,
                "leads": profile.leads_enabled,
                "published": profile.published,
            },
            "hours": [(day.day, day.text) for day in hours],
            "previewing": previewing,
            "indexable": profile.published and not previewing,
        }
    return render(request, "practice.html", context, brand=brand, private=previewing)


@router.api_route("/practice/{slug}/logo", methods=READ)
def practice_logo(slug: str, request: Request, db: DatabaseDep) -> Response:
    """The clinic's logo, on every page carrying its brand (link pages too, whether or not
    the practice page is published). The URL carries the logo's version, so it is kept
    for a year; a new logo gets a new URL."""
    with db.reading() as session:
        found = by_slug(session, slug)
        if found is None or found[1].logo is None:
            return not_found_page(request)
        profile = found[1]
        data, kind = profile.logo, profile.logo_type
    if data is None or kind not in ("image/png", "image/jpeg"):
        return not_found_page(request)
    return Response(
        data,
        media_type=kind,
        headers={
            "cache-control": "public, max-age=31536000, immutable",
            "x-content-type-options": "nosniff",
        },
    )
