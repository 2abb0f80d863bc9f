"""Leads: enquiries from the public new-patient form, worked at the desk.

Revision ID: 0f9f1eb998f7
Revises: c0c4da918f8d
Create Date: 2026-12-05 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0f9f1eb998f7"
down_revision = "c0c4da918f8d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("preferred_contact", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("source_detail", sa.String(length=300), nullable=False),
        sa.Column("ip_hash", sa.String(length=64), nullable=False),
        sa.Column("user_agent_hash", sa.String(length=64), nullable=False),
        sa.Column("user_agent_family", sa.String(length=64), nullable=False),
        sa.Column("form_key", sa.String(length=64), nullable=False),
        sa.Column("spam", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("decided_by_staff_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_leads_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_leads_decided_by_staff_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_leads_patient_id_patients"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        sa.UniqueConstraint("clinic_id", "form_key", name="uq_leads_clinic_form_key"),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leads_clinic_id"), ["clinic_id"], unique=False)
        batch_op.create_index("ix_leads_clinic_ip_hash", ["clinic_id", "ip_hash"], unique=False)
        batch_op.create_index(
            "ix_leads_clinic_status_created", ["clinic_id", "status", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_clinic_status_created")
        batch_op.drop_index("ix_leads_clinic_ip_hash")
        batch_op.drop_index(batch_op.f("ix_leads_clinic_id"))
    op.drop_table("leads")
