"""Fixtures every test may use: an in-memory keyring, Qt's offscreen platform and the demo
clinic served live."""

from __future__ import annotations

import os
from collections.abc import Iterator

import keyring
import pytest

from sync import keys
from tests.support.browser import browser, phone, phone_without_js, playwright
from tests.support.live_server import DemoTemplates, LiveServer
from tests.support.memory_keyring import MEMORY_KEYRING, MemoryKeyring

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Real Chromium for the patients' pages: one browser for the whole session.
__all__ = ["browser", "phone", "phone_without_js", "playwright"]


@pytest.fixture(autouse=True)
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    """Every test gets a fresh, empty keyring; the machine's own is never touched."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    monkeypatch.setattr(keys, "TRUSTED_BACKENDS", keys.TRUSTED_BACKENDS | {MEMORY_KEYRING})
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(scope="session")
def demo_templates(tmp_path_factory: pytest.TempPathFactory) -> DemoTemplates:
    """The demo clinic seeded once (per clinic day) for the whole session."""
    return DemoTemplates(tmp_path_factory.mktemp("demo-templates"))


@pytest.fixture
def live_server(
    tmp_path_factory: pytest.TempPathFactory, demo_templates: DemoTemplates
) -> Iterator[LiveServer]:
    """The demo clinic, a copy of its own, served by a real uvicorn on a loopback port."""
    path = tmp_path_factory.mktemp("server") / "server.sqlite3"
    demo_templates.copy_to(path)
    server = LiveServer(path, seed=False)
    yield server
    server.close()
