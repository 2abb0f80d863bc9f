"""Paying through Stripe, on both databases, with Stripe answered at the HTTP level
(respx) in its documented shapes: the portal's Pay starts a Checkout Session (form-
encoded, the bill as one line, the invoice's id in the metadata) and sends the patient to
its ``url``; Stripe's webhook records the payment once, whatever repeats it; a forged
signature, an old timestamp or another kind of event records nothing."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from common.billing import InvoiceStatus, PaymentMethod
from server.billing import notices
from server.billing.models import Checkout, Invoice, Payment, PaymentEvent
from server.billing.payments import SIGNATURE_HEADER, stripe_signature
from server.config import Settings
from tests.server.billing import billmaker
from tests.server.billing.billmaker import Practice
from tests.server.conftest import Factory
from tests.server.portal import portalmaker
from tests.server.portal.portalmaker import SAME_SITE
from tests.server.web.conftest import csrf_of
from tests.support.diary import ServedApp

SECRET_KEY = "sk_test_51Hclinicdesk"
WEBHOOK_SECRET = "whsec_test_clinicdesk_endpoint"
CHECKOUT = "https://api.stripe.com/v1/checkout/sessions"
SESSION_URL = "https://checkout.stripe.com/c/pay/cs_test_a1B2c3"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        environment="test",
        dispatch_in_server=False,
        payments_provider="stripe",
        stripe_secret_key=SECRET_KEY,  # type: ignore[arg-type]  # pydantic makes it secret
        stripe_webhook_secret=WEBHOOK_SECRET,  # type: ignore[arg-type]
        public_base_url="https://testserver",
    )


@pytest.fixture
def north(factory: Factory, db: sessionmaker[Session]) -> Practice:
    return billmaker.practice(factory, db)


def checkout_session(invoice_id: uuid.UUID, amount: int) -> dict[str, Any]:
    """Stripe's answer to creating a Checkout Session (trimmed to what matters)."""
    return {
        "id": "cs_test_a1B2c3",
        "object": "checkout.session",
        "amount_total": amount,
        "client_reference_id": str(invoice_id),
        "currency": "gbp",
        "expires_at": int(time.time()) + 1800,
        "mode": "payment",
        "payment_status": "unpaid",
        "status": "open",
        "url": SESSION_URL,
    }


def completed_event(
    invoice: Invoice,
    *,
    event_id: str = "evt_1PaidOnce",
    session_id: str = "cs_test_a1B2c3",
    kind: str = "checkout.session.completed",
    payment_status: str = "paid",
    amount: int | None = None,
) -> bytes:
    """A ``checkout.session.completed`` event as Stripe posts it."""
    event = {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "amount_subtotal": amount or invoice.total_minor,
                "amount_total": amount or invoice.total_minor,
                "client_reference_id": str(invoice.id),
                "currency": "gbp",
                "customer_email": "rosa@example.org",
                "metadata": {"invoice_id": str(invoice.id), "clinic_id": str(invoice.clinic_id)},
                "mode": "payment",
                "payment_intent": "pi_3PaidOnce",
                "payment_status": payment_status,
                "status": "complete",
                "url": None,
            }
        },
    }
    return json.dumps(event).encode()


def signed(body: bytes, *, at: float | None = None, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    stamp = int(at if at is not None else time.time())
    return {
        SIGNATURE_HEADER: f"t={stamp},v1={stripe_signature(secret, stamp, body)}",
        "content-type": "application/json",
    }


def payments(db: sessionmaker[Session]) -> list[Payment]:
    with db() as session:
        rows = list(session.scalars(select(Payment)))
        for row in rows:
            session.expunge(row)
        return rows


# --- starting a checkout --------------------------------------------------------------------


def test_pay_starts_a_checkout_session_and_sends_the_patient_to_it(
    web: TestClient, db: sessionmaker[Session], north: Practice
) -> None:
    base = portalmaker.signed_in(web, db, north.id, north.patient_id)
    invoice_id = billmaker.issue(db, north, 6000, 850)
    page = web.get(f"{base}/bills/{invoice_id}")
    assert page.status_code == 200
    assert "Pay £68.50" in page.text
    assert (
        "form-action 'self' https://checkout.stripe.com" in page.headers["content-security-policy"]
    )
    with respx.mock(assert_all_called=True) as stripe:
        route = stripe.post(CHECKOUT).mock(
            return_value=httpx.Response(200, json=checkout_session(invoice_id, 6850))
        )
        answer = web.post(
            f"{base}/bills/{invoice_id}/pay",
            data={"csrf_token": csrf_of(page)},
            headers=SAME_SITE,
            follow_redirects=False,
        )
    assert answer.status_code == 303
    assert answer.headers["location"] == SESSION_URL
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    form = {name: values[0] for name, values in parse_qs(sent.content.decode()).items()}
    expires = int(form.pop("expires_at"))
    assert time.time() + 1700 < expires <= time.time() + 1800  # Stripe's shortest
    here = f"https://testserver/portal/north/bills/{invoice_id}"
    assert form == {
        "mode": "payment",
        "success_url": f"{here}/paid?session={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{here}?cancelled=1",
        "client_reference_id": str(invoice_id),
        "customer_email": "rosa@example.org",
        "metadata[invoice_id]": str(invoice_id),
        "metadata[clinic_id]": str(north.id),
        "metadata[invoice_number]": "INV-00001",
        "payment_intent_data[metadata][invoice_id]": str(invoice_id),
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": "gbp",
        "line_items[0][price_data][unit_amount]": "6850",
        "line_items[0][price_data][product_data][name]": "North Physio: bill INV-00001",
    }
    assert payments(db) == []  # nothing is paid until Stripe says so
    with db() as session:
        [stored] = session.scalars(select(Checkout)).all()
    assert (stored.session_id, stored.invoice_id, stored.amount_minor, stored.currency) == (
        "cs_test_a1B2c3",
        invoice_id,
        6850,
        "GBP",
    )

    # Pay pressed again: back to the same checkout, not a second one to pay as well.
    with respx.mock(assert_all_called=False) as stripe:
        again_route = stripe.post(CHECKOUT).mock(
            return_value=httpx.Response(200, json=checkout_session(invoice_id, 6850))
        )
        again = web.post(
            f"{base}/bills/{invoice_id}/pay",
            data={"csrf_token": csrf_of(web.get(f"{base}/bills/{invoice_id}"))},
            headers=SAME_SITE,
            follow_redirects=False,
        )
    assert again.headers["location"] == SESSION_URL
    assert not again_route.called


def test_a_checkout_stripe_refuses_is_a_page_in_words(
    web: TestClient, db: sessionmaker[Session], north: Practice
) -> None:
    base = portalmaker.signed_in(web, db, north.id, north.patient_id)
    invoice_id = billmaker.issue(db, north)
    page = web.get(f"{base}/bills/{invoice_id}")
    with respx.mock() as stripe:
        stripe.post(CHECKOUT).mock(
            return_value=httpx.Response(
                400,
                json={
                    "error": {
                        "type": "invalid_request_error",
                        "message": "Invalid API Key provided: sk_test_****desk",
                    }
                },
            )
        )
        answer = web.post(
            f"{base}/bills/{invoice_id}/pay",
            data={"csrf_token": csrf_of(page)},
            headers=SAME_SITE,
            follow_redirects=False,
        )
    assert answer.status_code == 503
    assert "Paying online is not available just now. Nothing was taken." in answer.text
    assert "sk_test" not in answer.text


def test_stripe_out_of_reach_is_a_page_in_words(
    web: TestClient, db: sessionmaker[Session], north: Practice
) -> None:
    base = portalmaker.signed_in(web, db, north.id, north.patient_id)
    invoice_id = billmaker.issue(db, north)
    page = web.get(f"{base}/bills/{invoice_id}")
    with respx.mock() as stripe:
        stripe.post(CHECKOUT).mock(side_effect=httpx.ConnectTimeout("no answer"))
        answer = web.post(
            f"{base}/bills/{invoice_id}/pay",
            data={"csrf_token": csrf_of(page)},
            headers=SAME_SITE,
            follow_redirects=False,
        )
    assert answer.status_code == 503
    assert "try again in a little while" in answer.text


# --- the webhook ----------------------------------------------------------------------------


def test_a_paid_checkout_is_recorded_once_however_often_stripe_sends_it(
    client: TestClient, db: sessionmaker[Session], north: Practice
) -> None:
    invoice = billmaker.invoice(db, billmaker.issue(db, north, 6000, 850))
    billmaker.checkout(db, invoice.id)
    body = completed_event(invoice)
    answers = [
        client.post("/webhooks/stripe", content=body, headers=signed(body)) for _ in range(5)
    ]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["outcome"] for a in answers] == ["recorded"] + ["repeat"] * 4
    [payment] = payments(db)
    assert (payment.amount_minor, payment.method, payment.provider_reference) == (
        6850,
        PaymentMethod.CARD_ONLINE,
        "cs_test_a1B2c3",
    )
    assert billmaker.invoice(db, invoice.id).status is InvoiceStatus.PAID
    [receipt] = billmaker.emails(db, notices.RECEIPT_KIND)
    assert "we received £68.50 (card, online)" in receipt.text

    # Another event about the same checkout (a delayed method's success) pays nothing more.
    later = completed_event(
        invoice, event_id="evt_2SameSession", kind="checkout.session.async_payment_succeeded"
    )
    answer = client.post("/webhooks/stripe", content=later, headers=signed(later))
    assert answer.json()["outcome"] == "already_recorded"
    assert len(payments(db)) == 1


def test_the_same_event_delivered_at_once_records_one_payment(
    app: FastAPI, db: sessionmaker[Session], north: Practice
) -> None:
    invoice = billmaker.invoice(db, billmaker.issue(db, north))
    billmaker.checkout(db, invoice.id)
    body = completed_event(invoice)
    served = ServedApp(app)
    statuses: list[int] = []
    start = threading.Barrier(5)

    def deliver() -> None:
        with httpx.Client(base_url=served.url, timeout=30) as stripe:
            start.wait(timeout=10)
            statuses.append(
                stripe.post("/webhooks/stripe", content=body, headers=signed(body)).status_code
            )

    try:
        threads = [threading.Thread(target=deliver) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        served.stop()
    assert statuses == [200] * 5
    assert len(payments(db)) == 1
    with db() as session:
        assert session.scalar(select(func.count()).select_from(PaymentEvent)) == 1


@pytest.mark.parametrize(
    "how",
    [
        "bad signature",
        "another secret",
        "no header",
        "tampered body",
        "old timestamp",
        "future timestamp",
        "no v1",
    ],
)
def test_a_forged_or_stale_event_records_nothing(
    client: TestClient, db: sessionmaker[Session], north: Practice, how: str
) -> None:
    invoice = billmaker.invoice(db, billmaker.issue(db, north))
    billmaker.checkout(db, invoice.id)
    body = completed_event(invoice)
    sent, head = body, signed(body)
    if how == "bad signature":
        head[SIGNATURE_HEADER] = head[SIGNATURE_HEADER][:-4] + "0000"
    elif how == "another secret":
        head = signed(body, secret="whsec_someone_else")
    elif how == "no header":
        del head[SIGNATURE_HEADER]
    elif how == "tampered body":
        sent = body.replace(b'"amount_total": 4500', b'"amount_total": 1')
        assert sent != body
    elif how == "old timestamp":
        head = signed(body, at=time.time() - 301)
    elif how == "future timestamp":
        head = signed(body, at=time.time() + 330)  # past the tolerance, however slow the run
    elif how == "no v1":
        head[SIGNATURE_HEADER] = head[SIGNATURE_HEADER].split(",")[0]
    answer = client.post("/webhooks/stripe", content=sent, headers=head)
    assert answer.status_code == 400
    expected = (
        "more than five minutes old" if how.endswith("timestamp") else "valid Stripe signature"
    )
    assert expected in answer.json()["message"]
    assert payments(db) == []
    assert billmaker.invoice(db, invoice.id).status is InvoiceStatus.OPEN
    with db() as session:
        assert session.scalar(select(func.count()).select_from(PaymentEvent)) == 0


def test_other_events_and_unpaid_sessions_are_answered_and_change_nothing(
    client: TestClient, db: sessionmaker[Session], north: Practice
) -> None:
    invoice = billmaker.invoice(db, billmaker.issue(db, north))
    other = json.dumps(
        {
            "id": "evt_3Intent",
            "object": "event",
            "type": "payment_intent.created",
            "data": {"object": {"id": "pi_3Intent", "object": "payment_intent"}},
        }
    ).encode()
    unpaid = completed_event(invoice, event_id="evt_4Unpaid", payment_status="unpaid")
    for body in (other, unpaid, other):
        answer = client.post("/webhooks/stripe", content=body, headers=signed(body))
        assert answer.status_code == 200
    assert payments(db) == []
    with db() as session:
        kinds = sorted(session.scalars(select(PaymentEvent.kind)))
    assert kinds == ["checkout.session.completed", "payment_intent.created"]


def test_a_paid_checkout_for_no_invoice_of_ours_is_noted_not_paid(
    client: TestClient, db: sessionmaker[Session], north: Practice
) -> None:
    invoice = billmaker.invoice(db, billmaker.issue(db, north))
    body = completed_event(invoice).replace(str(invoice.id).encode(), str(uuid.uuid4()).encode())
    answer = client.post("/webhooks/stripe", content=body, headers=signed(body))
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "ignored"
    assert payments(db) == []


@pytest.mark.parametrize("metadata", ["a string", ["a", "list"], 7])
def test_metadata_not_an_object_is_an_event_we_do_not_know(
    client: TestClient, db: sessionmaker[Session], north: Practice, metadata: object
) -> None:
    invoice = billmaker.invoice(db, billmaker.issue(db, north))
    billmaker.checkout(db, invoice.id)
    event = json.loads(completed_event(invoice))
    event["data"]["object"]["metadata"] = metadata
    body = json.dumps(event).encode()
    answer = client.post("/webhooks/stripe", content=body, headers=signed(body))
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "ignored"
    assert payments(db) == []


def test_a_session_known_only_by_its_client_reference_is_not_ours(
    client: TestClient, db: sessionmaker[Session], north: Practice
) -> None:
    invoice = billmaker.invoice(db, billmaker.issue(db, north))
    billmaker.checkout(db, invoice.id)
    event = json.loads(completed_event(invoice))
    event["data"]["object"]["metadata"] = {}
    body = json.dumps(event).encode()
    answer = client.post("/webhooks/stripe", content=body, headers=signed(body))
    assert answer.json()["outcome"] == "ignored"
    assert payments(db) == []
    assert billmaker.invoice(db, invoice.id).status is InvoiceStatus.OPEN


def test_the_webhook_is_not_there_without_stripe(
    factory: Factory, db: sessionmaker[Session], north: Practice, database_url: str
) -> None:
    from server.app import create_app

    plain = create_app(
        Settings(database_url=database_url, environment="test", dispatch_in_server=False),
        run_migrations=False,
    )
    try:
        with TestClient(plain) as other:
            invoice = billmaker.invoice(db, billmaker.issue(db, north))
            body = completed_event(invoice)
            assert (
                other.post("/webhooks/stripe", content=body, headers=signed(body)).status_code
                == 404
            )
    finally:
        plain.state.engine.dispose()
    assert payments(db) == []


def test_production_refuses_stripe_without_its_secrets_or_https() -> None:
    with pytest.raises(ValueError, match="CLINICDESK_STRIPE_WEBHOOK_SECRET"):
        Settings(
            environment="production",
            secret_key="x" * 40,
            payments_provider="stripe",
            stripe_secret_key="sk_live_1",  # type: ignore[arg-type]
            public_base_url="https://clinic.example",
        )
    with pytest.raises(ValueError, match="public https:// address"):
        Settings(
            environment="production",
            secret_key="x" * 40,
            payments_provider="stripe",
            stripe_secret_key="sk_live_1",  # type: ignore[arg-type]
            stripe_webhook_secret="whsec_1",  # type: ignore[arg-type]
            public_base_url="http://clinic.example",
        )
