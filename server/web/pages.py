"""Rendering the patients' pages: one Jinja2 environment (autoescaped), the clinic's
branding on every page, the security headers, and friendly HTML error pages.

Every router on the patients' side uses ``WebRoute``: an expected failure raised by a
service (``common.errors``) becomes a page in words with the clinic's phone number and
the right status, never JSON or a stack trace; a mistyped address or form value becomes a
400 page. ``render`` is the one way a page is answered.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.embed import COLOUR_PATTERN, contrast, text_on
from common.errors import DomainError, TooManyAttempts
from server.clinics.models import Clinic
from server.web.models import DEFAULT_BRAND_COLOUR, PracticeProfile
from server.web.security import (
    CSRF_FIELD,
    FRAMEABLE,
    HSTS,
    content_security_policy,
    csrf_seed,
    embedded_token,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
STATIC = HERE / "static"
STATIC_PREFIX = "/static/web"
# Every page answers HEAD as it answers GET (link checkers and scanners ask HEAD).
READ = ["GET", "HEAD"]
FALLBACK_LINK = "#1f5f8b"

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _static_versions() -> dict[str, str]:
    """A short content hash per static file, put in its URL: browsers keep the files a
    year and fetch a new one only when it changed."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        for path in STATIC.iterdir()
        if path.is_file()
    }


STATIC_VERSIONS = _static_versions()


def static_url(name: str) -> str:
    return f"{STATIC_PREFIX}/{name}?v={STATIC_VERSIONS.get(name, '0')}"


templates.globals["static_url"] = static_url


# --- the clinic's branding ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Brand:
    """What every page shows of the clinic. Colours are checked ``#rrggbb`` values,
    with text chosen for contrast (WCAG AA) whatever colour an admin picks."""

    clinic_id: uuid.UUID | None
    name: str
    slug: str | None = None
    colour: str = DEFAULT_BRAND_COLOUR
    phone: str = ""
    email: str = ""
    has_logo: bool = False
    logo_version: str = ""

    @property
    def on_colour(self) -> str:
        """Text on the brand colour (buttons, the header bar): black or white, whichever
        reads better."""
        return text_on(self.colour)

    @property
    def link_colour(self) -> str:
        """Links on white: the brand colour when it reads well enough, else a dark blue."""
        return self.colour if contrast(self.colour, "#ffffff") >= 4.5 else FALLBACK_LINK

    @property
    def logo_url(self) -> str | None:
        if not self.has_logo or not self.slug:
            return None
        return f"/practice/{self.slug}/logo?v={self.logo_version}"


GENERIC = Brand(clinic_id=None, name="Clinicdesk")


def brand_of(clinic: Clinic, profile: PracticeProfile | None) -> Brand:
    if profile is None:
        return Brand(clinic_id=clinic.id, name=clinic.name)
    colour = profile.brand_colour if COLOUR_PATTERN.match(profile.brand_colour or "") else None
    logo_version = hashlib.sha256(profile.logo).hexdigest()[:10] if profile.logo else ""
    return Brand(
        clinic_id=clinic.id,
        name=profile.display_name or clinic.name,
        slug=profile.slug,
        colour=(colour or DEFAULT_BRAND_COLOUR).lower(),
        phone=profile.phone,
        email=profile.email,
        has_logo=profile.logo is not None,
        logo_version=logo_version,
    )


def profile_of(session: Session, clinic_id: uuid.UUID) -> PracticeProfile | None:
    return session.scalar(select(PracticeProfile).where(PracticeProfile.clinic_id == clinic_id))


def brand_for(session: Session, clinic_id: uuid.UUID) -> Brand:
    """The branding of a clinic found another way (a link's clinic)."""
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        return GENERIC
    return brand_of(clinic, profile_of(session, clinic_id))


def by_slug(session: Session, slug: str) -> tuple[Clinic, PracticeProfile] | None:
    """The clinic whose public profile lives at ``slug`` (None: no such page)."""
    if len(slug) > 64:
        return None
    profile = session.scalar(select(PracticeProfile).where(PracticeProfile.slug == slug.lower()))
    if profile is None:
        return None
    clinic = session.get(Clinic, profile.clinic_id)
    return (clinic, profile) if clinic is not None else None


# --- answering ------------------------------------------------------------------------


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    brand: Brand | None = None,
    status: int = 200,
    private: bool = False,
    frameable: bool = False,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page, with its headers. ``private``: it shows a patient's data (never cached,
    anywhere). ``frameable``: a clinic may show it in an iframe on its own website (the
    booking widget). ``brand`` is remembered on the request for its error pages."""
    brand = brand or getattr(request.state, "brand", None) or GENERIC
    request.state.brand = brand
    # An embedded page's forms carry a signed token (a frame of another site keeps no
    # cookie of ours); every other page's, the HMAC of its CSRF cookie.
    seed = None if frameable else csrf_seed(request)
    token = (
        embedded_token(request.app.state.settings, request.url.path) if seed is None else seed.token
    )
    nonce = secrets.token_urlsafe(12)
    body = templates.get_template(template).render(
        {
            "brand": brand,
            "nonce": nonce,
            "csrf_field": CSRF_FIELD,
            "csrf_token": token,
            "request_path": request.url.path,
            **(context or {}),
        }
    )
    response = HTMLResponse(body, status_code=status)
    response.headers["content-security-policy"] = content_security_policy(
        nonce=nonce, frameable=frameable
    )
    response.headers["strict-transport-security"] = HSTS
    response.headers["referrer-policy"] = "no-referrer"
    response.headers["x-content-type-options"] = "nosniff"
    if not frameable:
        response.headers["x-frame-options"] = "DENY"
    response.headers["cache-control"] = "no-store" if private else "no-cache"
    if seed is not None and seed.is_new:
        response.headers.append("set-cookie", seed.set_cookie_header(request))
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    """A failure in words. Inside an embedded page it stays showable in the frame."""
    return render(
        request,
        "error.html",
        {"title": title, "message": message, "status": status},
        status=status,
        private=True,
        frameable=request.url.path.startswith(FRAMEABLE),
    )


TITLES = {
    400: "This address is not quite right",
    403: "This could not be sent",
    404: "Nothing here",
    405: "Nothing here",
    409: "That has changed",
    410: "This link has been used",
    413: "That is too much at once",
    422: "Please check what you entered",
    429: "Please wait a moment",
}
NOT_FOUND = "There is nothing at this address. Check the link you were sent, or call the clinic."


def domain_error_page(request: Request, error: DomainError) -> HTMLResponse:
    response = error_page(request, error.status, TITLES.get(error.status, "Sorry"), error.message)
    if isinstance(error, TooManyAttempts) and error.retry_after > 0:
        response.headers["retry-after"] = str(error.retry_after)
    return response


def not_found_page(request: Request) -> HTMLResponse:
    return error_page(request, 404, TITLES[404], NOT_FOUND)


SIGNED_OUT = (
    "You were signed out, so this answer was not saved. Sign in again in another tab, "
    "then press Save and continue here."
)


class SeeOther(Exception):
    """Raised by a page's dependency when the page is not for now (the portal, signed
    out): ``WebRoute`` answers with a 303 to ``url``."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(url)
        self.url = url
        self.headers = headers or {}


class WebRoute(APIRoute):
    """A route of the patients' side: expected failures become pages, not JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except SeeOther as elsewhere:
                headers = {"cache-control": "no-store", **elsewhere.headers}
                if request.headers.get("x-requested-with") == "fetch":
                    # A page's own script (a form's autosave) cannot follow a redirect
                    # to a sign-in page: it is told in words, and the page stays.
                    return JSONResponse(
                        {"message": SIGNED_OUT, "location": elsewhere.url},
                        status_code=401,
                        headers=headers,
                    )
                return RedirectResponse(elsewhere.url, status_code=303, headers=headers)
            except DomainError as error:
                return domain_error_page(request, error)
            except RequestValidationError:
                return error_page(
                    request,
                    400,
                    TITLES[400],
                    "Part of this address or form is missing or mistyped. Go back and try "
                    "again, or open the link you were sent once more.",
                )

        return answer
