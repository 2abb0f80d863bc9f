"""What patients are told about their bills, by e-mail through messaging: payment due
when an invoice is issued, overdue once its due date has passed unpaid, and a receipt for
each payment.

Each goes through ``messaging.compose`` in the transaction of the change that prompts it
(purpose CARE: a bill is part of the patient's care, not marketing), so consents, the
desk's inbox and a family member's messages reaching their carer apply as to any
message. A patient with no e-mail address gets a "held" message the desk can see.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from common.billing import shown
from common.messaging import Channel, Purpose
from server.billing.models import Invoice, Payment
from server.messaging import service as messaging
from server.patients.models import Patient
from server.scheduling.service import clinic_zone
from server.web.pages import profile_of

DUE_KIND = "bill_due"
OVERDUE_KIND = "bill_overdue"
RECEIPT_KIND = "bill_receipt"


def bill_url(session: Session, invoice: Invoice, public_base_url: str) -> str | None:
    """Where the patient sees (and pays) the bill: the portal of the clinic's public
    page; None for a clinic with no public page (it has no portal)."""
    profile = profile_of(session, invoice.clinic_id)
    if profile is None or not public_base_url:
        return None
    return f"{public_base_url.rstrip('/')}/portal/{profile.slug}/bills/{invoice.id}"


def _greeting(session: Session, patient: Patient) -> tuple[str, str]:
    """Whom the e-mail greets, and whose bill it is in words: a child's bills reach
    the parent who manages them in the portal."""
    carer = messaging.carer_of(session, patient) if not patient.email else None
    if carer is not None:
        return carer.first_name, f" for {patient.first_name}"
    return patient.first_name, ""


def _lines(invoice: Invoice) -> str:
    return "\n".join(
        f"- {line['description']}: {shown(int(line['amount_minor']), invoice.currency)}"
        for line in invoice.lines
    )


def _send(
    session: Session, invoice: Invoice, patient: Patient, kind: str, subject: str, text: str
) -> None:
    messaging.compose(
        session,
        invoice.clinic_id,
        patient=patient,
        purpose=Purpose.CARE,
        kind=kind,
        drafts=[messaging.Draft(Channel.EMAIL, text, subject=subject)],
    )


def payment_due(session: Session, invoice: Invoice, patient: Patient, public_base_url: str) -> None:
    clinic = messaging.sender_name(session, invoice.clinic_id)
    name, whose = _greeting(session, patient)
    amount = shown(invoice.total_minor, invoice.currency)
    url = bill_url(session, invoice, public_base_url)
    how = (
        f"You can pay online in the patient portal:\n{url}\n\nor at the desk on your next visit."
        if url
        else "You can pay at the desk on your next visit, or call us."
    )
    text = (
        f"Dear {name},\n\n"
        f"Here is your bill{whose} from {clinic}: {invoice.number} for {amount}, due by "
        f"{invoice.due_on:%d %B %Y}.\n\n{_lines(invoice)}\n\n{how}\n\n{clinic}"
    )
    _send(session, invoice, patient, DUE_KIND, f"Your bill {invoice.number}: {amount} due", text)


def overdue(
    session: Session, invoice: Invoice, patient: Patient, due_minor: int, public_base_url: str
) -> None:
    clinic = messaging.sender_name(session, invoice.clinic_id)
    name, whose = _greeting(session, patient)
    amount = shown(due_minor, invoice.currency)
    url = bill_url(session, invoice, public_base_url)
    how = f"You can pay it online:\n{url}" if url else "You can pay it at the desk, or call us."
    text = (
        f"Dear {name},\n\n"
        f"Your bill{whose} {invoice.number} was due on {invoice.due_on:%d %B %Y} and "
        f"{amount} is still to pay. If you have paid in the meantime, thank you, and please "
        f"ignore this message.\n\n{how}\n\n{clinic}"
    )
    _send(session, invoice, patient, OVERDUE_KIND, f"Your bill {invoice.number} is overdue", text)


def receipt(
    session: Session,
    invoice: Invoice,
    payment: Payment,
    patient: Patient,
    paid_minor: int,
    public_base_url: str,
) -> None:
    clinic = messaging.sender_name(session, invoice.clinic_id)
    name, whose = _greeting(session, patient)
    amount = shown(payment.amount_minor, payment.currency)
    left = invoice.total_minor - paid_minor
    standing = (
        f"{invoice.number} is now paid in full."
        if left <= 0
        else f"{shown(left, invoice.currency)} is still to pay on {invoice.number}."
    )
    url = bill_url(session, invoice, public_base_url)
    where = f"\n\nYour receipt is in the patient portal:\n{url}" if url else ""
    day = payment.received_at.astimezone(clinic_zone(session, invoice.clinic_id))
    text = (
        f"Dear {name},\n\n"
        f"Thank you: we received {amount} ({payment.method.label.lower()}) on "
        f"{day:%d %B %Y} for your bill{whose}. {standing}{where}\n\n{clinic}"
    )
    _send(session, invoice, patient, RECEIPT_KIND, f"Receipt for {invoice.number}: {amount}", text)
