"""The patient portal: platform accounts and their clinics, sharing consents,
invitations, magic links and sessions; audit rows name an acting patient.

Revision ID: 1e3333e12b68
Revises: 9d3f6b1e2a47
Create Date: 2026-12-06 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "1e3333e12b68"
down_revision = "9d3f6b1e2a47"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_accounts",
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("password_set_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("profile", sa.Text(), nullable=True),
        sa.Column("profile_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_accounts")),
        sa.UniqueConstraint("email", name="uq_portal_accounts_email"),
    )
    op.create_table(
        "portal_sharing_consents",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_name", sa.String(length=200), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["portal_accounts.id"],
            name=op.f("fk_portal_sharing_consents_account_id_portal_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_portal_sharing_consents_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sharing_consents")),
    )
    with op.batch_alter_table("portal_sharing_consents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_portal_sharing_consents_account", ["account_id", "clinic_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_portal_sharing_consents_clinic_id"), ["clinic_id"], unique=False
        )

    op.create_table(
        "portal_invites",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_by_staff_id", sa.Uuid(), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["portal_accounts.id"],
            name=op.f("fk_portal_invites_account_id_portal_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_portal_invites_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_portal_invites_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["sent_by_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_portal_invites_sent_by_staff_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_invites")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_invites_token_hash")),
    )
    with op.batch_alter_table("portal_invites", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_invites_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index(
            "ix_portal_invites_clinic_patient", ["clinic_id", "patient_id"], unique=False
        )

    op.create_table(
        "portal_magic_links",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("staff_id", sa.Uuid(), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["portal_accounts.id"],
            name=op.f("fk_portal_magic_links_account_id_portal_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_portal_magic_links_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_portal_magic_links_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_portal_magic_links_staff_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_magic_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_magic_links_token_hash")),
    )
    with op.batch_alter_table("portal_magic_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_magic_links_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "portal_members",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["portal_accounts.id"],
            name=op.f("fk_portal_members_account_id_portal_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_portal_members_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_portal_members_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_members")),
        sa.UniqueConstraint("clinic_id", "patient_id", name="uq_portal_members_patient"),
    )
    with op.batch_alter_table("portal_members", schema=None) as batch_op:
        batch_op.create_index("ix_portal_members_account", ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_portal_members_clinic_id"), ["clinic_id"], unique=False
        )

    op.create_table(
        "portal_sessions",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.Column("impersonator_staff_id", sa.Uuid(), nullable=True),
        sa.Column("impersonated_patient_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["portal_accounts.id"],
            name=op.f("fk_portal_sessions_account_id_portal_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_portal_sessions_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["impersonated_patient_id"],
            ["patients.id"],
            name=op.f("fk_portal_sessions_impersonated_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["impersonator_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_portal_sessions_impersonator_staff_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_sessions_token_hash")),
    )
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_sessions_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index("ix_portal_sessions_started", ["started_at"], unique=False)

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acting_patient_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_audit_events_acting_patient_id_patients"),
            "patients",
            ["acting_patient_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_audit_events_acting_patient_id_patients"), type_="foreignkey"
        )
        batch_op.drop_column("acting_patient_id")

    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_portal_sessions_started")
        batch_op.drop_index(batch_op.f("ix_portal_sessions_account_id"))

    op.drop_table("portal_sessions")
    with op.batch_alter_table("portal_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_members_clinic_id"))
        batch_op.drop_index("ix_portal_members_account")

    op.drop_table("portal_members")
    with op.batch_alter_table("portal_magic_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_magic_links_account_id"))

    op.drop_table("portal_magic_links")
    with op.batch_alter_table("portal_invites", schema=None) as batch_op:
        batch_op.drop_index("ix_portal_invites_clinic_patient")
        batch_op.drop_index(batch_op.f("ix_portal_invites_clinic_id"))

    op.drop_table("portal_invites")
    with op.batch_alter_table("portal_sharing_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_sharing_consents_clinic_id"))
        batch_op.drop_index("ix_portal_sharing_consents_account")

    op.drop_table("portal_sharing_consents")
    op.drop_table("portal_accounts")
