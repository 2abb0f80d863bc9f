"""Invoices, payments, prices per appointment type, and the payment provider's events.

All of it stays on the server (``ClinicScoped``, not synced): a bill is read on demand,
each read audited, and the desk shows it only while it can reach the server. Amounts are
whole minor units with their currency (``common.billing``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.billing import InvoiceStatus, PaymentMethod
from server.db import ClinicScoped, RecordBase, StrEnumColumn, utcnow


class Invoice(ClinicScoped):
    """One bill to one patient. ``sequence`` is the clinic's invoice number (shown as
    ``number``, "INV-00042"), allocated one after the other without gaps while the
    clinic's row is locked; a void invoice keeps its number, so the run of numbers an
    accountant sees has no holes. Lines are never changed once issued: a wrong bill is
    voided (with the reason) and a new one issued."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("clinic_id", "sequence", name="uq_invoices_sequence"),
        Index("ix_invoices_patient", "clinic_id", "patient_id"),
        Index("ix_invoices_open", "status", "due_on"),
    )

    sequence: Mapped[int]
    number: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id"), default=None
    )
    # [{"description": "Physiotherapy, 60 minutes", "amount_minor": 6000}, …]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    total_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_on: Mapped[date]
    status: Mapped[InvoiceStatus] = mapped_column(
        StrEnumColumn(InvoiceStatus, 8), default=InvoiceStatus.OPEN
    )
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    voided_at: Mapped[datetime | None] = mapped_column(default=None)
    void_reason: Mapped[str] = mapped_column(String(300), default="")
    # When the patient was told it is overdue: once, never again for this bill.
    overdue_noticed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )


class Payment(ClinicScoped):
    """Money received against an invoice: at the desk (cash, card) or online. An online
    payment carries the provider's reference (its checkout session), unique, so a
    provider telling us twice records it once."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider_reference", name="uq_payments_provider_reference"),
        Index("ix_payments_invoice", "clinic_id", "invoice_id"),
        Index("ix_payments_patient", "clinic_id", "patient_id"),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    amount_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[PaymentMethod] = mapped_column(StrEnumColumn(PaymentMethod, 16))
    provider_reference: Mapped[str | None] = mapped_column(String(255), default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )
    # Money a provider took that the bill could not take (paid meanwhile, void, more
    # than was due, a checkout given up): why, in words for staff. Such a row counts
    # toward nothing (the bill is never overpaid) and stays until refunded by hand.
    refund_reason: Mapped[str] = mapped_column(String(200), default="")


class Checkout(ClinicScoped):
    """A checkout this server started with the payment provider: the only sessions
    whose completion records money. What the provider says was paid must match what
    was asked here (bill, clinic, amount, currency); a newer Pay on the same bill
    reuses the open one of the same amount, or closes it."""

    __tablename__ = "payment_checkouts"
    __table_args__ = (
        UniqueConstraint("provider", "session_id", name="uq_payment_checkouts_session"),
        Index("ix_payment_checkouts_invoice", "clinic_id", "invoice_id"),
    )

    provider: Mapped[str] = mapped_column(String(16))
    session_id: Mapped[str] = mapped_column(String(255))
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"))
    amount_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    url: Mapped[str] = mapped_column(String(2000))
    expires_at: Mapped[datetime]
    # Set when a newer checkout replaced it: money it takes after that is refunded.
    closed_at: Mapped[datetime | None] = mapped_column(default=None)


class TypePrice(ClinicScoped):
    """What the clinic charges for one appointment type (the line an appointment's
    invoice gets). A type without a row has no price: it cannot be invoiced from an
    appointment until an admin sets one."""

    __tablename__ = "type_prices"
    __table_args__ = (UniqueConstraint("appointment_type_id", name="uq_type_prices_type"),)

    appointment_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appointment_types.id"))
    amount_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    changed_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )


class PaymentEvent(RecordBase):
    """A payment provider's event, once processed: the same event delivered five times
    (providers retry until they hear 2xx) is one row, and does its work once."""

    __tablename__ = "payment_events"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="uq_payment_events_event"),)

    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(64))
    clinic_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clinics.id"), default=None)
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("invoices.id"), default=None)
    outcome: Mapped[str] = mapped_column(String(32), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = ["Checkout", "Invoice", "Payment", "PaymentEvent", "TypePrice"]
