"""``clinicdesk serve`` run for real, in processes of its own, for tests and benchmarks
that need what only separate processes show: several workers, several servers on one
PostgreSQL, the proxy headers, the CLI's own start-up.

    with ServeProcess(url, tmp_path / "a.log") as a, ServeProcess(url, tmp_path / "b.log") as b:
        ...  # a.url and b.url serve the same database

Settings go in through the environment, as in production (``CLINICDESK_*``); the
database must exist (``serve`` migrates it) and hold whatever clinic the test needs.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx
from sqlalchemy import create_engine, text

from server.changefeed.live import LISTENER_NAME

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0


def free_port() -> int:
    """A loopback port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServeProcess:
    """``python -m server.cli serve`` on a free loopback port; ``close()`` stops it."""

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        *,
        workers: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        environment = {
            name: value for name, value in os.environ.items() if not name.startswith("CLINICDESK_")
        }
        environment |= {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "CLINICDESK_DATABASE_URL": database_url,
            "CLINICDESK_ENVIRONMENT": "test",
            **(env or {}),
        }
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "server.cli", "serve"),
                *("--port", str(self.port), "--workers", str(workers)),
            ],
            cwd=ROOT,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_healthy()
        except BaseException:
            self.close()
            raise

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"clinicdesk serve exited:\n{self.log()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"clinicdesk serve never answered /healthz:\n{self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-6000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
        self._log.close()

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()


def listening_pids(database_url: str) -> set[int]:
    """The server processes listening for change notifications on this database now."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            names = connection.execute(
                text(
                    "SELECT application_name FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name LIKE :name"
                ),
                {"name": f"{LISTENER_NAME} %"},
            ).scalars()
            return {int(name.rsplit(" ", 1)[1]) for name in names}
    finally:
        engine.dispose()
