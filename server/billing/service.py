"""The rules of bills: issuing an invoice (typed at the desk, or from a completed
appointment at its type's price), taking a payment at the desk or online, voiding, and
what a patient owes.

Every query is scoped by the caller's clinic; a bill of another clinic, or of another
patient than the one asked about, is simply not found. Services flush and never commit:
the endpoint's ``db.writing()`` commits, with the audit row and the message the change
prompts (``server.billing.notices``) in the same transaction, so a bill is never issued
without its "payment due" e-mail, nor the e-mail sent for a bill that was rolled back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common import billing as rules
from common.appointments import AppointmentStatus
from common.billing import InvoiceStatus, PaymentMethod
from common.errors import Conflict, InvalidInput, NotFound
from common.roles import Permission
from server import kit
from server.audit import service as audit
from server.auth.context import AuthContext
from server.billing import notices
from server.billing.models import Checkout, Invoice, Payment, PaymentEvent, TypePrice
from server.clinics.models import Clinic
from server.db import utcnow
from server.patients.models import Patient
from server.scheduling.models import Appointment, AppointmentType
from server.scheduling.service import clinic_zone

NUMBER_PREFIX = "INV-"
NOT_YOURS = "There is no such bill on your account. Check the link, or call the clinic."


def number_of(sequence: int) -> str:
    return f"{NUMBER_PREFIX}{sequence:05d}"


def currency_of(session: Session, clinic_id: uuid.UUID) -> str:
    """What the clinic bills in: its country's currency."""
    clinic = session.get(Clinic, clinic_id)
    return rules.currency_for(clinic.country if clinic else None)


def local_today(session: Session, clinic_id: uuid.UUID, now: datetime) -> date:
    return now.astimezone(clinic_zone(session, clinic_id)).date()


def _next_sequence(session: Session, clinic_id: uuid.UUID) -> int:
    """The clinic's next invoice number, with the clinic's row locked until commit: two
    desks issuing at once get 41 and 42, never both 42, and a rolled-back invoice
    gives its number back (nothing is taken before the commit that keeps it)."""
    session.execute(select(Clinic.id).where(Clinic.id == clinic_id).with_for_update())
    last = session.scalar(select(func.max(Invoice.sequence)).where(Invoice.clinic_id == clinic_id))
    return (last or 0) + 1


def _due_on(session: Session, clinic_id: uuid.UUID, due_on: date | None, now: datetime) -> date:
    today = local_today(session, clinic_id, now)
    if due_on is None:
        return today + timedelta(days=rules.DEFAULT_DUE_DAYS)
    if due_on < today:
        raise InvalidInput("The due date is in the past: choose today or a later day.")
    if due_on > today + timedelta(days=rules.LONGEST_DUE_DAYS):
        raise InvalidInput("The due date is more than a year away: choose an earlier day.")
    return due_on


@dataclass(frozen=True, slots=True)
class Issue:
    """What a new invoice is: whose, which lines, when due. ``invoice_id`` is chosen by
    the desk, so a request retried after a lost answer finds the invoice it made rather
    than issuing a second one."""

    invoice_id: uuid.UUID
    patient_id: uuid.UUID
    lines: Sequence[rules.Line | dict[str, object]]
    due_on: date | None = None
    appointment_id: uuid.UUID | None = None


def _already(session: Session, ctx: AuthContext, issue: Issue) -> Invoice | None:
    found = session.get(Invoice, issue.invoice_id)
    if found is None:
        return None
    if found.clinic_id != ctx.clinic_id or found.patient_id != issue.patient_id:
        raise Conflict("This invoice was issued already, to someone else. Start a new one.")
    return found


def issue(
    session: Session,
    ctx: AuthContext,
    what: Issue,
    *,
    now: datetime | None = None,
    public_base_url: str = "",
) -> Invoice:
    """Issue an invoice, numbered next in the clinic's run, and e-mail the patient that
    payment is due (with a link to pay in the portal)."""
    ctx.require(Permission.BILLING_MANAGE)
    now = now or utcnow()
    patient = kit.live(session, Patient, ctx.clinic_id, what.patient_id, what="patient")
    done = _already(session, ctx, what)
    if done is not None:
        return done
    currency = currency_of(session, ctx.clinic_id)
    lines = rules.check_lines(what.lines, currency)
    due_on = _due_on(session, ctx.clinic_id, what.due_on, now)
    sequence = _next_sequence(session, ctx.clinic_id)
    # Again under the numbering lock: the same request sent twice at once waited here
    # for the first, whose invoice is now there to answer with.
    done = _already(session, ctx, what)
    if done is not None:
        return done
    invoice = Invoice(
        id=what.invoice_id,
        clinic_id=ctx.clinic_id,
        sequence=sequence,
        number=number_of(sequence),
        patient_id=patient.id,
        appointment_id=what.appointment_id,
        lines=[line.to_json() for line in lines],
        total_minor=rules.total(lines),
        currency=currency,
        issued_at=now,
        due_on=due_on,
        status=InvoiceStatus.OPEN,
        created_by_staff_id=ctx.staff_id,
    )
    session.add(invoice)
    session.flush()
    audit.record(
        session,
        ctx,
        action="issue",
        entity="invoices",
        entity_id=invoice.id,
        reason=(
            f"invoice {invoice.number} for {rules.shown(invoice.total_minor, currency)} "
            f"to patient {patient.id}"
        ),
    )
    notices.payment_due(session, invoice, patient, public_base_url)
    return invoice


def price_of(session: Session, clinic_id: uuid.UUID, type_id: uuid.UUID | None) -> int | None:
    if type_id is None:
        return None
    return session.scalar(
        select(TypePrice.amount_minor).where(
            TypePrice.clinic_id == clinic_id, TypePrice.appointment_type_id == type_id
        )
    )


def _live_invoice_for(
    session: Session, clinic_id: uuid.UUID, appointment_id: uuid.UUID
) -> Invoice | None:
    return session.scalar(
        select(Invoice).where(
            Invoice.clinic_id == clinic_id,
            Invoice.appointment_id == appointment_id,
            Invoice.status != InvoiceStatus.VOID,
        )
    )


def appointment_line(session: Session, appointment: Appointment) -> rules.Line:
    """The line an appointment's invoice gets: its type and local date, at the type's
    price. Refused in words when it cannot be invoiced yet."""
    kind = (
        session.get(AppointmentType, appointment.appointment_type_id)
        if appointment.appointment_type_id
        else None
    )
    if kind is None:
        raise InvalidInput(
            "This appointment has no appointment type, so it has no price: issue a new "
            "invoice with the lines typed instead."
        )
    price = price_of(session, appointment.clinic_id, kind.id)
    if price is None:
        raise InvalidInput(
            f"“{kind.name}” has no price yet: a clinic admin sets it under Settings → "
            "Prices. Then invoice the appointment again."
        )
    zone = clinic_zone(session, appointment.clinic_id)
    day = appointment.starts_at.astimezone(zone)
    return rules.Line(f"{kind.name}, {day:%d %B %Y}", price)


def invoice_appointment(
    session: Session,
    ctx: AuthContext,
    appointment_id: uuid.UUID,
    *,
    invoice_id: uuid.UUID,
    due_on: date | None = None,
    now: datetime | None = None,
    public_base_url: str = "",
) -> Invoice:
    """Invoice a completed appointment at its type's price. Refused in words when it is
    not completed, its type has no price, or it has an invoice already (a void one
    aside)."""
    ctx.require(Permission.BILLING_MANAGE)
    appointment = kit.live(session, Appointment, ctx.clinic_id, appointment_id, what="appointment")
    earlier = session.get(Invoice, invoice_id)
    if earlier is not None:  # this very request, retried after its answer was lost
        if earlier.clinic_id == ctx.clinic_id and earlier.appointment_id == appointment.id:
            return earlier
        raise Conflict("This invoice was issued already, for something else. Start again.")
    if appointment.status is not AppointmentStatus.COMPLETED:
        raise InvalidInput(
            f"This appointment is {appointment.status.label.lower()}, not completed: only a "
            "completed appointment is invoiced. Mark it completed in the diary first."
        )
    # The numbering lock first: two desks invoicing the same visit at once queue here,
    # and the second finds the first's invoice below.
    session.execute(select(Clinic.id).where(Clinic.id == ctx.clinic_id).with_for_update())
    existing = _live_invoice_for(session, ctx.clinic_id, appointment.id)
    if existing is not None:
        raise Conflict(
            f"This appointment is on invoice {existing.number} already. Void that invoice "
            "first if it is wrong."
        )
    line = appointment_line(session, appointment)
    return issue(
        session,
        ctx,
        Issue(invoice_id, appointment.patient_id, [line], due_on, appointment.id),
        now=now,
        public_base_url=public_base_url,
    )


# --- reading --------------------------------------------------------------------------------


def find_invoice(
    session: Session,
    clinic_id: uuid.UUID,
    invoice_id: uuid.UUID,
    *,
    patient_ids: Iterable[uuid.UUID] | None = None,
    lock: bool = False,
) -> Invoice:
    """One invoice of this clinic (and of these patients, when given); anything else is
    not found, whatever it is."""
    invoice = kit.find(session, Invoice, clinic_id, invoice_id, lock=lock)
    if invoice is None:
        raise kit.not_found("invoice") if patient_ids is None else NotFound(NOT_YOURS)
    if patient_ids is not None and invoice.patient_id not in set(patient_ids):
        raise NotFound(NOT_YOURS)
    return invoice


def invoices_of(
    session: Session, clinic_id: uuid.UUID, patient_ids: Iterable[uuid.UUID]
) -> list[Invoice]:
    """These patients' invoices at this clinic, newest first."""
    ids = list(patient_ids)
    if not ids:
        return []
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.clinic_id == clinic_id, Invoice.patient_id.in_(ids))
            .order_by(Invoice.issued_at.desc(), Invoice.sequence.desc())
        )
    )


def payments_of(
    session: Session,
    clinic_id: uuid.UUID,
    *,
    patient_ids: Iterable[uuid.UUID] = (),
    invoice_ids: Iterable[uuid.UUID] = (),
) -> list[Payment]:
    """Payments of these patients (or against these invoices) at this clinic, oldest
    first."""
    query = select(Payment).where(Payment.clinic_id == clinic_id)
    patients, invoices = list(patient_ids), list(invoice_ids)
    if patients:
        query = query.where(Payment.patient_id.in_(patients))
    elif invoices:
        query = query.where(Payment.invoice_id.in_(invoices))
    else:
        return []
    return list(session.scalars(query.order_by(Payment.received_at, Payment.id)))


def paid_on(session: Session, invoice: Invoice) -> int:
    """What was paid toward the bill (money kept to refund counts for nothing)."""
    return (
        session.scalar(
            select(func.sum(Payment.amount_minor)).where(
                Payment.clinic_id == invoice.clinic_id,
                Payment.invoice_id == invoice.id,
                Payment.refund_reason == "",
            )
        )
        or 0
    )


def is_overdue(invoice: Invoice, today: date) -> bool:
    return invoice.status is InvoiceStatus.OPEN and invoice.due_on < today


@dataclass(frozen=True, slots=True)
class Account:
    """A patient's bills at one clinic, as a statement shows them."""

    patient: Patient
    currency: str
    invoices: list[Invoice]
    payments: list[Payment]
    today: date

    def paid(self, invoice: Invoice) -> int:
        return sum(
            p.amount_minor
            for p in self.payments
            if p.invoice_id == invoice.id and not p.refund_reason
        )

    def due(self, invoice: Invoice) -> int:
        if invoice.status is InvoiceStatus.VOID:
            return 0
        return max(0, invoice.total_minor - self.paid(invoice))

    @property
    def balance(self) -> int:
        """What the patient owes (negative: in credit). Void invoices count for nothing;
        every payment counts, so money taken against a bill voided later is a credit."""
        billed = sum(i.total_minor for i in self.invoices if i.status is not InvoiceStatus.VOID)
        return billed - sum(p.amount_minor for p in self.payments if not p.refund_reason)

    def number_of(self, invoice_id: uuid.UUID) -> str:
        return next((i.number for i in self.invoices if i.id == invoice_id), "")


def account_of(session: Session, clinic_id: uuid.UUID, patient: Patient, now: datetime) -> Account:
    return Account(
        patient=patient,
        currency=currency_of(session, clinic_id),
        invoices=invoices_of(session, clinic_id, [patient.id]),
        payments=payments_of(session, clinic_id, patient_ids=[patient.id]),
        today=local_today(session, clinic_id, now),
    )


def balance(session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> int:
    """What a patient owes the clinic now (negative: in credit)."""
    billed = session.scalar(
        select(func.sum(Invoice.total_minor)).where(
            Invoice.clinic_id == clinic_id,
            Invoice.patient_id == patient_id,
            Invoice.status != InvoiceStatus.VOID,
        )
    )
    paid = session.scalar(
        select(func.sum(Payment.amount_minor)).where(
            Payment.clinic_id == clinic_id,
            Payment.patient_id == patient_id,
            Payment.refund_reason == "",
        )
    )
    return (billed or 0) - (paid or 0)


def count_to_pay(session: Session, clinic_id: uuid.UUID, patient_ids: Iterable[uuid.UUID]) -> int:
    ids = list(patient_ids)
    if not ids:
        return 0
    return (
        session.scalar(
            select(func.count()).where(
                Invoice.clinic_id == clinic_id,
                Invoice.patient_id.in_(ids),
                Invoice.status == InvoiceStatus.OPEN,
            )
        )
        or 0
    )


def uninvoiced(
    session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID, *, limit: int = 50
) -> list[Appointment]:
    """The patient's completed appointments with no invoice (but void ones), newest
    first: what "Invoice appointment…" offers."""
    billed = select(Invoice.appointment_id).where(
        Invoice.clinic_id == clinic_id,
        Invoice.appointment_id.is_not(None),
        Invoice.status != InvoiceStatus.VOID,
    )
    return list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.clinic_id == clinic_id,
                Appointment.patient_id == patient_id,
                Appointment.status == AppointmentStatus.COMPLETED,
                Appointment.deleted_at.is_(None),
                Appointment.id.not_in(billed),
            )
            .order_by(Appointment.starts_at.desc())
            .limit(limit)
        )
    )


# --- payments -------------------------------------------------------------------------------


def _settle(invoice: Invoice, paid: int, now: datetime) -> None:
    if invoice.status is InvoiceStatus.OPEN and paid >= invoice.total_minor:
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = now


@dataclass(frozen=True, slots=True)
class TakePayment:
    """A payment taken at the desk. ``payment_id`` is chosen by the desk: a retried
    request finds the payment it recorded instead of taking the money twice."""

    payment_id: uuid.UUID
    amount_minor: int
    method: PaymentMethod


def record_payment(
    session: Session,
    ctx: AuthContext,
    invoice_id: uuid.UUID,
    taken: TakePayment,
    *,
    now: datetime | None = None,
    public_base_url: str = "",
) -> Payment:
    """Money taken at the desk against an open invoice, at most what is still due. The
    invoice is paid once its payments cover it; the patient gets a receipt."""
    ctx.require(Permission.BILLING_MANAGE)
    now = now or utcnow()
    invoice = find_invoice(session, ctx.clinic_id, invoice_id, lock=True)
    earlier = session.get(Payment, taken.payment_id)
    if earlier is not None:
        if earlier.clinic_id != ctx.clinic_id or earlier.invoice_id != invoice.id:
            raise Conflict("This payment was recorded already, on another bill.")
        return earlier
    if taken.method not in rules.DESK_METHODS:
        raise InvalidInput("At the desk a payment is taken in cash or by card.")
    if invoice.status is InvoiceStatus.VOID:
        raise Conflict(f"Invoice {invoice.number} is void: nothing is due on it.")
    if invoice.status is InvoiceStatus.PAID:
        raise Conflict(f"Invoice {invoice.number} is paid already.")
    due = invoice.total_minor - paid_on(session, invoice)
    rules.check_amount(taken.amount_minor, invoice.currency, what="The payment")
    if taken.amount_minor > due:
        raise InvalidInput(
            f"Only {rules.shown(due, invoice.currency)} is still due on {invoice.number}: "
            "take at most that."
        )
    payment = Payment(
        id=taken.payment_id,
        clinic_id=ctx.clinic_id,
        invoice_id=invoice.id,
        patient_id=invoice.patient_id,
        amount_minor=taken.amount_minor,
        currency=invoice.currency,
        method=taken.method,
        received_at=now,
        recorded_by_staff_id=ctx.staff_id,
    )
    session.add(payment)
    session.flush()
    _settle(invoice, paid_on(session, invoice), now)
    audit.record(
        session,
        ctx,
        action="payment",
        entity="invoices",
        entity_id=invoice.id,
        reason=(
            f"{rules.shown(payment.amount_minor, payment.currency)} taken at the desk "
            f"({payment.method.label.lower()}) on {invoice.number}"
        ),
    )
    _receipt(session, invoice, payment, public_base_url)
    session.flush()
    return payment


def _receipt(session: Session, invoice: Invoice, payment: Payment, public_base_url: str) -> None:
    patient = session.get(Patient, invoice.patient_id)
    if patient is not None and patient.deleted_at is None:
        notices.receipt(
            session, invoice, payment, patient, paid_on(session, invoice), public_base_url
        )


def void(
    session: Session, ctx: AuthContext, invoice_id: uuid.UUID, reason: str, *, now: datetime
) -> Invoice:
    """Call off an invoice issued in error, with the reason. It keeps its number (the
    run has no gaps); one with money taken against it stays, to be refunded first."""
    ctx.require(Permission.BILLING_MANAGE)
    words = rules.check_void_reason(reason)
    invoice = find_invoice(session, ctx.clinic_id, invoice_id, lock=True)
    if invoice.status is InvoiceStatus.VOID:
        return invoice
    if paid_on(session, invoice) > 0:
        raise Conflict(
            f"Money was taken against {invoice.number}, so it cannot be void: refund the "
            "payment first, outside Clinicdesk, and ask an admin."
        )
    invoice.status = InvoiceStatus.VOID
    invoice.voided_at = now
    invoice.void_reason = words
    audit.record(
        session,
        ctx,
        action="void",
        entity="invoices",
        entity_id=invoice.id,
        reason=f"invoice {invoice.number} void: {words}",
    )
    session.flush()
    return invoice


# --- online payments ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Completed:
    """A payment a provider says is complete (its checkout session paid), as read from
    its verified webhook, or from the development page: both take this one path."""

    provider: str
    event_id: str
    kind: str
    session_id: str
    invoice_id: uuid.UUID | None
    clinic_id: uuid.UUID | None
    amount_minor: int
    currency: str


def seen(session: Session, provider: str, event_id: str) -> bool:
    return (
        session.scalar(
            select(PaymentEvent.id).where(
                PaymentEvent.provider == provider, PaymentEvent.event_id == event_id
            )
        )
        is not None
    )


def note_event(session: Session, provider: str, event_id: str, kind: str, outcome: str) -> None:
    """An event with nothing to do (another type), kept so a repeat is known."""
    session.add(
        PaymentEvent(provider=provider, event_id=event_id[:255], kind=kind[:64], outcome=outcome)
    )
    session.flush()


CHECKOUT_REUSE_MARGIN = timedelta(minutes=5)


def open_checkout(
    session: Session, invoice: Invoice, provider: str, amount_minor: int, now: datetime
) -> Checkout | None:
    """A checkout of this bill still open for this amount, with time left to pay it: a
    second Pay sends the patient back to it rather than starting another."""
    return session.scalar(
        select(Checkout)
        .where(
            Checkout.clinic_id == invoice.clinic_id,
            Checkout.invoice_id == invoice.id,
            Checkout.provider == provider,
            Checkout.amount_minor == amount_minor,
            Checkout.currency == invoice.currency,
            Checkout.closed_at.is_(None),
            Checkout.expires_at > now + CHECKOUT_REUSE_MARGIN,
        )
        .order_by(Checkout.expires_at.desc())
        .limit(1)
    )


def keep_checkout(
    session: Session,
    invoice: Invoice,
    provider: str,
    started: tuple[str, str, datetime],
    amount_minor: int,
    now: datetime,
) -> Checkout:
    """Store a checkout just started (its session id, address and end), closing the
    bill's older open ones: money one of those takes now is kept to refund."""
    session_id, url, expires_at = started
    for older in session.scalars(
        select(Checkout).where(
            Checkout.clinic_id == invoice.clinic_id,
            Checkout.invoice_id == invoice.id,
            Checkout.closed_at.is_(None),
        )
    ):
        older.closed_at = now
    checkout = Checkout(
        clinic_id=invoice.clinic_id,
        provider=provider,
        session_id=session_id[:255],
        invoice_id=invoice.id,
        amount_minor=amount_minor,
        currency=invoice.currency,
        url=url,
        expires_at=expires_at,
    )
    session.add(checkout)
    session.flush()
    return checkout


def _stored_checkout(session: Session, event: Completed) -> Checkout | None:
    """The checkout this server started that the event is about, when every part the
    event names matches it; None for any other session, whatever it says."""
    checkout = session.scalar(
        select(Checkout).where(
            Checkout.provider == event.provider, Checkout.session_id == event.session_id
        )
    )
    if checkout is None:
        return None
    if (
        event.invoice_id != checkout.invoice_id
        or event.clinic_id != checkout.clinic_id
        or event.amount_minor != checkout.amount_minor
        or event.currency.upper() != checkout.currency
    ):
        return None
    return checkout


def record_online(
    session: Session, event: Completed, *, now: datetime, public_base_url: str = ""
) -> str:
    """Record a completed online payment once: by the provider's event id (the same
    event delivered again does nothing) and by its checkout session (two events about
    one session record one payment). Only a checkout this server started and stored
    counts; any other paid session is noted and ignored. Returns what was done, in a
    word."""
    if seen(session, event.provider, event.event_id):
        return "repeat"
    checkout = _stored_checkout(session, event)
    invoice = (
        session.scalar(
            select(Invoice)
            .where(Invoice.id == checkout.invoice_id, Invoice.clinic_id == checkout.clinic_id)
            .with_for_update()
        )
        if checkout is not None
        else None
    )
    outcome = (
        _apply(session, invoice, checkout, event, now, public_base_url)
        if invoice is not None and checkout is not None
        else "ignored"
    )
    session.add(
        PaymentEvent(
            provider=event.provider,
            event_id=event.event_id[:255],
            kind=event.kind[:64],
            clinic_id=invoice.clinic_id if invoice else None,
            invoice_id=invoice.id if invoice else None,
            outcome=outcome,
            received_at=now,
        )
    )
    session.flush()
    return outcome


def _refund_reason(invoice: Invoice, checkout: Checkout, due: int, now: datetime) -> str:
    """Why the bill cannot take this checkout's money ("" when it can)."""
    if invoice.status is InvoiceStatus.VOID:
        return "paid online after the bill was voided"
    if invoice.status is InvoiceStatus.PAID or due <= 0:
        return "paid online after the bill was settled"
    if checkout.closed_at is not None or checkout.expires_at < now:
        return "paid online through a checkout given up for a newer one"
    if checkout.amount_minor > due:
        return f"paid online when only {rules.shown(due, invoice.currency)} was still due"
    return ""


def refund_words(payment: Payment, number: str) -> str:
    """What staff are told of money kept to refund ("" for a payment that counts)."""
    if not payment.refund_reason:
        return ""
    return (
        f"{rules.shown(payment.amount_minor, payment.currency)} {payment.refund_reason} "
        f"({number}): refund it in Stripe."
        if payment.provider_reference and not payment.provider_reference.startswith("dev_")
        else f"{rules.shown(payment.amount_minor, payment.currency)} {payment.refund_reason} "
        f"({number}): it is a test payment, nothing to refund."
    )


def _apply(
    session: Session,
    invoice: Invoice,
    checkout: Checkout,
    event: Completed,
    now: datetime,
    public_base_url: str,
) -> str:
    already = session.scalar(
        select(Payment.id).where(Payment.provider_reference == event.session_id)
    )
    if already is not None:
        return "already_recorded"
    if checkout.amount_minor <= 0:
        return "amount_mismatch"  # the provider holds the money; staff reconcile by hand
    due = invoice.total_minor - paid_on(session, invoice)
    refund = _refund_reason(invoice, checkout, due, now)
    payment = Payment(
        clinic_id=invoice.clinic_id,
        invoice_id=invoice.id,
        patient_id=invoice.patient_id,
        amount_minor=checkout.amount_minor,
        currency=invoice.currency,
        method=PaymentMethod.CARD_ONLINE,
        provider_reference=event.session_id[:255],
        received_at=now,
        refund_reason=refund,
    )
    session.add(payment)
    session.flush()
    if not refund:
        _settle(invoice, paid_on(session, invoice), now)
    audit.record(
        session,
        AuthContext.for_patient(invoice.clinic_id, invoice.patient_id),
        action="payment",
        entity="invoices",
        entity_id=invoice.id,
        reason=(
            f"{rules.shown(payment.amount_minor, payment.currency)} paid online "
            f"({event.provider}) on {invoice.number}" + (f", to refund: {refund}" if refund else "")
        ),
    )
    if refund:
        return "needs_refund"
    _receipt(session, invoice, payment, public_base_url)
    return "recorded"


# --- prices ---------------------------------------------------------------------------------


def prices(
    session: Session, clinic_id: uuid.UUID
) -> list[tuple[AppointmentType, TypePrice | None]]:
    """Every live appointment type of the clinic with its price (None: no price)."""
    kinds = session.scalars(
        select(AppointmentType)
        .where(AppointmentType.clinic_id == clinic_id, AppointmentType.deleted_at.is_(None))
        .order_by(AppointmentType.active.desc(), AppointmentType.name)
    ).all()
    set_prices = {
        p.appointment_type_id: p
        for p in session.scalars(select(TypePrice).where(TypePrice.clinic_id == clinic_id))
    }
    return [(kind, set_prices.get(kind.id)) for kind in kinds]


def save_prices(
    session: Session, ctx: AuthContext, wanted: Sequence[tuple[uuid.UUID, int | None]]
) -> None:
    """Set (or, with None, remove) the price of each type named. Invoices already issued
    keep the price they were issued at."""
    ctx.require(Permission.SETTINGS_MANAGE)
    currency = currency_of(session, ctx.clinic_id)
    for type_id, amount in wanted:
        kind = kit.live(session, AppointmentType, ctx.clinic_id, type_id, what="appointment type")
        if amount is not None:
            rules.check_amount(amount, currency, what=f"The price of “{kind.name}”")
        row = session.scalar(
            select(TypePrice).where(
                TypePrice.clinic_id == ctx.clinic_id, TypePrice.appointment_type_id == kind.id
            )
        )
        if amount is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(
                TypePrice(
                    clinic_id=ctx.clinic_id,
                    appointment_type_id=kind.id,
                    amount_minor=amount,
                    currency=currency,
                    changed_by_staff_id=ctx.staff_id,
                )
            )
        elif row.amount_minor != amount or row.currency != currency:
            row.amount_minor, row.currency = amount, currency
            row.changed_by_staff_id = ctx.staff_id
    audit.record(
        session,
        ctx,
        action="save",
        entity="type_prices",
        record_count=len(wanted),
        reason="prices of appointment types",
    )
    session.flush()


# --- overdue bills --------------------------------------------------------------------------


def due_overdue_notices(
    session: Session, now: datetime, *, limit: int = 200, lock: bool = False
) -> list[Invoice]:
    """Open invoices past their due date (on their clinic's calendar) whose patient has
    not been told yet. With ``lock``, claimed: another dispatcher process skips them."""
    query = (
        select(Invoice)
        .where(
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.overdue_noticed_at.is_(None),
            Invoice.due_on < (now + timedelta(days=1)).date(),
        )
        .order_by(Invoice.due_on, Invoice.id)
        .limit(limit)
    )
    if lock:
        query = query.with_for_update(skip_locked=True)
    found = list(session.scalars(query))
    return [i for i in found if i.due_on < local_today(session, i.clinic_id, now)]


def send_overdue(session: Session, now: datetime, public_base_url: str) -> int:
    """Tell each patient once that a bill is overdue; how many were told."""
    told = 0
    for invoice in due_overdue_notices(session, now, lock=True):
        invoice.overdue_noticed_at = now
        patient = session.get(Patient, invoice.patient_id)
        if patient is None or patient.deleted_at is not None:
            continue
        due = invoice.total_minor - paid_on(session, invoice)
        notices.overdue(session, invoice, patient, due, public_base_url)
        told += 1
    session.flush()
    return told
