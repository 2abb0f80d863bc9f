"""A booking request may come from someone not yet a patient (the booking widget): the
applicant's details (the phone sealed), the address hash it came from, and the form's key
so one form makes one request.

Revision ID: 9d3f6b1e2a47
Revises: 8d3f6b1a2c47
Create Date: 2026-12-05 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "9d3f6b1e2a47"
down_revision = "8d3f6b1a2c47"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("booking_requests", schema=None) as batch_op:
        batch_op.alter_column("patient_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.add_column(
            sa.Column("first_name", sa.String(length=100), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("last_name", sa.String(length=100), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("date_of_birth", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(
            sa.Column("insurance", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("ip_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("form_key", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            "uq_booking_requests_clinic_form_key", ["clinic_id", "form_key"]
        )


def downgrade() -> None:
    # Requests from people who never became patients have no patient to keep them by.
    op.execute("DELETE FROM booking_requests WHERE patient_id IS NULL")
    with op.batch_alter_table("booking_requests", schema=None) as batch_op:
        batch_op.drop_constraint("uq_booking_requests_clinic_form_key", type_="unique")
        for column in (
            "form_key",
            "ip_hash",
            "insurance",
            "email",
            "phone",
            "date_of_birth",
            "last_name",
            "first_name",
        ):
            batch_op.drop_column(column)
        batch_op.alter_column("patient_id", existing_type=sa.Uuid(), nullable=False)
