"""The patients' side, installed into the server: its routers, static files, headers and
HTML error pages. Each part (the practice page, the widget, enquiries, booking and manage
links) is a router of ``WebRoute``s in a module of its own, listed in ``ROUTERS``."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from starlette.staticfiles import StaticFiles

from server.deps import DatabaseDep
from server.leads.web import router as enquiries
from server.portal import appointments_web as portal_appointments
from server.portal import bills_web as portal_bills
from server.portal import care_web as portal_care
from server.portal import family as portal_family
from server.portal import forms_web as portal_forms
from server.portal import home as portal_home
from server.portal import messages_web as portal_messages
from server.portal import profile_web as portal_profile
from server.portal import security_web as portal_security
from server.portal import signin as portal_signin
from server.web import links, manage, practice, widget
from server.web.models import PracticeProfile
from server.web.pages import READ, STATIC, STATIC_PREFIX, WebRoute, not_found_page, render
from server.web.security import WebHeaders
from server.web.tokens import MaskTokens

home = APIRouter(route_class=WebRoute, include_in_schema=False)


@home.api_route("/", methods=READ, response_class=HTMLResponse)
def front_page(request: Request, db: DatabaseDep) -> Response:
    """Where someone lands who typed the server's address: the clinics whose pages are
    published, and a word on links."""
    with db.reading() as session:
        practices = list(
            session.scalars(
                select(PracticeProfile)
                .where(PracticeProfile.published.is_(True))
                .order_by(PracticeProfile.display_name)
            )
        )
        listed = [
            {"slug": p.slug, "display_name": p.display_name, "specialty": p.specialty}
            for p in practices
        ]
    return render(request, "home.html", {"practices": listed})


@home.api_route("/favicon.ico", methods=READ)
def favicon() -> Response:
    """Browsers ask for it on every first visit; nothing, cached for a day."""
    return Response(status_code=204, headers={"cache-control": "public, max-age=86400"})


ROUTERS: list[APIRouter] = [
    home,
    practice.router,
    widget.router,
    enquiries,
    links.router,
    manage.router,
    portal_signin.router,
    portal_home.router,
    portal_appointments.router,
    portal_forms.router,
    portal_bills.router,
    portal_family.router,
    portal_messages.router,
    portal_profile.router,
    portal_security.router,
    portal_care.router,
]


class _Static(StaticFiles):
    """The pages' CSS and scripts, named with a content hash in their URLs (see
    ``pages.static_url``): kept by browsers for a year."""

    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers["cache-control"] = "public, max-age=31536000, immutable"
        return response


def install(app: FastAPI) -> None:
    # Paths carry link tokens: masked in the access log and in error reports.
    for name in ("uvicorn.access", "uvicorn.error", "server.http"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskTokens) for f in logger.filters):
            logger.addFilter(MaskTokens())
    for router in ROUTERS:
        app.include_router(router)
    app.mount(STATIC_PREFIX, _Static(directory=STATIC), name="web-static")
    app.state.html_not_found = not_found_page
    app.add_middleware(WebHeaders)
