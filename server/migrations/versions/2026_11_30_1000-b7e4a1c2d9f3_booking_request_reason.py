"""A rejected booking request keeps the reason staff gave (the patient is told it).

Revision ID: b7e4a1c2d9f3
Revises: 5b0c7e2a9d13
Create Date: 2026-11-30 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "b7e4a1c2d9f3"
down_revision = "5b0c7e2a9d13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("booking_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("booking_requests", schema=None) as batch_op:
        batch_op.drop_column("reason")
