"""Paying a bill in real Chromium on a phone, against a served demo clinic: the patient
signs in, is told on the home page they have a bill to pay, opens it, pays through the
development provider, sees it paid, and downloads the receipt, whose text (read with
pypdf) names the clinic and the amount. axe-core on every page; nothing fetched from
another site. The same payment with JavaScript switched off."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page
from pypdf import PdfReader
from sqlalchemy import select

from common.billing import InvoiceStatus, PaymentMethod
from common.roles import Role
from server.auth.context import AuthContext
from server.billing import service
from server.billing.models import Invoice, Payment
from server.db import transaction
from server.patients.models import Patient
from tests.server.portal.test_appointments_in_chromium import sign_in
from tests.support.browser import RequestLog, check_accessible
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser


def bill_for(server: LiveServer, patient_id: uuid.UUID) -> uuid.UUID:
    """A bill of £45.00 for a consultation, issued by the clinic's admin."""
    with transaction(server.sessionmaker) as session:
        clinic_id = session.get_one(Patient, patient_id).clinic_id
        admin = AuthContext(
            clinic_id=clinic_id, device_id=None, staff_id=None, role=Role.CLINIC_ADMIN
        )
        invoice = service.issue(
            session,
            admin,
            service.Issue(
                uuid.uuid4(),
                patient_id,
                [{"description": "Consultation, 30 minutes", "amount_minor": 4500}],
            ),
            public_base_url=server.url,
        )
        return invoice.id


def pay(page: Page, base: str, *, accessible: bool = True) -> None:
    """From the home page to "payment received"."""
    page.goto(f"{base}/home")
    page.get_by_role("link", name="You have 1 bill to pay").click()
    page.get_by_role("heading", name="Bills", exact=True).wait_for()
    if accessible:
        check_accessible(page)
    page.get_by_role("link", name="Bill INV-00001").click()
    page.get_by_role("heading", name="Bill INV-00001").wait_for()
    if accessible:
        check_accessible(page)
    page.get_by_role("button", name="Pay £45.00").click()
    page.get_by_role("heading", name="Test payment").wait_for()
    if accessible:
        check_accessible(page)
    page.get_by_role("button", name="Pay £45.00 (test)").click()
    page.get_by_role("heading", name="Thank you: payment received").wait_for()
    if accessible:
        check_accessible(page)


def paid(server: LiveServer, invoice_id: uuid.UUID) -> list[Payment]:
    with server.sessionmaker() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        assert invoice.status is InvoiceStatus.PAID
        return list(session.scalars(select(Payment).where(Payment.invoice_id == invoice_id)))


def test_a_patient_pays_a_bill_and_keeps_the_receipt(
    phone: BrowserContext, live_server: LiveServer, tmp_path: Path
) -> None:
    page = phone.new_page()
    log = RequestLog(page, live_server.url)
    base, patient_id = sign_in(page, live_server)
    invoice_id = bill_for(live_server, patient_id)
    pay(page, base)
    [payment] = paid(live_server, invoice_id)
    assert payment.method is PaymentMethod.CARD_ONLINE
    assert payment.amount_minor == 4500

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download the receipt (PDF)").click()
    saved = tmp_path / "receipt.pdf"
    downloading.value.save_as(saved)
    text = "\n".join(p.extract_text() for p in PdfReader(saved).pages)
    assert "£45.00" in text
    assert "Demo Clinic" in text
    assert "INV-00001" in text
    assert "Card, online" in text

    page.get_by_role("link", name="All bills").click()
    page.get_by_text("Nothing to pay. Thank you.").wait_for()
    check_accessible(page)
    assert log.elsewhere() == []


def test_the_same_payment_works_without_javascript(
    phone_without_js: BrowserContext, live_server: LiveServer
) -> None:
    page = phone_without_js.new_page()
    base, patient_id = sign_in(page, live_server)
    invoice_id = bill_for(live_server, patient_id)
    pay(page, base, accessible=False)
    assert len(paid(live_server, invoice_id)) == 1
