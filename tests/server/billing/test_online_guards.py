"""What an online payment may record, on both databases: only a checkout this server
started and stored, matching it in every part, on a bill still open and owing at least
that much; anything else the provider took is kept to refund, never counted against the
bill, never receipted, and told to staff in words. And the races the locks exist for:
the same new invoice sent twice at once, and desks taking the last of a bill at once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import replace

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from common.billing import InvoiceStatus, PaymentMethod
from common.errors import Conflict, InvalidInput
from server.billing import endpoints, notices, service
from server.billing.models import Checkout, Invoice, Payment, PaymentEvent
from server.db import Database, transaction, utcnow
from tests.server.billing import billmaker
from tests.server.billing.billmaker import BASE_URL, Practice
from tests.server.conftest import Factory


@pytest.fixture
def north(factory: Factory, db: sessionmaker[Session]) -> Practice:
    return billmaker.practice(factory, db)


def completed(
    invoice_id: uuid.UUID, clinic_id: uuid.UUID | None, amount: int, session_id: str
) -> service.Completed:
    return service.Completed(
        provider="stripe",
        event_id=f"evt_{session_id}",
        kind="checkout.session.completed",
        session_id=session_id,
        invoice_id=invoice_id,
        clinic_id=clinic_id,
        amount_minor=amount,
        currency="GBP",
    )


def deliver(db: sessionmaker[Session], event: service.Completed) -> str:
    with transaction(db) as session:
        return service.record_online(session, event, now=utcnow(), public_base_url=BASE_URL)


def rows(db: sessionmaker[Session]) -> list[Payment]:
    with db() as session:
        found = list(session.scalars(select(Payment).order_by(Payment.received_at)))
        for row in found:
            session.expunge(row)
        return found


def take_at_desk(
    db: sessionmaker[Session], at: Practice, invoice_id: uuid.UUID, amount: int
) -> None:
    with transaction(db) as session:
        service.record_payment(
            session,
            at.ctx(),
            invoice_id,
            service.TakePayment(uuid.uuid4(), amount, PaymentMethod.CASH),
            public_base_url=BASE_URL,
        )


def desk_words(db: sessionmaker[Session], invoice_id: uuid.UUID) -> list[str]:
    """What the desk's Bills tab is told of the bill's payments to refund."""
    with db() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        [record] = endpoints.invoice_records(session, invoice.clinic_id, [invoice], utcnow().date())
    return [p.to_refund for p in record.payments if p.to_refund]


def test_two_checkouts_completed_pay_the_bill_once_and_keep_the_other_to_refund(
    db: sessionmaker[Session], north: Practice
) -> None:
    invoice_id = billmaker.issue(db, north, 4500)
    billmaker.checkout(db, invoice_id, session_id="cs_first")
    billmaker.checkout(db, invoice_id, session_id="cs_second")  # Pay pressed again later
    assert deliver(db, completed(invoice_id, north.id, 4500, "cs_second")) == "recorded"
    assert deliver(db, completed(invoice_id, north.id, 4500, "cs_first")) == "needs_refund"
    first, second = rows(db)
    assert (first.refund_reason, second.refund_reason != "") == ("", True)
    with db() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        assert service.paid_on(session, invoice) == 4500
        assert service.balance(session, north.id, north.patient_id) == 0
    assert len(billmaker.emails(db, notices.RECEIPT_KIND)) == 1
    [words] = desk_words(db, invoice_id)
    assert words.startswith("£45.00 paid online after the bill was settled")
    assert words.endswith("refund it in Stripe.")


def test_cash_at_the_desk_then_the_checkout_completed_is_kept_to_refund(
    db: sessionmaker[Session], north: Practice
) -> None:
    invoice_id = billmaker.issue(db, north, 4500)
    billmaker.checkout(db, invoice_id, session_id="cs_late")
    take_at_desk(db, north, invoice_id, 4500)
    assert deliver(db, completed(invoice_id, north.id, 4500, "cs_late")) == "needs_refund"
    assert billmaker.invoice(db, invoice_id).status is InvoiceStatus.PAID
    with db() as session:
        assert service.balance(session, north.id, north.patient_id) == 0
    assert len(billmaker.emails(db, notices.RECEIPT_KIND)) == 1  # the desk's only
    assert desk_words(db, invoice_id) == [
        "£45.00 paid online after the bill was settled (INV-00001): refund it in Stripe."
    ]


def test_a_checkout_for_more_than_is_still_due_is_kept_to_refund(
    db: sessionmaker[Session], north: Practice
) -> None:
    invoice_id = billmaker.issue(db, north, 4500)
    billmaker.checkout(db, invoice_id, session_id="cs_whole")
    take_at_desk(db, north, invoice_id, 1000)
    assert deliver(db, completed(invoice_id, north.id, 4500, "cs_whole")) == "needs_refund"
    with db() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        assert (invoice.status, service.paid_on(session, invoice)) == (InvoiceStatus.OPEN, 1000)


def test_a_checkout_completed_after_the_bill_was_voided_is_kept_to_refund(
    db: sessionmaker[Session], north: Practice
) -> None:
    invoice_id = billmaker.issue(db, north, 4500)
    billmaker.checkout(db, invoice_id, session_id="cs_void")
    with transaction(db) as session:
        service.void(session, north.ctx(), invoice_id, "Issued in error", now=utcnow())
    assert deliver(db, completed(invoice_id, north.id, 4500, "cs_void")) == "needs_refund"
    assert billmaker.invoice(db, invoice_id).status is InvoiceStatus.VOID
    assert billmaker.emails(db, notices.RECEIPT_KIND) == []
    [words] = desk_words(db, invoice_id)
    assert "after the bill was voided" in words


@pytest.mark.parametrize(
    "how", ["not stored", "no clinic", "another clinic", "another bill", "another amount"]
)
def test_a_paid_session_unlike_the_stored_checkout_records_nothing(
    db: sessionmaker[Session], north: Practice, how: str
) -> None:
    invoice_id = billmaker.issue(db, north, 4500)
    billmaker.checkout(db, invoice_id, session_id="cs_ours")
    event = completed(invoice_id, north.id, 4500, "cs_ours")
    if how == "not stored":
        event = replace(event, session_id="cs_someone_elses", event_id="evt_x")
    elif how == "no clinic":
        event = replace(event, clinic_id=None)
    elif how == "another clinic":
        event = replace(event, clinic_id=uuid.uuid4())
    elif how == "another bill":
        event = replace(event, invoice_id=billmaker.issue(db, north, 4500))
    elif how == "another amount":
        event = replace(event, amount_minor=100)
    assert deliver(db, event) == "ignored"
    assert rows(db) == []
    assert billmaker.invoice(db, invoice_id).status is InvoiceStatus.OPEN
    with db() as session:
        assert session.scalars(select(PaymentEvent.outcome)).all() == ["ignored"]


def test_a_new_pay_reuses_the_open_checkout_or_closes_it(
    db: sessionmaker[Session], north: Practice
) -> None:
    invoice_id = billmaker.issue(db, north, 4500)
    billmaker.checkout(db, invoice_id, session_id="cs_open")
    with db() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        found = service.open_checkout(session, invoice, "stripe", 4500, utcnow())
        assert found is not None
        assert found.session_id == "cs_open"
        assert service.open_checkout(session, invoice, "stripe", 3500, utcnow()) is None
    billmaker.checkout(db, invoice_id, session_id="cs_newer", amount=3500)
    with db() as session:
        closed = {
            row[0]: row[1]
            for row in session.execute(select(Checkout.session_id, Checkout.closed_at))
        }
    assert closed["cs_open"] is not None
    assert closed["cs_newer"] is None


# --- races ----------------------------------------------------------------------------------


def race(count: int, work: Callable[[], None]) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def one() -> None:
        try:
            start.wait(timeout=10)
            work()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_the_same_new_invoice_sent_twice_at_once_is_one_invoice(
    app: FastAPI, db: sessionmaker[Session], north: Practice
) -> None:
    database: Database = app.state.database
    what = service.Issue(
        uuid.uuid4(), north.patient_id, [{"description": "Visit", "amount_minor": 4500}]
    )

    def send() -> None:
        with database.writing() as session:
            assert service.issue(session, north.ctx(), what).id == what.invoice_id

    assert race(4, send) == []
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 1


def test_desks_taking_the_same_bill_at_once_take_at_most_what_is_due(
    app: FastAPI, db: sessionmaker[Session], north: Practice
) -> None:
    database: Database = app.state.database
    invoice_id = billmaker.issue(db, north, 4500)

    def take() -> None:
        with database.writing() as session:
            service.record_payment(
                session,
                north.ctx(),
                invoice_id,
                service.TakePayment(uuid.uuid4(), 4500, PaymentMethod.CASH),
            )

    errors = race(4, take)
    assert all(isinstance(e, (Conflict, InvalidInput)) for e in errors), errors
    assert len(errors) == 3
    assert sum(p.amount_minor for p in rows(db)) == 4500
