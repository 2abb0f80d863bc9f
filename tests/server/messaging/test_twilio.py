"""SMS through Twilio, answered at the HTTP level (respx) in Twilio's documented shapes."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from common.messaging import Channel
from server.messaging.providers import failures
from server.messaging.providers.base import PermanentFailure, TransientFailure
from server.messaging.providers.twilio import TwilioSms
from tests.server.messaging.conftest import PATIENT_NUMBER

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token-not-for-logs"
FROM_NUMBER = "+441234567890"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
CALLBACK = "https://desk.example.org/api/v1/messaging/twilio/status"


def created(**fields: object) -> httpx.Response:
    """Twilio's 201 for a new message (the fields its documentation lists)."""
    body = {
        "account_sid": SID,
        "api_version": "2010-04-01",
        "body": "Your appointment is on Tuesday at 09:30.",
        "date_created": "Tue, 04 Mar 2025 10:00:00 +0000",
        "date_sent": None,
        "date_updated": "Tue, 04 Mar 2025 10:00:00 +0000",
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": FROM_NUMBER,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "2",
        "price": None,
        "price_unit": "USD",
        "sid": "SM" + "f" * 32,
        "status": "queued",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{SID}/Messages/SMf/Media.json"},
        "to": PATIENT_NUMBER,
        "uri": f"/2010-04-01/Accounts/{SID}/Messages/SMf.json",
    }
    body.update(fields)
    return httpx.Response(201, json=body)


def twilio_error(status: int, code: int, message: str, **headers: str) -> httpx.Response:
    """Twilio's documented error body."""
    return httpx.Response(
        status,
        json={
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        headers=headers,
    )


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(10)) as client:
        yield client


@pytest.fixture
def twilio(client) -> TwilioSms:
    return TwilioSms(SID, TOKEN, client=client, from_number=FROM_NUMBER, clock=lambda: 1000.0)


@pytest.fixture
def sms(outgoing):
    return outgoing(channel=Channel.SMS, status_callback=CALLBACK)


@respx.mock
def test_a_message_is_posted_as_twilio_documents_and_its_sid_kept(twilio, sms):
    route = respx.post(MESSAGES_URL).mock(return_value=created())

    accepted = twilio.send(sms)

    assert accepted.provider_message_id == "SM" + "f" * 32
    assert accepted.segments == 2  # Twilio sends it as the string "2"
    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    expected_auth = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected_auth}"
    assert parse_qs(request.content.decode()) == {
        "To": [PATIENT_NUMBER],
        "From": [FROM_NUMBER],
        "Body": [sms.text],
        "StatusCallback": [CALLBACK],
    }


@respx.mock
def test_a_messaging_service_sends_instead_of_a_number(client, outgoing):
    route = respx.post(MESSAGES_URL).mock(return_value=created())
    service = TwilioSms(SID, TOKEN, client=client, messaging_service_sid="MG" + "1" * 32)

    service.send(outgoing(channel=Channel.SMS))

    form = parse_qs(route.calls.last.request.content.decode())
    assert form["MessagingServiceSid"] == ["MG" + "1" * 32]
    assert "From" not in form
    assert "StatusCallback" not in form  # none was asked for


def test_a_sender_is_required(client):
    with pytest.raises(ValueError, match="sending number or a messaging service"):
        TwilioSms(SID, TOKEN, client=client)


@respx.mock
@pytest.mark.parametrize(
    ("code", "twilio_says", "kind", "words"),
    [
        (21211, f"The 'To' number {PATIENT_NUMBER} is not a valid phone number.",
         failures.INVALID_ADDRESS, "not a valid number"),
        (21610, "Attempt to send to unsubscribed recipient", failures.OPTED_OUT, "STOP"),
        (21614, f"'To' number {PATIENT_NUMBER} is not a valid mobile number",
         failures.NOT_MOBILE, "not a mobile number"),
        (21602, "Message body is required.", failures.REJECTED, "Message body is required"),
    ],
)  # fmt: skip
def test_a_refused_recipient_fails_for_good_in_words_with_twilios_code(
    twilio, sms, code, twilio_says, kind, words
):
    respx.post(MESSAGES_URL).mock(return_value=twilio_error(400, code, twilio_says))

    with pytest.raises(PermanentFailure) as failed:
        twilio.send(sms)

    assert failed.value.code == kind
    assert words in failed.value.reason
    assert f"Twilio error {code}" in failed.value.reason
    assert PATIENT_NUMBER not in failed.value.reason
    assert PATIENT_NUMBER[3:] not in failed.value.reason


@respx.mock
def test_our_own_sender_being_refused_keeps_the_message(twilio, sms):
    respx.post(MESSAGES_URL).mock(
        return_value=twilio_error(
            400, 21606, f"The From phone number {FROM_NUMBER} is not a valid, SMS-capable "
            "inbound phone number or short code for your account."
        )
    )  # fmt: skip

    with pytest.raises(TransientFailure) as failed:
        twilio.send(sms)

    assert failed.value.code == failures.PROVIDER_CONFIG
    assert "21606" in failed.value.reason


@respx.mock
def test_too_many_requests_waits_as_long_as_twilio_says(twilio, sms):
    respx.post(MESSAGES_URL).mock(
        side_effect=[
            twilio_error(429, 20429, "Too Many Requests", **{"Retry-After": "30"}),
            twilio_error(429, 20429, "Too Many Requests"),
        ]
    )

    with pytest.raises(TransientFailure) as told:
        twilio.send(sms)
    with pytest.raises(TransientFailure) as untold:
        twilio.send(sms)

    assert (told.value.code, told.value.retry_after) == (failures.RATE_LIMITED, 30.0)
    assert (untold.value.code, untold.value.retry_after) == (failures.RATE_LIMITED, None)


@respx.mock
def test_refused_credentials_keep_the_message_and_say_so(twilio, sms):
    respx.post(MESSAGES_URL).mock(return_value=twilio_error(401, 20003, "Authenticate"))

    with pytest.raises(TransientFailure) as failed:
        twilio.send(sms)

    assert failed.value.code == failures.PROVIDER_AUTH
    assert "refused our credentials" in failed.value.reason
    assert "HTTP 401, Twilio error 20003" in failed.value.reason
    assert TOKEN not in failed.value.reason


@respx.mock
@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, json={"code": 20500, "message": "Internal Server Error",
                                  "more_info": "https://www.twilio.com/docs/errors/20500",
                                  "status": 500}),
        httpx.Response(503, text="<html>Service Unavailable</html>"),
    ],
)  # fmt: skip
def test_a_failing_twilio_is_transient(twilio, sms, answer):
    respx.post(MESSAGES_URL).mock(return_value=answer)

    with pytest.raises(TransientFailure) as failed:
        twilio.send(sms)

    assert failed.value.code == failures.PROVIDER_DOWN
    assert f"HTTP {answer.status_code}" in failed.value.reason


@respx.mock
@pytest.mark.parametrize(
    "fault", [httpx.ConnectTimeout("timed out"), httpx.ReadTimeout("timed out"),
              httpx.ConnectError("name or service not known")]
)  # fmt: skip
def test_network_faults_and_timeouts_are_transient(twilio, sms, fault):
    respx.post(MESSAGES_URL).mock(side_effect=fault)

    with pytest.raises(TransientFailure) as failed:
        twilio.send(sms)

    assert failed.value.code == failures.NETWORK
    assert "tried again" in failed.value.reason


@respx.mock
def test_an_acceptance_without_a_readable_sid_is_still_an_acceptance(twilio, sms):
    """Sending again would text the patient twice; the receipt just cannot be matched."""
    respx.post(MESSAGES_URL).mock(return_value=httpx.Response(201, text="not json"))

    accepted = twilio.send(sms)

    assert (accepted.provider_message_id, accepted.segments) == (None, None)
