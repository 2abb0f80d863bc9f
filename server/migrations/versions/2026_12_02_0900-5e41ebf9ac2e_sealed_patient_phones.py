"""Patients' phone numbers sealed in the database, with a blind index to find them by.

Every stored number is encrypted with the field keys of the settings the server runs with
(``server.crypto``; ``server.db.migrate`` hands them over, the ``alembic`` command reads
them from the environment), and indexed. The answers kept for replayed desk changes no
longer hold the patient's record: a replay is always answered with the record as it now
stands, so the copy was never read, and it held the number in the clear.

On SQLite the freed space is zeroed as the numbers are replaced (``secure_delete``), so
the file keeps no trace of them; SQLite's declared ``VARCHAR(32)`` stays (it enforces no
length, and changing it would rebuild a table others refer to). On PostgreSQL the column
becomes ``text``; the old row versions stay in the table's files until vacuumed, which the
upgrade notes tell the operator to do.

Revision ID: 5e41ebf9ac2e
Revises: 5b1e7c2a9d40
Create Date: 2026-12-02 09:00:00.000000
"""

import json
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from server.config import get_settings
from server.crypto import FieldKeys
from server.db import MIGRATION_FIELD_KEYS

revision = "5e41ebf9ac2e"
down_revision = "5b1e7c2a9d40"
branch_labels = None
depends_on = None

BATCH = 1000
PATIENT_KINDS = ("register_patient", "update_patient", "update_patient_contact")

patients = sa.table(
    "patients",
    sa.column("id", sa.Uuid()),
    sa.column("phone", sa.Text()),
    sa.column("phone_index", sa.String()),
)
applied = sa.table(
    "applied_mutations",
    sa.column("id", sa.Uuid()),
    sa.column("kind", sa.String()),
    sa.column("result", sa.Text()),
)


def _keys() -> FieldKeys:
    given = context.config.attributes.get(MIGRATION_FIELD_KEYS)
    return given if isinstance(given, FieldKeys) else FieldKeys.from_settings(get_settings())


def _batches(
    connection: sa.Connection, table: sa.TableClause, column: str, *where: sa.ColumnElement[bool]
) -> Iterator[list[tuple[Any, Any]]]:
    """``(id, column)`` of the rows matching ``where``, a batch at a time in id order: a
    keyset, so a table of any size is never held whole and a rewritten row is never read
    again."""
    after = None
    while True:
        query = sa.select(table.c.id, table.c[column]).where(*where)
        if after is not None:
            query = query.where(table.c.id > after)
        found = connection.execute(query.order_by(table.c.id).limit(BATCH))
        rows = [(row_id, value) for row_id, value in found]
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _rewrite_phones(
    connection: sa.Connection,
    new_phone: Callable[[str], str],
    new_index: Callable[[str], str | None],
) -> None:
    """Every patient's phone given as ``new_phone(old)``, its index ``new_index(old)``."""
    change = (
        sa.update(patients)
        .where(patients.c.id == sa.bindparam("row_id"))
        .values(phone=sa.bindparam("new_phone"), phone_index=sa.bindparam("new_index"))
    )
    for rows in _batches(connection, patients, "phone", patients.c.phone.is_not(None)):
        connection.execute(
            change,
            [
                {"row_id": row_id, "new_phone": new_phone(phone), "new_index": new_index(phone)}
                for row_id, phone in rows
            ],
        )


def _forget_patient_records(connection: sa.Connection) -> None:
    forget = (
        sa.update(applied)
        .where(applied.c.id == sa.bindparam("row_id"))
        .values(result=sa.bindparam("answer"))
    )
    for rows in _batches(connection, applied, "result", applied.c.kind.in_(PATIENT_KINDS)):
        changed = []
        for row_id, result in rows:
            answer = json.loads(result) if result else None
            if isinstance(answer, dict) and answer.get("patient") is not None:
                changed.append({"row_id": row_id, "answer": json.dumps(answer | {"patient": None})})
        if changed:
            connection.execute(forget, changed)


def upgrade() -> None:
    connection = op.get_bind()
    keys = _keys()
    if connection.dialect.name == "sqlite":
        # Space freed as values are replaced is zeroed (the connection is this
        # migration's own, closed after it).
        connection.exec_driver_sql("PRAGMA secure_delete = ON")
    else:
        op.alter_column(
            "patients",
            "phone",
            existing_type=sa.String(length=32),
            type_=sa.Text(),
            existing_nullable=True,
        )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_index", sa.String(length=32), nullable=True))
        batch_op.create_index(
            "ix_patients_clinic_phone_index", ["clinic_id", "phone_index"], unique=False
        )
    _rewrite_phones(
        connection,
        lambda phone: keys.seal(phone, table="patients", column="phone"),
        keys.index_of_stored_phone,
    )
    _forget_patient_records(connection)


def downgrade() -> None:
    connection = op.get_bind()
    keys = _keys()
    _rewrite_phones(
        connection,
        lambda sealed: keys.open(sealed, table="patients", column="phone"),
        lambda _sealed: None,
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index("ix_patients_clinic_phone_index")
        batch_op.drop_column("phone_index")
    if connection.dialect.name != "sqlite":
        op.alter_column(
            "patients",
            "phone",
            existing_type=sa.Text(),
            type_=sa.String(length=32),
            existing_nullable=True,
        )
