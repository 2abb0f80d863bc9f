"""A real uvicorn server on a random loopback port, over a real database, for desk tests."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn

from server.app import create_app
from server.config import Settings
from server.db import make_engine, make_sessionmaker, migrate, transaction
from server.demo import seed_demo


class LiveServer:
    """Seeded with the demo clinic; ``stop()`` takes it off the network mid-test."""

    def __init__(self, database_path: Path, *, seed: bool = True) -> None:
        self.database_url = f"sqlite:///{database_path}"
        migrate(self.database_url)
        self.engine = make_engine(self.database_url)
        self.sessionmaker = make_sessionmaker(self.engine)
        app = create_app(
            Settings(database_url=self.database_url, environment="test"), run_migrations=False
        )
        if seed:
            with transaction(app.state.sessionmaker) as session:
                seed_demo(session)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
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
        self.app = app

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._socket.close()
        self.app.state.engine.dispose()

    def close(self) -> None:
        self.stop()
        self.engine.dispose()
