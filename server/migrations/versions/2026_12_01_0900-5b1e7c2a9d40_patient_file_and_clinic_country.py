"""The patient's file: sex, address and staff alerts on each patient; each clinic's country
(phone numbers typed without a country code are read in it), derived from its time zone
for clinics made before.

Revision ID: 5b1e7c2a9d40
Revises: b7e4a1c2d9f3
Create Date: 2026-12-01 09:00:00.000000
"""

import zoneinfo
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "5b1e7c2a9d40"
down_revision = "b7e4a1c2d9f3"
branch_labels = None
depends_on = None


def _country_of(zone: str) -> str | None:
    """The zone's country from the system's zone table (as it is today: a migration does
    not follow later changes of the app's code)."""
    if zone in ("Europe/London", "Europe/Belfast"):
        return "GB"
    for folder in zoneinfo.TZPATH:
        try:
            lines = (Path(folder) / "zone.tab").read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            parts = line.split("\t")
            if not line.startswith("#") and len(parts) >= 3 and parts[2] == zone:
                return parts[0]
        return None
    return None


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sex", sa.String(length=16), server_default="unknown", nullable=False)
        )
        batch_op.add_column(
            sa.Column("address_line1", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("address_line2", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("city", sa.String(length=100), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("postcode", sa.String(length=16), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("alerts", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("country", sa.String(length=2), nullable=True))

    clinics = sa.table(
        "clinics",
        sa.column("id", sa.Uuid()),
        sa.column("time_zone", sa.String()),
        sa.column("country", sa.String()),
    )
    connection = op.get_bind()
    for clinic_id, zone in connection.execute(sa.select(clinics.c.id, clinics.c.time_zone)):
        country = _country_of(zone)
        if country is not None:
            connection.execute(
                sa.update(clinics).where(clinics.c.id == clinic_id).values(country=country)
            )


def downgrade() -> None:
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.drop_column("country")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        for name in ("alerts", "postcode", "city", "address_line2", "address_line1", "sex"):
            batch_op.drop_column(name)
