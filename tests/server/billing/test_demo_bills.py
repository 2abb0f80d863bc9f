"""The demo's bills: a price for each appointment type, and two bills for the portal's
demo patient, one paid and one to pay (what the README's walk through the portal shows)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.billing import InvoiceStatus
from common.portal import Relation
from server.billing.models import Invoice, Payment, TypePrice
from server.db import transaction
from server.demo import (
    DEMO_PRICES,
    seed_demo,
    seed_demo_bills,
    seed_demo_forms,
    seed_demo_portal,
)
from server.portal.models import PortalMember
from server.scheduling.models import AppointmentType


def test_the_demo_has_prices_and_a_paid_and_an_open_bill_for_its_portal_patient(
    db: sessionmaker[Session],
) -> None:
    with transaction(db) as session:
        clinic, _ = seed_demo(session)
        seed_demo_portal(session, clinic)
        seed_demo_forms(session, clinic)
        seed_demo_bills(session, clinic)
    with db() as session:
        rows = session.execute(
            select(AppointmentType.name, TypePrice.amount_minor).join(
                TypePrice, TypePrice.appointment_type_id == AppointmentType.id
            )
        )
        priced = dict(rows.all())
        assert priced == DEMO_PRICES
        holder = session.scalars(
            select(PortalMember.patient_id).where(PortalMember.relation == Relation.SELF)
        ).one()
        bills = session.scalars(select(Invoice).order_by(Invoice.sequence)).all()
        assert [b.patient_id for b in bills] == [holder, holder]
        assert [(b.number, b.status) for b in bills] == [
            ("INV-00001", InvoiceStatus.PAID),
            ("INV-00002", InvoiceStatus.OPEN),
        ]
        [payment] = session.scalars(select(Payment)).all()
        assert payment.invoice_id == bills[0].id
        assert payment.amount_minor == bills[0].total_minor
