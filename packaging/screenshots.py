"""Take the README's screenshots from the real desktop, signed in to a real demo server.

Run under Xvfb by ``make screenshots``; the keyring is the tests' in-memory one, so the
machine's own keyring is never touched.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import keyring
from PySide6.QtWidgets import QApplication

from desktop.mainwindow import MainWindow
from desktop.tasks import TaskRunner
from server.demo import FRONT_DESK
from sync import account, keys
from sync.engine import SyncEngine
from tests.support.live_server import LiveServer
from tests.support.memory_keyring import MEMORY_KEYRING, MemoryKeyring


def _wait(app: QApplication, done: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the desktop did not get there in time")
        app.processEvents()
        time.sleep(0.02)


def main(out_dir: Path) -> None:
    keys.TRUSTED_BACKENDS.add(MEMORY_KEYRING)
    keyring.set_keyring(MemoryKeyring())
    app = QApplication(sys.argv[:1])
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(Path(tmp) / "server.sqlite3")
        desk = account.sign_in(
            Path(tmp) / "desk", server.url, "demo", FRONT_DESK.email, FRONT_DESK.password
        )
        runner = TaskRunner()
        window = MainWindow(desk, runner, SyncEngine(desk.store, account.sync_client(desk)))
        window.resize(1400, 880)
        window.show()
        _wait(app, lambda: window.sync_label.text().startswith("Online"))
        _wait(app, lambda: bool(window.diary.view.appointment_items()))
        for _ in range(20):
            app.processEvents()
            time.sleep(0.02)
        window.grab().save(str(out_dir / "diary.png"))
        window.close()
        runner.shutdown()
        desk.store.close()
        server.close()
    print(f"Saved {out_dir / 'diary.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "resources/screenshots"))
