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


# --- messaging providers -------------------------------------------------------------

READY_TWILIO = {
    "twilio_account_sid": "AC" + "0" * 32,
    "twilio_auth_token": "token",
    "twilio_from_number": "+441234567890",
}


def test_messages_stay_in_the_development_outbox_by_default():
    settings = Settings()

    assert (settings.sms_provider, settings.email_provider) == ("dev_outbox", "dev_outbox")
    assert settings.public_base_url == "http://127.0.0.1:8765"
    assert settings.missing_messaging_settings() is None


@pytest.mark.parametrize(
    ("choice", "missing"),
    [
        ({"sms_provider": "twilio"}, "CLINICDESK_TWILIO_ACCOUNT_SID"),
        ({"sms_provider": "twilio", **READY_TWILIO, "twilio_auth_token": ""},
         "CLINICDESK_TWILIO_AUTH_TOKEN"),
        ({"sms_provider": "twilio", **READY_TWILIO, "twilio_from_number": None},
         "CLINICDESK_TWILIO_FROM_NUMBER or CLINICDESK_TWILIO_MESSAGING_SERVICE_SID"),
        ({"email_provider": "sendgrid"}, "CLINICDESK_SENDGRID_API_KEY"),
        ({"email_provider": "smtp"}, "CLINICDESK_SMTP_HOST"),
    ],
)  # fmt: skip
def test_production_refuses_a_provider_without_its_settings(choice, missing):
    with pytest.raises(ValidationError) as refused:
        Settings(environment="production", secret_key=STRONG_SECRET, **choice)

    assert missing in str(refused.value)
    assert "need" in str(refused.value)


def test_production_accepts_providers_with_their_settings(monkeypatch):
    monkeypatch.setenv("CLINICDESK_SMS_PROVIDER", "twilio")
    monkeypatch.setenv("CLINICDESK_TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("CLINICDESK_TWILIO_AUTH_TOKEN", "twilio-token")
    monkeypatch.setenv("CLINICDESK_TWILIO_MESSAGING_SERVICE_SID", "MG" + "0" * 32)
    monkeypatch.setenv("CLINICDESK_EMAIL_PROVIDER", "smtp")
    monkeypatch.setenv("CLINICDESK_SMTP_HOST", "smtp.example.org")
    monkeypatch.setenv("CLINICDESK_SMTP_PASSWORD", "smtp-password")
    monkeypatch.setenv("CLINICDESK_PUBLIC_BASE_URL", "https://desk.example.org")

    settings = Settings(environment="production", secret_key=STRONG_SECRET)

    assert settings.sms_provider == "twilio"
    assert settings.twilio_messaging_service_sid == "MG" + "0" * 32
    assert settings.smtp_host == "smtp.example.org"
    assert settings.smtp_port == 587
    assert "twilio-token" not in repr(settings)  # secrets never show in a log line
    assert "smtp-password" not in repr(settings)


def test_development_names_what_is_missing_without_refusing_to_start():
    settings = Settings(sms_provider="twilio", email_provider="sendgrid")

    missing = settings.missing_messaging_settings()

    assert missing is not None
    assert "CLINICDESK_TWILIO_ACCOUNT_SID" in missing
    assert "CLINICDESK_SENDGRID_API_KEY" in missing


@pytest.mark.parametrize(
    ("name", "value"),
    [("CLINICDESK_SMS_PROVIDER", "carrier-pigeon"), ("CLINICDESK_SMTP_PORT", "70000")],
)
def test_unknown_providers_and_impossible_ports_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError, match=name.removeprefix("CLINICDESK_").lower()):
        Settings()


def test_starttls_and_implicit_tls_together_are_refused():
    with pytest.raises(ValidationError, match="cannot both be on"):
        Settings(smtp_implicit_tls=True)


def test_production_with_real_providers_needs_a_public_https_address(monkeypatch):
    monkeypatch.setenv("CLINICDESK_EMAIL_PROVIDER", "smtp")
    monkeypatch.setenv("CLINICDESK_SMTP_HOST", "smtp.example.org")
    with pytest.raises(ValueError, match="CLINICDESK_PUBLIC_BASE_URL"):
        Settings(environment="production", secret_key=STRONG_SECRET)
    monkeypatch.setenv("CLINICDESK_PUBLIC_BASE_URL", "https://desk.example.org")
    assert Settings(environment="production", secret_key=STRONG_SECRET).smtp_host
