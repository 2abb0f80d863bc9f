"""Fixtures every test may use: an in-memory keyring and Qt's offscreen platform."""

from __future__ import annotations

import os
from collections.abc import Iterator

import keyring
import pytest

from sync import keys
from tests.support.live_server import LiveServer
from tests.support.memory_keyring import MEMORY_KEYRING, MemoryKeyring

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    """Every test gets a fresh, empty keyring; the machine's own is never touched."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    monkeypatch.setattr(keys, "TRUSTED_BACKENDS", keys.TRUSTED_BACKENDS | {MEMORY_KEYRING})
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo clinic served by a real uvicorn on a random loopback port."""
    server = LiveServer(tmp_path_factory.mktemp("server") / "server.sqlite3")
    yield server
    server.close()
