"""Server settings, read once from the environment (prefix ``CLINICDESK_``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me"  # noqa: S105 - the placeholder we refuse, not a secret
DEFAULT_DATA_DIR = Path("var")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINICDESK_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATA_DIR / 'clinicdesk.sqlite3'}",
        description="SQLAlchemy URL: embedded SQLite by default, postgresql+psycopg://… for "
        "production.",
    )
    secret_key: str = PLACEHOLDER_SECRET
    # The root of the keys that seal patients' phone numbers in the database and index
    # them for lookups (``server.crypto``). Unset, it is derived from ``secret_key``, so a
    # fresh install works with no setup; set, the numbers no longer depend on the secret
    # key, which may then be changed. Lost, the numbers cannot be read again: it is kept
    # (and backed up) apart from the database.
    field_key: SecretStr | None = None
    bind_host: str = "127.0.0.1"
    bind_port: int = 8765
    device_token_days: int = Field(default=180, ge=1)
    session_hours: int = Field(default=12, ge=1)
    # Sign-in throttling (server.auth.throttle explains the policy). Counters live in the
    # database, so every worker process of one server shares them.
    sign_in_account_attempts: int = Field(default=5, ge=1)
    sign_in_address_attempts: int = Field(default=30, ge=1)
    sign_in_window_minutes: int = Field(default=15, ge=1)
    sign_in_lockout_seconds: int = Field(default=30, ge=1)
    sign_in_max_lockout_minutes: int = Field(default=15, ge=1)
    # Password checks (argon2, 64 MiB each) at once per worker process, and how many
    # sign-ins may wait for one before the server says it is busy.
    password_hash_concurrency: int = Field(
        default_factory=lambda: max(1, (os.cpu_count() or 1) // 2), ge=1
    )
    password_hash_queue: int = Field(default=32, ge=0)
    # New patient-portal passwords are also looked up among passwords from known data
    # breaches (Have I Been Pwned's range API; server.portal.passwords explains what is
    # sent: only the first five hex digits of the password's SHA-1). Off by default: the
    # embedded demo has no internet. Production turns it on; an unreachable service never
    # blocks a patient. The URL is the API's root, so a mirror may stand in.
    breached_passwords_check: bool = False
    breached_passwords_url: str = "https://api.pwnedpasswords.com"
    # Where uploaded files live (progress photos, the content library's PDFs): outside
    # the database, each named by a random id, the rows holding path, size and digest.
    # Backed up with the database; relative paths are from the server's working folder.
    media_dir: Path = DEFAULT_DATA_DIR / "media"
    # The largest request body read; larger ones get 413 before they are parsed. The
    # desk sizes its pushes well under the default (see sync.engine.PUSH_MAX_BYTES).
    max_body_bytes: int = Field(default=1024 * 1024, ge=64 * 1024)
    # Connections and threads agree: every request thread holds at most one connection,
    # and there are exactly as many threads as the pool can hand out connections, so a
    # thread never waits for a connection (see server.db).
    db_pool_size: int = Field(default=10, ge=1, le=500)
    db_max_overflow: int = Field(default=5, ge=0, le=500)
    db_pool_timeout: float = Field(default=30.0, gt=0)
    # How long a request may wait its turn to write on SQLite before it is told to retry.
    db_write_wait: float = Field(default=30.0, gt=0)
    # Addresses of reverse proxies whose X-Forwarded-For / -Proto are believed (uvicorn's
    # ``forwarded_allow_ips``): comma-separated IPs or networks, or "*" for any.
    trusted_proxies: str = "127.0.0.1"
    # A message dispatcher thread in each server process (the embedded default). Off when
    # dispatchers run as processes of their own (``clinicdesk dispatch``).
    dispatch_in_server: bool = True
    # Messaging. "dev_outbox" keeps messages in the database for the desk to show instead
    # of sending them (development and demos); a real provider needs its settings below.
    sms_provider: Literal["dev_outbox", "twilio"] = "dev_outbox"
    email_provider: Literal["dev_outbox", "smtp", "sendgrid"] = "dev_outbox"
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None  # E.164, or use a messaging service:
    twilio_messaging_service_sid: str | None = None
    sendgrid_api_key: SecretStr | None = None
    # The Event Webhook's verification key (base64 DER), from SendGrid's settings page.
    sendgrid_webhook_public_key: str | None = None
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True  # upgrade a plain connection (port 587)
    smtp_implicit_tls: bool = False  # TLS from the first byte (port 465)
    email_from_address: str = "no-reply@localhost"
    # The address the world reaches this server at: providers post receipts there, and
    # links in messages point there. Behind a proxy, the proxy's public https URL.
    public_base_url: str = "http://127.0.0.1:8765"
    # Paying bills online from the portal (``server.billing.payments``). "development"
    # completes a payment on a page of this server (``/dev/pay/…``), so the whole flow runs
    # with no provider; a production server never offers it (bills are then paid at the
    # desk). "stripe" sends patients to Stripe Checkout and learns of the payment from
    # Stripe's webhook, ``/webhooks/stripe``, signed with the endpoint's secret.
    payments_provider: Literal["development", "stripe"] = "development"
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_url: str = "https://api.stripe.com"

    @model_validator(mode="after")
    def _refuse_weak_keys(self) -> Settings:
        weak = self.secret_key == PLACEHOLDER_SECRET or len(self.secret_key) < 32
        if self.environment == "production" and weak:
            raise ValueError(
                "CLINICDESK_SECRET_KEY must be set to a random value of at least 32 characters "
                "in production (for example the output of: python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')."
            )
        if self.field_key is not None and len(self.field_key.get_secret_value()) < 32:
            raise ValueError(
                "CLINICDESK_FIELD_KEY must be a random value of at least 32 characters (for "
                "example the output of: python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'), or left unset to derive it from "
                "CLINICDESK_SECRET_KEY."
            )
        return self

    @model_validator(mode="after")
    def _messaging_settings_agree(self) -> Settings:
        if self.smtp_starttls and self.smtp_implicit_tls:
            raise ValueError(
                "CLINICDESK_SMTP_STARTTLS and CLINICDESK_SMTP_IMPLICIT_TLS cannot both be on: "
                "use STARTTLS for port 587, implicit TLS for port 465."
            )
        missing = self.missing_messaging_settings()
        if self.environment == "production" and missing:
            raise ValueError(missing)
        real = self.sms_provider != "dev_outbox" or self.email_provider != "dev_outbox"
        if (
            self.environment == "production"
            and real
            and not self.public_base_url.startswith("https://")
        ):
            # Twilio signs the address it calls, and links in messages point here: the
            # loopback default would fail every webhook and send patients to localhost.
            raise ValueError(
                "CLINICDESK_PUBLIC_BASE_URL must be the server's public https:// address when "
                "messages are sent through real providers."
            )
        return self

    @model_validator(mode="after")
    def _payment_settings_agree(self) -> Settings:
        missing = self.missing_payment_settings()
        if self.environment == "production" and missing:
            raise ValueError(missing)
        if (
            self.environment == "production"
            and self.payments_provider == "stripe"
            and not self.public_base_url.startswith("https://")
        ):
            # Stripe sends patients back to this address after paying.
            raise ValueError(
                "CLINICDESK_PUBLIC_BASE_URL must be the server's public https:// address when "
                "bills are paid online through Stripe."
            )
        return self

    def missing_payment_settings(self) -> str | None:
        """What the chosen payment provider still needs, in words; None when nothing."""
        if self.payments_provider != "stripe":
            return None
        missing = [
            name
            for name, value in (
                ("CLINICDESK_STRIPE_SECRET_KEY", self.stripe_secret_key),
                ("CLINICDESK_STRIPE_WEBHOOK_SECRET", self.stripe_webhook_secret),
            )
            if not _secret(value)
        ]
        if not missing:
            return None
        return f"Online payments through Stripe need {' and '.join(missing)} to be set."

    def missing_messaging_settings(self) -> str | None:
        """What the chosen sending providers still need, in words; None when nothing."""
        missing: list[str] = []
        if self.sms_provider == "twilio":
            if not self.twilio_account_sid:
                missing.append("CLINICDESK_TWILIO_ACCOUNT_SID")
            if not _secret(self.twilio_auth_token):
                missing.append("CLINICDESK_TWILIO_AUTH_TOKEN")
            if not (self.twilio_from_number or self.twilio_messaging_service_sid):
                missing.append(
                    "CLINICDESK_TWILIO_FROM_NUMBER or CLINICDESK_TWILIO_MESSAGING_SERVICE_SID"
                )
        if self.email_provider == "sendgrid" and not _secret(self.sendgrid_api_key):
            missing.append("CLINICDESK_SENDGRID_API_KEY")
        if self.email_provider == "smtp" and not self.smtp_host:
            missing.append("CLINICDESK_SMTP_HOST")
        if not missing:
            return None
        return (
            f"The chosen message providers (SMS: {self.sms_provider}, e-mail: "
            f"{self.email_provider}) need {', '.join(missing)} to be set."
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def worker_threads(self) -> int:
        """Threads for request work: one per connection the pool can give out."""
        return self.db_pool_size + self.db_max_overflow


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
