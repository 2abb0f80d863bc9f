"""Bills made the way the product makes them: a practice (``linkmaker``) with its staff,
a price set by its admin, completed visits, and invoices issued through the service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.appointments import AppointmentSource, AppointmentStatus
from common.messaging import Channel
from common.roles import Role
from server.auth.context import AuthContext
from server.billing import service
from server.billing.models import Invoice
from server.db import transaction
from server.messaging.models import Delivery
from server.scheduling.models import Appointment
from tests.server.conftest import Factory, MadeClinic
from tests.server.web import linkmaker

BASE_URL = "https://clinic.example"
STAFF_ROLES = (Role.CLINIC_ADMIN, Role.FRONT_DESK, Role.BILLING, Role.READ_ONLY)


@dataclass(frozen=True)
class Practice:
    clinic: MadeClinic
    where: linkmaker.Practice

    @property
    def id(self) -> uuid.UUID:
        return self.clinic.id

    @property
    def patient_id(self) -> uuid.UUID:
        return self.where.patient_id

    def ctx(self, role: Role = Role.FRONT_DESK) -> AuthContext:
        login = self.clinic.staff[role]
        return AuthContext(clinic_id=self.id, device_id=None, staff_id=login.staff_id, role=role)


def practice(
    factory: Factory, db: sessionmaker[Session], slug: str = "north", name: str = "North Physio"
) -> Practice:
    """A clinic with a public page, two providers, a 30-minute type, Rosa Lind (with an
    e-mail address) and a member of staff in each role."""
    clinic = factory.clinic(slug, roles=STAFF_ROLES)
    with transaction(db) as session:
        where = linkmaker.practice(session, clinic.id, name=name, slug=slug)
    return Practice(clinic, where)


def price(
    db: sessionmaker[Session], at: Practice, amount: int, type_id: uuid.UUID | None = None
) -> None:
    with transaction(db) as session:
        service.save_prices(
            session, at.ctx(Role.CLINIC_ADMIN), [(type_id or at.where.type_id, amount)]
        )


def visit(
    db: sessionmaker[Session],
    at: Practice,
    *,
    patient_id: uuid.UUID | None = None,
    status: AppointmentStatus = AppointmentStatus.COMPLETED,
    days_ago: int = 1,
    hour: int = 10,
) -> uuid.UUID:
    starts = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0) - timedelta(
        days=days_ago
    )
    with transaction(db) as session:
        row = Appointment(
            clinic_id=at.id,
            provider_id=at.where.provider_ids[0],
            patient_id=patient_id or at.patient_id,
            appointment_type_id=at.where.type_id,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=30),
            status=status,
            source=AppointmentSource.DESK,
        )
        session.add(row)
        session.flush()
        return row.id


def issue(
    db: sessionmaker[Session],
    at: Practice,
    *amounts: int,
    patient_id: uuid.UUID | None = None,
    due_on: date | None = None,
    now: datetime | None = None,
) -> uuid.UUID:
    """An invoice with one line per amount, issued by the front desk."""
    with transaction(db) as session:
        invoice = service.issue(
            session,
            at.ctx(),
            service.Issue(
                uuid.uuid4(),
                patient_id or at.patient_id,
                [
                    {"description": f"Treatment {n + 1}", "amount_minor": a}
                    for n, a in enumerate(amounts or (4500,))
                ],
                due_on,
            ),
            now=now,
            public_base_url=BASE_URL,
        )
        return invoice.id


def invoice(db: sessionmaker[Session], invoice_id: uuid.UUID) -> Invoice:
    with db() as session:
        found = session.get(Invoice, invoice_id)
        assert found is not None
        session.expunge(found)
        return found


def emails(db: sessionmaker[Session], kind: str) -> list[Delivery]:
    """The e-mails of one kind of message, oldest first."""
    from server.messaging.models import Message

    with db() as session:
        rows = session.scalars(
            select(Delivery)
            .join(Message, Message.id == Delivery.message_id)
            .where(Message.kind == kind, Delivery.channel == Channel.EMAIL)
            .order_by(Delivery.created_at)
        ).all()
        for row in rows:
            session.expunge(row)
        return list(rows)


def checkout(
    db: sessionmaker[Session],
    invoice_id: uuid.UUID,
    *,
    session_id: str = "cs_test_a1B2c3",
    amount: int | None = None,
    provider: str = "stripe",
    minutes: int = 30,
) -> None:
    """A checkout stored as the portal's Pay stores it (for what is due, unless told)."""
    now = datetime.now(UTC)
    with transaction(db) as session:
        found = session.get(Invoice, invoice_id)
        assert found is not None
        due = found.total_minor - service.paid_on(session, found)
        service.keep_checkout(
            session,
            found,
            provider,
            (
                session_id,
                f"https://checkout.stripe.com/c/pay/{session_id}",
                now + timedelta(minutes=minutes),
            ),
            due if amount is None else amount,
            now,
        )
