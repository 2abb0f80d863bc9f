"""What is sent to patients sealed in the database: the deliveries' and the development
outbox's subject, text and HTML.

These texts carry links and codes that work on their own (a booking link's token, a
one-time code), so a copy of the database must not hold them readable. They are sealed
with the field keys of the settings the server runs with (``server.crypto``;
``server.db.migrate`` hands them over, the ``alembic`` command reads them from the
environment), each column under its own table and column name. The desks' copy, the
message's body, is not sealed: the secrets are masked in it when it is composed (messages
composed before this keep their text).

On SQLite the freed space is zeroed as the texts are replaced (``secure_delete``), and the
declared ``VARCHAR(200)`` of the subjects stays (SQLite enforces no length). On PostgreSQL
the subjects become ``text`` (a sealed subject is longer than the subject); the old row
versions stay in the tables' files until vacuumed.

Revision ID: 8d3f6b1a2c47
Revises: 0f9f1eb998f7
Create Date: 2026-12-05 09:00:00.000000
"""

from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from server.config import get_settings
from server.crypto import FieldKeys
from server.db import MIGRATION_FIELD_KEYS

revision = "8d3f6b1a2c47"
down_revision = "0f9f1eb998f7"
branch_labels = None
depends_on = None

BATCH = 1000
COLUMNS = ("subject", "text", "html")
TABLES = {
    name: sa.table(name, sa.column("id", sa.Uuid()), *(sa.column(c, sa.Text()) for c in COLUMNS))
    for name in ("message_deliveries", "dev_outbox")
}


def _keys() -> FieldKeys:
    given = context.config.attributes.get(MIGRATION_FIELD_KEYS)
    return given if isinstance(given, FieldKeys) else FieldKeys.from_settings(get_settings())


def _batches(connection: sa.Connection, table: sa.TableClause) -> Iterator[list[sa.Row[Any]]]:
    """The rows' id and texts, a batch at a time in id order: a keyset, so a table of any
    size is never held whole and a rewritten row is never read again."""
    after = None
    while True:
        query = sa.select(table.c.id, *(table.c[c] for c in COLUMNS))
        if after is not None:
            query = query.where(table.c.id > after)
        rows = list(connection.execute(query.order_by(table.c.id).limit(BATCH)))
        if not rows:
            return
        yield rows
        after = rows[-1].id


def _rewrite(connection: sa.Connection, change: Callable[[str, str, str], str]) -> None:
    """Every text of both tables given as ``change(value, table, column)``; NULL stays."""
    for name, table in TABLES.items():
        update = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("row_id"))
            .values({c: sa.bindparam(f"new_{c}") for c in COLUMNS})
        )
        for rows in _batches(connection, table):
            connection.execute(
                update,
                [
                    {"row_id": row.id}
                    | {
                        f"new_{c}": None
                        if getattr(row, c) is None
                        else change(getattr(row, c), name, c)
                        for c in COLUMNS
                    }
                    for row in rows
                ],
            )


def _subjects(type_: sa.types.TypeEngine[Any], was: sa.types.TypeEngine[Any]) -> None:
    for name in TABLES:
        op.alter_column(name, "subject", existing_type=was, type_=type_, existing_nullable=False)


def upgrade() -> None:
    connection = op.get_bind()
    keys = _keys()
    if connection.dialect.name == "sqlite":
        # Space freed as values are replaced is zeroed (the connection is this
        # migration's own, closed after it).
        connection.exec_driver_sql("PRAGMA secure_delete = ON")
    else:
        _subjects(sa.Text(), sa.String(length=200))
    _rewrite(connection, lambda value, table, column: keys.seal(value, table=table, column=column))


def downgrade() -> None:
    connection = op.get_bind()
    keys = _keys()
    _rewrite(connection, lambda value, table, column: keys.open(value, table=table, column=column))
    if connection.dialect.name != "sqlite":
        _subjects(sa.String(length=200), sa.Text())
