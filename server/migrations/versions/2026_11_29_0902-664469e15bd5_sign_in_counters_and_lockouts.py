"""Sign-in throttling: failure counters per account and client address (shared by every
worker process), and the lock-outs kept for clinic admins.

Revision ID: 664469e15bd5
Revises: 6aeb4ba00e21
Create Date: 2026-11-29 09:02:00.333452
"""

import sqlalchemy as sa
from alembic import op

revision = "664469e15bd5"
down_revision = "6aeb4ba00e21"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_counters",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("forget_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_sign_in_counters")),
    )
    with op.batch_alter_table("sign_in_counters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sign_in_counters_forget_at"), ["forget_at"], unique=False
        )

    op.create_table(
        "sign_in_lockouts",
        sa.Column("clinic_id", sa.Uuid(), nullable=True),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_sign_in_lockouts_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_lockouts")),
    )
    with op.batch_alter_table("sign_in_lockouts", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_lockouts_clinic_at", ["clinic_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sign_in_lockouts", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_lockouts_clinic_at")
    op.drop_table("sign_in_lockouts")
    with op.batch_alter_table("sign_in_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_counters_forget_at"))
    op.drop_table("sign_in_counters")
