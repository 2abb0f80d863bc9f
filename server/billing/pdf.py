"""Receipts and statements as PDF files, for patients to keep and insurers to read.

Written with fpdf2's built-in Helvetica (no font file to ship), in the Windows-1252
encoding those fonts have: "£" and "€" print as they should. A character outside it (a
name in another script, "Ł") is folded to its plain letter or, failing that, "?" on the
paper only; the bill itself keeps the name as typed.
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi.responses import Response
from fpdf import FPDF
from sqlalchemy.orm import Session

from common.billing import InvoiceStatus, shown
from server.billing import service
from server.billing.models import Invoice, Payment
from server.billing.service import Account
from server.clinics.models import Clinic
from server.patients.models import Patient
from server.scheduling.service import clinic_zone
from server.web.pages import profile_of

ENCODING = "windows-1252"
FOLDED = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i", "−": "-"})


def printable(text: str) -> str:
    """``text`` in what the PDF's fonts can print: each character kept if it can be,
    else its plain letter, else "?"."""
    return "".join(_printable(ch) for ch in text)


def _printable(ch: str) -> str:
    try:
        ch.encode(ENCODING)
        return ch
    except UnicodeEncodeError:
        pass
    folded = unicodedata.normalize("NFKD", ch.translate(FOLDED))
    kept = "".join(c for c in folded if not unicodedata.combining(c))
    return kept.encode(ENCODING, "replace").decode(ENCODING) or "?"


@dataclass(frozen=True, slots=True)
class Letterhead:
    """Who the paper is from: the clinic's name and address (its practice page's)."""

    name: str
    address: str
    phone: str = ""
    email: str = ""


class _Paper(FPDF):
    def __init__(self, title: str, head: Letterhead) -> None:
        super().__init__(format="A4")
        self.core_fonts_encoding = ENCODING
        self.set_title(printable(f"{title} — {head.name}"))
        self.set_author(printable(head.name))
        self.set_creator("Clinicdesk")
        self.set_auto_page_break(auto=True, margin=18)
        self.add_page()
        self.set_font("Helvetica", "B", 16)
        self.cell(0, 9, printable(head.name), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", size=10)
        for line in [head.address, " · ".join(p for p in (head.phone, head.email) if p)]:
            if line:
                self.multi_cell(0, 5, printable(line), new_x="LMARGIN", new_y="NEXT")
        self.ln(6)
        self.set_font("Helvetica", "B", 14)
        self.cell(0, 8, printable(title), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", size=11)
        self.ln(2)

    def pair(self, label: str, value: str) -> None:
        self.set_font("Helvetica", "B", 11)
        self.cell(45, 6, printable(label))
        self.set_font("Helvetica", size=11)
        self.multi_cell(0, 6, printable(value), new_x="LMARGIN", new_y="NEXT")

    def grid(self, widths: list[int], header: list[str], rows: list[list[str]]) -> None:
        """A plain table: the last columns (amounts) right-aligned."""
        self.ln(3)
        self.set_font("Helvetica", "B", 10)
        self._row(widths, header)
        self.set_font("Helvetica", size=10)
        for row in rows:
            self._row(widths, row)
        self.ln(2)

    def _row(self, widths: list[int], values: list[str]) -> None:
        for n, (width, value) in enumerate(zip(widths, values, strict=True)):
            align = "R" if n >= len(widths) - 1 else "L"
            last = n == len(widths) - 1
            self.cell(
                width,
                7,
                _fitted(printable(value)),
                border="B",
                align=align,
                new_x="LMARGIN" if last else "RIGHT",
                new_y="NEXT" if last else "TOP",
            )

    def total_line(self, label: str, value: str) -> None:
        self.set_font("Helvetica", "B", 12)
        self.cell(140, 8, printable(label), align="R")
        self.cell(0, 8, printable(value), align="R", new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", size=11)

    def done(self) -> bytes:
        return bytes(self.output())


def _fitted(text: str, longest: int = 80) -> str:
    """A cell's text on one line: a long description ends in "…" rather than running
    into the amount beside it."""
    return text if len(text) <= longest else text[: longest - 1] + "…"


def _day(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%d %B %Y}"


def receipt(
    head: Letterhead,
    patient_name: str,
    invoice: Invoice,
    payment: Payment,
    paid_in_all: int,
    zone: ZoneInfo,
) -> bytes:
    """A receipt for one payment: whose, which bill, what it was for, what was paid,
    when and how."""
    paper = _Paper("Receipt", head)
    paper.pair("Patient", patient_name)
    paper.pair("Invoice", f"{invoice.number}, issued {_day(invoice.issued_at, zone)}")
    paper.pair("Paid on", _day(payment.received_at, zone))
    paper.pair("Paid by", payment.method.label)
    paper.grid(
        [140, 40],
        ["For", "Amount"],
        [
            [str(line["description"]), shown(int(line["amount_minor"]), invoice.currency)]
            for line in invoice.lines
        ],
    )
    paper.total_line("Invoice total", shown(invoice.total_minor, invoice.currency))
    paper.total_line("Amount paid", shown(payment.amount_minor, payment.currency))
    left = invoice.total_minor - paid_in_all
    paper.total_line(
        "Still to pay" if left > 0 and invoice.status is not InvoiceStatus.VOID else "Balance",
        shown(max(left, 0), invoice.currency),
    )
    paper.ln(6)
    paper.set_font("Helvetica", size=10)
    paper.multi_cell(0, 5, printable(f"Thank you. Reference: {payment.id}."))
    return paper.done()


def statement(
    head: Letterhead, patient_name: str, account: Account, zone: ZoneInfo, now: datetime
) -> bytes:
    """Every bill of one patient, every payment, and what is owed now."""
    paper = _Paper("Statement", head)
    currency = account.currency
    paper.pair("Patient", patient_name)
    paper.pair("Date", _day(now, zone))
    paper.set_font("Helvetica", "B", 12)
    paper.ln(3)
    paper.cell(0, 7, "Invoices", new_x="LMARGIN", new_y="NEXT")
    rows = []
    for invoice in sorted(account.invoices, key=lambda i: i.sequence):
        state = invoice.status.label
        if invoice.status is InvoiceStatus.OPEN and invoice.due_on < account.today:
            state = "Overdue"
        rows.append(
            [
                invoice.number,
                _day(invoice.issued_at, zone),
                f"{invoice.due_on:%d %B %Y}",
                state,
                shown(0 if invoice.status is InvoiceStatus.VOID else invoice.total_minor, currency),
            ]
        )
    paper.grid(
        [30, 40, 40, 40, 30],
        ["Number", "Issued", "Due", "Status", "Amount"],
        rows or [["", "", "", "None", ""]],
    )
    paper.set_font("Helvetica", "B", 12)
    paper.cell(0, 7, "Payments", new_x="LMARGIN", new_y="NEXT")
    payments = [
        [
            _day(p.received_at, zone),
            account.number_of(p.invoice_id),
            p.method.label,
            shown(p.amount_minor, p.currency),
        ]
        for p in account.payments
        if not p.refund_reason  # money to refund is no payment toward a bill
    ]
    paper.grid(
        [45, 45, 60, 30],
        ["Date", "Invoice", "Method", "Amount"],
        payments or [["", "", "None", ""]],
    )
    owed = account.balance
    if owed >= 0:
        paper.total_line("Balance to pay", shown(owed, currency))
    else:
        paper.total_line("In credit", shown(-owed, currency))
    return paper.done()


# --- from the database ----------------------------------------------------------------------


def letterhead(session: Session, clinic_id: uuid.UUID) -> Letterhead:
    """The clinic as its practice page presents it (its own name when it has none)."""
    profile = profile_of(session, clinic_id)
    clinic = session.get(Clinic, clinic_id)
    name = (profile.display_name if profile else "") or (clinic.name if clinic else "")
    if profile is None:
        return Letterhead(name, "")
    return Letterhead(name, profile.address, profile.phone, profile.email)


def receipt_of(session: Session, clinic_id: uuid.UUID, payment: Payment) -> bytes:
    invoice = session.get(Invoice, payment.invoice_id)
    patient = session.get(Patient, payment.patient_id)
    assert invoice is not None  # the payment's foreign keys
    assert patient is not None
    return receipt(
        letterhead(session, clinic_id),
        f"{patient.first_name} {patient.last_name}",
        invoice,
        payment,
        service.paid_on(session, invoice),
        clinic_zone(session, clinic_id),
    )


def statement_of(session: Session, clinic_id: uuid.UUID, patient: Patient, now: datetime) -> bytes:
    return statement(
        letterhead(session, clinic_id),
        f"{patient.first_name} {patient.last_name}",
        service.account_of(session, clinic_id, patient, now),
        clinic_zone(session, clinic_id),
        now,
    )


def attachment(body: bytes, filename: str) -> Response:
    """A PDF to save, never kept by a cache on the way: it is a patient's data."""
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "cache-control": "no-store",
            "content-disposition": f'attachment; filename="{filename}"',
            "x-content-type-options": "nosniff",
        },
    )
