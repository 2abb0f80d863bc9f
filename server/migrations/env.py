"""Alembic environment: the URL comes from the caller (``server.db.migrate``) or
``CLINICDESK_DATABASE_URL``; never from a file."""

from alembic import context
from sqlalchemy import pool

from server.config import get_settings
from server.db import make_engine
from server.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().database_url

engine = make_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=url.startswith("sqlite"),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
