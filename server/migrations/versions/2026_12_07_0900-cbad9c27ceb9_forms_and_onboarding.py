"""Clinic forms (templates, published versions, forms sent and their sealed answers),
video consultations (a type's flag, a booking's room, a clinic's room address).

Revision ID: cbad9c27ceb9
Revises: 1e3333e12b68
Create Date: 2026-12-07 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "cbad9c27ceb9"
down_revision = "1e3333e12b68"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_templates",
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("appointment_type_ids", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_form_templates_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_templates")),
    )
    with op.batch_alter_table("form_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_form_templates_clinic_id"), ["clinic_id"], unique=False
        )

    op.create_table(
        "form_versions",
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by_staff_id", sa.Uuid(), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_form_versions_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["published_by_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_form_versions_published_by_staff_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["form_templates.id"],
            name=op.f("fk_form_versions_template_id_form_templates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_versions")),
        sa.UniqueConstraint("template_id", "number", name="uq_form_versions_number"),
    )
    with op.batch_alter_table("form_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_versions_clinic_id"), ["clinic_id"], unique=False)

    op.create_table(
        "form_requests",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_by_device_id", sa.Uuid(), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_form_requests_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_form_requests_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_form_requests_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["form_templates.id"],
            name=op.f("fk_form_requests_template_id_form_templates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_requests")),
    )
    with op.batch_alter_table("form_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_requests_clinic_id"), ["clinic_id"], unique=False)
        batch_op.create_index(
            "ix_form_requests_clinic_version", ["clinic_id", "version"], unique=False
        )
        batch_op.create_index("ix_form_requests_patient", ["clinic_id", "patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_form_requests_version"), ["version"], unique=False)

    op.create_table(
        "form_responses",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.Column("completed_by_account_id", sa.Uuid(), nullable=True),
        sa.Column("completed_by_staff_id", sa.Uuid(), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_form_responses_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["completed_by_account_id"],
            ["portal_accounts.id"],
            name=op.f("fk_form_responses_completed_by_account_id_portal_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["completed_by_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_form_responses_completed_by_staff_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["form_requests.id"],
            name=op.f("fk_form_responses_request_id_form_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_responses")),
        sa.UniqueConstraint("request_id", name="uq_form_responses_request"),
    )
    with op.batch_alter_table("form_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_form_responses_clinic_id"), ["clinic_id"], unique=False
        )

    with op.batch_alter_table("appointment_types", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("video", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("video_url", sa.String(length=300), nullable=True))

    with op.batch_alter_table("practice_profiles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "video_room_template", sa.String(length=200), nullable=False, server_default=""
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("practice_profiles", schema=None) as batch_op:
        batch_op.drop_column("video_room_template")

    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("video_url")

    with op.batch_alter_table("appointment_types", schema=None) as batch_op:
        batch_op.drop_column("video")

    with op.batch_alter_table("form_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_responses_clinic_id"))

    op.drop_table("form_responses")
    with op.batch_alter_table("form_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_requests_version"))
        batch_op.drop_index("ix_form_requests_patient")
        batch_op.drop_index("ix_form_requests_clinic_version")
        batch_op.drop_index(batch_op.f("ix_form_requests_clinic_id"))

    op.drop_table("form_requests")
    with op.batch_alter_table("form_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_versions_clinic_id"))

    op.drop_table("form_versions")
    with op.batch_alter_table("form_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_templates_clinic_id"))

    op.drop_table("form_templates")
