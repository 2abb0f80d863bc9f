"""Bills on the server, on both databases: numbers per clinic without gaps (two desks at
once too), invoices typed or from a completed appointment at its type's price (refused in
words when they cannot be), payments at the desk, voiding, balances, and the e-mails a
bill prompts (payment due with the portal's link, a receipt, overdue once)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from common.appointments import AppointmentStatus
from common.billing import InvoiceStatus, PaymentMethod
from common.errors import Conflict, Forbidden, InvalidInput, NotFound
from common.messaging import DeliveryStatus
from common.roles import Role
from server.audit.models import AuditEvent
from server.billing import notices, service
from server.billing.models import Invoice, Payment
from server.db import Database, transaction, utcnow
from server.messaging import runner
from server.patients.models import Patient
from tests.server.billing import billmaker
from tests.server.billing.billmaker import BASE_URL, Practice
from tests.server.conftest import Factory


@pytest.fixture
def north(factory: Factory, db: sessionmaker[Session]) -> Practice:
    return billmaker.practice(factory, db)


def take(
    db: sessionmaker[Session],
    at: Practice,
    invoice_id: uuid.UUID,
    amount: int,
    method: PaymentMethod = PaymentMethod.CASH,
) -> Payment:
    with transaction(db) as session:
        payment = service.record_payment(
            session,
            at.ctx(),
            invoice_id,
            service.TakePayment(uuid.uuid4(), amount, method),
            public_base_url=BASE_URL,
        )
        session.expunge(payment)
        return payment


# --- numbers --------------------------------------------------------------------------------


def test_each_clinic_numbers_its_invoices_one_after_the_other(
    factory: Factory, db: sessionmaker[Session], north: Practice
) -> None:
    south = billmaker.practice(factory, db, "south", "South Physio")
    first, second = billmaker.issue(db, north), billmaker.issue(db, north)
    with transaction(db) as session:
        service.void(session, north.ctx(), second, "typed twice", now=utcnow())
    third = billmaker.issue(db, north)
    elsewhere = billmaker.issue(db, south)
    numbers = [billmaker.invoice(db, i).number for i in (first, second, third, elsewhere)]
    assert numbers == ["INV-00001", "INV-00002", "INV-00003", "INV-00001"]
    assert billmaker.invoice(db, second).status is InvoiceStatus.VOID


def test_a_refused_invoice_takes_no_number(db: sessionmaker[Session], north: Practice) -> None:
    with pytest.raises(InvalidInput), transaction(db) as session:
        service.issue(
            session,
            north.ctx(),
            service.Issue(uuid.uuid4(), north.patient_id, [{"description": "", "amount_minor": 5}]),
        )
    assert billmaker.invoice(db, billmaker.issue(db, north)).number == "INV-00001"


def test_desks_issuing_at_once_get_consecutive_numbers(
    app: FastAPI, db: sessionmaker[Session], north: Practice
) -> None:
    database: Database = app.state.database
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def desk() -> None:
        try:
            start.wait(timeout=10)
            with database.writing() as session:
                service.issue(
                    session,
                    north.ctx(),
                    service.Issue(
                        uuid.uuid4(),
                        north.patient_id,
                        [{"description": "Visit", "amount_minor": 4500}],
                    ),
                )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=desk) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with db() as session:
        sequences = sorted(session.scalars(select(Invoice.sequence)))
    assert sequences == list(range(1, 9))


def test_a_retried_issue_finds_the_invoice_it_made(
    db: sessionmaker[Session], north: Practice
) -> None:
    what = service.Issue(
        uuid.uuid4(), north.patient_id, [{"description": "Visit", "amount_minor": 4500}]
    )
    for _ in range(2):
        with transaction(db) as session:
            service.issue(session, north.ctx(), what, public_base_url=BASE_URL)
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 1
    assert len(billmaker.emails(db, notices.DUE_KIND)) == 1


# --- issuing --------------------------------------------------------------------------------


def test_issuing_emails_the_patient_that_payment_is_due_with_the_portal_link(
    db: sessionmaker[Session], north: Practice
) -> None:
    invoice_id = billmaker.issue(db, north, 6000, 850)
    made = billmaker.invoice(db, invoice_id)
    assert made.total_minor == 6850
    assert made.currency == "GBP"
    assert made.status is InvoiceStatus.OPEN
    assert made.due_on == datetime.now(north.where.zone).date() + timedelta(days=14)
    [email] = billmaker.emails(db, notices.DUE_KIND)
    assert email.to_address == "rosa@example.org"
    assert email.subject == f"Your bill {made.number}: £68.50 due"
    assert "£68.50" in email.text
    assert f"{made.due_on:%d %B %Y}" in email.text
    assert "- Treatment 2: £8.50" in email.text
    assert f"{BASE_URL}/portal/north/bills/{invoice_id}" in email.text
    with db() as session:
        trail = session.scalars(select(AuditEvent).where(AuditEvent.entity_id == invoice_id)).one()
    assert trail.action == "issue"
    assert trail.staff_id == north.clinic.front_desk.staff_id


def test_a_patient_without_an_address_gets_a_held_message_the_desk_can_see(
    db: sessionmaker[Session], north: Practice
) -> None:
    with transaction(db) as session:
        session.get_one(Patient, north.patient_id).email = None
    billmaker.issue(db, north)
    [email] = billmaker.emails(db, notices.DUE_KIND)
    assert email.status is DeliveryStatus.HELD
    assert "no e-mail address" in (email.error or "")


@pytest.mark.parametrize(("days", "says"), [(-1, "in the past"), (366, "more than a year away")])
def test_a_due_date_must_be_sensible(
    db: sessionmaker[Session], north: Practice, days: int, says: str
) -> None:
    due = datetime.now(north.where.zone).date() + timedelta(days=days)
    with pytest.raises(InvalidInput, match=says):
        billmaker.issue(db, north, due_on=due)


def test_another_clinics_patient_cannot_be_billed(
    factory: Factory, db: sessionmaker[Session], north: Practice
) -> None:
    south = billmaker.practice(factory, db, "south", "South Physio")
    with pytest.raises(NotFound):
        billmaker.issue(db, north, patient_id=south.patient_id)


def test_only_staff_who_bill_may_issue(db: sessionmaker[Session], north: Practice) -> None:
    lines = [{"description": "A", "amount_minor": 1}]
    for role in (Role.CLINIC_ADMIN, Role.BILLING, Role.FRONT_DESK):
        with transaction(db) as session:
            service.issue(
                session, north.ctx(role), service.Issue(uuid.uuid4(), north.patient_id, lines)
            )
    with pytest.raises(Forbidden), transaction(db) as session:
        service.issue(
            session, north.ctx(Role.READ_ONLY), service.Issue(uuid.uuid4(), north.patient_id, lines)
        )


# --- from an appointment --------------------------------------------------------------------


def test_a_completed_appointment_is_invoiced_at_its_types_price(
    db: sessionmaker[Session], north: Practice
) -> None:
    billmaker.price(db, north, 5500)
    visit = billmaker.visit(db, north)
    with transaction(db) as session:
        made = service.invoice_appointment(
            session, north.ctx(), visit, invoice_id=uuid.uuid4(), public_base_url=BASE_URL
        )
        made_id = made.id
    invoice = billmaker.invoice(db, made_id)
    assert invoice.appointment_id == visit
    assert invoice.total_minor == 5500
    [line] = invoice.lines
    assert line["description"].startswith("Follow-up, ")
    assert line["amount_minor"] == 5500


def test_an_appointment_without_a_price_is_refused_in_words(
    db: sessionmaker[Session], north: Practice
) -> None:
    visit = billmaker.visit(db, north)
    with pytest.raises(InvalidInput) as refused, transaction(db) as session:
        service.invoice_appointment(session, north.ctx(), visit, invoice_id=uuid.uuid4())
    assert "“Follow-up” has no price yet" in refused.value.message
    assert "Settings → Prices" in refused.value.message


@pytest.mark.parametrize(
    "status", [AppointmentStatus.BOOKED, AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW]
)
def test_only_a_completed_appointment_is_invoiced(
    db: sessionmaker[Session], north: Practice, status: AppointmentStatus
) -> None:
    billmaker.price(db, north, 5500)
    visit = billmaker.visit(db, north, status=status)
    with pytest.raises(InvalidInput) as refused, transaction(db) as session:
        service.invoice_appointment(session, north.ctx(), visit, invoice_id=uuid.uuid4())
    assert "not completed" in refused.value.message


def test_an_appointment_is_invoiced_once_until_its_invoice_is_void(
    db: sessionmaker[Session], north: Practice
) -> None:
    billmaker.price(db, north, 5500)
    visit = billmaker.visit(db, north)
    with transaction(db) as session:
        first = service.invoice_appointment(session, north.ctx(), visit, invoice_id=uuid.uuid4())
        first_id, number = first.id, first.number
    with pytest.raises(Conflict, match=f"on invoice {number} already"), transaction(db) as session:
        service.invoice_appointment(session, north.ctx(), visit, invoice_id=uuid.uuid4())
    with transaction(db) as session:
        assert [a.id for a in service.uninvoiced(session, north.id, north.patient_id)] == []
        service.void(session, north.ctx(), first_id, "wrong price", now=utcnow())
        assert [a.id for a in service.uninvoiced(session, north.id, north.patient_id)] == [visit]
        again = service.invoice_appointment(session, north.ctx(), visit, invoice_id=uuid.uuid4())
        assert again.number == "INV-00002"


def test_another_clinics_appointment_is_not_found(
    factory: Factory, db: sessionmaker[Session], north: Practice
) -> None:
    south = billmaker.practice(factory, db, "south", "South Physio")
    billmaker.price(db, south, 5500)
    theirs = billmaker.visit(db, south)
    with pytest.raises(NotFound), transaction(db) as session:
        service.invoice_appointment(session, north.ctx(), theirs, invoice_id=uuid.uuid4())


# --- payments and voiding -------------------------------------------------------------------


def test_payments_at_the_desk_settle_the_invoice_and_each_gets_a_receipt(
    db: sessionmaker[Session], north: Practice
) -> None:
    invoice_id = billmaker.issue(db, north, 6000)
    take(db, north, invoice_id, 2000)
    assert billmaker.invoice(db, invoice_id).status is InvoiceStatus.OPEN
    take(db, north, invoice_id, 4000, PaymentMethod.CARD_DESK)
    settled = billmaker.invoice(db, invoice_id)
    assert settled.status is InvoiceStatus.PAID
    assert settled.paid_at is not None
    first, second = billmaker.emails(db, notices.RECEIPT_KIND)
    assert "we received £20.00 (cash)" in first.text
    assert "£40.00 is still to pay on INV-00001" in first.text
    assert "we received £40.00 (card at the desk)" in second.text
    assert "INV-00001 is now paid in full" in second.text
    with db() as session:
        assert service.balance(session, north.id, north.patient_id) == 0


@pytest.mark.parametrize(
    ("amount", "method", "says"),
    [
        (6001, PaymentMethod.CASH, "Only £60.00 is still due"),
        (0, PaymentMethod.CASH, "more than nothing"),
        (100, PaymentMethod.CARD_ONLINE, "in cash or by card"),
    ],
)
def test_a_desk_payment_is_refused_in_words(
    db: sessionmaker[Session], north: Practice, amount: int, method: PaymentMethod, says: str
) -> None:
    invoice_id = billmaker.issue(db, north, 6000)
    with pytest.raises(InvalidInput, match=says):
        take(db, north, invoice_id, amount, method)
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 0


def test_nothing_is_taken_on_a_paid_or_void_invoice(
    db: sessionmaker[Session], north: Practice
) -> None:
    paid, void = billmaker.issue(db, north, 1000), billmaker.issue(db, north, 1000)
    take(db, north, paid, 1000)
    with transaction(db) as session:
        service.void(session, north.ctx(), void, "sent to the wrong patient", now=utcnow())
    with pytest.raises(Conflict, match="paid already"):
        take(db, north, paid, 1)
    with pytest.raises(Conflict, match="is void"):
        take(db, north, void, 1)


def test_a_retried_payment_is_taken_once(db: sessionmaker[Session], north: Practice) -> None:
    invoice_id = billmaker.issue(db, north, 6000)
    taken = service.TakePayment(uuid.uuid4(), 2500, PaymentMethod.CASH)
    for _ in range(2):
        with transaction(db) as session:
            service.record_payment(session, north.ctx(), invoice_id, taken)
    with db() as session:
        assert service.balance(session, north.id, north.patient_id) == 3500


def test_an_invoice_with_money_taken_is_not_voided(
    db: sessionmaker[Session], north: Practice
) -> None:
    invoice_id = billmaker.issue(db, north, 6000)
    take(db, north, invoice_id, 100)
    with pytest.raises(Conflict, match="refund the payment first"), transaction(db) as session:
        service.void(session, north.ctx(), invoice_id, "wrong", now=utcnow())
    with pytest.raises(InvalidInput, match="Say why"), transaction(db) as session:
        service.void(session, north.ctx(), billmaker.issue(db, north), "  ", now=utcnow())


def test_the_balance_leaves_out_void_invoices_and_counts_every_payment(
    db: sessionmaker[Session], north: Practice
) -> None:
    open_id = billmaker.issue(db, north, 4500)
    paid_id = billmaker.issue(db, north, 3000)
    void_id = billmaker.issue(db, north, 9900)
    take(db, north, paid_id, 3000)
    take(db, north, open_id, 500)
    with transaction(db) as session:
        service.void(session, north.ctx(), void_id, "duplicate", now=utcnow())
    with db() as session:
        patient = session.get_one(Patient, north.patient_id)
        account = service.account_of(session, north.id, patient, utcnow())
        assert account.balance == 4000
        assert service.balance(session, north.id, north.patient_id) == 4000
        assert [account.due(i) for i in account.invoices] == [0, 0, 4000]
        assert service.count_to_pay(session, north.id, [north.patient_id]) == 1


# --- overdue --------------------------------------------------------------------------------


def test_an_overdue_bill_is_told_once_and_a_paid_or_current_one_never(
    app: FastAPI, db: sessionmaker[Session], north: Practice
) -> None:
    long_ago = utcnow() - timedelta(days=40)
    late = billmaker.issue(db, north, 4500, now=long_ago)
    settled = billmaker.issue(db, north, 3000, now=long_ago)
    billmaker.issue(db, north, 2000)  # due in a fortnight
    take(db, north, late, 1500)
    take(db, north, settled, 3000)
    assert runner.bills_overdue(app.state.database, BASE_URL) == 1
    assert runner.bills_overdue(app.state.database, BASE_URL) == 0
    [email] = billmaker.emails(db, notices.OVERDUE_KIND)
    assert email.subject == "Your bill INV-00001 is overdue"
    assert "£30.00 is still to pay" in email.text
    assert f"{BASE_URL}/portal/north/bills/{late}" in email.text
    assert billmaker.invoice(db, late).overdue_noticed_at is not None


def test_a_bill_due_today_is_not_overdue_yet(db: sessionmaker[Session], north: Practice) -> None:
    today = datetime.now(north.where.zone).date()
    billmaker.issue(db, north, 4500, due_on=today)
    with transaction(db) as session:
        assert service.send_overdue(session, utcnow(), BASE_URL) == 0
        tomorrow = datetime.combine(
            today + timedelta(days=1), datetime.min.time(), north.where.zone
        )
        later = tomorrow.astimezone(UTC) + timedelta(hours=1)
        assert service.send_overdue(session, later, BASE_URL) == 1


# --- prices ---------------------------------------------------------------------------------


def test_prices_are_set_changed_and_removed_by_admins_only(
    db: sessionmaker[Session], north: Practice
) -> None:
    billmaker.price(db, north, 5500)
    billmaker.price(db, north, 6000)
    with db() as session:
        [(kind, price)] = service.prices(session, north.id)
        assert price is not None
        assert (kind.name, price.amount_minor, price.currency) == ("Follow-up", 6000, "GBP")
    with transaction(db) as session:
        service.save_prices(session, north.ctx(Role.CLINIC_ADMIN), [(north.where.type_id, None)])
    with db() as session:
        assert service.prices(session, north.id)[0][1] is None
    with pytest.raises(Forbidden), transaction(db) as session:
        service.save_prices(session, north.ctx(Role.FRONT_DESK), [(north.where.type_id, 100)])
    with pytest.raises(InvalidInput, match="more than nothing"), transaction(db) as session:
        service.save_prices(session, north.ctx(Role.CLINIC_ADMIN), [(north.where.type_id, 0)])
