"""The desk's side of bills: a patient's bills and balance, issuing an invoice (typed, or
from a completed appointment), taking a payment at the desk, voiding, receipts and
statements as PDF, and the prices of appointment types.

Online only: nothing of a bill is kept in the desk's copy. Every read of a patient's bills
is audited; every change is audited in the service, with the message it sends.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy.orm import Session

from common.billing import InvoiceStatus
from common.roles import Permission
from server import kit
from server.audit import service as audit
from server.billing import pdf, service
from server.billing.models import Invoice, Payment
from server.db import utcnow
from server.deps import DatabaseDep, SettingsDep, StaffContext
from server.patients.models import Patient
from server.scheduling.models import AppointmentType
from sync.protocol import (
    InvoiceAppointmentBody,
    InvoiceLineBody,
    InvoiceRecord,
    NewInvoice,
    PatientBillsRecord,
    PaymentRecord,
    RecordPaymentBody,
    SavePrices,
    TypePriceRecord,
    UninvoicedVisit,
    VoidInvoiceBody,
)

router = APIRouter(tags=["billing"])

PDF_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The PDF, to save (``Content-Disposition: attachment``).",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def invoice_records(
    session: Session, clinic_id: uuid.UUID, invoices: list[Invoice], today: date
) -> list[InvoiceRecord]:
    """Invoices as the desk shows them, each with its payments (one query for all)."""
    payments = service.payments_of(session, clinic_id, invoice_ids=[i.id for i in invoices])
    numbers = {i.id: i.number for i in invoices}
    by_invoice: dict[uuid.UUID, list[PaymentRecord]] = {i.id: [] for i in invoices}
    for payment in payments:
        by_invoice[payment.invoice_id].append(payment_record(payment, numbers[payment.invoice_id]))
    records = []
    for invoice in invoices:
        paid = sum(p.amount_minor for p in by_invoice[invoice.id] if not p.to_refund)
        records.append(
            InvoiceRecord(
                id=invoice.id,
                number=invoice.number,
                patient_id=invoice.patient_id,
                appointment_id=invoice.appointment_id,
                lines=[InvoiceLineBody(**line) for line in invoice.lines],
                total_minor=invoice.total_minor,
                paid_minor=paid,
                due_minor=(
                    0
                    if invoice.status is InvoiceStatus.VOID
                    else max(0, invoice.total_minor - paid)
                ),
                currency=invoice.currency,
                issued_at=invoice.issued_at,
                due_on=invoice.due_on,
                status=invoice.status,
                overdue=service.is_overdue(invoice, today),
                paid_at=invoice.paid_at,
                voided_at=invoice.voided_at,
                void_reason=invoice.void_reason,
                payments=by_invoice[invoice.id],
            )
        )
    return records


def payment_record(payment: Payment, number: str) -> PaymentRecord:
    return PaymentRecord(
        id=payment.id,
        invoice_id=payment.invoice_id,
        invoice_number=number,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        method=payment.method,
        received_at=payment.received_at,
        to_refund=service.refund_words(payment, number),
    )


def _one(session: Session, invoice: Invoice) -> InvoiceRecord:
    today = service.local_today(session, invoice.clinic_id, utcnow())
    return invoice_records(session, invoice.clinic_id, [invoice], today)[0]


@router.get("/patients/{patient_id}/bills", response_model=PatientBillsRecord)
def patient_bills(patient_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    """A patient's invoices (with payments), balance, and completed appointments not yet
    invoiced."""
    ctx.require(Permission.BILLING_READ)
    now = utcnow()
    with db.reading() as session:
        patient = kit.live(session, Patient, ctx.clinic_id, patient_id, what="patient")
        account = service.account_of(session, ctx.clinic_id, patient, now)
        visits = []
        for appointment in service.uninvoiced(session, ctx.clinic_id, patient.id):
            kind = (
                session.get(AppointmentType, appointment.appointment_type_id)
                if appointment.appointment_type_id
                else None
            )
            visits.append(
                UninvoicedVisit(
                    appointment_id=appointment.id,
                    starts_at=appointment.starts_at,
                    type_name=kind.name if kind else "",
                    price_minor=service.price_of(session, ctx.clinic_id, kind.id if kind else None),
                )
            )
        record = PatientBillsRecord(
            patient_id=patient.id,
            currency=account.currency,
            balance_minor=account.balance,
            invoices=invoice_records(session, ctx.clinic_id, account.invoices, account.today),
            uninvoiced=visits,
        )
    audit.read(
        db,
        ctx,
        entity="invoices",
        record_count=len(record.invoices),
        reason=f"bills of patient {patient_id}",
    )
    return kit.json_response(record)


@router.get("/invoices/{invoice_id}", response_model=InvoiceRecord)
def read_invoice(invoice_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    ctx.require(Permission.BILLING_READ)
    with db.reading() as session:
        invoice = service.find_invoice(session, ctx.clinic_id, invoice_id)
        record = _one(session, invoice)
    audit.read(
        db,
        ctx,
        entity="invoices",
        entity_id=invoice_id,
        reason=f"invoice {record.number} of patient {record.patient_id}",
    )
    return kit.json_response(record)


@router.post("/patients/{patient_id}/invoices", response_model=InvoiceRecord, status_code=201)
def create_invoice(
    patient_id: uuid.UUID,
    body: NewInvoice,
    ctx: StaffContext,
    db: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    with db.writing() as session:
        invoice = service.issue(
            session,
            ctx,
            service.Issue(
                body.id, patient_id, [line.model_dump() for line in body.lines], body.due_on
            ),
            public_base_url=settings.public_base_url,
        )
        record = _one(session, invoice)
    return kit.json_response(record, status_code=201)


@router.post(
    "/appointments/{appointment_id}/invoice", response_model=InvoiceRecord, status_code=201
)
def invoice_appointment(
    appointment_id: uuid.UUID,
    body: InvoiceAppointmentBody,
    ctx: StaffContext,
    db: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    with db.writing() as session:
        invoice = service.invoice_appointment(
            session,
            ctx,
            appointment_id,
            invoice_id=body.id,
            due_on=body.due_on,
            public_base_url=settings.public_base_url,
        )
        record = _one(session, invoice)
    return kit.json_response(record, status_code=201)


@router.post("/invoices/{invoice_id}/payments", response_model=InvoiceRecord, status_code=201)
def record_payment(
    invoice_id: uuid.UUID,
    body: RecordPaymentBody,
    ctx: StaffContext,
    db: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    with db.writing() as session:
        payment = service.record_payment(
            session,
            ctx,
            invoice_id,
            service.TakePayment(body.id, body.amount_minor, body.method),
            public_base_url=settings.public_base_url,
        )
        record = _one(session, service.find_invoice(session, ctx.clinic_id, payment.invoice_id))
    return kit.json_response(record, status_code=201)


@router.post("/invoices/{invoice_id}/void", response_model=InvoiceRecord)
def void_invoice(
    invoice_id: uuid.UUID, body: VoidInvoiceBody, ctx: StaffContext, db: DatabaseDep
) -> Response:
    with db.writing() as session:
        invoice = service.void(session, ctx, invoice_id, body.reason, now=utcnow())
        record = _one(session, invoice)
    return kit.json_response(record)


@router.get("/payments/{payment_id}/receipt.pdf", response_class=Response, responses=PDF_ANSWER)
def receipt(payment_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    ctx.require(Permission.BILLING_READ)
    with db.reading() as session:
        payment = kit.find(session, Payment, ctx.clinic_id, payment_id)
        if payment is None:
            raise kit.not_found("payment")
        body = pdf.receipt_of(session, ctx.clinic_id, payment)
        patient_id = payment.patient_id
    audit.read(
        db,
        ctx,
        entity="payments",
        entity_id=payment_id,
        reason=f"receipt of patient {patient_id}, as PDF",
    )
    return pdf.attachment(body, "receipt.pdf")


@router.get("/patients/{patient_id}/statement.pdf", response_class=Response, responses=PDF_ANSWER)
def statement(patient_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    ctx.require(Permission.BILLING_READ)
    with db.reading() as session:
        patient = kit.live(session, Patient, ctx.clinic_id, patient_id, what="patient")
        body = pdf.statement_of(session, ctx.clinic_id, patient, utcnow())
    audit.read(db, ctx, entity="invoices", reason=f"statement of patient {patient_id}, as PDF")
    return pdf.attachment(body, "statement.pdf")


def _prices(session: Session, clinic_id: uuid.UUID) -> list[TypePriceRecord]:
    currency = service.currency_of(session, clinic_id)
    return [
        TypePriceRecord(
            appointment_type_id=kind.id,
            type_name=kind.name,
            active=kind.active,
            amount_minor=price.amount_minor if price else None,
            currency=currency,
        )
        for kind, price in service.prices(session, clinic_id)
    ]


@router.get("/prices", response_model=list[TypePriceRecord])
def list_prices(ctx: StaffContext, db: DatabaseDep) -> Response:
    """What each appointment type costs (None: no price yet)."""
    ctx.require(Permission.BILLING_READ)
    with db.reading() as session:
        records = _prices(session, ctx.clinic_id)
    return kit.json_response(records)


@router.put("/prices", response_model=list[TypePriceRecord])
def save_prices(body: SavePrices, ctx: StaffContext, db: DatabaseDep) -> Response:
    with db.writing() as session:
        service.save_prices(
            session, ctx, [(p.appointment_type_id, p.amount_minor) for p in body.prices]
        )
        records = _prices(session, ctx.clinic_id)
    return kit.json_response(records)
