"""The application factory: settings in, a ready ASGI app out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

import server.models  # noqa: F401  - every table, and the version stamping hook
from common.errors import DomainError, TooManyAttempts
from server import crypto, http, openapi
from server.auth.endpoints import router as auth_router
from server.auth.lockouts import router as lockouts_router
from server.billing.endpoints import router as billing_router
from server.billing.webhooks import dev_router as dev_payments_router
from server.billing.webhooks import router as payments_webhooks_router
from server.booking_links.endpoints import router as booking_links_router
from server.booking_requests.endpoints import router as booking_requests_router
from server.changefeed.endpoints import router as changefeed_router
from server.changefeed.live import listen_to
from server.config import Settings, get_settings
from server.content.endpoints import UPLOADS as CONTENT_UPLOADS
from server.content.endpoints import router as content_router
from server.db import Database, make_engine, migrate
from server.forms.endpoints import router as forms_router
from server.leads.endpoints import router as leads_router
from server.messaging.endpoints import dev_router
from server.messaging.endpoints import router as messaging_router
from server.messaging.unsubscribe import router as unsubscribe_router
from server.messaging.webhooks import router as webhooks_router
from server.mutations.endpoints import router as mutations_router
from server.patients.endpoints import router as patients_router
from server.portal.endpoints import router as portal_router
from server.portal.impersonation import router as impersonation_router
from server.practice.endpoints import router as practice_router
from server.scheduling.endpoints import router as scheduling_router
from server.staff.endpoints import router as staff_router
from server.treatment.endpoints import UPLOADS as PHOTO_UPLOADS
from server.treatment.endpoints import router as treatment_router
from server.web import app as web
from sync.protocol import API_PREFIX, ErrorBody

log = logging.getLogger(__name__)


DOCS_ASSETS = "/docs-assets"


def create_app(settings: Settings | None = None, *, run_migrations: bool = True) -> FastAPI:
    settings = settings or get_settings()
    crypto.configure(settings)  # before anything reads or writes a sealed column
    if run_migrations:
        migrate(settings.database_url, settings)
    database = Database(
        make_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
        ),
        write_wait=settings.db_write_wait,
    )

    # /docs and /redoc load their scripts and styles from this server, never a CDN: a
    # clinic's LAN may have no internet, and the page would be blank.
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from server.messaging.runner import DispatcherThread

        runner = (
            DispatcherThread(database, settings).start() if settings.dispatch_in_server else None
        )
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()

    app = FastAPIOffline(
        title="Clinicdesk", version="0.1.0", static_url=DOCS_ASSETS, lifespan=lifespan
    )
    # Sync pages are repetitive JSON: compressed, a first download moves a fraction of
    # the bytes. (The desk's httpx client asks for gzip and unpacks it on its own.)
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)
    app.state.settings = settings
    app.state.database = database
    app.state.engine = database.engine
    app.state.sessionmaker = database.sessions

    for router in (
        auth_router,
        booking_links_router,
        booking_requests_router,
        changefeed_router,
        leads_router,
        lockouts_router,
        messaging_router,
        mutations_router,
        patients_router,
        portal_router,
        forms_router,
        impersonation_router,
        practice_router,
        scheduling_router,
        staff_router,
        treatment_router,
        content_router,
        billing_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(webhooks_router)  # where providers call: not under the desk's API
    app.include_router(payments_webhooks_router)
    app.include_router(dev_router)
    app.include_router(dev_payments_router)  # the development provider's checkout page
    app.include_router(unsubscribe_router)  # opened from e-mails: no sign-in
    web.install(app)  # the patients' pages
    _install_error_handlers(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    http.install(  # added last: outermost
        app, max_body_bytes=settings.max_body_bytes, uploads=PHOTO_UPLOADS + CONTENT_UPLOADS
    )
    openapi.install(app)  # once every route is in place
    return app


def app_from_environment() -> FastAPI:
    """What ``clinicdesk serve`` hands uvicorn to build in each worker process: settings
    from the environment; ``serve`` has migrated the database once already. On
    PostgreSQL the process starts listening for other processes' changes at once."""
    settings = get_settings()
    app = create_app(settings, run_migrations=False)
    listen_to(settings.database_url)
    return app


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        ErrorBody(code=code, message=message).model_dump(), status_code=status, headers=headers
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        # A 429 says when to come back, for people (the message) and programs (the header).
        headers = (
            {"Retry-After": str(exc.retry_after)}
            if isinstance(exc, TooManyAttempts) and exc.retry_after > 0
            else None
        )
        return _error(exc.status, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            return _error(422, "invalid", "The request body is not valid JSON.")
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc'][1:]) or 'request'}: {err['msg']}"
            for err in exc.errors()
        )
        return _error(422, "invalid", f"Some of what was sent is not valid — {problems}.")
