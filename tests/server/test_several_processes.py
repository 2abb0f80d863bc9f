"""Several server processes on one PostgreSQL, started the way production starts them
(``clinicdesk serve``): a desk listening to one hears of a booking made through the other
at once, because PostgreSQL delivers the change's notification to every process, and
sign-in throttling counts the attempts made on every one of them.

Also what ``serve`` refuses and what it believes of a reverse proxy. Any test about what
several processes share can start them with ``tests.support.served.two_serve_processes``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from server.cli import main
from sync.live import LiveFeed
from sync.protocol import API_PREFIX
from tests.support.diary import days_ahead, local
from tests.support.postgres import postgres_url
from tests.support.served import (
    ServeProcess,
    SmallClinic,
    enroll,
    listening_pids,
    seed_small_clinic,
    sign_in,
    two_serve_processes,
)
from tests.support.server_process import reset_postgres

POSTGRES_URL = postgres_url()

needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="needs PostgreSQL (CLINICDESK_TEST_DATABASE_URL)"
)


@pytest.fixture
def two_servers(tmp_path) -> Iterator[tuple[ServeProcess, ServeProcess, SmallClinic]]:
    with two_serve_processes(POSTGRES_URL, tmp_path) as (first, second, clinic):
        yield first, second, clinic


@pytest.mark.postgres
@pytest.mark.slow
@needs_postgres
def test_a_desk_on_one_server_hears_of_a_booking_made_through_the_other(two_servers):
    first, second, made = two_servers
    heard = threading.Event()
    feed = LiveFeed(first.url, enroll(first.url, made, "Reception 1"), heard.set)
    feed.start()
    try:
        assert feed.connected.wait(10), "the desk never connected to the first server"
        time.sleep(0.5)  # the stream has said hello and noted the clinic's version
        # Its hello asked for one pull (what the desk may have missed while away); only
        # what is heard from now on is the booking's news.
        assert heard.is_set()
        heard.clear()
        staff = sign_in(second.url, made, enroll(second.url, made, "Reception 2"))
        start = local(days_ahead(2), 10)

        response = httpx.post(
            f"{second.url}{API_PREFIX}/appointments",
            headers={**staff, "Idempotency-Key": str(uuid.uuid4())},
            json={
                "provider_id": str(made.provider_id),
                "patient_id": str(made.patient_id),
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(minutes=30)).isoformat(),
            },
        )
        booked_at = time.monotonic()

        assert response.status_code == 201, response.text
        assert heard.wait(5), "the desk on the first server never heard of the booking"
        assert time.monotonic() - booked_at < 1.0
    finally:
        feed.stop()


@pytest.mark.postgres
@pytest.mark.slow
@needs_postgres
def test_several_workers_serve_one_database(tmp_path):
    reset_postgres(POSTGRES_URL)
    made = seed_small_clinic(POSTGRES_URL)
    with ServeProcess(POSTGRES_URL, tmp_path / "serve.log", workers=2) as served:
        deadline = time.monotonic() + 20
        while len(listening_pids(POSTGRES_URL)) < 2:  # one listener per worker process
            assert time.monotonic() < deadline, served.log()
            time.sleep(0.1)
        staff = sign_in(served.url, made, enroll(served.url, made, "Reception 1"))
        answers = [
            httpx.get(f"{served.url}{API_PREFIX}/providers", headers=staff) for _ in range(20)
        ]
    assert {answer.status_code for answer in answers} == {200}
    assert "Started parent process" in served.log()


def test_serve_refuses_several_workers_on_sqlite(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CLINICDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'one.sqlite3'}")
    from server.config import get_settings

    get_settings.cache_clear()
    try:
        code = main(["serve", "--workers", "3"])
    finally:
        get_settings.cache_clear()

    assert code == 2
    error = capsys.readouterr().err
    assert "--workers 3 needs PostgreSQL" in error
    assert "--workers 1" in error
    assert not (tmp_path / "one.sqlite3").exists()  # refused before touching anything


def test_serve_refuses_no_workers(capsys):
    assert main(["serve", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_the_client_address_is_the_one_a_trusted_proxy_forwards(tmp_path):
    """Behind a reverse proxy every connection comes from the proxy; the address it
    forwards is believed only from ``CLINICDESK_TRUSTED_PROXIES``. uvicorn's access log
    names the client it believed."""
    database_url = f"sqlite:///{tmp_path / 'proxy.sqlite3'}"
    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    with ServeProcess(
        database_url, tmp_path / "trusting.log", env={"CLINICDESK_TRUSTED_PROXIES": "127.0.0.1"}
    ) as trusting:
        assert httpx.get(trusting.url + "/healthz", headers=forwarded).status_code == 200
        trusting_log = trusting.log()
    with ServeProcess(
        database_url, tmp_path / "wary.log", env={"CLINICDESK_TRUSTED_PROXIES": "192.0.2.1"}
    ) as wary:
        assert httpx.get(wary.url + "/healthz", headers=forwarded).status_code == 200
        wary_log = wary.log()

    assert '203.0.113.7:0 - "GET /healthz' in trusting_log
    assert "203.0.113.7" not in wary_log
    assert "127.0.0.1:" in wary_log


@pytest.mark.postgres
@pytest.mark.slow
@needs_postgres
def test_sign_in_throttling_counts_attempts_made_on_either_server(two_servers):
    """The counters live in the database, so a guesser gains nothing by spreading
    attempts over the workers: the fifth wrong password, wherever it lands, locks the
    account on both, the right password included."""
    first, second, made = two_servers

    def attempt(url: str, password: str) -> httpx.Response:
        return httpx.post(
            f"{url}{API_PREFIX}/devices",
            json={
                "clinic": made.slug,
                "email": made.email,
                "password": password,
                "device_name": "Guess",
            },
            timeout=30,
        )

    answers = [attempt(url, "wrong-guess").status_code for url in [first.url, second.url] * 2]
    assert answers == [401, 401, 401, 401]
    fifth = attempt(first.url, "wrong-guess")
    assert fifth.status_code == 429, fifth.text
    assert int(fifth.headers["Retry-After"]) > 0
    for url in (first.url, second.url):
        right = attempt(url, made.password)
        assert right.status_code == 429, right.text
        assert right.json()["code"] == "too_many_attempts"
