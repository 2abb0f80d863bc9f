"""When each appointment's patient arrived, went in and was done: the waiting room's
minutes come from the server, the same on every desk and after a restart.

Appointments already arrived, in progress or completed get the moment of their last
change, which for those statuses is the status change itself (nothing else changes an
appointment once the patient has arrived, short of cancelling it).

Revision ID: 5b0c7e2a9d13
Revises: 664469e15bd5
Create Date: 2026-11-29 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "5b0c7e2a9d13"
down_revision = "664469e15bd5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
    appointments = sa.table(
        "appointments",
        sa.column("status", sa.String),
        sa.column("modified_at", sa.DateTime(timezone=True)),
        sa.column("arrived_at", sa.DateTime(timezone=True)),
        sa.column("started_at", sa.DateTime(timezone=True)),
        sa.column("finished_at", sa.DateTime(timezone=True)),
    )
    for status, column in (
        ("arrived", "arrived_at"),
        ("in_progress", "started_at"),
        ("completed", "finished_at"),
    ):
        op.execute(
            appointments.update()
            .where(appointments.c.status == status)
            .values({column: appointments.c.modified_at})
        )


def downgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("finished_at")
        batch_op.drop_column("started_at")
        batch_op.drop_column("arrived_at")
