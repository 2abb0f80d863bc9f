"""The sending providers the settings choose, built once per process.

A channel left on ``dev_outbox`` maps to None: the dispatcher then keeps its messages in
the database's development outbox instead of sending them anywhere.
"""

from __future__ import annotations

import httpx

from common.messaging import Channel
from server.config import Settings
from server.messaging.providers.base import Provider
from server.messaging.providers.sendgrid import SendGridEmail
from server.messaging.providers.smtp import SmtpEmail
from server.messaging.providers.twilio import TwilioSms

DEFAULT_TIMEOUT = httpx.Timeout(10)


def http_client() -> httpx.Client:
    """The client the HTTP providers share: a provider that does not answer within ten
    seconds is retried later rather than holding a dispatcher thread."""
    return httpx.Client(timeout=DEFAULT_TIMEOUT)


def providers_from(settings: Settings, client: httpx.Client) -> dict[Channel, Provider | None]:
    """One provider (or None for the development outbox) per channel.

    Raises ``ValueError`` naming the missing settings when a chosen provider lacks them
    (production refuses such settings at start; this catches development and tests).
    """
    missing = settings.missing_messaging_settings()
    if missing:
        raise ValueError(missing)
    return {Channel.SMS: _sms(settings, client), Channel.EMAIL: _email(settings, client)}


def _sms(settings: Settings, client: httpx.Client) -> Provider | None:
    if settings.sms_provider == "dev_outbox":
        return None
    assert settings.twilio_account_sid  # checked above
    assert settings.twilio_auth_token
    return TwilioSms(
        settings.twilio_account_sid,
        settings.twilio_auth_token.get_secret_value(),
        client=client,
        from_number=settings.twilio_from_number,
        messaging_service_sid=settings.twilio_messaging_service_sid,
    )


def _email(settings: Settings, client: httpx.Client) -> Provider | None:
    if settings.email_provider == "dev_outbox":
        return None
    if settings.email_provider == "sendgrid":
        assert settings.sendgrid_api_key  # checked above
        return SendGridEmail(
            settings.sendgrid_api_key.get_secret_value(),
            settings.email_from_address,
            client=client,
        )
    assert settings.smtp_host  # checked above
    return SmtpEmail(
        settings.smtp_host,
        settings.smtp_port,
        from_address=settings.email_from_address,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
        implicit_tls=settings.smtp_implicit_tls,
    )
