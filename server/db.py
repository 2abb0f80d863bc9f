"""Database plumbing: typed bases, the engine, sessions, transactions and migrations.

SQLite (embedded, the default) and PostgreSQL run the same models and migrations. Every
request works through a ``Database`` (``app.state.database``) and opens exactly the
transactions it needs, each inside the one thread that runs it:

- ``reading()``: for reads only. On SQLite a deferred ``BEGIN``, which in WAL mode is a
  snapshot that never takes the write lock, so reads never queue behind writers. On
  PostgreSQL each statement runs on its own (autocommit): at READ COMMITTED a statement
  gets its own snapshot inside a transaction too, so this saves two round trips and
  changes nothing a read could see.
- ``writing()``: on SQLite ``BEGIN IMMEDIATE`` (the write lock up front, so a writer never
  fails half-way with "database is locked"), taken only after an in-process lock: writers
  of one process queue on that lock instead of in SQLite's busy handler, which sleeps and
  polls. On PostgreSQL an ordinary transaction; row locks do the ordering.

A transaction never spans two threads and a thread never holds two connections, so the
connection pool and the thread limiter can be sized to agree (see ``server.config``) and
no request can wait on a lock held by a request that cannot run.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    Engine,
    Executable,
    ForeignKey,
    Index,
    MetaData,
    String,
    TypeDecorator,
    Uuid,
    create_engine,
    event,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    sessionmaker,
)

from common.errors import DomainError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

    from server.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant, stored in UTC and always returned timezone-aware.

    SQLite has no time zone type and hands back naive values; this makes both databases
    behave the same and refuses naive datetimes on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an instant is expected")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StrEnumColumn(TypeDecorator[StrEnum]):
    """A ``StrEnum`` stored as its plain string value and loaded back as the enum, so
    ``appointment.status.label`` works on a row read from the database as on a new one."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int = 32) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: StrEnum | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, uuid.UUID: Uuid}


class RecordBase(Base):
    """UUID key and created/modified stamps, shared by every table."""

    __abstract__ = True

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ClinicScoped(RecordBase):
    """A row that belongs to exactly one clinic; every query filters on ``clinic_id``."""

    __abstract__ = True

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"), index=True)


class Synced(ClinicScoped):
    """A row the desks cache. ``version`` comes from the clinic's change counter (see
    ``server.changefeed.versioning``); a set ``deleted_at`` makes it a tombstone.

    Each synced table declares ``feed_index(...)``: the change feed's query.
    """

    __abstract__ = True

    # No default on purpose: a row written without the stamping hook (see server.models)
    # fails loudly instead of sitting at a version no desk will ever pull.
    version: Mapped[int] = mapped_column(BigInteger, index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    # The workstation behind the latest change (None: the web side or an admin). Lets a
    # desk chain several offline edits of one record without tripping over its own.
    changed_by_device_id: Mapped[uuid.UUID | None] = mapped_column(default=None)


def feed_index(table: str) -> Index:
    """``(clinic_id, version)``: what "changes of this clinic since N" reads."""
    return Index(f"ix_{table}_clinic_version", "clinic_id", "version")


# Set on the engine that ``Database.reading()`` uses: its transactions start deferred.
READ_OPTION = "clinicdesk_read"
# ``Session.info`` key marking a read transaction: flushing a change in one is a bug.
READ_ONLY = "clinicdesk.read_only"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine for ``url``, with SQLite set up for a server's workload.

    No ``pool_pre_ping``: it costs a round trip on every checkout, that is several per
    request. After a database restart one request per process fails on a dead
    connection, and SQLAlchemy then discards every connection opened before it;
    ``pool_recycle`` retires connections before a proxy's idle timeout would."""
    if not url.startswith("sqlite"):
        kwargs.setdefault("pool_recycle", 1800)
        return create_engine(url, **kwargs)
    _ensure_sqlite_folder(url)
    if ":memory:" in url or url.rstrip("/") == "sqlite:":
        # One connection per thread (SingletonThreadPool): pool sizes do not apply.
        for name in ("pool_size", "max_overflow", "pool_timeout"):
            kwargs.pop(name, None)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Anything not declared a read takes the write lock up front (the CLI, tests and
        # code still on plain sessions stay safe); reads start deferred: a snapshot.
        read = connection.get_execution_options().get(READ_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

    return engine


def _ensure_sqlite_folder(url: str) -> None:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and not path.startswith(":memory:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


class ServerBusy(DomainError):
    status = 503
    code = "busy"


class ReadOnlyTransaction(RuntimeError):
    """A change was flushed inside ``Database.reading()``: a programming error."""


@event.listens_for(Session, "before_flush")
def _refuse_writes_in_reads(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise ReadOnlyTransaction(
            "a change was made inside Database.reading(); write in Database.writing()"
        )


class Database:
    """The engine and the two kinds of transaction every request uses (see the module's
    docstring). ``sessions`` is the plain factory for code that still manages its own
    transactions (the CLI, tests): its transactions take SQLite's write lock."""

    def __init__(self, engine: Engine, *, write_wait: float = 30.0) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.sessions = make_sessionmaker(engine)
        if self.is_sqlite:
            read_engine = engine.execution_options(**{READ_OPTION: True})
        else:
            # PostgreSQL at READ COMMITTED gives each statement its own snapshot inside a
            # transaction as well, so a read loses nothing without one, and saves the
            # BEGIN and COMMIT round trips (the change feed is written for exactly this).
            read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read_sessions = make_sessionmaker(read_engine)
        self._single = None if self.is_sqlite else read_engine
        # Only SQLite needs writers queued in-process: it has one write lock per file.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self._write_wait = write_wait

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read transaction: never SQLite's write lock; a flushed change raises."""
        with self._read_sessions() as session:
            session.info[READ_ONLY] = True
            with session.begin():
                yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction, committed on success and rolled back on any error. Keep
        it short: on SQLite every other writer of the process waits for it."""
        lock = self._write_lock
        if lock is not None and not lock.acquire(timeout=self._write_wait):
            raise ServerBusy(
                "The server is too busy to save this right now. Try again in a moment."
            )
        try:
            with self.sessions() as session, session.begin():
                yield session
        finally:
            if lock is not None:
                lock.release()

    def write_once(self, statement: Executable) -> None:
        """One statement committed on its own before this returns (an audit row): on
        PostgreSQL a single autocommitted statement, one round trip; on SQLite a short
        ``writing()``."""
        if self._single is None:
            with self.writing() as session:
                session.execute(statement)
            return
        with self._single.connect() as connection:
            connection.execute(statement)

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


# ``alembic.config.Config.attributes`` key: the field keys a migration seals values with.
MIGRATION_FIELD_KEYS = "clinicdesk.field_keys"


def migrate(url: str, settings: Settings | None = None) -> None:
    """Bring the database at ``url`` to the newest schema (Alembic ``upgrade head``).

    Also gives the process its field keys (``server.crypto``) from ``settings``, by
    default the environment's: whatever migrates a database goes on to use it, and a
    migration that seals existing values must use the keys the server will open them
    with."""
    from alembic import command

    command.upgrade(alembic_config(url, settings), "head")


def alembic_config(url: str, settings: Settings | None = None) -> AlembicConfig:
    """Alembic's configuration for the database at ``url``, with the field keys of
    ``settings`` (the environment's by default), which this process is given too."""
    from alembic.config import Config

    from server import crypto
    from server.config import get_settings

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes[MIGRATION_FIELD_KEYS] = crypto.configure(settings or get_settings())
    return config
