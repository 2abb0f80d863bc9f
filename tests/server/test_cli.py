"""The ``clinicdesk`` command: demo seeding, clinics and staff, with clear refusals."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from common.forms import FormStatus
from common.roles import Role
from server.app import create_app
from server.cli import main
from server.clinics.models import Clinic
from server.config import Settings, get_settings
from server.db import make_engine, make_sessionmaker
from server.demo import DEMO_LOGINS, DEMO_SLUG, FRONT_DESK, PROVIDERS
from server.forms.models import FormRequest, FormTemplate
from server.patients.models import Patient
from server.scheduling.models import Appointment, AppointmentType, Provider
from server.staff.models import StaffUser

GOOD_PASSWORD = "a-long-enough-password"


class Cli:
    def __init__(self, capsys, monkeypatch, database_url):
        self.capsys = capsys
        self.monkeypatch = monkeypatch
        self.database_url = database_url

    def __call__(self, *argv, stdin=""):
        self.capsys.readouterr()  # start from clean output
        self.monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err

    def count(self, model):
        engine = make_engine(self.database_url)
        try:
            with make_sessionmaker(engine)() as session:
                return session.scalar(select(func.count()).select_from(model))
        finally:
            engine.dispose()

    def scalar(self, statement):
        engine = make_engine(self.database_url)
        try:
            with make_sessionmaker(engine)() as session:
                return session.scalar(statement)
        finally:
            engine.dispose()


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """``clinicdesk`` run in an empty folder against a SQLite file of its own."""
    for name in list(os.environ):
        if name.upper().startswith("CLINICDESK_"):
            monkeypatch.delenv(name)
    database_url = f"sqlite:///{tmp_path / 'var' / 'cli.sqlite3'}"
    monkeypatch.setenv("CLINICDESK_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield Cli(capsys, monkeypatch, database_url)
    get_settings.cache_clear()


def test_seed_demo_twice_makes_one_demo_clinic_and_prints_the_logins(cli):
    first = cli("seed-demo")
    appointments = cli.count(Appointment)
    sync_version = cli.scalar(select(Clinic.sync_version))
    second = cli("seed-demo")

    assert first[0] == second[0] == 0, first[2] + second[2]
    assert "Created" in first[1]
    assert "Already there" in second[1]
    for _code, out, _err in (first, second):
        assert f"'{DEMO_SLUG}'" in out
        for login in DEMO_LOGINS:
            assert login.email in out
            assert login.password in out
    assert cli.count(Clinic) == 1
    assert cli.count(Provider) == len(PROVIDERS)
    assert cli.count(Patient) == 200 + 1  # and the portal account holder's child
    assert "Patient portal: /portal/demo" in first[1]
    assert cli.count(StaffUser) == len(DEMO_LOGINS)
    # Forms: an intake and a consent, waiting for the portal's patient and new patients.
    assert cli.count(FormTemplate) == 2
    assert cli.scalar(select(func.count()).where(FormRequest.status == FormStatus.PENDING)) > 2
    assert cli.scalar(select(func.count()).where(AppointmentType.video.is_(True))) == 1
    assert appointments > 0
    assert cli.count(Appointment) == appointments
    assert cli.scalar(select(Clinic.sync_version)) == sync_version  # nothing was rewritten
    credentials = json.loads(Path("var/demo-credentials.json").read_text())
    assert credentials == {
        "clinic": DEMO_SLUG,
        "email": FRONT_DESK.email,
        "password": FRONT_DESK.password,
    }


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--slug", "riverside", "--time-zone", "Mars/Olympus_Mons"], "Mars/Olympus_Mons"),
        (["--slug", "River Side", "--time-zone", "Europe/London"], "River Side"),
    ],
    ids=["time zone", "slug"],
)
def test_create_clinic_refuses_bad_input_and_creates_nothing(cli, argv, words):
    code, out, err = cli("create-clinic", "--name", "Riverside Physio", *argv)

    assert code == 2
    assert out == ""
    assert err.startswith("clinicdesk: ")
    assert words in err
    assert cli.count(Clinic) == 0


def test_create_clinic_refuses_a_short_name_already_taken(cli):
    created = cli(
        "create-clinic", "--slug", "riverside", "--name", "Riverside", "--time-zone", "UTC"
    )
    again = cli(
        "create-clinic", "--slug", "riverside", "--name", "Other", "--time-zone", "Europe/Paris"
    )

    assert created[0] == 0, created[2]
    assert "Riverside" in created[1]
    assert again[0] == 2
    assert "riverside" in again[2]
    assert "already exists" in again[2]
    assert cli.scalar(select(Clinic.name)) == "Riverside"


def create_riverside(cli):
    code, _out, err = cli(
        "create-clinic", "--slug", "riverside", "--name", "Riverside", "--time-zone", "UTC"
    )
    assert code == 0, err


def create_user(cli, *, clinic="riverside", email="robin@riverside.example", password):
    return cli(
        "create-user",
        "--clinic",
        clinic,
        "--email",
        email,
        "--name",
        "Robin Reception",
        "--role",
        Role.FRONT_DESK.value,
        "--password-stdin",
        stdin=password + "\n",
    )


def test_create_user_refuses_a_short_password(cli):
    create_riverside(cli)

    code, out, err = create_user(cli, password="short")

    assert code == 2
    assert out == ""
    assert "at least 10 characters" in err
    assert cli.count(StaffUser) == 0


def test_create_user_refuses_an_unknown_clinic(cli):
    create_riverside(cli)

    code, _out, err = create_user(cli, clinic="hillside", password=GOOD_PASSWORD)

    assert code == 2
    assert "hillside" in err
    assert cli.count(StaffUser) == 0


def test_a_created_user_can_enroll_a_workstation(cli):
    create_riverside(cli)

    code, out, err = create_user(cli, email="Robin@Riverside.example", password=GOOD_PASSWORD)

    assert code == 0, err
    assert "robin@riverside.example" in out
    app = create_app(Settings(database_url=cli.database_url, environment="test"))
    try:
        with TestClient(app) as client:
            response = client.post(
                "/api/v1/devices",
                json={
                    "clinic": "riverside",
                    "email": "robin@riverside.example",
                    "password": GOOD_PASSWORD,
                    "device_name": "Reception 1",
                },
            )
    finally:
        app.state.engine.dispose()
    assert response.status_code == 201, response.text
    assert response.json()["staff"]["role"] == Role.FRONT_DESK.value


def test_an_unknown_role_is_a_usage_error(cli):
    with pytest.raises(SystemExit) as usage:
        cli(
            "create-user",
            "--clinic",
            "riverside",
            "--email",
            "a@b.example",
            "--name",
            "A",
            "--role",
            "janitor",
            "--password-stdin",
        )

    assert usage.value.code == 2
    assert "janitor" in cli.capsys.readouterr().err


def test_purge_tombstones_refuses_a_nonsense_age(capsys):
    from server.cli import main

    assert main(["purge-tombstones", "--days", "0"]) == 2
    assert "--days must be at least 1" in capsys.readouterr().err


def test_desktop_help_lists_the_desktops_options_with_their_help(tmp_path):
    """``clinicdesk desktop --help`` reaches the desktop's own parser (in its own process,
    as ``clinicdesk desktop`` hands over) and needs no display or keyring to answer."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "desktop", "--help"],
        cwd=root,
        env=env | {"HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: clinicdesk desktop")
    for option, words in [
        ("--server URL", "server address"),
        ("--clinic SHORT_NAME", "short name"),
        ("--email", "e-mail address"),
        ("--demo-credentials FILE", "demo login"),
    ]:
        assert option in done.stdout
        assert words in done.stdout
