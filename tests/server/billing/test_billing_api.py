"""The desk's bills API, on both databases: a patient's bills with their balance and
the visits not invoiced yet, invoices typed or from an appointment, payments, voiding,
receipts and statements as PDF, prices; who may do what; every read audited; and
another clinic's staff finding nothing of it."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.billing import PaymentMethod
from common.roles import Role
from server.audit.models import AuditEvent
from server.billing import service
from server.db import transaction
from sync.protocol import API_PREFIX
from tests.server.billing import billmaker
from tests.server.billing.billmaker import Practice
from tests.server.conftest import Factory


@pytest.fixture
def north(factory: Factory, db: sessionmaker[Session]) -> Practice:
    return billmaker.practice(factory, db)


@pytest.fixture
def south(factory: Factory, db: sessionmaker[Session]) -> Practice:
    return billmaker.practice(factory, db, "south", "South Physio")


def headers(factory: Factory, at: Practice, role: Role = Role.FRONT_DESK) -> dict[str, str]:
    return factory.staff_headers(at.clinic.staff[role])


def new_invoice(*amounts: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "lines": [{"description": f"Item {n}", "amount_minor": a} for n, a in enumerate(amounts)],
        **extra,
    }


def pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def reads(db: sessionmaker[Session], entity: str) -> list[AuditEvent]:
    with db() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.entity == entity, AuditEvent.action == "read")
            )
        )


def test_the_front_desk_bills_takes_payment_and_prints_the_papers(
    client: TestClient, factory: Factory, db: sessionmaker[Session], north: Practice
) -> None:
    desk = headers(factory, north)
    made = client.post(
        f"{API_PREFIX}/patients/{north.patient_id}/invoices",
        json=new_invoice(6000, 850),
        headers=desk,
    )
    assert made.status_code == 201, made.text
    invoice = made.json()
    assert (invoice["number"], invoice["total_minor"], invoice["due_minor"]) == (
        "INV-00001",
        6850,
        6850,
    )
    assert invoice["status"] == "open"

    paid = client.post(
        f"{API_PREFIX}/invoices/{invoice['id']}/payments",
        json={"id": str(uuid.uuid4()), "amount_minor": 6850, "method": "card_desk"},
        headers=desk,
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["status"] == "paid"
    [payment] = paid.json()["payments"]
    assert payment["invoice_number"] == "INV-00001"

    bills = client.get(f"{API_PREFIX}/patients/{north.patient_id}/bills", headers=desk)
    assert bills.status_code == 200
    assert bills.json()["balance_minor"] == 0
    assert [i["number"] for i in bills.json()["invoices"]] == ["INV-00001"]
    [trail] = reads(db, "invoices")
    assert trail.staff_id == north.clinic.front_desk.staff_id
    assert str(north.patient_id) in trail.reason

    receipt = client.get(f"{API_PREFIX}/payments/{payment['id']}/receipt.pdf", headers=desk)
    assert receipt.status_code == 200
    assert receipt.headers["content-type"] == "application/pdf"
    assert receipt.headers["cache-control"] == "no-store"
    assert receipt.headers["content-disposition"].startswith("attachment;")
    text = pdf_text(receipt.content)
    for expected in (
        "North Physio",
        "Receipt",
        "Rosa Lind",
        "INV-00001",
        "£68.50",
        "Card at the desk",
    ):
        assert expected in text
    assert len(reads(db, "payments")) == 1

    statement = client.get(f"{API_PREFIX}/patients/{north.patient_id}/statement.pdf", headers=desk)
    assert statement.status_code == 200
    text = pdf_text(statement.content)
    assert "Statement" in text
    assert "Balance to pay £0.00" in text
    assert "INV-00001" in text
    assert len(reads(db, "invoices")) == 2


def test_a_completed_visit_is_offered_then_invoiced_at_its_price(
    client: TestClient, factory: Factory, db: sessionmaker[Session], north: Practice
) -> None:
    visit = billmaker.visit(db, north)
    desk = headers(factory, north)
    [offered] = client.get(f"{API_PREFIX}/patients/{north.patient_id}/bills", headers=desk).json()[
        "uninvoiced"
    ]
    assert offered["appointment_id"] == str(visit)
    assert offered["price_minor"] is None
    refused = client.post(
        f"{API_PREFIX}/appointments/{visit}/invoice", json={"id": str(uuid.uuid4())}, headers=desk
    )
    assert refused.status_code == 422
    assert "has no price yet" in refused.json()["message"]

    admin = headers(factory, north, Role.CLINIC_ADMIN)
    prices = client.put(
        f"{API_PREFIX}/prices",
        json={"prices": [{"appointment_type_id": str(north.where.type_id), "amount_minor": 5500}]},
        headers=admin,
    )
    assert prices.status_code == 200, prices.text
    assert prices.json() == [
        {
            "appointment_type_id": str(north.where.type_id),
            "type_name": "Follow-up",
            "active": True,
            "amount_minor": 5500,
            "currency": "GBP",
        }
    ]
    made = client.post(
        f"{API_PREFIX}/appointments/{visit}/invoice", json={"id": str(uuid.uuid4())}, headers=desk
    )
    assert made.status_code == 201, made.text
    assert made.json()["total_minor"] == 5500
    assert made.json()["appointment_id"] == str(visit)
    again = client.post(
        f"{API_PREFIX}/appointments/{visit}/invoice", json={"id": str(uuid.uuid4())}, headers=desk
    )
    assert again.status_code == 409
    assert "on invoice INV-00001 already" in again.json()["message"]


def test_voiding_needs_a_reason_and_keeps_it(
    client: TestClient, factory: Factory, db: sessionmaker[Session], north: Practice
) -> None:
    desk = headers(factory, north)
    invoice_id = billmaker.issue(db, north)
    empty = client.post(
        f"{API_PREFIX}/invoices/{invoice_id}/void", json={"reason": " "}, headers=desk
    )
    assert empty.status_code == 422
    assert "Say why" in empty.json()["message"]
    void = client.post(
        f"{API_PREFIX}/invoices/{invoice_id}/void", json={"reason": "billed twice"}, headers=desk
    )
    assert void.status_code == 200
    assert (void.json()["status"], void.json()["void_reason"], void.json()["due_minor"]) == (
        "void",
        "billed twice",
        0,
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (new_invoice(*([100] * 51)), "at most 50 lines"),
        (new_invoice(0), "Line 1's amount must be more than nothing"),
        (new_invoice(10_000_001), "more than £100,000.00"),
        ({"id": str(uuid.uuid4()), "lines": []}, "at least one line"),
        (new_invoice(100, due_on="2001-01-01"), "in the past"),
    ],
)
def test_a_bad_invoice_is_refused_in_words(
    client: TestClient,
    factory: Factory,
    db: sessionmaker[Session],
    north: Practice,
    body: dict[str, Any],
    says: str,
) -> None:
    answer = client.post(
        f"{API_PREFIX}/patients/{north.patient_id}/invoices",
        json=body,
        headers=headers(factory, north),
    )
    assert answer.status_code == 422
    assert says in answer.json()["message"]


def test_read_only_staff_see_bills_but_change_nothing(
    client: TestClient, factory: Factory, db: sessionmaker[Session], north: Practice
) -> None:
    invoice_id = billmaker.issue(db, north)
    reader = headers(factory, north, Role.READ_ONLY)
    assert client.get(f"{API_PREFIX}/invoices/{invoice_id}", headers=reader).status_code == 200
    assert client.get(f"{API_PREFIX}/prices", headers=reader).status_code == 200
    for path, body in (
        (f"/patients/{north.patient_id}/invoices", new_invoice(100)),
        (
            f"/invoices/{invoice_id}/payments",
            {"id": str(uuid.uuid4()), "amount_minor": 100, "method": "cash"},
        ),
        (f"/invoices/{invoice_id}/void", {"reason": "no"}),
    ):
        answer = client.post(f"{API_PREFIX}{path}", json=body, headers=reader)
        assert answer.status_code == 403, path
    prices = client.put(
        f"{API_PREFIX}/prices",
        json={"prices": [{"appointment_type_id": str(north.where.type_id), "amount_minor": 1}]},
        headers=headers(factory, north, Role.FRONT_DESK),
    )
    assert prices.status_code == 403


def test_another_clinics_staff_find_nothing(
    client: TestClient,
    factory: Factory,
    db: sessionmaker[Session],
    north: Practice,
    south: Practice,
) -> None:
    invoice_id = billmaker.issue(db, north, 4500)
    with transaction(db) as session:
        payment = service.record_payment(
            session,
            north.ctx(),
            invoice_id,
            service.TakePayment(uuid.uuid4(), 1000, PaymentMethod.CASH),
        ).id
    theirs = headers(factory, south, Role.CLINIC_ADMIN)
    for path in (
        f"/invoices/{invoice_id}",
        f"/payments/{payment}/receipt.pdf",
        f"/patients/{north.patient_id}/statement.pdf",
        f"/patients/{north.patient_id}/bills",
    ):
        answer = client.get(f"{API_PREFIX}{path}", headers=theirs)
        assert answer.status_code == 404, path
        assert "North" not in answer.text
    for path, body in (
        (
            f"/invoices/{invoice_id}/payments",
            {"id": str(uuid.uuid4()), "amount_minor": 100, "method": "cash"},
        ),
        (f"/invoices/{invoice_id}/void", {"reason": "not ours"}),
        (f"/patients/{north.patient_id}/invoices", new_invoice(100)),
    ):
        assert client.post(f"{API_PREFIX}{path}", json=body, headers=theirs).status_code == 404
    unknown = client.put(
        f"{API_PREFIX}/prices",
        json={"prices": [{"appointment_type_id": str(north.where.type_id), "amount_minor": 1}]},
        headers=theirs,
    )
    assert unknown.status_code == 404
    assert billmaker.invoice(db, invoice_id).void_reason == ""
