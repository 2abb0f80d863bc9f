"""Progress notes and photos can be removed (the row stays, marked when and by whom, for
the audit trail); a photo's width and height as shown, for the portal's thumbnails; and
the language codes of plans and library items kept in one spelling (``pt-br`` and
``pt-BR`` were two languages to the comparison that decides what a patient is given).

Revision ID: a04af92d26cb
Revises: f55bd5cacdc5
Create Date: 2026-12-09 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "a04af92d26cb"
down_revision = "f55bd5cacdc5"
branch_labels = None
depends_on = None


def _canonical(code: str) -> str:
    """As ``common.content.canonical_language`` spells it (copied: a migration never
    imports the application, whose rules may change after it)."""
    head, _, tail = code.strip().partition("-")
    if not tail:
        return head.lower()
    if len(tail) == 2 and tail.isalpha():
        part = tail.upper()
    elif len(tail) == 4 and tail.isalpha():
        part = tail.title()
    else:
        part = tail.lower()
    return f"{head.lower()}-{part}"


def _respell(table: str) -> None:
    rows = sa.table(table, sa.column("id", sa.Uuid()), sa.column("language", sa.String(16)))
    connection = op.get_bind()
    for row_id, language in connection.execute(sa.select(rows.c.id, rows.c.language)).all():
        spelled = _canonical(language)
        if spelled != language:
            connection.execute(sa.update(rows).where(rows.c.id == row_id).values(language=spelled))


def upgrade() -> None:
    for table in ("progress_notes", "progress_photos"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column("removed_by_staff_id", sa.Uuid(), nullable=True))
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_removed_by_staff_id_staff_users"),
                "staff_users",
                ["removed_by_staff_id"],
                ["id"],
            )
    with op.batch_alter_table("progress_photos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("width", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("height", sa.Integer(), nullable=True))
    _respell("treatment_plans")
    _respell("content_items")


def downgrade() -> None:
    with op.batch_alter_table("progress_photos", schema=None) as batch_op:
        batch_op.drop_column("height")
        batch_op.drop_column("width")
    for table in ("progress_photos", "progress_notes"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_removed_by_staff_id_staff_users"), type_="foreignkey"
            )
            batch_op.drop_column("removed_by_staff_id")
            batch_op.drop_column("removed_at")
