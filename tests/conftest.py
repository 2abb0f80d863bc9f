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
from tests.support.postgres import WORKER_VARIABLE, use_worker_database

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Real Chromium for the patients' pages: one browser per test module.
__all__ = ["browser", "phone", "phone_without_js", "playwright"]


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, each worker gets a PostgreSQL database of its own
    (tests/support/postgres.py); run serially, the given one is used as it is."""
    use_worker_database()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the ``slow`` tests first (in their usual order among themselves):
    workers are handed tests in this order, so a long test starts while the short ones
    can still fill the other workers, rather than running alone at the end."""
    if os.environ.get(WORKER_VARIABLE):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def texts_all_day(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new clinic may text at any hour in tests, so a run in the evening sends what a
    run at noon does; tests of quiet hours set a clinic's hours themselves, or keep the
    defaults with the ``quiet_hours`` mark."""
    if request.node.get_closest_marker("quiet_hours") is None:
        from server.messaging import service

        monkeypatch.setattr(service, "DEFAULT_TEXTS_FROM", 0)
        monkeypatch.setattr(service, "DEFAULT_TEXTS_UNTIL", 23 * 60 + 59)


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
