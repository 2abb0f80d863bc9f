"""Bills and payments: invoices numbered per clinic, payments (at the desk and online),
prices per appointment type, and the payment provider's events processed once.

Revision ID: f55bd5cacdc5
Revises: a7c3e9d2b418
Create Date: 2026-12-08 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "f55bd5cacdc5"
down_revision = "a7c3e9d2b418"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "type_prices",
        sa.Column("appointment_type_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("changed_by_staff_id", sa.Uuid(), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["appointment_type_id"],
            ["appointment_types.id"],
            name=op.f("fk_type_prices_appointment_type_id_appointment_types"),
        ),
        sa.ForeignKeyConstraint(
            ["changed_by_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_type_prices_changed_by_staff_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_type_prices_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_type_prices")),
        sa.UniqueConstraint("appointment_type_id", name="uq_type_prices_type"),
    )
    with op.batch_alter_table("type_prices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_type_prices_clinic_id"), ["clinic_id"], unique=False)

    op.create_table(
        "invoices",
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("total_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.String(length=300), nullable=False),
        sa.Column("overdue_noticed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_staff_id", sa.Uuid(), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_invoices_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_invoices_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_invoices_created_by_staff_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_invoices_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("clinic_id", "sequence", name="uq_invoices_sequence"),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoices_clinic_id"), ["clinic_id"], unique=False)
        batch_op.create_index("ix_invoices_open", ["status", "due_on"], unique=False)
        batch_op.create_index("ix_invoices_patient", ["clinic_id", "patient_id"], unique=False)

    op.create_table(
        "payment_events",
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=True),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_payment_events_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payment_events_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_events")),
        sa.UniqueConstraint("provider", "event_id", name="uq_payment_events_event"),
    )

    op.create_table(
        "payments",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_staff_id", sa.Uuid(), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_payments_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payments_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_payments_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_payments_recorded_by_staff_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("provider_reference", name="uq_payments_provider_reference"),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_clinic_id"), ["clinic_id"], unique=False)
        batch_op.create_index("ix_payments_invoice", ["clinic_id", "invoice_id"], unique=False)
        batch_op.create_index("ix_payments_patient", ["clinic_id", "patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_patient")
        batch_op.drop_index("ix_payments_invoice")
        batch_op.drop_index(batch_op.f("ix_payments_clinic_id"))
    op.drop_table("payments")
    op.drop_table("payment_events")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_patient")
        batch_op.drop_index("ix_invoices_open")
        batch_op.drop_index(batch_op.f("ix_invoices_clinic_id"))
    op.drop_table("invoices")
    with op.batch_alter_table("type_prices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_type_prices_clinic_id"))
    op.drop_table("type_prices")
