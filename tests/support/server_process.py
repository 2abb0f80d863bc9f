"""The demo clinic served by uvicorn in a separate *process*, for tests that fork.

A test that forks desk processes must stay single-threaded: a child forked while a server
thread holds a lock inherits that lock held for ever. So the server runs as its own
process (``python -m tests.support.server_process DATABASE_URL``), which migrates the
database, seeds the demo clinic unless it is there already (a copy of a seeded template),
binds a free loopback port and prints it on stdout.

The database itself stays reachable from the test (SQLite in WAL mode, or PostgreSQL), so
the test can inspect what the server committed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0


def wait_until_healthy(
    process: subprocess.Popen[Any], url: str, log: Callable[[], str], what: str
) -> None:
    """Until ``url`` answers ``/healthz``; a process that exits or never answers is an
    error that shows the end of its log."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} never answered /healthz:\n{log()}")
        time.sleep(0.05)


def reset_postgres(url: str) -> None:
    """An empty ``public`` schema (the server process migrates it), as tests/server does."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


class ServerProcess:
    """A uvicorn process serving the demo clinic from ``database_url``; ``close()`` ends it."""

    def __init__(self, database_url: str, log_path: Path) -> None:
        self.database_url = database_url
        self.log_path = log_path
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.server_process", database_url],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        try:
            assert self.process.stdout is not None
            line = self.process.stdout.readline().strip()
            if not line.isdigit():
                raise RuntimeError(f"the server process did not start:\n{self.log()}")
            self.port = int(line)
            self.url = f"http://127.0.0.1:{self.port}"
            self._wait_until_healthy()
        except BaseException:
            self.close()
            raise

    def _wait_until_healthy(self) -> None:
        wait_until_healthy(self.process, self.url, self.log, "the server process")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


def serve(database_url: str) -> None:
    """Migrate, seed the demo clinic if missing, then serve it on a free loopback port
    (printed)."""
    import uvicorn

    from server.app import create_app
    from server.config import Settings
    from server.db import migrate, transaction
    from server.demo import seed_demo

    migrate(database_url)
    app = create_app(Settings(database_url=database_url, environment="test"), run_migrations=False)
    with transaction(app.state.sessionmaker) as session:
        seed_demo(session)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    serve(sys.argv[1])
