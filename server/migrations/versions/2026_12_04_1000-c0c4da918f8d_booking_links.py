"""Booking links: broadcast rules, the links sent under them and their history, and the
manage links sent with a booking's confirmation.

Revision ID: c0c4da918f8d
Revises: 3abbdb52975d
Create Date: 2026-11-29 17:35:53.232512
"""

import sqlalchemy as sa
from alembic import op

revision = "c0c4da918f8d"
down_revision = "3abbdb52975d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "broadcast_rules",
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("appointment_type_id", sa.Uuid(), nullable=False),
        sa.Column("provider_ids", sa.JSON(), nullable=False),
        sa.Column("earliest_days", sa.Integer(), nullable=False),
        sa.Column("latest_days", sa.Integer(), nullable=False),
        sa.Column("link_valid_days", sa.Integer(), nullable=False),
        sa.Column("welcome_text", sa.Text(), nullable=False),
        sa.Column("sms_text", sa.String(length=480), nullable=False),
        sa.Column("confirmation_text", sa.Text(), nullable=False),
        sa.Column("allow_reschedule", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_type_id"],
            ["appointment_types.id"],
            name=op.f("fk_broadcast_rules_appointment_type_id_appointment_types"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_broadcast_rules_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_rules")),
    )
    with op.batch_alter_table("broadcast_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_broadcast_rules_clinic_id"), ["clinic_id"], unique=False
        )

    op.create_table(
        "booking_links",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("appointment_type_id", sa.Uuid(), nullable=False),
        sa.Column("provider_ids", sa.JSON(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("allow_reschedule", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_by_staff_id", sa.Uuid(), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("accessed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_booking_links_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["appointment_type_id"],
            ["appointment_types.id"],
            name=op.f("fk_booking_links_appointment_type_id_appointment_types"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_booking_links_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_booking_links_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["broadcast_rules.id"],
            name=op.f("fk_booking_links_rule_id_broadcast_rules"),
        ),
        sa.ForeignKeyConstraint(
            ["sent_by_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_booking_links_sent_by_staff_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_booking_links_token_hash")),
    )
    with op.batch_alter_table("booking_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_booking_links_clinic_id"), ["clinic_id"], unique=False)
        batch_op.create_index(
            "ix_booking_links_clinic_patient", ["clinic_id", "patient_id"], unique=False
        )

    op.create_table(
        "booking_link_events",
        sa.Column("link_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("staff_id", sa.Uuid(), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_booking_link_events_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_booking_link_events_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["booking_links.id"],
            name=op.f("fk_booking_link_events_link_id_booking_links"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_booking_link_events_provider_id_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_booking_link_events_staff_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_link_events")),
    )
    with op.batch_alter_table("booking_link_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_booking_link_events_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_booking_link_events_link_id"), ["link_id"], unique=False
        )

    op.create_table(
        "manage_links",
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("booking_link_id", sa.Uuid(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("allow_reschedule", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_attempts", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_manage_links_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["booking_link_id"],
            ["booking_links.id"],
            name=op.f("fk_manage_links_booking_link_id_booking_links"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_manage_links_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_manage_links_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manage_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_manage_links_token_hash")),
    )
    with op.batch_alter_table("manage_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_manage_links_appointment_id"), ["appointment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_manage_links_clinic_id"), ["clinic_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("manage_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_manage_links_clinic_id"))
        batch_op.drop_index(batch_op.f("ix_manage_links_appointment_id"))

    op.drop_table("manage_links")
    with op.batch_alter_table("booking_link_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_link_events_link_id"))
        batch_op.drop_index(batch_op.f("ix_booking_link_events_clinic_id"))

    op.drop_table("booking_link_events")
    with op.batch_alter_table("booking_links", schema=None) as batch_op:
        batch_op.drop_index("ix_booking_links_clinic_patient")
        batch_op.drop_index(batch_op.f("ix_booking_links_clinic_id"))

    op.drop_table("booking_links")
    with op.batch_alter_table("broadcast_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broadcast_rules_clinic_id"))

    op.drop_table("broadcast_rules")
