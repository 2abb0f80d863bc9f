"""The server's edge on the open internet: oversized bodies, unexpected errors, bad values
that slipped past the door.

Two pure ASGI middlewares, so they see every request before FastAPI reads or parses
anything, and can answer without raising:

- ``BodyLimit`` refuses a body over the limit with 413, at once when its
  ``Content-Length`` says so, else as soon as the bytes streamed in pass it. The few
  routes that take files (a progress photo, a library PDF) name a larger limit of their
  own (``Upload``), so the file's own checks can say in words what is wrong with it.
- ``InternalErrors`` answers an unexpected exception with a logged 500 in the shared
  error shape. Starlette's own last-resort handler re-raises after answering, and
  uvicorn then drops the connection; answering here instead keeps a keep-alive
  connection usable for the client's next request.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync.protocol import ErrorBody

log = logging.getLogger(__name__)

INTERNAL_MESSAGE = (
    "Something went wrong on the server; it has been logged. Try again in a moment, and "
    "tell whoever runs your clinic's server if it keeps happening."
)
OUT_OF_RANGE_MESSAGE = (
    "A number or date sent is outside what the server can store. Check the values and "
    "send them again."
)

UNREADABLE_BODY_MESSAGE = (
    "The request body could not be read: send JSON, in UTF-8, with Content-Type application/json."
)
FRAMEWORK_REFUSALS = {
    404: ("not_found", "There is nothing at this address. Check the server address."),
    405: ("method_not_allowed", "This address does not take that method."),
}


def error_body(code: str, message: str) -> bytes:
    return json.dumps(ErrorBody(code=code, message=message).model_dump()).encode()


async def _answer(send: Send, status: int, code: str, message: str, *, close: bool = False) -> None:
    body = error_body(code, message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        # The rest of the request body is never read, so this connection cannot carry
        # another request: say so rather than leave the client guessing.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class InternalErrors:
    """An unexpected exception becomes a logged 500 ``{code: "internal"}``, not re-raised.

    Installed as the outermost middleware of our own (inside Starlette's
    ``ServerErrorMiddleware``, which then never sees the exception). If the response had
    already begun, nothing sensible can be sent: the exception goes on, and the server
    closes the connection, which is the only honest end of a broken response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("Unexpected error answering %s %s", scope["method"], scope["path"])
            if started:
                raise
            if _browser_page(scope):
                await _answer_page(send)
                return
            await _answer(send, 500, "internal", INTERNAL_MESSAGE)


# The patients' pages answer a browser in HTML even when all else failed: a page in
# words, not JSON. Plain and self-contained (nothing else may work at that moment).
ERROR_PAGE = (
    b"<!doctype html><html lang=en><meta charset=utf-8>"
    b"<meta name=viewport content='width=device-width, initial-scale=1'>"
    b"<title>Sorry</title><body style='font:1.1rem/1.5 system-ui,sans-serif;max-width:36rem;"
    b"margin:2rem auto;padding:0 1rem'><h1>Sorry, something went wrong</h1>"
    b"<p>It has been noted. Please try again in a moment, or call the clinic.</p></body></html>"
)


def _browser_page(scope: Scope) -> bool:
    """A browser asking for a page outside the desks' API and the providers' webhooks."""
    path: str = scope["path"]
    if path.startswith(("/api/", "/webhooks/")):
        return False
    accept = next((value for name, value in scope["headers"] if name == b"accept"), b"")
    return b"text/html" in accept


async def _answer_page(send: Send) -> None:
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(ERROR_PAGE)).encode()),
        (b"cache-control", b"no-store"),
        (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'"),
    ]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": ERROR_PAGE})


@dataclass(frozen=True, slots=True)
class Upload:
    """A route that takes a file: its method, its path (a regular expression matched
    whole) and the largest body it reads."""

    method: str
    path: re.Pattern[str]
    limit: int


class _TooLarge(Exception):
    """Raised into the app from ``receive`` once the body passes the limit."""


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 before they are parsed."""

    def __init__(self, app: ASGIApp, limit: int, uploads: Sequence[Upload] = ()) -> None:
        self.app = app
        self.limit = limit
        self.uploads = tuple(uploads)

    def _limit_of(self, scope: Scope) -> int:
        method, path = scope.get("method", ""), scope.get("path", "")
        for upload in self.uploads:
            if upload.method == method and upload.path.fullmatch(path):
                return max(upload.limit, self.limit)
        return self.limit

    @staticmethod
    def _message(limit: int, size: int | None) -> str:
        told = f" (this one is {size:,} bytes)" if size is not None else ""
        return (
            f"The request is too large: the server accepts at most {limit:,} bytes"
            f"{told}. Send less at a time."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_of(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _answer(send, 413, "too_large", self._message(limit, declared), close=True)
            return

        received = 0
        answered = False  # the 413 went out: whatever the app says afterwards is dropped
        started = False

        async def counting_receive() -> Message:
            nonlocal received, answered
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not started and not answered:
                        answered = True
                        await _answer(
                            send, 413, "too_large", self._message(limit, None), close=True
                        )
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            if not answered:  # the app had already begun its answer: nothing more to say
                raise


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _out_of_range() -> JSONResponse:
    body = ErrorBody(code="invalid", message=OUT_OF_RANGE_MESSAGE)
    return JSONResponse(body.model_dump(), status_code=422)


def _wants_page(request: Request) -> bool:
    """A browser asking for a page, outside the desks' API."""
    path = request.url.path
    if path.startswith(("/api/", "/webhooks/")):
        return False
    return "text/html" in request.headers.get("accept", "")


def _methods_at(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, APIRoute) and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


def install(app: FastAPI, *, max_body_bytes: int, uploads: Sequence[Upload] = ()) -> None:
    """The edge middlewares and the handlers of last resort. Call after every other
    middleware is added: ``InternalErrors`` must be the outermost of ours. ``uploads``:
    the routes that may take more than ``max_body_bytes``."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Raised by the framework itself (an unknown address, a method the address does
        # not take, a body it could not read), answered in the shared shape.
        status, code, message = exc.status_code, "error", str(exc.detail)
        html = getattr(request.app.state, "html_not_found", None)
        if status in (404, 405) and html is not None and _wants_page(request):
            # A patient who mistyped an address gets a page, not JSON.
            return html(request)  # type: ignore[no-any-return]
        if status == 400:
            # FastAPI could not read the body (not UTF-8, not the type it says).
            status, code, message = 422, "invalid", UNREADABLE_BODY_MESSAGE
        elif status in FRAMEWORK_REFUSALS:
            code, message = FRAMEWORK_REFUSALS[status]
        headers = exc.headers
        if status == 405:
            # Starlette names the methods of the first route at this address only; an
            # address served by several routes (GET and PUT) takes all of theirs.
            headers = {"Allow": ", ".join(_methods_at(request))}
        body = ErrorBody(code=code, message=message)
        return JSONResponse(body.model_dump(), status_code=status, headers=headers)

    @app.exception_handler(DataError)
    async def data_error(_request: Request, exc: DataError) -> JSONResponse:
        # The database refused a value (PostgreSQL: a number beyond its column). Bounded
        # types should stop such values at the door; this is the net behind them.
        log.warning("Database refused a value: %s", exc.orig)
        return _out_of_range()

    @app.exception_handler(OverflowError)
    async def overflow(_request: Request, exc: OverflowError) -> JSONResponse:
        # Date arithmetic past the year 9999, or (SQLite) an integer beyond 64 bits.
        log.warning("Value out of range: %s", exc)
        return _out_of_range()

    app.add_middleware(BodyLimit, limit=max_body_bytes, uploads=uploads)
    app.add_middleware(InternalErrors)
