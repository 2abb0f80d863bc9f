"""``clinicdesk serve`` run for real, in processes of its own, for tests and benchmarks
that need what only separate processes show: several workers, several servers on one
PostgreSQL, the proxy headers, the CLI's own start-up.

    with two_serve_processes(postgres_url, tmp_path) as (first, second, clinic):
        ...  # first.url and second.url serve one database holding ``clinic``

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
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx
from sqlalchemy import create_engine, text

from common.roles import Role
from server.changefeed.live import LISTENER_NAME
from server.clinics.service import create_clinic
from server.db import make_sessionmaker, migrate, transaction
from server.patients.models import Patient
from server.scheduling.models import Provider
from server.staff.service import create_staff_user
from sync.protocol import API_PREFIX, DEVICE_TOKEN_HEADER
from tests.support.server_process import reset_postgres, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]


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
        wait_until_healthy(self.process, self.url, self.log, "clinicdesk serve")

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


@dataclass(frozen=True)
class SmallClinic:
    """Clinic ``slug`` with one front desk (``email``/``password``), provider and patient."""

    id: uuid.UUID
    provider_id: uuid.UUID
    patient_id: uuid.UUID
    slug: str = "oak"
    email: str = "desk@oak.example"
    password: str = "oak-front-desk-1"


def seed_small_clinic(database_url: str) -> SmallClinic:
    migrate(database_url)
    engine = create_engine(database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            clinic = create_clinic(
                session, slug=SmallClinic.slug, name="Oak Clinic", time_zone="Europe/London"
            )
            create_staff_user(
                session,
                clinic,
                email=SmallClinic.email,
                display_name="Front desk",
                password=SmallClinic.password,
                role=Role.FRONT_DESK,
            )
            provider = Provider(clinic_id=clinic.id, display_name="Dr Oak")
            patient = Patient(clinic_id=clinic.id, first_name="Ada", last_name="Oak")
            session.add_all([provider, patient])
            session.flush()
            return SmallClinic(clinic.id, provider.id, patient.id)
    finally:
        engine.dispose()


@contextlib.contextmanager
def two_serve_processes(
    postgres_url: str, folder: Path, *, env: dict[str, str] | None = None
) -> Iterator[tuple[ServeProcess, ServeProcess, SmallClinic]]:
    """Two ``clinicdesk serve`` processes on one freshly emptied PostgreSQL database
    holding a ``SmallClinic``, each already listening for the other's changes."""
    reset_postgres(postgres_url)
    clinic = seed_small_clinic(postgres_url)
    with (
        ServeProcess(postgres_url, folder / "first.log", env=env) as first,
        ServeProcess(postgres_url, folder / "second.log", env=env) as second,
    ):
        deadline = time.monotonic() + 20
        wanted = {first.process.pid, second.process.pid}
        while not wanted <= listening_pids(postgres_url):
            if time.monotonic() > deadline:
                raise RuntimeError("the servers never started listening for changes")
            time.sleep(0.1)
        yield first, second, clinic


def enroll(url: str, clinic: SmallClinic, device_name: str) -> str:
    """A workstation enrolled through ``url`` with the clinic's front desk login."""
    response = httpx.post(
        f"{url}{API_PREFIX}/devices",
        json={
            "clinic": clinic.slug,
            "email": clinic.email,
            "password": clinic.password,
            "device_name": device_name,
        },
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["device_token"]
    return token


def sign_in(url: str, clinic: SmallClinic, device_token: str) -> dict[str, str]:
    """Headers of the front desk signed in through ``url`` on that workstation."""
    response = httpx.post(
        f"{url}{API_PREFIX}/sessions",
        headers={DEVICE_TOKEN_HEADER: device_token},
        json={"email": clinic.email, "password": clinic.password},
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['session_token']}"}
