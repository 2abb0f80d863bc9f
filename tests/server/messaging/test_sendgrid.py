"""E-mail through SendGrid, answered at the HTTP level (respx) in SendGrid's documented
shapes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest
import respx

from server.messaging.providers import failures
from server.messaging.providers.base import Attachment, PermanentFailure, TransientFailure
from server.messaging.providers.sendgrid import API_URL, SendGridEmail
from tests.server.messaging.conftest import PATIENT_EMAIL

API_KEY = "SG.not-a-real-key.for-tests-only"
FROM = "appointments@demo.clinic"
NOW = 1_700_000_000.0
HELP = "https://docs.sendgrid.com/api-reference/mail-send/errors"


def sendgrid_errors(status: int, *errors: tuple[str, str | None], **headers: str):
    """SendGrid's documented error body: ``{"errors": [{message, field, help}]}``."""
    body = {"errors": [{"message": m, "field": f, "help": HELP} for m, f in errors]}
    return httpx.Response(status, json=body, headers=headers)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(10)) as client:
        yield client


@pytest.fixture
def sendgrid(client) -> SendGridEmail:
    return SendGridEmail(API_KEY, FROM, client=client, clock=lambda: NOW)


@respx.mock
def test_the_mail_is_posted_as_sendgrid_documents_and_its_id_kept(sendgrid, outgoing):
    route = respx.post(API_URL).mock(
        return_value=httpx.Response(202, headers={"X-Message-Id": "14c5d75ce93.dfd.64b469"})
    )
    ics = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    message = outgoing(
        html="<p>Tuesday</p>",
        headers={"List-Unsubscribe": "<https://clinic.example/u/abc>"},
        attachments=(Attachment("appointment.ics", "text/calendar; method=REQUEST", ics),),
    )

    accepted = sendgrid.send(message)

    assert accepted.provider_message_id == "14c5d75ce93.dfd.64b469"
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "personalizations": [
            {
                "to": [{"email": PATIENT_EMAIL}],
                "custom_args": {"delivery_id": str(message.delivery_id)},
            }
        ],
        "from": {"email": FROM, "name": "Demo Clinic"},
        "subject": "Your appointment",
        "content": [
            {"type": "text/plain", "value": message.text},
            {"type": "text/html", "value": "<p>Tuesday</p>"},
        ],
        "attachments": [
            {
                "content": base64.b64encode(ics).decode(),
                "type": "text/calendar; method=REQUEST",
                "filename": "appointment.ics",
                "disposition": "attachment",
            }
        ],
        "headers": {"List-Unsubscribe": "<https://clinic.example/u/abc>"},
    }


@respx.mock
def test_a_plain_mail_sends_only_what_it_has(sendgrid, outgoing):
    route = respx.post(API_URL).mock(return_value=httpx.Response(202))

    accepted = sendgrid.send(outgoing())

    sent = json.loads(route.calls.last.request.content)
    assert sent["content"] == [{"type": "text/plain", "value": outgoing().text}]
    assert "attachments" not in sent
    assert "headers" not in sent
    assert accepted.provider_message_id is None  # no X-Message-Id: nothing to match on


@respx.mock
@pytest.mark.parametrize(
    ("status", "errors", "said"),
    [
        (400, [("The to email does not contain a valid address.",
                "personalizations.0.to.0.email"),
               ("The subject is required.", "subject")],
         "The to email does not contain a valid address (personalizations.0.to.0.email); "
         "The subject is required (subject)"),
        (413, [("The JSON payload you have included in your request is too large.", None)],
         "too large"),
    ],
)  # fmt: skip
def test_a_refused_mail_fails_for_good_with_sendgrids_messages(
    sendgrid, outgoing, status, errors, said
):
    respx.post(API_URL).mock(return_value=sendgrid_errors(status, *errors))

    with pytest.raises(PermanentFailure) as failed:
        sendgrid.send(outgoing())

    assert failed.value.code == failures.REJECTED
    assert said in failed.value.reason


@respx.mock
def test_an_address_quoted_back_is_masked(sendgrid, outgoing):
    respx.post(API_URL).mock(
        return_value=sendgrid_errors(400, (f"Invalid address {PATIENT_EMAIL}", "to"))
    )

    with pytest.raises(PermanentFailure) as failed:
        sendgrid.send(outgoing())

    assert PATIENT_EMAIL not in failed.value.reason
    assert "@example.org" in failed.value.reason


@respx.mock
@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, "The provided authorization grant is invalid, expired, or revoked"),
        (403, "The from address does not match a verified Sender Identity."),
    ],
)
def test_a_refused_key_or_sender_keeps_the_message(sendgrid, outgoing, status, message):
    respx.post(API_URL).mock(return_value=sendgrid_errors(status, (message, None)))

    with pytest.raises(TransientFailure) as failed:
        sendgrid.send(outgoing())

    assert failed.value.code == failures.PROVIDER_AUTH
    assert message.rstrip(".") in failed.value.reason
    assert API_KEY not in failed.value.reason


@respx.mock
@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0",
          "X-RateLimit-Reset": str(int(NOW) + 42)}, 42.0),
        ({"Retry-After": "7"}, 7.0),
        ({}, None),
    ],
)  # fmt: skip
def test_too_many_requests_waits_until_the_limit_resets(sendgrid, outgoing, headers, wait):
    respx.post(API_URL).mock(
        return_value=sendgrid_errors(429, ("too many requests", None), **headers)
    )

    with pytest.raises(TransientFailure) as failed:
        sendgrid.send(outgoing())

    assert (failed.value.code, failed.value.retry_after) == (failures.RATE_LIMITED, wait)


@respx.mock
@pytest.mark.parametrize(
    ("answer", "kind"),
    [(httpx.Response(500, text=""), failures.PROVIDER_DOWN),
     (httpx.Response(502, text="<html>Bad Gateway</html>"), failures.PROVIDER_DOWN),
     (httpx.ConnectError("connection refused"), failures.NETWORK),
     (httpx.ReadTimeout("timed out"), failures.NETWORK)],
)  # fmt: skip
def test_a_failing_sendgrid_or_network_is_transient(sendgrid, outgoing, answer, kind):
    route = respx.post(API_URL)
    if isinstance(answer, httpx.Response):
        route.mock(return_value=answer)
    else:
        route.mock(side_effect=answer)

    with pytest.raises(TransientFailure) as failed:
        sendgrid.send(outgoing())

    assert failed.value.code == kind
    assert "tried again" in failed.value.reason
