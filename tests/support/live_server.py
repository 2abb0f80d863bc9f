"""A real uvicorn server on a random loopback port, over a real database, for desk tests.

Seeding the demo clinic takes about a second (two argon2 hashes, 200 patients, four
weeks of appointments), and many tests want it: ``DemoTemplates`` seeds it once into a
SQLite file and each server gets a copy. The copy's two logins are hashed at argon2's
lowest cost (tests/support/passwords.py), since every desk test signs in with them.
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
import threading
import time
from contextlib import closing
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import uvicorn

from server.app import create_app
from server.config import Settings
from server.db import make_engine, make_sessionmaker, migrate, transaction
from server.demo import DEMO_LOGINS, DEMO_TIME_ZONE, seed_demo
from tests.support.passwords import cheap_password_hash


def seed_demo_database(path: Path, today: date | None = None) -> None:
    """Migrate a new SQLite file at ``path`` and seed the demo clinic into it, its logins
    (same passwords) hashed cheaply."""
    url = f"sqlite:///{path}"
    migrate(url)
    engine = make_engine(url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            seed_demo(session, today=today)
    finally:
        engine.dispose()
    # Straight to the column, as the seed would have written it: no version is stamped.
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.executemany(
            "UPDATE staff_users SET password_hash = ? WHERE email = ?",
            [(cheap_password_hash(login.password), login.email) for login in DEMO_LOGINS],
        )
    # The server runs SQLite in WAL mode: fold the log into the file so one file is a copy.
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class DemoTemplates:
    """Demo clinic databases seeded once per clinic day, copied for each test's server.

    The demo lays its appointments out around the clinic's "today" (past ones completed,
    later ones booked), so a template only serves the day it was seeded for: a session
    that runs past midnight in the clinic's time zone seeds a new one. A copy holds what
    a fresh seed would, but every copy of a day shares its ids.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._made: dict[date, Path] = {}

    def copy_to(self, path: Path) -> None:
        today = datetime.now(ZoneInfo(DEMO_TIME_ZONE)).date()
        template = self._made.get(today)
        if template is None:
            template = self.folder / f"demo-{today.isoformat()}.sqlite3"
            seed_demo_database(template, today)
            self._made[today] = template
        shutil.copyfile(template, path)


class LiveServer:
    """Seeded with the demo clinic; ``stop()`` takes it off the network mid-test and
    ``start_again()`` brings it back on the same address."""

    def __init__(
        self, database_path: Path, *, seed: bool = True, settings: dict[str, Any] | None = None
    ) -> None:
        self.database_url = f"sqlite:///{database_path}"
        migrate(self.database_url)
        self.engine = make_engine(self.database_url)
        self.sessionmaker = make_sessionmaker(self.engine)
        self.settings = Settings(
            database_url=self.database_url,
            environment="test",
            **{"media_dir": database_path.parent / "media", **(settings or {})},
        )
        app = create_app(self.settings, run_migrations=False)
        if seed:
            with transaction(app.state.sessionmaker) as session:
                seed_demo(session)
        self.app = app
        self._serve(0)
        self.url = f"http://127.0.0.1:{self.port}"

    def _serve(self, port: int) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self.port = self._socket.getsockname()[1]
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
            )
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def start_again(self) -> None:
        """Back on the network after ``stop()``, on the same port, as a restarted server."""
        self._serve(self.port)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._socket.close()
        self.app.state.engine.dispose()

    def close(self) -> None:
        self.stop()
        self.engine.dispose()
