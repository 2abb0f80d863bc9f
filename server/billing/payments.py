"""Paying a bill online: the payment provider behind the portal's "Pay" button.

A provider does two things (``PaymentProvider``): it starts a checkout for a bill and
answers with the address to send the patient to, and it turns a webhook request into a
verified event, or refuses it. Whatever the provider, a completed payment is recorded by
one function (``service.record_online``), once per event and once per checkout session.

- **development** (the default): the checkout is a page of this server,
  ``/dev/pay/{session}`` ("Pay £45.00 (test)" / "Cancel"), and its button completes the
  payment through the same path a provider's webhook takes. The session is a signed,
  expiring token (nothing to store, nothing to clean up). A production server never
  offers it: there, bills are paid at the desk until a real provider is configured.
- **stripe**: Stripe Checkout over its HTTP API (form-encoded, as Stripe documents it,
  no SDK): ``POST /v1/checkout/sessions`` with the bill as one line, the patient sent to
  the session's ``url``. Stripe then posts ``checkout.session.completed`` to
  ``/webhooks/stripe``, signed in the ``Stripe-Signature`` header: ``t=<unix time>,
  v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the endpoint's secret>``. A
  signature that does not match, or a timestamp more than five minutes off, is refused,
  so a forged or replayed request records nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from common.errors import DomainError, NotFound
from server.billing.service import Completed
from server.config import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Stripe-Signature"
TOLERANCE_SECONDS = 300
SESSION_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"  # Stripe puts the session's id in its place
COMPLETED_KINDS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
DEV_SESSION_SECONDS = 1800
# How long a Stripe checkout stays open (Stripe's shortest): a patient who comes back
# later presses Pay again, for what is due then.
STRIPE_SESSION_SECONDS = 1800


class PaymentUnavailable(DomainError):
    """The provider could not start a checkout: the patient is told to try later."""

    status = 503
    code = "payments_unavailable"


class WebhookRefused(DomainError):
    """A webhook request that is not provably the provider's, or not recent."""

    status = 400
    code = "bad_webhook"


UNAVAILABLE = (
    "Paying online is not available just now. Nothing was taken. Please try again in a "
    "little while, or pay at the desk."
)


@dataclass(frozen=True, slots=True)
class ToPay:
    """A bill as a checkout needs it."""

    invoice_id: uuid.UUID
    clinic_id: uuid.UUID
    number: str
    clinic_name: str
    amount_minor: int
    currency: str
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Started:
    """A checkout the provider opened: its session, where the patient pays, and until
    when (stored, so only it can record money)."""

    session_id: str
    url: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class Ignored:
    """A verified event of a kind that asks nothing of us (answered 200 all the same)."""

    event_id: str
    kind: str


class PaymentProvider(Protocol):
    name: str
    # Where its checkout page lives, when not on this server (the portal's pages allow
    # their Pay form to lead there).
    checkout_origin: str | None

    def start_checkout(
        self, invoice: ToPay, success_url: str, cancel_url: str, now: float
    ) -> Started:
        """The checkout to send the patient to, to pay ``invoice``."""
        ...

    def verified_event(
        self, body: bytes, headers: Mapping[str, str], now: float
    ) -> Completed | Ignored:
        """The event in ``body``, if the provider provably sent it just now; otherwise
        ``WebhookRefused``."""
        ...


# --- development ----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _local(url: str) -> str:
    """The path and query of ``url``: the development page is served by this server,
    so it returns to this server's own pages whatever the public address says."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True, slots=True)
class DevCheckout:
    """A development checkout session, as its token carries it."""

    session_id: str
    invoice_id: uuid.UUID
    clinic_id: uuid.UUID
    number: str
    clinic_name: str
    amount_minor: int
    currency: str
    success_path: str
    cancel_path: str


class DevelopmentPayments:
    """Checkout on a page of this server; no money moves."""

    name: str = "development"
    checkout_origin: str | None = None

    def __init__(self, secret_key: str) -> None:
        self._key = hmac.new(secret_key.encode(), b"development-payments", hashlib.sha256).digest()

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def start_checkout(
        self, invoice: ToPay, success_url: str, cancel_url: str, now: float
    ) -> Started:
        session_id = f"dev_cs_{secrets.token_urlsafe(18)}"
        expires = int(now) + DEV_SESSION_SECONDS
        payload = _b64(
            json.dumps(
                {
                    "s": session_id,
                    "i": str(invoice.invoice_id),
                    "c": str(invoice.clinic_id),
                    "n": invoice.number,
                    "cn": invoice.clinic_name[:80],
                    "a": invoice.amount_minor,
                    "cur": invoice.currency,
                    "ok": _local(success_url.replace(SESSION_PLACEHOLDER, session_id)),
                    "no": _local(cancel_url),
                    "exp": expires,
                },
                separators=(",", ":"),
            ).encode()
        )
        return Started(session_id, f"/dev/pay/{payload}.{self._mac(payload)}", expires)

    def open(self, token: str, now: float) -> DevCheckout:
        """The checkout behind a token this server made and that has not expired."""
        gone = NotFound(
            "This test payment page has expired. Go back to the bill and press Pay again."
        )
        payload, _, mac = token.partition(".")
        if not payload or not hmac.compare_digest(mac.encode(), self._mac(payload).encode()):
            raise gone
        try:
            data: dict[str, Any] = json.loads(_unb64(payload))
            checkout = DevCheckout(
                session_id=str(data["s"]),
                invoice_id=uuid.UUID(data["i"]),
                clinic_id=uuid.UUID(data["c"]),
                number=str(data["n"]),
                clinic_name=str(data["cn"]),
                amount_minor=int(data["a"]),
                currency=str(data["cur"]),
                success_path=str(data["ok"]),
                cancel_path=str(data["no"]),
            )
            expires = int(data["exp"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise gone from None
        if expires < now:
            raise gone
        return checkout

    def verified_event(
        self, body: bytes, headers: Mapping[str, str], now: float
    ) -> Completed | Ignored:
        """The development page's "Pay" button: the token is the proof, as a signature
        is a provider's. One event per session, so pressing twice pays once."""
        try:
            checkout = self.open(body.decode(), now)
        except (NotFound, UnicodeDecodeError):
            raise WebhookRefused("This test payment is not one this server started.") from None
        return Completed(
            provider=self.name,
            event_id=f"dev_evt_{checkout.session_id}",
            kind=COMPLETED_KINDS[0],
            session_id=checkout.session_id,
            invoice_id=checkout.invoice_id,
            clinic_id=checkout.clinic_id,
            amount_minor=checkout.amount_minor,
            currency=checkout.currency,
        )


# --- Stripe ---------------------------------------------------------------------------------


FORGED = "The request does not carry a valid Stripe signature."
STALE = "The request's Stripe signature is more than five minutes old: it is not accepted again."


def stripe_signature(secret: str, timestamp: int, body: bytes) -> str:
    """What Stripe puts after ``v1=`` for ``body`` sent at ``timestamp``."""
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def check_stripe_signature(
    secret: str, header: str | None, body: bytes, now: float, tolerance: float = TOLERANCE_SECONDS
) -> None:
    """Nothing if Stripe signed ``body`` within ``tolerance`` seconds of ``now``;
    ``WebhookRefused`` saying why otherwise. Every ``v1`` in the header is tried (Stripe
    signs with each of an endpoint's secrets while one is being rolled)."""
    if not secret or not header:
        raise WebhookRefused(FORGED)
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value.strip())
    if timestamp is None or not candidates:
        raise WebhookRefused(FORGED)
    expected = stripe_signature(secret, timestamp, body).encode()
    if not any(hmac.compare_digest(expected, c.encode()) for c in candidates):
        raise WebhookRefused(FORGED)
    if timestamp < now - tolerance or timestamp > now + tolerance:
        raise WebhookRefused(STALE)


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def stripe_event(body: bytes) -> Completed | Ignored:
    """A verified Stripe event, read: a paid checkout session, or something else."""
    try:
        event = json.loads(body)
        event_id, kind = str(event["id"]), str(event["type"])
        session = event["data"]["object"]
    except (ValueError, KeyError, TypeError):
        raise WebhookRefused("The request is signed by Stripe but is not an event.") from None
    if kind not in COMPLETED_KINDS or not isinstance(session, dict):
        return Ignored(event_id, kind)
    if session.get("payment_status") != "paid":
        return Ignored(event_id, kind)  # a delayed method: its own event follows when paid
    metadata = session.get("metadata") or {}
    if not isinstance(metadata, dict):
        return Ignored(event_id, kind)  # not a checkout this server could have started
    try:
        amount = int(session["amount_total"])
        session_id = str(session["id"])
        currency = str(session["currency"])
    except (KeyError, TypeError, ValueError):
        raise WebhookRefused("The checkout session in the event is incomplete.") from None
    return Completed(
        provider="stripe",
        event_id=event_id,
        kind=kind,
        session_id=session_id,
        invoice_id=_uuid(metadata.get("invoice_id")),
        clinic_id=_uuid(metadata.get("clinic_id")),
        amount_minor=amount,
        currency=currency.upper(),
    )


class StripePayments:
    """Stripe Checkout, over Stripe's HTTP API."""

    name: str = "stripe"
    checkout_origin: str | None = "https://checkout.stripe.com"

    def __init__(
        self,
        secret_key: str,
        webhook_secret: str,
        *,
        api_url: str = "https://api.stripe.com",
        client: httpx.Client | None = None,
    ) -> None:
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.api_url = api_url.rstrip("/")
        self.client = client

    def start_checkout(
        self, invoice: ToPay, success_url: str, cancel_url: str, now: float
    ) -> Started:
        expires = int(now) + STRIPE_SESSION_SECONDS
        form = {
            "mode": "payment",
            "expires_at": str(expires),
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": str(invoice.invoice_id),
            "metadata[invoice_id]": str(invoice.invoice_id),
            "metadata[clinic_id]": str(invoice.clinic_id),
            "metadata[invoice_number]": invoice.number,
            "payment_intent_data[metadata][invoice_id]": str(invoice.invoice_id),
            "line_items[0][quantity]": "1",
            "line_items[0][price_data][currency]": invoice.currency.lower(),
            "line_items[0][price_data][unit_amount]": str(invoice.amount_minor),
            "line_items[0][price_data][product_data][name]": (
                f"{invoice.clinic_name}: bill {invoice.number}"
            ),
        }
        if invoice.email:
            form["customer_email"] = invoice.email
        client = self.client or httpx.Client(timeout=httpx.Timeout(10.0))
        try:
            response = client.post(
                f"{self.api_url}/v1/checkout/sessions",
                data=form,
                headers={"Authorization": f"Bearer {self.secret_key}"},
            )
        except httpx.HTTPError as error:
            log.warning("Stripe could not be reached to start a checkout: %s", error)
            raise PaymentUnavailable(UNAVAILABLE) from None
        finally:
            if self.client is None:
                client.close()
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        url = answer.get("url") if isinstance(answer, dict) else None
        session_id = answer.get("id") if isinstance(answer, dict) else None
        if (
            not response.is_success
            or not isinstance(url, str)
            or not url.startswith("https://")
            or not isinstance(session_id, str)
            or not session_id
        ):
            problem = answer.get("error", {}) if isinstance(answer, dict) else {}
            log.warning(
                "Stripe refused a checkout (HTTP %s): %s",
                response.status_code,
                problem.get("message", "no message") if isinstance(problem, dict) else problem,
            )
            raise PaymentUnavailable(UNAVAILABLE)
        expires_at = answer.get("expires_at")
        return Started(
            session_id, url, float(expires_at) if isinstance(expires_at, int) else expires
        )

    def verified_event(
        self, body: bytes, headers: Mapping[str, str], now: float
    ) -> Completed | Ignored:
        check_stripe_signature(
            self.webhook_secret, headers.get(SIGNATURE_HEADER.lower()), body, now
        )
        return stripe_event(body)


# --- choosing -------------------------------------------------------------------------------


def provider_from(settings: Settings) -> PaymentProvider | None:
    """The provider the settings choose; None when bills cannot be paid online here (the
    development provider on a production server)."""
    if settings.payments_provider == "stripe":
        missing = settings.missing_payment_settings()
        if missing:
            raise ValueError(missing)
        assert settings.stripe_secret_key is not None  # checked above
        assert settings.stripe_webhook_secret is not None
        return StripePayments(
            settings.stripe_secret_key.get_secret_value(),
            settings.stripe_webhook_secret.get_secret_value(),
            api_url=settings.stripe_api_url,
        )
    if settings.environment == "production":
        return None
    return DevelopmentPayments(settings.secret_key)
