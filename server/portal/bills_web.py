"""The portal's Bills: the bills of the account holder and the family members on their
account at this clinic, one bill with its lines and payments, paying it online, the
receipt of each payment and a statement per person, both as PDF.

"Pay" is a POST (a GET or HEAD changes nothing, and starts nothing): it asks the payment
provider for a checkout and sends the patient there. The provider sends them back to
"Thank you", which says the payment is received only once it is recorded (by the
provider's webhook, or the development page); until then it says it is being confirmed,
with a link to look again. An admin viewing the portal as the patient may look at the
bills but not pay them. Every read of a bill is audited under who looked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from common.billing import InvoiceStatus, shown
from common.errors import Forbidden, NotFound
from common.portal import Relation
from server.audit import service as audit
from server.billing import payments, pdf, service
from server.billing.models import Invoice, Payment
from server.db import utcnow
from server.deps import DatabaseDep, SettingsDep
from server.patients.models import Patient
from server.portal.viewer import Person, PortalViewer, Viewer, see_other
from server.scheduling.service import clinic_zone
from server.web import limits
from server.web.pages import READ, WebRoute, render
from server.web.security import CheckedForm

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAYS_PER_HOUR = 20  # per account: a family's bills, with a few second tries
NOT_WHILE_VIEWING = (
    "You are viewing the portal as the patient: you may look at their bills, but paying "
    "them is for the patient."
)
NOT_ONLINE = (
    "Bills cannot be paid online at this clinic yet. Please pay at the desk, or call the clinic."
)
NO_RECEIPT = "There is no payment on this bill yet, so there is no receipt."


@dataclass(frozen=True)
class Line:
    description: str
    amount: str


@dataclass(frozen=True)
class Paid:
    payment_id: uuid.UUID
    when: str
    method: str
    amount: str


@dataclass(frozen=True)
class Bill:
    """One bill as the portal shows it."""

    invoice_id: uuid.UUID
    number: str
    person: Person
    status: InvoiceStatus
    overdue: bool
    issued: str
    due_on: str
    total: str
    due: str
    due_minor: int
    lines: list[Line]
    payments: list[Paid]

    @property
    def for_name(self) -> str:
        return "" if self.person.relation is Relation.SELF else self.person.name

    @property
    def to_pay(self) -> bool:
        return self.status is InvoiceStatus.OPEN and self.due_minor > 0

    @property
    def state(self) -> str:
        if self.status is InvoiceStatus.VOID:
            return "Cancelled by the clinic"
        if self.overdue:
            return "Overdue"
        return self.status.label


def _bill_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound(service.NOT_YOURS) from None


def _people(viewer: Viewer) -> dict[uuid.UUID, Person]:
    return {p.patient_id: p for p in viewer.people}


def _bills(session: Session, viewer: Viewer, invoices: list[Invoice]) -> list[Bill]:
    now = utcnow()
    zone = clinic_zone(session, viewer.clinic_id)
    today = service.local_today(session, viewer.clinic_id, now)
    people = _people(viewer)
    paid_by: dict[uuid.UUID, list[Payment]] = {i.id: [] for i in invoices}
    for payment in service.payments_of(
        session, viewer.clinic_id, invoice_ids=[i.id for i in invoices]
    ):
        if not payment.refund_reason:  # money to refund is the clinic's to sort out
            paid_by[payment.invoice_id].append(payment)
    shown_bills = []
    for invoice in invoices:
        paid = sum(p.amount_minor for p in paid_by[invoice.id])
        due = 0 if invoice.status is InvoiceStatus.VOID else max(0, invoice.total_minor - paid)
        shown_bills.append(
            Bill(
                invoice_id=invoice.id,
                number=invoice.number,
                person=people[invoice.patient_id],
                status=invoice.status,
                overdue=service.is_overdue(invoice, today),
                issued=f"{invoice.issued_at.astimezone(zone):%d %B %Y}",
                due_on=f"{invoice.due_on:%d %B %Y}",
                total=shown(invoice.total_minor, invoice.currency),
                due=shown(due, invoice.currency),
                due_minor=due,
                lines=[
                    Line(
                        str(line["description"]), shown(int(line["amount_minor"]), invoice.currency)
                    )
                    for line in invoice.lines
                ],
                payments=[
                    Paid(
                        p.id,
                        f"{p.received_at.astimezone(zone):%d %B %Y}",
                        p.method.label,
                        shown(p.amount_minor, p.currency),
                    )
                    for p in paid_by[invoice.id]
                ],
            )
        )
    return shown_bills


def _page(
    request: Request,
    viewer: Viewer,
    template: str,
    context: dict[str, object],
    *,
    status: int = 200,
    checkout_origin: str | None = None,
) -> Response:
    response = render(
        request,
        template,
        {"viewer": viewer, "section": "bills", **context},
        brand=viewer.brand,
        private=True,
        status=status,
    )
    if checkout_origin:
        # The Pay form's answer sends the browser on to the provider's checkout, and
        # browsers hold a form's redirect to the page's form-action too.
        policy = response.headers["content-security-policy"]
        response.headers["content-security-policy"] = policy.replace(
            "form-action 'self'", f"form-action 'self' {checkout_origin}"
        )
    return response


# --- the list -------------------------------------------------------------------------------


@router.api_route("/portal/{slug}/bills", methods=READ, response_class=HTMLResponse)
def bills(slug: str, request: Request, db: DatabaseDep, viewer: PortalViewer) -> Response:
    with db.reading() as session:
        shown_bills = _bills(
            session, viewer, service.invoices_of(session, viewer.clinic_id, _people(viewer))
        )
    audit.read(
        db,
        viewer.ctx(),
        entity="invoices",
        record_count=len(shown_bills),
        reason=f"bills of the account's people, read by {viewer.actor()}",
    )
    billed = {b.person.patient_id for b in shown_bills}
    return _page(
        request,
        viewer,
        "portal/bills.html",
        {
            "to_pay": [b for b in shown_bills if b.to_pay],
            "done": [b for b in shown_bills if not b.to_pay],
            "statements": [p for p in viewer.people if p.patient_id in billed],
        },
    )


# --- one bill -------------------------------------------------------------------------------


def _detail(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    viewer: Viewer,
    bill_id: str,
    *,
    notice: str = "",
    problem: str = "",
    status: int = 200,
) -> Response:
    wanted = _bill_id(bill_id)
    with db.reading() as session:
        invoice = service.find_invoice(
            session, viewer.clinic_id, wanted, patient_ids=_people(viewer)
        )
        [bill] = _bills(session, viewer, [invoice])
    audit.read(
        db,
        viewer.ctx(bill.person.patient_id),
        entity="invoices",
        entity_id=wanted,
        reason=f"bill {bill.number}, read by {viewer.actor()}",
    )
    provider = payments.provider_from(settings)
    origin = provider.checkout_origin if provider is not None else None
    return _page(
        request,
        viewer,
        "portal/bills_detail.html",
        {
            "bill": bill,
            "notice": notice,
            "problem": problem,
            "online": provider is not None,
        },
        status=status,
        checkout_origin=origin,
    )


@router.api_route("/portal/{slug}/bills/{bill_id}", methods=READ, response_class=HTMLResponse)
def bill(
    slug: str,
    bill_id: str,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    viewer: PortalViewer,
    cancelled: str | None = None,
) -> Response:
    notice = "Payment cancelled: nothing was taken. You can pay later." if cancelled == "1" else ""
    return _detail(request, db, settings, viewer, bill_id, notice=notice)


@router.post("/portal/{slug}/bills/{bill_id}/pay", response_class=HTMLResponse)
def pay(
    slug: str,
    bill_id: str,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    viewer: PortalViewer,
    form: CheckedForm,
) -> Response:
    """Start paying: the provider's checkout for what is still due, then back here."""
    if viewer.impersonating:
        raise Forbidden(NOT_WHILE_VIEWING)
    wanted = _bill_id(bill_id)
    provider = payments.provider_from(settings)
    if provider is None:
        return _detail(request, db, settings, viewer, bill_id, problem=NOT_ONLINE, status=409)
    limits.hit(
        db,
        "portal-pay",
        limits.keyed(settings, "portal-account", str(viewer.account_id)),
        limit=PAYS_PER_HOUR,
        window=timedelta(hours=1),
        what="payments started",
    )
    now = utcnow()
    with db.reading() as session:
        invoice = service.find_invoice(
            session, viewer.clinic_id, wanted, patient_ids=_people(viewer)
        )
        due = invoice.total_minor - service.paid_on(session, invoice)
        open_one = service.open_checkout(session, invoice, provider.name, due, now)
        to_pay = payments.ToPay(
            invoice_id=invoice.id,
            clinic_id=invoice.clinic_id,
            number=invoice.number,
            clinic_name=viewer.brand.name,
            amount_minor=due,
            currency=invoice.currency,
            email=viewer.email,
        )
        payable = invoice.status is InvoiceStatus.OPEN and due > 0
    if not payable:
        return see_other(f"{viewer.base()}/bills/{wanted}")
    if open_one is not None:  # Pay pressed again: the checkout already open, not another
        return see_other(open_one.url)
    here = f"{settings.public_base_url.rstrip('/')}{viewer.base()}/bills/{wanted}"
    try:
        started = provider.start_checkout(
            to_pay,
            success_url=f"{here}/paid?session={payments.SESSION_PLACEHOLDER}",
            cancel_url=f"{here}?cancelled=1",
            now=now.timestamp(),
        )
    except payments.PaymentUnavailable as refused:
        return _detail(request, db, settings, viewer, bill_id, problem=refused.message, status=503)
    with db.writing() as session:
        service.keep_checkout(
            session,
            service.find_invoice(session, viewer.clinic_id, wanted, lock=True),
            provider.name,
            (
                started.session_id,
                started.url,
                datetime.fromtimestamp(started.expires_at, UTC),
            ),
            due,
            now,
        )
    audit.read(
        db,
        viewer.ctx(invoice.patient_id),
        action="pay",
        entity="invoices",
        entity_id=wanted,
        reason=f"online payment of {invoice.number} started by {viewer.actor()}",
    )
    return see_other(started.url)


@router.api_route("/portal/{slug}/bills/{bill_id}/paid", methods=READ, response_class=HTMLResponse)
def paid(
    slug: str,
    bill_id: str,
    request: Request,
    db: DatabaseDep,
    viewer: PortalViewer,
    session: str = "",
) -> Response:
    """Where the provider sends the patient back. Says "received" only once the payment
    is recorded; the webhook may come a moment after the patient does."""
    wanted = _bill_id(bill_id)
    with db.reading() as reading:
        invoice = service.find_invoice(
            reading, viewer.clinic_id, wanted, patient_ids=_people(viewer)
        )
        [shown_bill] = _bills(reading, viewer, [invoice])
    audit.read(
        db,
        viewer.ctx(shown_bill.person.patient_id),
        entity="invoices",
        entity_id=wanted,
        reason=f"bill {shown_bill.number} after paying, read by {viewer.actor()}",
    )
    return _page(
        request,
        viewer,
        "portal/bills_paid.html",
        {
            "bill": shown_bill,
            "received": shown_bill.status is InvoiceStatus.PAID,
            "again": f"{viewer.base()}/bills/{wanted}/paid"
            + (f"?session={session}" if session.isascii() and session.isprintable() else ""),
        },
    )


# --- papers ---------------------------------------------------------------------------------


@router.api_route(
    "/portal/{slug}/bills/{bill_id}/receipt.pdf", methods=READ, response_class=Response
)
def receipt(
    slug: str,
    bill_id: str,
    request: Request,
    db: DatabaseDep,
    viewer: PortalViewer,
    payment: str | None = None,
) -> Response:
    """The receipt of a payment on this bill (the latest, unless one is named)."""
    wanted = _bill_id(bill_id)
    with db.reading() as session:
        invoice = service.find_invoice(
            session, viewer.clinic_id, wanted, patient_ids=_people(viewer)
        )
        made = [
            p
            for p in service.payments_of(session, viewer.clinic_id, invoice_ids=[invoice.id])
            if not p.refund_reason
        ]
        chosen = next((p for p in made if str(p.id) == payment), None) if payment else None
        if payment and chosen is None:
            raise NotFound(NO_RECEIPT)
        chosen = chosen or (made[-1] if made else None)
        if chosen is None:
            raise NotFound(NO_RECEIPT)
        body = pdf.receipt_of(session, viewer.clinic_id, chosen)
        number, patient_id, payment_id = invoice.number, invoice.patient_id, chosen.id
    audit.read(
        db,
        viewer.ctx(patient_id),
        entity="payments",
        entity_id=payment_id,
        reason=f"receipt for {number} as PDF, by {viewer.actor()}",
    )
    return pdf.attachment(body, f"receipt-{number}.pdf")


@router.api_route("/portal/{slug}/statement.pdf", methods=READ, response_class=Response)
def statement(
    slug: str, request: Request, db: DatabaseDep, viewer: PortalViewer, person: str | None = None
) -> Response:
    """One person's statement: their bills, their payments, what is owed."""
    who = viewer.person(person)
    with db.reading() as session:
        patient = session.get(Patient, who.patient_id)
        if patient is None:
            raise NotFound("There is nobody like that on your account.")
        body = pdf.statement_of(session, viewer.clinic_id, patient, utcnow())
    audit.read(
        db,
        viewer.ctx(who.patient_id),
        entity="invoices",
        reason=f"statement of {who.name} as PDF, by {viewer.actor()}",
    )
    return pdf.attachment(body, "statement.pdf")


def count_to_pay(session: Session, viewer: Viewer) -> int:
    """How many bills the viewer's people have to pay (the home page says so)."""
    return service.count_to_pay(session, viewer.clinic_id, _people(viewer))
