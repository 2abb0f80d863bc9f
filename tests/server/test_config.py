"""Server settings: read from ``CLINICDESK_*`` and refusing a weak secret in production."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from server.config import PLACEHOLDER_SECRET, Settings, get_settings

STRONG_SECRET = "k" * 48


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Settings from the machine running the tests must not leak into these."""
    for name in list(os.environ):
        if name.upper().startswith("CLINICDESK_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("secret", [PLACEHOLDER_SECRET, "s" * 31, ""])
def test_production_refuses_a_placeholder_or_short_secret(secret):
    with pytest.raises(ValidationError) as refused:
        Settings(environment="production", secret_key=secret)

    assert "CLINICDESK_SECRET_KEY" in str(refused.value)
    assert "32" in str(refused.value)


def test_production_accepts_a_long_random_secret():
    settings = Settings(environment="production", secret_key=STRONG_SECRET)

    assert settings.secret_key == STRONG_SECRET


@pytest.mark.parametrize("environment", ["development", "test"])
def test_development_and_tests_accept_the_placeholder(environment):
    settings = Settings(environment=environment)

    assert settings.secret_key == PLACEHOLDER_SECRET


def test_the_default_is_embedded_sqlite_in_development():
    settings = Settings()

    assert settings.environment == "development"
    assert settings.is_sqlite
    assert settings.database_url.startswith("sqlite:///")


def test_settings_are_read_from_prefixed_environment_variables(monkeypatch):
    url = "postgresql+psycopg://clinic@db.internal/clinicdesk"
    monkeypatch.setenv("CLINICDESK_ENVIRONMENT", "production")
    monkeypatch.setenv("CLINICDESK_SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("CLINICDESK_DATABASE_URL", url)
    monkeypatch.setenv("CLINICDESK_SESSION_HOURS", "3")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///not-ours.sqlite3")  # no prefix: ignored

    settings = get_settings()

    assert settings.environment == "production"
    assert settings.secret_key == STRONG_SECRET
    assert settings.database_url == url
    assert not settings.is_sqlite
    assert settings.session_hours == 3
    assert get_settings() is settings  # read once


def test_a_weak_secret_from_the_environment_is_refused_in_production(monkeypatch):
    monkeypatch.setenv("CLINICDESK_ENVIRONMENT", "production")

    with pytest.raises(ValidationError, match="CLINICDESK_SECRET_KEY"):
        Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [("CLINICDESK_ENVIRONMENT", "staging"), ("CLINICDESK_DEVICE_TOKEN_DAYS", "0")],
)
def test_invalid_environment_values_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError):
        Settings()


def test_pool_threads_and_proxies_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("CLINICDESK_DB_POOL_SIZE", "6")
    monkeypatch.setenv("CLINICDESK_DB_MAX_OVERFLOW", "2")
    monkeypatch.setenv("CLINICDESK_TRUSTED_PROXIES", "10.0.0.0/8,192.0.2.1")

    settings = Settings()

    assert (settings.db_pool_size, settings.db_max_overflow) == (6, 2)
    assert settings.worker_threads == 8  # one thread per connection the pool can give
    assert settings.trusted_proxies == "10.0.0.0/8,192.0.2.1"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CLINICDESK_DB_POOL_SIZE", "0"),
        ("CLINICDESK_DB_MAX_OVERFLOW", "-1"),
        ("CLINICDESK_DB_POOL_TIMEOUT", "0"),
        ("CLINICDESK_DB_WRITE_WAIT", "soon"),
    ],
)
def test_a_pool_that_cannot_serve_is_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError, match=name.removeprefix("CLINICDESK_").lower()):
        Settings()
