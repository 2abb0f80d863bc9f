"""Where a payment provider tells us a bill was paid, and the development checkout page.

``POST /webhooks/stripe`` is believed only with a valid, recent ``Stripe-Signature``
(``payments.check_stripe_signature``); anything else is a 400 and records nothing. A
believed ``checkout.session.completed`` records its payment once, whoever repeats it:
by the event's id and by the checkout session's (``service.record_online``). Other event
types are noted and answered 200, so Stripe stops sending them.

``/dev/pay/{session}`` stands in for the provider's checkout page when no provider is
configured (never on a production server): its "Pay" button completes the payment by the
same path the webhook takes.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import IntegrityError

from common.billing import shown
from common.errors import NotFound
from server.billing import payments, service
from server.billing.payments import DevelopmentPayments, Ignored, StripePayments
from server.config import Settings
from server.db import Database, utcnow
from server.deps import DatabaseDep, SettingsDep
from server.portal.viewer import see_other
from server.web.pages import READ, WebRoute, brand_for, render
from server.web.security import CheckedForm

router = APIRouter(prefix="/webhooks", tags=["webhooks"], include_in_schema=False)
dev_router = APIRouter(route_class=WebRoute, include_in_schema=False)

NOT_SET_UP = "Online payments through Stripe are not set up on this server."


def settle(db: Database, event: service.Completed | Ignored, provider: str, base_url: str) -> str:
    """Do what a verified event asks, once; what was done, in a word."""
    try:
        with db.writing() as session:
            if isinstance(event, Ignored):
                if service.seen(session, provider, event.event_id):
                    return "repeat"
                service.note_event(session, provider, event.event_id, event.kind, "ignored")
                return "ignored"
            return service.record_online(session, event, now=utcnow(), public_base_url=base_url)
    except IntegrityError:
        # The same event (or another about the same checkout) recorded a moment ago by
        # a delivery running alongside: it is done, and said so.
        return "repeat"


@router.post("/stripe")
async def stripe_webhook(request: Request, db: DatabaseDep, settings: SettingsDep) -> Response:
    provider = payments.provider_from(settings)
    if not isinstance(provider, StripePayments):
        raise NotFound(NOT_SET_UP)
    body = await request.body()
    event = provider.verified_event(body, request.headers, time.time())
    outcome = await run_in_threadpool(settle, db, event, provider.name, settings.public_base_url)
    return JSONResponse({"received": True, "outcome": outcome})


# --- the development checkout ---------------------------------------------------------------


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def _development(settings: Settings, request: Request) -> DevelopmentPayments:
    """The development provider, to a browser on the server's own machine (as the
    development outbox), unless the server is a test one or was told in so many words
    to take test payments: a development server left reachable from elsewhere lets no
    one mark bills paid."""
    provider = payments.provider_from(settings)
    client = request.client.host if request.client else ""
    chosen = settings.environment == "test" or "payments_provider" in settings.model_fields_set
    if not isinstance(provider, DevelopmentPayments) or not (client in LOOPBACK or chosen):
        raise NotFound("There is nothing at this address.")
    return provider


@dev_router.api_route("/dev/pay/{token}", methods=READ, response_class=HTMLResponse)
def dev_checkout(token: str, request: Request, db: DatabaseDep, settings: SettingsDep) -> Response:
    checkout = _development(settings, request).open(token, time.time())
    with db.reading() as session:
        brand = brand_for(session, checkout.clinic_id)
    return render(
        request,
        "portal/bills_dev_pay.html",
        {
            "checkout": checkout,
            "amount": shown(checkout.amount_minor, checkout.currency),
            "token": token,
        },
        brand=brand,
        private=True,
    )


@dev_router.post("/dev/pay/{token}", response_class=HTMLResponse)
def dev_pay(
    token: str, request: Request, db: DatabaseDep, settings: SettingsDep, form: CheckedForm
) -> Response:
    provider = _development(settings, request)
    checkout = provider.open(token, time.time())
    event = provider.verified_event(token.encode(), {}, time.time())
    settle(db, event, provider.name, settings.public_base_url)
    return see_other(checkout.success_path)
