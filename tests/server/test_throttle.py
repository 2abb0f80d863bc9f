"""Sign-in throttling and the cap on password checks, on SQLite and PostgreSQL.

Locks are per account (what was typed: clinic and e-mail) and per client address, with
a clock the tests move instead of waiting. The flood and race tests run a real uvicorn
on a loopback port, where requests really are concurrent; a gate holds password checks
at their start so a test can look at the server while a flood is waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from common.roles import Role
from server.app import create_app
from server.auth.guard import guard_for
from server.auth.hashing import CheckedPassword, PasswordChecks
from server.auth.models import SignInCounter, SignInLockout
from server.auth.throttle import wait_words
from server.config import Settings
from server.db import transaction, utcnow
from server.staff.models import StaffUser
from sync.protocol import API_PREFIX, DEVICE_TOKEN_HEADER
from tests.support.diary import ServedApp

DEVICES = f"{API_PREFIX}/devices"
SESSIONS = f"{API_PREFIX}/sessions"
LOCKOUTS = f"{API_PREFIX}/sign-in-lockouts"
PROVIDERS = f"{API_PREFIX}/providers"

# The defaults, but a small address limit (so tests need few requests to reach it).
POLICY: dict[str, Any] = {
    "sign_in_account_attempts": 5,
    "sign_in_address_attempts": 12,
    "sign_in_window_minutes": 15,
    "sign_in_lockout_seconds": 30,
    "sign_in_max_lockout_minutes": 15,
    "password_hash_concurrency": 2,
    "password_hash_queue": 64,
}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, environment="test", **POLICY)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(app: FastAPI) -> Clock:
    fake = Clock()
    guard_for(app).throttle.clock = fake
    return fake


@pytest.fixture
def clinic(factory):
    return factory.clinic("riverside", roles=(Role.FRONT_DESK, Role.CLINIC_ADMIN))


@pytest.fixture
def client_at(app: FastAPI) -> Iterator[Callable[[str], TestClient]]:
    """Clients calling from a given address (the TestClient's own is "testclient")."""
    made: list[TestClient] = []

    def make(address: str) -> TestClient:
        made.append(TestClient(app, client=(address, 50000)).__enter__())
        return made[-1]

    yield make
    for client in made:
        client.__exit__(None, None, None)


def enroll(client, login, password: str, *, email: str | None = None, slug: str | None = None):
    return client.post(
        DEVICES,
        json={
            "clinic": slug or login.clinic_slug,
            "email": email or login.email,
            "password": password,
            "device_name": "Reception 1",
        },
    )


def answer(response) -> tuple[int, str, str, str | None]:
    body = response.json()
    return response.status_code, body["code"], body["message"], response.headers.get("Retry-After")


def assert_error(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert len(body["message"]) > 15
    return body


def hashes(app: FastAPI) -> int:
    return guard_for(app).checks.load().total


# --- per account ---------------------------------------------------------------------------


def test_the_fifth_wrong_password_locks_the_account_even_for_the_right_one(
    app, client, clinic, clock
):
    login = clinic.front_desk
    for _ in range(4):
        assert_error(enroll(client, login, "not-it"), 401, "wrong_credentials")

    fifth = enroll(client, login, "not-it")

    body = assert_error(fifth, 429, "too_many_attempts")
    assert fifth.headers["Retry-After"] == "30"
    assert "30 seconds" in body["message"]
    assert "forgotten your password, ask a clinic admin" in body["message"]

    checked = hashes(app)
    clock.advance(29)
    right = enroll(client, login, login.password)
    assert_error(right, 429, "too_many_attempts")
    assert right.headers["Retry-After"] == "1"
    assert hashes(app) == checked, "a locked account's password was checked"

    clock.advance(1)
    assert enroll(client, login, login.password).status_code == 201


def test_locks_double_while_wrong_passwords_go_on_and_start_over_after_a_quiet_window(
    client, clinic, clock
):
    login = clinic.front_desk

    def wrong() -> tuple[int, int | None]:
        response = enroll(client, login, "not-it")
        retry = response.headers.get("Retry-After")
        return response.status_code, int(retry) if retry else None

    assert [wrong() for _ in range(4)] == [(401, None)] * 4
    waits = []
    for _ in range(5):
        status, retry = wrong()
        assert status == 429
        assert retry is not None
        waits.append(retry)
        clock.advance(retry)
    assert waits == [30, 60, 120, 240, 480]
    # 930 s in, the 15-minute window has passed: four free attempts again, but the lock
    # that follows keeps doubling (960 s), capped at 15 minutes.
    assert [wrong() for _ in range(4)] == [(401, None)] * 4
    assert wrong() == (429, 900)

    clock.advance(900 + 15 * 60)  # the lock ends, then a whole window without failures
    assert [wrong() for _ in range(4)] == [(401, None)] * 4
    assert wrong() == (429, 30)


def test_a_right_password_starts_the_account_afresh(client, clinic, clock):
    login = clinic.front_desk
    for _ in range(4):
        assert_error(enroll(client, login, "not-it"), 401, "wrong_credentials")
    assert enroll(client, login, login.password).status_code == 201

    for _ in range(4):
        assert_error(enroll(client, login, "not-it"), 401, "wrong_credentials")
    assert_error(enroll(client, login, "not-it"), 429, "too_many_attempts")


def test_an_unknown_account_is_answered_exactly_like_a_real_one(app, clinic, clock, client_at):
    login = clinic.front_desk
    attempts = {
        "real account": {},
        "unknown e-mail": {"email": "nobody@riverside.example"},
        "unknown clinic": {"slug": "no-such-clinic"},
    }
    seen = {}
    for n, (name, typed) in enumerate(attempts.items()):
        client = client_at(f"198.51.100.{n + 1}")  # each its own address: only accounts count
        before = hashes(app)
        seen[name] = [answer(enroll(client, login, "not-it", **typed)) for _ in range(7)]
        seen[name].append(answer(enroll(client, login, login.password, **typed)))
        seen[name].append(hashes(app) - before)  # checks run: the time each answer took

    assert seen["unknown e-mail"] == seen["real account"]
    assert seen["unknown clinic"] == seen["real account"]
    statuses = [status for status, *_ in seen["real account"][:-1]]
    assert statuses == [401] * 4 + [429] * 4
    assert seen["real account"][-1] == 5  # five checked, the rest refused unchecked


def test_signing_in_on_a_workstation_counts_against_the_same_account(
    client, factory, clinic, clock
):
    login = clinic.front_desk
    workstation = {DEVICE_TOKEN_HEADER: factory.enroll(login)}

    def sign_in(password: str):
        return client.post(
            SESSIONS, headers=workstation, json={"email": login.email, "password": password}
        )

    for _ in range(4):
        assert_error(sign_in("not-it"), 401, "wrong_credentials")
    assert_error(enroll(client, login, "not-it"), 429, "too_many_attempts")
    locked = sign_in(login.password)
    assert_error(locked, 429, "too_many_attempts")
    assert locked.headers["Retry-After"] == "30"

    clock.advance(30)
    assert sign_in(login.password).status_code == 201


# --- per address -----------------------------------------------------------------------------


def test_an_address_is_locked_across_accounts(clinic, clock, client_at):
    guesser, colleague = client_at("203.0.113.5"), client_at("203.0.113.6")
    login = clinic.front_desk
    for n in range(11):
        response = enroll(guesser, login, "not-it", email=f"guess{n}@riverside.example")
        assert_error(response, 401, "wrong_credentials")

    twelfth = enroll(guesser, login, "not-it", email="guess11@riverside.example")

    body = assert_error(twelfth, 429, "too_many_attempts")
    assert "from this network" in body["message"]
    assert twelfth.headers["Retry-After"] == "30"
    # Every account from that address waits, the right password too; others do not.
    assert_error(enroll(guesser, login, login.password), 429, "too_many_attempts")
    assert enroll(colleague, login, login.password).status_code == 201
    clock.advance(30)
    assert enroll(guesser, login, login.password).status_code == 201


def test_right_passwords_do_not_use_up_an_addresss_allowance(factory, clinic, clock, client_at):
    desks = client_at("192.0.2.10")  # a clinic's desks behind one NAT address
    logins = [clinic.front_desk] + [
        factory.staff(clinic, Role.FRONT_DESK, email=f"desk{n}@riverside.example") for n in range(4)
    ]
    typos = iter(f"typo{n}@riverside.example" for n in range(12))
    for login in logins:
        assert_error(enroll(desks, login, "not-it", email=next(typos)), 401, "wrong_credentials")
        assert_error(enroll(desks, login, "not-it", email=next(typos)), 401, "wrong_credentials")
        assert enroll(desks, login, login.password).status_code == 201
    assert_error(enroll(desks, logins[0], "not-it", email=next(typos)), 401, "wrong_credentials")

    # Eleven failures and five sign-ins: the twelfth failure is the one that locks.
    assert_error(enroll(desks, logins[0], "not-it", email=next(typos)), 429, "too_many_attempts")


# --- lock-outs for the admin -------------------------------------------------------------------


def test_lockouts_are_listed_for_the_clinics_admins_only(client, factory, clinic, clock, client_at):
    admin = factory.staff_headers(clinic.staff[Role.CLINIC_ADMIN])
    front_desk = factory.staff_headers(clinic.front_desk)
    other = factory.clinic("hillside", roles=(Role.CLINIC_ADMIN,))
    other_admin = factory.staff_headers(other.staff[Role.CLINIC_ADMIN])
    guesser = client_at("203.0.113.77")
    for _ in range(5):
        enroll(guesser, clinic.front_desk, "not-it", email="  Front-Desk@Riverside.example ")
    clock.advance(60)
    for _ in range(5):
        enroll(guesser, clinic.front_desk, "not-it", email="made-up@riverside.example")

    listed = client.get(LOCKOUTS, headers=admin)

    assert listed.status_code == 200, listed.text
    rows = listed.json()["lockouts"]
    assert [(r["scope"], r["email"], r["address"]) for r in rows] == [
        ("account", "made-up@riverside.example", "203.0.113.77"),  # newest first
        ("account", "front-desk@riverside.example", "203.0.113.77"),
    ]
    first = rows[1]
    until = datetime.fromisoformat(first["until"]) - datetime.fromisoformat(first["at"])
    assert until == timedelta(seconds=30)
    assert len(client.get(LOCKOUTS, params={"limit": 1}, headers=admin).json()["lockouts"]) == 1
    assert_error(client.get(LOCKOUTS, headers=front_desk), 403, "forbidden")
    assert client.get(LOCKOUTS, headers=other_admin).json() == {"lockouts": []}
    assert_error(client.get(LOCKOUTS), 401, "not_authenticated")
    for bad in ("0", "501", "many"):
        body = assert_error(
            client.get(LOCKOUTS, params={"limit": bad}, headers=admin), 422, "invalid"
        )
        assert "limit" in body["message"]


def test_an_address_lock_is_recorded_for_the_clinic_it_was_tried_on(
    client, db, factory, clinic, clock, client_at
):
    admin = factory.staff_headers(clinic.staff[Role.CLINIC_ADMIN])
    guesser = client_at("203.0.113.99")
    for n in range(12):
        enroll(guesser, clinic.front_desk, "not-it", email=f"guess{n}@riverside.example")

    rows = client.get(LOCKOUTS, headers=admin).json()["lockouts"]

    assert [(r["scope"], r["email"], r["address"]) for r in rows] == [
        ("address", "guess11@riverside.example", "203.0.113.99")
    ]
    with db() as session:
        assert session.scalar(select(func.count()).select_from(SignInLockout)) == 1


def test_counters_nobody_needs_any_more_are_pruned(app, db, clinic, clock, client_at):
    guesser = client_at("203.0.113.50")
    for n in range(3):
        enroll(guesser, clinic.front_desk, "not-it", email=f"guess{n}@riverside.example")
    with db() as session:
        assert session.scalar(select(func.count()).select_from(SignInCounter)) == 4

    clock.advance(15 * 60 + 1)
    enroll(client_at("203.0.113.51"), clinic.front_desk, "not-it")

    with db() as session:
        keys = set(session.execute(select(SignInCounter.scope, SignInCounter.key)))
    assert keys == {
        ("account", "riverside front-desk@riverside.example"),
        ("address", "203.0.113.51"),
    }


# --- the cap on password checks, over real connections ------------------------------------------


class Gate:
    """Holds every password check at its start (in its slot) until opened."""

    def __init__(self, checks: PasswordChecks) -> None:
        self.opened = threading.Event()
        real = checks.verify

        def held(stored_hash: str | None, password: str) -> bool:
            assert self.opened.wait(60), "the gate was never opened"
            return real(stored_hash, password)

        checks.verify = held


class Flood:
    """Many requests at once, each on its own connection."""

    def __init__(self, url: str, size: int) -> None:
        self.client = httpx.Client(
            base_url=url, timeout=120, limits=httpx.Limits(max_connections=size + 10)
        )
        self.pool = ThreadPoolExecutor(size)

    def send(self, bodies: list[dict[str, str]]) -> list[Future[httpx.Response]]:
        return [self.pool.submit(self.client.post, DEVICES, json=body) for body in bodies]

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.client.close()


@pytest.fixture
def serve(database_url: str) -> Iterator[Callable[..., tuple[FastAPI, str, Gate]]]:
    """Start the app with ``POLICY`` plus overrides on a loopback port, checks held."""
    started: list[tuple[FastAPI, ServedApp, Gate]] = []

    def start(**overrides: Any) -> tuple[FastAPI, str, Gate]:
        settings = Settings(database_url=database_url, environment="test", **POLICY | overrides)
        app = create_app(settings, run_migrations=False)
        gate = Gate(guard_for(app).checks)
        started.append((app, ServedApp(app), gate))
        return app, started[-1][1].url, gate

    yield start
    for app, served, gate in started:
        gate.opened.set()
        served.stop()
        app.state.engine.dispose()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def body(clinic, email: str, password: str = "not-it") -> dict[str, str]:  # noqa: S107
    return {"clinic": clinic.slug, "email": email, "password": password, "device_name": "PC"}


@pytest.mark.slow  # fifty real argon2 checks, two at a time
def test_a_login_flood_queues_for_checks_and_a_signed_in_user_is_answered_meanwhile(
    factory, clinic, serve
):
    app, url, gate = serve(password_hash_concurrency=2, sign_in_address_attempts=1000)
    checks = guard_for(app).checks
    signed_in = factory.staff_headers(clinic.front_desk)
    # More logins than the server has worker threads (anyio's 40): if waiting for a
    # check held a thread, nothing else could run until the flood drained.
    size = 50
    flood = Flood(url, size)
    try:
        logins = flood.send([body(clinic, f"guess{n}@riverside.example") for n in range(size)])
        wait_until(
            lambda: checks.load().running == 2 and checks.load().waiting == size - 2,
            "the flood holds both check slots and the rest wait",
        )

        with httpx.Client(base_url=url, timeout=30) as user:
            providers = user.get(PROVIDERS, headers=signed_in)

        assert providers.status_code == 200, providers.text
        assert not any(login.done() for login in logins), "the user waited for the flood"
        gate.opened.set()
        answers = [login.result() for login in logins]
    finally:
        gate.opened.set()
        flood.close()
    assert {(a.status_code, a.json()["code"]) for a in answers} == {(401, "wrong_credentials")}
    load = checks.load()
    assert load.peak == 2  # never more checks at once than the cap (and it was reached)
    assert load.total == size
    assert (load.running, load.waiting, load.in_flight) == (0, 0, 0)


def test_beyond_the_queue_the_server_says_it_is_busy(clinic, db, serve):
    app, url, gate = serve(password_hash_concurrency=1, password_hash_queue=3)
    checks = guard_for(app).checks
    flood = Flood(url, 10)
    try:
        held = flood.send([body(clinic, f"held{n}@riverside.example") for n in range(4)])
        wait_until(lambda: checks.load().waiting == 3, "one check runs and three wait")
        turned_away = [f.result() for f in flood.send([body(clinic, "more@riverside.example")] * 6)]
        gate.opened.set()
        let_in = [f.result() for f in held]
    finally:
        gate.opened.set()
        flood.close()

    for response in turned_away:
        message = assert_error(response, 429, "server_busy")["message"]
        assert "busy" in message
        assert "try again in a few seconds" in message.lower()
        assert response.headers["Retry-After"] == "5"
    assert [r.status_code for r in let_in] == [401] * 4
    assert checks.load().total == 4
    # Turned away before anything was counted: the account they named is not even known.
    with db() as session:
        keys = session.scalars(select(SignInCounter.key).where(SignInCounter.scope == "account"))
        assert not [key for key in keys if "more@" in key]


def test_concurrent_guesses_at_one_account_get_no_more_checks_than_the_limit(clinic, db, serve):
    app, url, gate = serve(password_hash_concurrency=2)
    checks = guard_for(app).checks
    size = 20
    flood = Flood(url, size)
    try:
        guesses = flood.send([body(clinic, clinic.front_desk.email)] * size)
        # Five attempts were counted and wait for their checks; the other fifteen were
        # refused at once, with no check, while those five are still held.
        wait_until(lambda: sum(g.done() for g in guesses) == size - 5, "fifteen were refused")
        refused = [g.result() for g in guesses if g.done()]
        assert checks.load().running + checks.load().waiting == 5
        gate.opened.set()
        answers = [g.result() for g in guesses]
    finally:
        gate.opened.set()
        flood.close()

    assert {(r.status_code, r.json()["code"]) for r in refused} == {(429, "too_many_attempts")}
    assert sorted(r.status_code for r in answers) == [401] * 4 + [429] * 16
    assert checks.load().total == 5
    with db() as session:
        counter = session.get(
            SignInCounter, ("account", f"{clinic.slug} {clinic.front_desk.email}")
        )
        assert counter is not None
        assert counter.failures == 5
        assert session.scalar(select(func.count()).select_from(SignInLockout)) == 1


def test_a_password_changed_during_its_check_is_not_accepted(clinic, db, serve):
    app, url, gate = serve()
    checks = guard_for(app).checks
    login = clinic.front_desk
    flood = Flood(url, 1)
    try:
        [attempt] = flood.send([body(clinic, login.email, login.password)])
        wait_until(lambda: checks.load().running == 1, "the check is under way")
        with transaction(db) as session:
            session.get_one(StaffUser, login.staff_id).password_hash = "$argon2id$changed"
        gate.opened.set()
        response = attempt.result()
    finally:
        gate.opened.set()
        flood.close()

    assert_error(response, 401, "wrong_credentials")


# --- small parts ------------------------------------------------------------------------------


def test_a_checked_password_is_only_good_for_the_hash_it_was_checked_against():
    assert CheckedPassword("hash-1", ok=True).matches("hash-1")
    assert not CheckedPassword("hash-1", ok=True).matches("hash-2")
    assert not CheckedPassword("hash-1", ok=False).matches("hash-1")
    assert not CheckedPassword(None, ok=True).matches(None)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "1 second"),
        (30, "30 seconds"),
        (59, "59 seconds"),
        (60, "1 minute"),
        (61, "2 minutes"),
        (900, "15 minutes"),
    ],
)
def test_waits_are_told_in_words_never_shorter_than_the_lock(seconds, words):
    assert wait_words(seconds) == words
