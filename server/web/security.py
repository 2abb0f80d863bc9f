"""Web security for the patients' pages: CSRF on every form and the response headers.

CSRF is refused three ways, each enough on its own for modern browsers:

- ``Sec-Fetch-Site`` (sent by every current browser): a POST from another site is
  refused outright;
- ``Origin``: when sent, it must be this server's own host;
- a token in every form, the HMAC of a random value held in a ``__Host-`` cookie
  (HttpOnly, Secure, SameSite=Strict): another site can neither read the cookie nor
  forge the token.

A page a clinic embeds in its own website (the booking widget, in an iframe) cannot rely
on that cookie: browsers keep no SameSite=Strict cookie in a frame of another site. Its
form carries a signed, expiring token bound to the address it posts to instead
(``CheckedEmbeddedForm``); the form is anonymous, so a cookie would add nothing the
``Sec-Fetch-Site``/``Origin`` check does not already give.

The headers: a strict Content-Security-Policy (nothing from another origin, no inline
script; a per-response nonce for the clinic's colours), HSTS, ``nosniff``,
``Referrer-Policy: no-referrer`` (token URLs never leak to another site), and
``Cache-Control: no-store`` on every page that shows patient data. ``WebHeaders`` adds
the defaults to whatever the patients' side answers without them (redirects, static
files, error pages).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.errors import Forbidden
from server.config import Settings

CSRF_FIELD = "csrf_token"
SECURE_COOKIE = "__Host-clinicdesk-csrf"
# Over plain http to a host other than this machine a browser keeps no Secure cookie
# (a LAN demo): the same cookie without the prefix and the Secure flag.
PLAIN_COOKIE = "clinicdesk-csrf"
CROSS_SITE = (
    "This form was sent from another website, so it was not accepted. Open the clinic's "
    "page directly and fill it in there."
)
NO_COOKIE = (
    "This form could not be checked: it may have been open too long, or your browser "
    "blocks cookies for this site. Go back, reload the page and send it again."
)
EXPIRED_FORM = (
    "This form was open too long to be sent safely. Go back, reload the page and send it again."
)
# Pages clinics may show in an iframe on their own website (and so their error pages).
FRAMEABLE = ("/book/",)
# Paths that are not the patients' side: the desks' API, providers' webhooks, the
# server's own documentation (its pages carry their own scripts) and operations.
NOT_WEB = ("/api/", "/webhooks/", "/docs", "/redoc", "/openapi.json", "/healthz", "/dev/")
HSTS = "max-age=31536000"


def is_web_path(path: str) -> bool:
    return not path.startswith(NOT_WEB)


def secure_context(request: Request) -> bool:
    """Whether the browser keeps Secure cookies from this address: https, or this
    machine itself (browsers treat loopback as secure)."""
    if request.url.scheme == "https":
        return True
    host = request.url.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cookie_name(request: Request) -> str:
    return SECURE_COOKIE if secure_context(request) else PLAIN_COOKIE


EMBEDDED_FORM_SECONDS = 2 * 3600  # how long an embedded form may stay open


def _token_for(settings: Settings, seed: str) -> str:
    mac = hmac.new(settings.secret_key.encode(), f"csrf:{seed}".encode(), hashlib.sha256)
    return mac.hexdigest()


def same_text(sent: str, expected: str) -> bool:
    """Constant-time equality for anything a client sent (``compare_digest`` refuses
    non-ASCII text with an exception, which must be a refusal instead)."""
    return sent.isascii() and hmac.compare_digest(sent, expected)


def _embedded_mac(settings: Settings, path: str, expiry: int) -> str:
    message = f"embedded-form:{path}:{expiry}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()


def embedded_token(settings: Settings, path: str, now: float | None = None) -> str:
    """The token of an embedded page's form, good for posting to ``path`` for a while."""
    expiry = int(now if now is not None else time.time()) + EMBEDDED_FORM_SECONDS
    return f"{expiry}.{_embedded_mac(settings, path, expiry)}"


def embedded_token_valid(
    settings: Settings, path: str, token: str, now: float | None = None
) -> bool:
    expiry_text, _, mac = token.partition(".")
    if not (expiry_text.isascii() and expiry_text.isdigit() and len(expiry_text) <= 12):
        return False
    expiry = int(expiry_text)
    if expiry < (now if now is not None else time.time()):
        return False
    return same_text(mac, _embedded_mac(settings, path, expiry))


class CsrfSeed:
    """The request's CSRF cookie value (new if it had none) and the form token it
    signs; ``pages.render`` sets the cookie when it is new."""

    def __init__(self, request: Request, settings: Settings) -> None:
        existing = request.cookies.get(cookie_name(request), "")
        self.is_new = not (16 <= len(existing) <= 64 and existing.isalnum())
        self.value = secrets.token_hex(16) if self.is_new else existing
        self.token = _token_for(settings, self.value)

    def set_cookie_header(self, request: Request) -> str:
        name = cookie_name(request)
        secure = "; Secure" if name == SECURE_COOKIE else ""
        return f"{name}={self.value}; Path=/; HttpOnly; SameSite=Strict{secure}"


def csrf_seed(request: Request) -> CsrfSeed:
    """One seed per request (a page with two forms uses one token)."""
    seed = getattr(request.state, "csrf_seed", None)
    if seed is None:
        seed = CsrfSeed(request, request.app.state.settings)
        request.state.csrf_seed = seed
    return seed


def check_origin(request: Request) -> None:
    """Refuse a POST another site's page made (before the form is even read)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise Forbidden(CROSS_SITE)
    origin = request.headers.get("origin")
    # Under ``Referrer-Policy: no-referrer`` (every page here) browsers send a form's
    # Origin as "null" even to its own site; the browser's own Sec-Fetch-Site, which no
    # page can forge, says whether it really came from here.
    if origin == "null" and fetch_site == "same-origin":
        origin = None
    if origin is not None:
        own = {request.headers.get("host", "")}
        public = request.app.state.settings.public_base_url
        own.add(urlsplit(public).netloc)
        if origin == "null" or urlsplit(origin).netloc not in own:
            raise Forbidden(CROSS_SITE)


async def checked_form(request: Request) -> FormData:
    """The POSTed form, once its origin and CSRF token are checked (a dependency of
    every form handler on the patients' side)."""
    check_origin(request)
    form = await request.form()
    settings: Settings = request.app.state.settings
    cookie = request.cookies.get(cookie_name(request), "")
    sent = form.get(CSRF_FIELD)
    if not cookie or not isinstance(sent, str):
        raise Forbidden(NO_COOKIE)
    if not same_text(sent, _token_for(settings, cookie)):
        raise Forbidden(NO_COOKIE)
    return form


async def checked_embedded_form(request: Request) -> FormData:
    """The POSTed form of a page clinics embed: origin checked, and its signed token
    (``embedded_token``) for this very address, not yet expired."""
    check_origin(request)
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    settings: Settings = request.app.state.settings
    if not isinstance(sent, str) or not embedded_token_valid(settings, request.url.path, sent):
        raise Forbidden(EXPIRED_FORM)
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]
CheckedEmbeddedForm = Annotated[FormData, Depends(checked_embedded_form)]


def content_security_policy(*, nonce: str | None = None, frameable: bool = False) -> str:
    """Nothing from another origin; styles from this server (and the one nonce'd block
    of the clinic's colours); a little script of our own at most, which may ask only
    this server (a form's page saves its answers as they change); forms post only here."""
    style = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    ancestors = "*" if frameable else "'none'"
    return (
        f"default-src 'none'; style-src {style}; img-src 'self'; script-src 'self'; "
        "connect-src 'self'; "
        f"form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
    )


DEFAULT_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", HSTS.encode()),
)


class WebHeaders:
    """Adds the security headers to every answer on the patients' side that lacks them
    (pages set their own CSP with a nonce; redirects, static files and framework errors
    get the strict default)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_web_path(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in DEFAULT_HEADERS:
                    if name not in present:
                        headers.append((name, value))
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", content_security_policy().encode()))
                if b"x-frame-options" not in present and b"frame-ancestors *" not in b"".join(
                    value for name, value in headers if name.lower() == b"content-security-policy"
                ):
                    headers.append((b"x-frame-options", b"DENY"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
