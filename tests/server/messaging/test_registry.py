"""The providers the settings choose."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from common.messaging import Channel
from server.config import Settings
from server.messaging.providers.registry import http_client, providers_from
from server.messaging.providers.sendgrid import SendGridEmail
from server.messaging.providers.smtp import SmtpEmail
from server.messaging.providers.twilio import TwilioSms


@pytest.fixture
def settings_of(monkeypatch) -> Callable[..., Settings]:
    """Settings from exactly the fields given: none from the machine running the tests."""
    for name in list(os.environ):
        if name.upper().startswith("CLINICDESK_"):
            monkeypatch.delenv(name)

    def make(**fields: Any) -> Settings:
        return Settings(environment="test", **fields)

    return make


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with http_client() as client:
        yield client


def test_the_development_outbox_is_no_provider(settings_of, client):
    assert providers_from(settings_of(), client) == {Channel.SMS: None, Channel.EMAIL: None}


def test_twilio_and_sendgrid_are_built_from_their_settings(settings_of, client):
    settings = settings_of(
        sms_provider="twilio",
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="twilio-token",
        twilio_from_number="+441234567890",
        email_provider="sendgrid",
        sendgrid_api_key="SG.key",
        email_from_address="appointments@demo.clinic",
    )

    providers = providers_from(settings, client)

    sms, email = providers[Channel.SMS], providers[Channel.EMAIL]
    assert isinstance(sms, TwilioSms)
    assert (sms.name, sms.channel) == ("twilio", Channel.SMS)
    assert isinstance(email, SendGridEmail)
    assert (email.name, email.channel) == ("sendgrid", Channel.EMAIL)


def test_smtp_is_built_from_its_settings(settings_of, client):
    settings = settings_of(email_provider="smtp", smtp_host="smtp.example.org",
                           smtp_starttls=False, smtp_implicit_tls=True, smtp_port=465)  # fmt: skip

    email = providers_from(settings, client)[Channel.EMAIL]

    assert isinstance(email, SmtpEmail)
    assert (email.name, email.channel) == ("smtp", Channel.EMAIL)


def test_a_provider_without_its_settings_is_refused_in_words(settings_of, client):
    with pytest.raises(ValueError, match="CLINICDESK_SMTP_HOST"):
        providers_from(settings_of(email_provider="smtp"), client)


def test_the_shared_client_gives_up_after_ten_seconds(client):
    assert client.timeout == httpx.Timeout(10)
