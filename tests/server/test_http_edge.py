"""The server's edge, over a real uvicorn on a loopback port: an error answer keeps the
keep-alive connection usable, and an oversized body is refused before it is read."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from server.app import create_app
from server.config import Settings
from sync.protocol import API_PREFIX, DEVICE_TOKEN_HEADER

PUSH = f"{API_PREFIX}/sync/mutations"
TEN_MB = 10 * 1024 * 1024


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn on a free loopback port, for the duration of the block."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="critical", lifespan="off", timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


def local_port(response: httpx.Response) -> int:
    """The client-side port of the connection that carried ``response``."""
    port: int = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    return port


class ReadCounter:
    """Wraps an ASGI app and counts the request body bytes the app actually pulled."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.bytes_read = 0

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        async def counted():  # type: ignore[no-untyped-def]
            message = await receive()
            self.bytes_read += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


@pytest.fixture
def edge_app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings, run_migrations=False)

    @app.get("/test-only/boom")
    def boom() -> None:
        raise RuntimeError("a bug the tests put here on purpose")

    yield app
    app.state.engine.dispose()


def test_error_answers_leave_the_keep_alive_connection_usable(edge_app, caplog):
    ports: list[int] = []

    with serving(edge_app) as url, httpx.Client(base_url=url) as http:

        def get(path: str) -> httpx.Response:
            response = http.get(path)
            ports.append(local_port(response))  # read while the connection is open
            return response

        first = get("/healthz")
        refused = get(f"{API_PREFIX}/patients/not-an-id")  # a 4xx in words
        after_refusal = get("/healthz")
        with caplog.at_level("ERROR", logger="server.http"):
            failed = get("/test-only/boom")
        after_failure = get("/healthz")

    assert first.status_code == 200
    assert refused.status_code in (401, 422), refused.text
    assert refused.json()["code"] in ("not_authenticated", "invalid")
    assert failed.status_code == 500
    assert failed.json()["code"] == "internal"
    assert "logged" in failed.json()["message"]
    assert "a bug the tests put here" not in failed.text  # no internals in the answer
    [logged] = [r for r in caplog.records if r.name == "server.http"]
    assert logged.exc_info is not None
    assert "a bug the tests put here" in str(logged.exc_info[1])
    assert after_refusal.status_code == after_failure.status_code == 200
    # One connection carried every request: none was dropped and opened again.
    assert len(set(ports)) == 1, ports


def test_a_declared_oversized_body_is_refused_before_any_of_it_is_read(edge_app):
    counter = ReadCounter(edge_app)
    with serving(counter) as url, httpx.Client(base_url=url, timeout=30) as http:  # type: ignore[arg-type]
        response = http.post(
            PUSH,
            content=b"[" * TEN_MB,
            headers={"Content-Type": "application/json", DEVICE_TOKEN_HEADER: "x"},
        )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert "1,048,576 bytes" in response.json()["message"]
    assert counter.bytes_read == 0  # refused on its Content-Length alone


def test_a_streamed_oversized_body_is_cut_off_at_the_limit(edge_app):
    counter = ReadCounter(edge_app)
    chunk = b" " * 65536

    def ten_megabytes() -> Iterator[bytes]:
        for _ in range(TEN_MB // len(chunk)):
            yield chunk

    with serving(counter) as url, httpx.Client(base_url=url, timeout=30) as http:  # type: ignore[arg-type]
        response = http.post(
            PUSH,
            content=ten_megabytes(),  # no Content-Length: sent chunked
            headers={"Content-Type": "application/json", DEVICE_TOKEN_HEADER: "x"},
        )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    # Read up to the limit (uvicorn hands over what has arrived in one piece, so a
    # little past it), then no further: nowhere near the ten megabytes sent.
    limit = 1024 * 1024
    assert limit < counter.bytes_read < 2 * limit


def test_a_body_within_the_limit_is_read_as_usual(edge_app):
    with serving(edge_app) as url, httpx.Client(base_url=url) as http:
        response = http.post(
            PUSH,
            content=b'{"mutations": []}' + b" " * 500_000,
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 401  # read, parsed, then refused for want of a device
    assert response.json()["code"] == "not_authenticated"


def test_the_limit_is_a_setting(database_url):
    small = Settings(database_url=database_url, environment="test", max_body_bytes=65536)
    app = create_app(small, run_migrations=False)
    try:
        with serving(app) as url, httpx.Client(base_url=url) as http:
            response = http.post(PUSH, content=b" " * 70_000)
        assert response.status_code == 413
        assert "65,536 bytes" in response.json()["message"]
    finally:
        app.state.engine.dispose()
