"""Receipts and statements as PDF, read back with pypdf: the clinic's letterhead, the
patient, the bill's lines and what was paid; names in any script print (folded to what
the PDF's fonts hold) rather than fail; a statement adds up and says what is owed."""

from __future__ import annotations

import io
import uuid

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.billing import PaymentMethod
from server.billing import pdf, service
from server.billing.models import Payment
from server.db import transaction, utcnow
from server.patients.models import Patient
from server.web.models import PracticeProfile
from tests.server.billing import billmaker
from tests.server.billing.billmaker import Practice
from tests.server.conftest import Factory


@pytest.fixture
def north(factory: Factory, db: sessionmaker[Session]) -> Practice:
    return billmaker.practice(factory, db)


def text_of(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def test_a_receipt_names_clinic_patient_bill_and_payment(
    db: sessionmaker[Session], north: Practice
) -> None:
    with transaction(db) as session:
        profile = session.scalars(select(PracticeProfile)).one()
        profile.address = "1 Quay Street, Bristol BS1 4DJ"
        patient = session.get_one(Patient, north.patient_id)
        patient.first_name, patient.last_name = "Łucja", "Dvořák-Zoë 山田"
    invoice_id = billmaker.issue(db, north, 6000, 850)
    with transaction(db) as session:
        service.record_payment(
            session,
            north.ctx(),
            invoice_id,
            service.TakePayment(uuid.uuid4(), 5000, PaymentMethod.CARD_DESK),
        )
    with db() as session:
        payment = session.scalars(select(Payment)).one()
        text = text_of(pdf.receipt_of(session, north.id, payment))
    for expected in (
        "North Physio",
        "1 Quay Street, Bristol BS1 4DJ",
        "Lucja Dvorák-Zoë ??",
        "INV-00001",
        "Treatment 1 £60.00",
        "Treatment 2 £8.50",
        "Invoice total £68.50",
        "Amount paid £50.00",
        "Still to pay £18.50",
        "Card at the desk",
    ):
        assert expected in text


def test_a_statement_lists_every_bill_and_payment_and_the_balance(
    db: sessionmaker[Session], north: Practice
) -> None:
    first = billmaker.issue(db, north, 4500)
    billmaker.issue(db, north, 3000)
    void = billmaker.issue(db, north, 9999)
    with transaction(db) as session:
        service.record_payment(
            session, north.ctx(), first, service.TakePayment(uuid.uuid4(), 4500, PaymentMethod.CASH)
        )
        service.void(session, north.ctx(), void, "typed twice", now=utcnow())
    with db() as session:
        patient = session.get_one(Patient, north.patient_id)
        text = text_of(pdf.statement_of(session, north.id, patient, utcnow()))
    assert "Rosa Lind" in text
    for line in ("INV-00001", "INV-00002", "INV-00003"):
        assert line in text
    assert "Void £0.00" in text
    assert "Cash £45.00" in text
    assert "Balance to pay £30.00" in text


def test_many_lines_run_onto_a_second_page_and_long_ones_are_cut_with_an_ellipsis(
    db: sessionmaker[Session], north: Practice
) -> None:
    with transaction(db) as session:
        invoice = service.issue(
            session,
            north.ctx(),
            service.Issue(
                uuid.uuid4(),
                north.patient_id,
                [
                    {"description": f"Session {n} " + "x" * 150, "amount_minor": 100}
                    for n in range(50)
                ],
            ),
        )
        service.record_payment(
            session,
            north.ctx(),
            invoice.id,
            service.TakePayment(uuid.uuid4(), 5000, PaymentMethod.CASH),
        )
    with db() as session:
        payment = session.scalars(select(Payment)).one()
        body = pdf.receipt_of(session, north.id, payment)
    pages = PdfReader(io.BytesIO(body)).pages
    assert len(pages) >= 2
    text = text_of(body)
    assert "Session 49 " in text
    assert "…" in text
    assert "Amount paid £50.00" in text
