"""Fixtures for the server's tests: a fresh database per test on every backend we ship.

SQLite always; PostgreSQL too when ``CLINICDESK_TEST_DATABASE_URL`` is set.
Each backend is migrated once per session; a test then gets a copy of the migrated SQLite
file, or the PostgreSQL schema with every table emptied, so per-test cost stays small.

Helpers are fixtures (not importable functions), so the tests work whatever the import
mode and whether or not ``tests`` is a package.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

import server.changefeed.versioning  # noqa: F401  - stamps versions on rows tests write
from common.appointments import AppointmentStatus
from common.roles import Role
from server.app import create_app
from server.auth.security import hash_token, new_token
from server.clinics.models import Clinic
from server.clinics.service import create_clinic
from server.config import Settings
from server.db import make_engine, migrate, transaction, utcnow
from server.models import Base
from server.patients.models import Patient
from server.scheduling.models import Appointment, Provider
from server.staff.models import Device, StaffUser
from sync.protocol import (
    API_PREFIX,
    DEVICE_TOKEN_HEADER,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    Entity,
    b64,
)
from sync.signing import Author, new_private_key, public_key_of
from tests.support.passwords import cheap_password_hash
from tests.support.postgres import POSTGRES_URL_VARIABLE, postgres_url
from tests.support.signed import DeskHeaders

# One password for every factory-made staff member, hashed once per session and at argon2's
# lowest cost (tests/support/passwords.py): argon2 is deliberately slow, and the tests are
# about who may do what, not about hashing.
STAFF_PASSWORD = "correct-horse-battery-staple"


def _backends() -> list[Any]:
    """SQLite always; PostgreSQL only when a URL is given (otherwise it is not collected)."""
    backends = [pytest.param("sqlite", id="sqlite")]
    if postgres_url():
        backends.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))
    return backends


# --- databases -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "clinicdesk.sqlite3"
    migrate(f"sqlite:///{path}")
    # The server runs SQLite in WAL mode: fold the log into the file so one file is a copy.
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    """The PostgreSQL test database, with a freshly migrated ``public`` schema."""
    url = postgres_url()
    if not url:  # pragma: no cover - the postgres parameter only exists when it is set
        pytest.skip(f"{POSTGRES_URL_VARIABLE} is not set")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    migrate(url)
    yield engine
    engine.dispose()


def _empty_postgres(engine: Engine) -> None:
    # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE makes (and syncs to
    # disk) new files for every table, a cost that grew with every table added.
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database for this test alone, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "clinicdesk.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    engine: Engine = request.getfixturevalue("postgres_engine")
    _empty_postgres(engine)
    return engine.url.render_as_string(hide_password=False)


# --- the application -------------------------------------------------------------------


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # No dispatcher thread: tests that send run a Dispatcher themselves, when they choose.
    # Uploaded files go to this test's own folder.
    return Settings(
        database_url=database_url,
        environment="test",
        dispatch_in_server=False,
        media_dir=tmp_path / "media",
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings, run_migrations=False)  # the fixture migrated it
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def db(app: FastAPI) -> sessionmaker[Session]:
    """Sessions on the app's own engine, for arranging and inspecting rows."""
    factory: sessionmaker[Session] = app.state.sessionmaker
    return factory


@pytest.fixture
def engine_factory(database_url: str) -> Iterator[Callable[[], Engine]]:
    """Extra engines on the test database (for concurrent writers), disposed afterwards."""
    made: list[Engine] = []

    def make() -> Engine:
        engine = make_engine(database_url)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.dispose()


# --- factories ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffLogin:
    clinic_id: uuid.UUID
    clinic_slug: str
    staff_id: uuid.UUID
    email: str
    password: str
    role: Role


@dataclass
class ClinicRecords:
    provider_ids: list[uuid.UUID] = field(default_factory=list)
    patient_ids: list[uuid.UUID] = field(default_factory=list)
    appointment_ids: list[uuid.UUID] = field(default_factory=list)

    @property
    def all_ids(self) -> set[uuid.UUID]:
        return {*self.provider_ids, *self.patient_ids, *self.appointment_ids}


@dataclass
class MadeClinic:
    id: uuid.UUID
    slug: str
    staff: dict[Role, StaffLogin]
    records: ClinicRecords

    @property
    def front_desk(self) -> StaffLogin:
        return self.staff[Role.FRONT_DESK]

    @property
    def synced_ids(self) -> set[uuid.UUID]:
        """Every record of this clinic that its desks receive: staff included."""
        return self.records.all_ids | {login.staff_id for login in self.staff.values()}


@pytest.fixture(scope="session")
def staff_password_hash() -> str:
    return cheap_password_hash(STAFF_PASSWORD)


class Factory:
    """Clinics, staff and records written straight to the database, and logins through
    the API (``enroll``, ``sign_in``) the way a desk does it."""

    def __init__(self, db: sessionmaker[Session], client: TestClient, password_hash: str):
        self.db = db
        self.client = client
        self.password_hash = password_hash

    def clinic(
        self,
        slug: str,
        *,
        roles: tuple[Role, ...] = (Role.FRONT_DESK,),
        providers: int = 0,
        patients: int = 0,
        appointments: int = 0,
        time_zone: str = "Europe/London",
    ) -> MadeClinic:
        with transaction(self.db) as session:
            clinic = create_clinic(
                session, slug=slug, name=f"{slug.title()} Clinic", time_zone=time_zone
            )
            clinic_id = clinic.id
        made = MadeClinic(id=clinic_id, slug=slug, staff={}, records=ClinicRecords())
        for role in roles:
            made.staff[role] = self.staff(made, role)
        made.records = self.records(
            made, providers=providers, patients=patients, appointments=appointments
        )
        return made

    def staff(
        self, clinic: MadeClinic, role: Role, *, active: bool = True, email: str | None = None
    ) -> StaffLogin:
        email = email or f"{role.value.replace('_', '-')}@{clinic.slug}.example"
        with transaction(self.db) as session:
            user = StaffUser(
                clinic_id=clinic.id,
                email=email,
                display_name=f"{role.label} of {clinic.slug}",
                password_hash=self.password_hash,
                role=role,
                active=active,
            )
            session.add(user)
            session.flush()
            staff_id = user.id
        return StaffLogin(clinic.id, clinic.slug, staff_id, email, STAFF_PASSWORD, role)

    def existing_login(self, clinic_slug: str, email: str, password: str) -> StaffLogin:
        """The login of a staff member made elsewhere (the demo seed, the CLI)."""
        with self.db() as session:
            staff = session.execute(
                select(StaffUser)
                .join(Clinic, Clinic.id == StaffUser.clinic_id)
                .where(Clinic.slug == clinic_slug, StaffUser.email == email)
            ).scalar_one()
        return StaffLogin(staff.clinic_id, clinic_slug, staff.id, email, password, staff.role)

    def records(
        self, clinic: MadeClinic, *, providers: int, patients: int, appointments: int
    ) -> ClinicRecords:
        """Providers, patients and non-overlapping appointments, spread round-robin."""
        made = ClinicRecords()
        if not providers and not patients and not appointments:
            return made
        with transaction(self.db) as session:
            provider_rows = [
                Provider(clinic_id=clinic.id, display_name=f"Provider {n} of {clinic.slug}")
                for n in range(providers)
            ]
            patient_rows = [
                Patient(
                    clinic_id=clinic.id,
                    first_name=f"Pat{n}",
                    last_name=clinic.slug.title(),
                    date_of_birth=date(1980, 1, 1) + timedelta(days=97 * n),
                )
                for n in range(patients)
            ]
            session.add_all([*provider_rows, *patient_rows])
            session.flush()
            first = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
            appointment_rows = [
                Appointment(
                    clinic_id=clinic.id,
                    provider_id=provider_rows[n % providers].id,
                    patient_id=patient_rows[n % patients].id,
                    starts_at=first + timedelta(minutes=30 * n),
                    ends_at=first + timedelta(minutes=30 * n + 30),
                    status=AppointmentStatus.BOOKED,
                )
                for n in range(appointments)
            ]
            session.add_all(appointment_rows)
            session.flush()
            made.provider_ids = [row.id for row in provider_rows]
            made.patient_ids = [row.id for row in patient_rows]
            made.appointment_ids = [row.id for row in appointment_rows]
        return made

    def issue_device(self, login: StaffLogin, *, name: str = "Reception 2") -> dict[str, str]:
        """Headers of a workstation enrolled straight in the database: no password check,
        for tests about what a device may do rather than how it got enrolled."""
        token = new_token()
        with transaction(self.db) as session:
            session.add(
                Device(
                    clinic_id=login.clinic_id,
                    name=name,
                    token_hash=hash_token(token),
                    enrolled_by_id=login.staff_id,
                    expires_at=utcnow() + timedelta(days=30),
                )
            )
        return {DEVICE_TOKEN_HEADER: token}

    # -- through the API, as a desk does it --

    def enroll(self, login: StaffLogin, *, device_name: str = "Reception 1") -> str:
        response = self.client.post(
            f"{API_PREFIX}/devices",
            json={
                "clinic": login.clinic_slug,
                "email": login.email,
                "password": login.password,
                "device_name": device_name,
            },
        )
        assert response.status_code == 201, response.text
        token: str = response.json()["device_token"]
        return token

    def sign_in(self, device_token: str, login: StaffLogin) -> str:
        response = self.client.post(
            f"{API_PREFIX}/sessions",
            headers={DEVICE_TOKEN_HEADER: device_token},
            json={"email": login.email, "password": login.password},
        )
        assert response.status_code == 201, response.text
        token: str = response.json()["session_token"]
        return token

    def signed_desk(self, *logins: StaffLogin, device_name: str = "Reception 1") -> DeskHeaders:
        """A workstation enrolled by the first of ``logins`` on which each of them signed
        in with a signing key, as a desk does: pushes through it are signed by them."""
        device_token = self.enroll(logins[0], device_name=device_name)
        authors = {}
        for login in logins:
            private_key = new_private_key()
            response = self.client.post(
                f"{API_PREFIX}/sessions",
                headers={DEVICE_TOKEN_HEADER: device_token},
                json={
                    "email": login.email,
                    "password": login.password,
                    "signing_key": b64(public_key_of(private_key)),
                },
            )
            assert response.status_code == 201, response.text
            key_id = uuid.UUID(response.json()["signing_key_id"])
            authors[login.staff_id] = Author(login.staff_id, key_id, private_key)
        return DeskHeaders({DEVICE_TOKEN_HEADER: device_token}, authors)

    def device_headers(self, login: StaffLogin) -> dict[str, str]:
        """Headers of an enrolled workstation with nobody signed in."""
        return {DEVICE_TOKEN_HEADER: self.enroll(login)}

    def staff_headers(self, login: StaffLogin) -> dict[str, str]:
        """Headers of ``login`` signed in on a freshly enrolled workstation."""
        device_token = self.enroll(login)
        return {"Authorization": f"Bearer {self.sign_in(device_token, login)}"}


@pytest.fixture
def factory(db: sessionmaker[Session], client: TestClient, staff_password_hash: str) -> Factory:
    return Factory(db, client, staff_password_hash)


# --- reading the change feed --------------------------------------------------------------


@pytest.fixture
def pull(client: TestClient) -> Callable[..., dict[str, Any]]:
    """One page of ``GET /sync/changes`` (asserting it succeeded), as JSON."""

    def pull_page(
        headers: dict[str, str], cursor: str | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        params: dict[str, str | int] = {}
        if cursor is not None:
            params["cursor"] = cursor
        if limit is not None:
            params["limit"] = limit
        response = client.get(
            f"{API_PREFIX}/sync/changes",
            params=params,
            headers={PROTOCOL_HEADER: str(PROTOCOL_VERSION), **headers},
        )
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    return pull_page


@pytest.fixture
def pull_all(pull: Callable[..., dict[str, Any]]) -> Callable[..., list[dict[str, Any]]]:
    """Every page from ``cursor`` until ``has_more`` is false."""

    def pull_pages(
        headers: dict[str, str], cursor: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        pages = [pull(headers, cursor, limit)]
        while pages[-1]["has_more"]:
            assert len(pages) < 10_000, "the feed never said it was done"
            pages.append(pull(headers, pages[-1]["next_cursor"], limit))
        return pages

    return pull_pages


def page_rows(page: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(entity, id, version) of every record and tombstone in a page."""
    rows = [
        (entity, record["id"], record["version"])
        for entity in get_args(Entity)
        for record in page[entity]
    ]
    rows.extend((t["entity"], t["id"], t["version"]) for t in page["tombstones"])
    return rows


@pytest.fixture
def rows_of() -> Callable[[dict[str, Any]], list[tuple[str, str, int]]]:
    return page_rows
