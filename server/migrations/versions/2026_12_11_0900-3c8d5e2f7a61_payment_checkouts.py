"""Payment checkouts: each checkout this server starts with the provider, so only those
record money, and payments taken that a bill could not take are kept to refund.

Revision ID: 3c8d5e2f7a61
Revises: a04af92d26cb
Create Date: 2026-12-10 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "3c8d5e2f7a61"
down_revision = "a04af92d26cb"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_checkouts",
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_payment_checkouts_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payment_checkouts_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_checkouts")),
        sa.UniqueConstraint("provider", "session_id", name="uq_payment_checkouts_session"),
    )
    with op.batch_alter_table("payment_checkouts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_checkouts_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index(
            "ix_payment_checkouts_invoice", ["clinic_id", "invoice_id"], unique=False
        )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("refund_reason", sa.String(length=200), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("refund_reason")
    with op.batch_alter_table("payment_checkouts", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_checkouts_invoice")
        batch_op.drop_index(batch_op.f("ix_payment_checkouts_clinic_id"))
    op.drop_table("payment_checkouts")
