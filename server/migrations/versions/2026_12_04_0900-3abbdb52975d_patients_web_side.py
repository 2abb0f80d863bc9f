"""The patients' web side: practice profiles (public page, branding, booking and
enquiry switches) and the rate-limit counters of the patients' pages.

Revision ID: 3abbdb52975d
Revises: c4e2a7d15b90
Create Date: 2026-11-29 17:33:26.577387
"""

import sqlalchemy as sa
from alembic import op

revision = "3abbdb52975d"
down_revision = "c4e2a7d15b90"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_rate_counters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_rate_counters")),
        sa.UniqueConstraint("scope", "key", "window_start", name="uq_web_rate_counters_window"),
    )
    with op.batch_alter_table("web_rate_counters", schema=None) as batch_op:
        batch_op.create_index("ix_web_rate_counters_window_start", ["window_start"], unique=False)

    op.create_table(
        "practice_profiles",
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("specialty", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("about", sa.Text(), nullable=False),
        sa.Column("insurances", sa.JSON(), nullable=False),
        sa.Column("cancellation_policy", sa.Text(), nullable=False),
        sa.Column("brand_colour", sa.String(length=7), nullable=False),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_type", sa.String(length=32), nullable=True),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("booking_enabled", sa.Boolean(), nullable=False),
        sa.Column("leads_enabled", sa.Boolean(), nullable=False),
        sa.Column("button_size", sa.String(length=8), nullable=False),
        sa.Column("button_colour", sa.String(length=7), nullable=False),
        sa.Column("changed_by_staff_id", sa.Uuid(), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_practice_profiles_changed_by_staff_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_practice_profiles_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_profiles")),
        sa.UniqueConstraint("clinic_id", name="uq_practice_profiles_clinic"),
        sa.UniqueConstraint("slug", name="uq_practice_profiles_slug"),
    )
    with op.batch_alter_table("practice_profiles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_practice_profiles_clinic_id"), ["clinic_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("practice_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practice_profiles_clinic_id"))

    op.drop_table("practice_profiles")
    with op.batch_alter_table("web_rate_counters", schema=None) as batch_op:
        batch_op.drop_index("ix_web_rate_counters_window_start")

    op.drop_table("web_rate_counters")
