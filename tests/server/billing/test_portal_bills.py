"""The portal's Bills over TestClient, on both databases: the bills of the holder and the
family members on the account (and nobody else's), a bill with its lines, paying it
through the development provider (a GET pays nothing, the thank-you page says "received"
only once it is recorded, pressing Pay twice pays once), receipts and statements as PDF,
an impersonating admin who may look but not pay, and what another patient or clinic
finds: the same 404 as for nothing at all."""

from __future__ import annotations

import io
import re
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from common.billing import InvoiceStatus, PaymentMethod
from common.errors import NotFound
from common.portal import Relation
from common.roles import Role
from server.audit.models import AuditEvent
from server.billing import payments, service
from server.billing.models import Checkout, Payment
from server.config import Settings
from server.db import transaction, utcnow
from server.patients.models import Patient
from server.portal.models import PortalMember
from sync.protocol import API_PREFIX
from tests.server.billing import billmaker
from tests.server.billing.billmaker import Practice
from tests.server.conftest import Factory
from tests.server.portal import portalmaker
from tests.server.portal.portalmaker import SAME_SITE, post
from tests.server.web.conftest import csrf_of
from tests.support.diary import ServedApp

DEV_PAGE = re.compile(r"^/dev/pay/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$")


@dataclass(frozen=True)
class Family:
    at: Practice
    base: str  # "/portal/north", Rosa signed in on ``web``
    child_id: uuid.UUID


@pytest.fixture
def family(web: TestClient, factory: Factory, db: sessionmaker[Session]) -> Family:
    """Rosa signed in at North Physio, with her son Tom on her account."""
    at = billmaker.practice(factory, db)
    base = portalmaker.signed_in(web, db, at.id, at.patient_id)
    with transaction(db) as session:
        holder = session.scalars(
            select(PortalMember).where(PortalMember.patient_id == at.patient_id)
        ).one()
        child = Patient(clinic_id=at.id, first_name="Tom", last_name="Lind")
        session.add(child)
        session.flush()
        session.add(
            PortalMember(
                clinic_id=at.id,
                patient_id=child.id,
                account_id=holder.account_id,
                relation=Relation.DEPENDANT,
            )
        )
        child_id = child.id
    return Family(at, base, child_id)


def browser(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="https://testserver", headers={"accept": "text/html"})


def take(db: sessionmaker[Session], at: Practice, invoice_id: uuid.UUID, amount: int) -> None:
    with transaction(db) as session:
        service.record_payment(
            session,
            at.ctx(),
            invoice_id,
            service.TakePayment(uuid.uuid4(), amount, PaymentMethod.CASH),
        )


def pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def paid_online(db: sessionmaker[Session]) -> list[Payment]:
    with db() as session:
        return list(
            session.scalars(select(Payment).where(Payment.method == PaymentMethod.CARD_ONLINE))
        )


# --- the list and the home page -------------------------------------------------------------


def test_the_list_shows_the_familys_bills_to_pay_and_paid(
    web: TestClient, db: sessionmaker[Session], family: Family, factory: Factory
) -> None:
    at = family.at
    home = web.get(f"{family.base}/home")
    assert "bills to pay" not in home.text
    late = billmaker.issue(db, at, 4500, now=utcnow() - timedelta(days=30))
    billmaker.issue(db, at, 2500, patient_id=family.child_id)
    settled = billmaker.issue(db, at, 3000)
    take(db, at, settled, 3000)
    take(db, at, late, 500)
    with transaction(db) as session:
        stranger = Patient(clinic_id=at.id, first_name="Max", last_name="Other")
        session.add(stranger)
        session.flush()
        stranger_id = stranger.id
    billmaker.issue(db, at, 9999, patient_id=stranger_id)

    home = web.get(f"{family.base}/home")
    assert "You have 2 bills to pay" in home.text
    page = web.get(f"{family.base}/bills")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    to_pay, paid = page.text.split("<h2>Paid</h2>")
    assert "£40.00 to pay</strong> by" in to_pay
    assert "Overdue" in to_pay
    assert "£25.00 to pay" in to_pay
    assert "(for Tom Lind)" in to_pay
    assert "£30.00 · issued" in paid
    assert "Paid</span>" in paid
    assert "£99.99" not in page.text  # another patient's bill
    assert f"statement.pdf?person={family.child_id}" in page.text
    assert 'aria-current="page">Bills</a>' in page.text
    with db() as session:
        trail = session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "invoices", AuditEvent.record_count == 3)
        ).one()
    assert trail.acting_patient_id == at.patient_id
    assert "the patient in the portal" in trail.reason


def test_a_bill_shows_its_lines_escaped(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    with transaction(db) as session:
        invoice = service.issue(
            session,
            family.at.ctx(),
            service.Issue(
                uuid.uuid4(),
                family.at.patient_id,
                [
                    {"description": "Physiotherapy, 60 minutes", "amount_minor": 6000},
                    {"description": "<script>alert(1)</script>", "amount_minor": 850},
                ],
            ),
        )
        invoice_id = invoice.id
    page = web.get(f"{family.base}/bills/{invoice_id}")
    assert page.status_code == 200
    assert "Physiotherapy, 60 minutes" in page.text
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<strong>£68.50</strong>" in page.text
    assert "Pay £68.50" in page.text


# --- paying ---------------------------------------------------------------------------------


def test_paying_through_the_development_provider(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    invoice_id = billmaker.issue(db, family.at, 4500)
    bill_url = f"{family.base}/bills/{invoice_id}"
    started = post(web, bill_url, f"{bill_url}/pay")
    assert started.status_code == 303
    checkout = started.headers["location"]
    assert DEV_PAGE.match(checkout), checkout

    # Opening the checkout (or asking for it twice) pays nothing.
    for _ in range(2):
        page = web.get(checkout)
        assert page.status_code == 200
        assert "Pay £45.00 (test)" in page.text
        assert f'href="{bill_url}?cancelled=1">Cancel</a>' in page.text
    assert web.head(checkout).status_code == 200
    assert paid_online(db) == []
    waiting = web.get(f"{bill_url}/paid")
    assert "We are confirming your payment" in waiting.text
    assert "Check again" in waiting.text

    done = post(web, checkout, checkout)
    assert done.status_code == 303
    back = done.headers["location"]
    assert back.startswith(f"{bill_url}/paid?session=dev_cs_")
    thanks = web.get(back)
    assert "Thank you: payment received" in thanks.text
    assert f"{bill_url}/receipt.pdf" in thanks.text
    [payment] = paid_online(db)
    assert payment.amount_minor == 4500
    assert payment.provider_reference == back.split("session=")[1]
    assert billmaker.invoice(db, invoice_id).status is InvoiceStatus.PAID

    # The back button and the Pay button pressed again pay nothing more.
    again = web.post(
        checkout,
        data={"csrf_token": csrf_of(web.get(bill_url))},
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert len(paid_online(db)) == 1
    repaid = post(web, bill_url, f"{bill_url}/pay")
    assert repaid.headers["location"] == bill_url
    assert "Pay £" not in web.get(bill_url).text


def test_cancelling_the_checkout_comes_back_to_the_bill(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    invoice_id = billmaker.issue(db, family.at, 4500)
    page = web.get(f"{family.base}/bills/{invoice_id}?cancelled=1")
    assert "Payment cancelled: nothing was taken" in page.text
    assert "Pay £45.00" in page.text


def test_pay_is_never_a_get_nor_from_another_site(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    invoice_id = billmaker.issue(db, family.at, 4500)
    bill_url = f"{family.base}/bills/{invoice_id}"
    assert web.get(f"{bill_url}/pay").status_code in (404, 405)  # the page, not a payment
    assert web.head(f"{bill_url}/pay").status_code in (404, 405)
    token = csrf_of(web.get(bill_url))
    elsewhere = web.post(
        f"{bill_url}/pay",
        data={"csrf_token": token},
        headers={"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert elsewhere.status_code == 403
    forged = web.post(
        f"{bill_url}/pay", data={"csrf_token": "0" * 64}, headers=SAME_SITE, follow_redirects=False
    )
    assert forged.status_code == 403
    assert paid_online(db) == []


def test_the_development_checkout_is_not_offered_in_production(
    web: TestClient,
    db: sessionmaker[Session],
    family: Family,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    production = Settings(environment="production", secret_key="p" * 48)
    assert payments.provider_from(production) is None
    invoice_id = billmaker.issue(db, family.at, 4500)
    bill_url = f"{family.base}/bills/{invoice_id}"
    checkout = post(web, bill_url, f"{bill_url}/pay").headers["location"]
    monkeypatch.setattr(payments, "provider_from", lambda _settings: None)
    page = web.get(bill_url)
    assert "cannot be paid online yet" in page.text
    assert "Pay £45.00" not in page.text
    refused = post(web, bill_url, f"{bill_url}/pay")
    assert refused.status_code == 409
    assert "pay at the desk" in refused.text
    assert web.get(checkout).status_code == 404
    assert paid_online(db) == []


# --- papers ---------------------------------------------------------------------------------


def test_receipts_and_statements_are_pdfs_for_the_account_only(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    mine = billmaker.issue(db, family.at, 4500)
    childs = billmaker.issue(db, family.at, 2500, patient_id=family.child_id)
    no_receipt = web.get(f"{family.base}/bills/{mine}/receipt.pdf")
    assert no_receipt.status_code == 404
    assert "no payment on this bill yet" in no_receipt.text
    take(db, family.at, mine, 4500)
    take(db, family.at, childs, 1000)

    receipt = web.get(f"{family.base}/bills/{mine}/receipt.pdf")
    assert receipt.status_code == 200
    assert receipt.headers["content-type"] == "application/pdf"
    assert receipt.headers["cache-control"] == "no-store"
    assert receipt.headers["content-disposition"] == 'attachment; filename="receipt-INV-00001.pdf"'
    text = pdf_text(receipt.content)
    for expected in ("North Physio", "Rosa Lind", "INV-00001", "£45.00", "Cash"):
        assert expected in text

    statement = web.get(f"{family.base}/statement.pdf?person={family.child_id}")
    assert statement.status_code == 200
    assert statement.headers["content-disposition"].startswith("attachment;")
    text = pdf_text(statement.content)
    assert "Tom Lind" in text
    assert "Balance to pay £15.00" in text
    assert "INV-00001" not in text  # Rosa's own bill is on her statement, not Tom's
    with db() as session:
        reasons = list(
            session.scalars(
                select(AuditEvent.reason).where(
                    AuditEvent.action == "read", AuditEvent.entity.in_(["payments", "invoices"])
                )
            )
        )
    assert any("receipt for INV-00001 as PDF" in r for r in reasons)
    assert any("statement of Tom Lind as PDF" in r for r in reasons)


def test_another_patient_or_clinic_gets_the_same_404(
    app: FastAPI, web: TestClient, db: sessionmaker[Session], family: Family, factory: Factory
) -> None:
    at = family.at
    rosas = billmaker.issue(db, at, 4500)
    take(db, at, rosas, 1000)
    with transaction(db) as session:
        other = Patient(
            clinic_id=at.id, first_name="Max", last_name="Other", email="max@example.org"
        )
        session.add(other)
        session.flush()
        other_id = other.id
    maxs = billmaker.issue(db, at, 7000, patient_id=other_id)
    south = billmaker.practice(factory, db, "south", "South Physio")
    souths = billmaker.issue(db, south, 8000)

    with browser(app) as max_browser:
        base = portalmaker.signed_in(max_browser, db, at.id, other_id)
        for path in (
            f"{base}/bills/{rosas}",
            f"{base}/bills/{rosas}/receipt.pdf",
            f"{base}/bills/{rosas}/paid",
            f"{base}/bills/{souths}",
            f"{base}/bills/not-an-id",
        ):
            answer = max_browser.get(path)
            assert answer.status_code == 404, path
            assert (
                "There is no such bill on your account" in answer.text
                or "Nothing here" in answer.text
            )
            assert "Rosa" not in answer.text
        assert max_browser.get(f"{base}/statement.pdf?person={at.patient_id}").status_code == 404
        refused = post(max_browser, f"{base}/bills/{maxs}", f"{base}/bills/{rosas}/pay")
        assert refused.status_code == 404
    # Rosa's account is not a patient of South: its portal is not open to her.
    assert web.get(f"/portal/south/bills/{souths}").status_code == 403
    assert paid_online(db) == []


def test_an_admin_viewing_as_the_patient_may_look_but_not_pay(
    app: FastAPI,
    client: TestClient,
    web: TestClient,
    db: sessionmaker[Session],
    factory: Factory,
    family: Family,
) -> None:
    at = family.at
    invoice_id = billmaker.issue(db, at, 4500)
    answer = client.post(
        f"{API_PREFIX}/patients/{at.patient_id}/portal/impersonate",
        headers=factory.staff_headers(at.clinic.staff[Role.CLINIC_ADMIN]),
    )
    assert answer.status_code == 200, answer.text
    token = answer.json()["url"].rsplit("/", 1)[1]
    with browser(app) as admin:
        started = post(admin, f"/portal/link/{token}", f"/portal/link/{token}")
        assert started.status_code == 303
        page = admin.get(f"{family.base}/bills/{invoice_id}")
        assert page.status_code == 200
        assert "paying them is for the patient" in page.text
        assert "Pay £45.00" not in page.text
        refused = admin.post(
            f"{family.base}/bills/{invoice_id}/pay",
            data={"csrf_token": csrf_of(page)},
            headers=SAME_SITE,
            follow_redirects=False,
        )
        assert refused.status_code == 403
        assert "paying them is for the patient" in refused.text
    assert paid_online(db) == []
    with db() as session:
        reads = session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "invoices",
                AuditEvent.entity_id == invoice_id,
                AuditEvent.staff_id == at.clinic.staff[Role.CLINIC_ADMIN].staff_id,
            )
        ).all()
        assert reads
        assert all("clinic admin" in r.reason for r in reads)
        assert session.scalar(select(func.count()).select_from(Payment)) == 0


# --- the guards of paying online ------------------------------------------------------------


def test_pay_on_a_void_bill_starts_no_checkout(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    invoice_id = billmaker.issue(db, family.at, 4500)
    bill_url = f"{family.base}/bills/{invoice_id}"
    token_page = web.get(bill_url)
    with transaction(db) as session:
        service.void(session, family.at.ctx(), invoice_id, "Issued in error", now=utcnow())
    refused = web.post(
        f"{bill_url}/pay",
        data={"csrf_token": csrf_of(token_page)},
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert refused.status_code == 303
    assert refused.headers["location"] == bill_url
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Checkout)) == 0


def test_paying_twice_with_cash_taken_between_records_the_second_to_refund(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    invoice_id = billmaker.issue(db, family.at, 4500)
    bill_url = f"{family.base}/bills/{invoice_id}"
    first = post(web, bill_url, f"{bill_url}/pay").headers["location"]
    assert post(web, bill_url, f"{bill_url}/pay").headers["location"] == first  # reused
    take(db, family.at, invoice_id, 4500)
    assert post(web, first, first).status_code == 303
    [late] = paid_online(db)
    assert late.refund_reason == "paid online after the bill was settled"
    with db() as session:
        assert service.balance(session, family.at.id, family.at.patient_id) == 0
    assert "Thank you: payment received" in web.get(f"{bill_url}/paid").text


def test_a_development_checkout_expires(family: Family) -> None:
    provider = payments.DevelopmentPayments("k" * 40)
    now = time.time()
    started = provider.start_checkout(
        payments.ToPay(uuid.uuid4(), family.at.id, "INV-00001", "North", 4500, "GBP"),
        success_url="https://x/ok",
        cancel_url="https://x/no",
        now=now,
    )
    token = started.url.rsplit("/", 1)[1]
    assert provider.open(token, now + 60).session_id == started.session_id
    assert started.expires_at == int(now) + payments.DEV_SESSION_SECONDS
    with pytest.raises(NotFound, match="expired"):
        provider.open(token, now + payments.DEV_SESSION_SECONDS + 1)
    with pytest.raises(payments.WebhookRefused):
        provider.verified_event(token.encode(), {}, now + payments.DEV_SESSION_SECONDS + 1)


def test_the_development_checkout_is_only_for_this_machine(
    db: sessionmaker[Session], family: Family, database_url: str
) -> None:
    """A development server (not a test one, no provider chosen in words) shows the test
    payment page to a browser on its own machine only."""
    from server.app import create_app

    settings = Settings(database_url=database_url, dispatch_in_server=False)
    assert settings.environment == "development"
    provider = payments.DevelopmentPayments(settings.secret_key)
    started = provider.start_checkout(
        payments.ToPay(uuid.uuid4(), family.at.id, "INV-00001", "North", 4500, "GBP"),
        success_url="https://x/ok",
        cancel_url="https://x/no",
        now=time.time(),
    )
    app = create_app(settings, run_migrations=False)
    served = ServedApp(app)
    try:
        with TestClient(app) as elsewhere:  # the TestClient's peer is not a loopback one
            assert elsewhere.get(started.url).status_code == 404
            assert elsewhere.post(started.url).status_code in (403, 404)
        with httpx.Client(base_url=served.url) as here:
            assert here.get(started.url).status_code == 200
    finally:
        served.stop()
        app.state.engine.dispose()
