"""Treatment plans (phases, progress notes sealed at rest, progress photos kept as files
in the media folder), and the educational content library with its deliveries to
patients (one per patient and item).

Revision ID: a7c3e9d2b418
Revises: cbad9c27ceb9
Create Date: 2026-12-08 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "a7c3e9d2b418"
down_revision = "cbad9c27ceb9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content_items",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=160), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("phases", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("file_path", sa.String(length=200), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_by_staff_id", sa.Uuid(), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_content_items_changed_by_staff_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_content_items_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_items")),
    )
    with op.batch_alter_table("content_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_content_items_clinic_id"), ["clinic_id"], unique=False)

    op.create_table(
        "treatment_plans",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("current_phase_id", sa.Uuid(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_staff_id", sa.Uuid(), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_treatment_plans_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_treatment_plans_created_by_staff_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_treatment_plans_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatment_plans")),
    )
    with op.batch_alter_table("treatment_plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_treatment_plans_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index(
            "ix_treatment_plans_patient", ["clinic_id", "patient_id"], unique=False
        )

    op.create_table(
        "content_deliveries",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=True),
        sa.Column("phase_name", sa.String(length=60), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_content_deliveries_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["content_items.id"],
            name=op.f("fk_content_deliveries_item_id_content_items"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_content_deliveries_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["treatment_plans.id"],
            name=op.f("fk_content_deliveries_plan_id_treatment_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_deliveries")),
        sa.UniqueConstraint("patient_id", "item_id", name="uq_content_deliveries_patient_item"),
    )
    with op.batch_alter_table("content_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_content_deliveries_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index(
            "ix_content_deliveries_patient", ["clinic_id", "patient_id"], unique=False
        )

    op.create_table(
        "treatment_phases",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_treatment_phases_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["treatment_plans.id"],
            name=op.f("fk_treatment_phases_plan_id_treatment_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatment_phases")),
        sa.UniqueConstraint("plan_id", "position", name="uq_treatment_phases_position"),
    )
    with op.batch_alter_table("treatment_phases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_treatment_phases_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_treatment_phases_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "progress_notes",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("phase_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("written_by_staff_id", sa.Uuid(), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_progress_notes_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_progress_notes_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["phase_id"],
            ["treatment_phases.id"],
            name=op.f("fk_progress_notes_phase_id_treatment_phases"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["treatment_plans.id"],
            name=op.f("fk_progress_notes_plan_id_treatment_plans"),
        ),
        sa.ForeignKeyConstraint(
            ["written_by_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_progress_notes_written_by_staff_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_notes")),
    )
    with op.batch_alter_table("progress_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_progress_notes_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index("ix_progress_notes_plan", ["clinic_id", "plan_id"], unique=False)

    op.create_table(
        "progress_photos",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("phase_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by_staff_id", sa.Uuid(), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_progress_photos_added_by_staff_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_progress_photos_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_progress_photos_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["phase_id"],
            ["treatment_phases.id"],
            name=op.f("fk_progress_photos_phase_id_treatment_phases"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["treatment_plans.id"],
            name=op.f("fk_progress_photos_plan_id_treatment_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_photos")),
    )
    with op.batch_alter_table("progress_photos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_progress_photos_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index("ix_progress_photos_plan", ["clinic_id", "plan_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("progress_photos", schema=None) as batch_op:
        batch_op.drop_index("ix_progress_photos_plan")
        batch_op.drop_index(batch_op.f("ix_progress_photos_clinic_id"))

    op.drop_table("progress_photos")
    with op.batch_alter_table("progress_notes", schema=None) as batch_op:
        batch_op.drop_index("ix_progress_notes_plan")
        batch_op.drop_index(batch_op.f("ix_progress_notes_clinic_id"))

    op.drop_table("progress_notes")
    with op.batch_alter_table("treatment_phases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_treatment_phases_plan_id"))
        batch_op.drop_index(batch_op.f("ix_treatment_phases_clinic_id"))

    op.drop_table("treatment_phases")
    with op.batch_alter_table("content_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_content_deliveries_patient")
        batch_op.drop_index(batch_op.f("ix_content_deliveries_clinic_id"))

    op.drop_table("content_deliveries")
    with op.batch_alter_table("treatment_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_treatment_plans_patient")
        batch_op.drop_index(batch_op.f("ix_treatment_plans_clinic_id"))

    op.drop_table("treatment_plans")
    with op.batch_alter_table("content_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_items_clinic_id"))

    op.drop_table("content_items")
