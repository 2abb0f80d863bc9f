"""The PostgreSQL database the tests run on: ``CLINICDESK_TEST_DATABASE_URL``, or, when the
suite runs in several pytest-xdist workers, a database of each worker's own beside it.

Tests on PostgreSQL empty, drop and re-migrate the ``public`` schema, and count the
processes listening for changes on it, so two workers on one database would wreck each
other. ``tests/conftest.py`` therefore points each worker at ``<base>_<worker>`` (``test_gw0``,
``test_gw1``…), creating it on the same server when it is missing, and rewrites the
variable in that worker's environment, so whatever reads it, here or in a child process,
reads the worker's database. Read the URL through :func:`postgres_url`.
"""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError, ProgrammingError

POSTGRES_URL_VARIABLE = "CLINICDESK_TEST_DATABASE_URL"
WORKER_VARIABLE = "PYTEST_XDIST_WORKER"  # set by pytest-xdist in each worker: gw0, gw1…


def postgres_url() -> str:
    """The URL of this test process's PostgreSQL database; empty when none is given."""
    return os.environ.get(POSTGRES_URL_VARIABLE, "")


def needs_postgres() -> pytest.MarkDecorator:
    """Skips a test when no PostgreSQL database is given."""
    return pytest.mark.skipif(
        not postgres_url(), reason=f"needs PostgreSQL ({POSTGRES_URL_VARIABLE})"
    )


def worker_database_url(base_url: str, worker: str) -> str:
    """``base_url`` with the database ``<name>_<worker>``, created there if it is missing."""
    base = make_url(base_url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        for attempt in range(20):
            try:
                with engine.connect() as connection:
                    exists = connection.execute(
                        text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                    ).first()
                    if not exists:
                        # A name cannot be a bound parameter; it is quoted, and built from
                        # the given database's name and xdist's own worker id.
                        quoted = connection.dialect.identifier_preparer.quote(name)
                        connection.execute(text(f"CREATE DATABASE {quoted}"))
                break
            except (OperationalError, ProgrammingError):
                # Workers start together: "template1 is being accessed by other users"
                # while another one copies it (or another run made it meanwhile). Wait a
                # little and look again.
                if attempt == 19:
                    raise
                time.sleep(0.25 + 0.1 * attempt)
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def use_worker_database() -> None:
    """In a pytest-xdist worker, point ``CLINICDESK_TEST_DATABASE_URL`` at its own database."""
    base_url, worker = postgres_url(), os.environ.get(WORKER_VARIABLE)
    if base_url and worker:
        os.environ[POSTGRES_URL_VARIABLE] = worker_database_url(base_url, worker)
