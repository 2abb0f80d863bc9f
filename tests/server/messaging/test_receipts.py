"""Provider callbacks, in their documented shapes, read into neutral events."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from common.messaging import DeliveryStatus
from server.messaging.receipts import (
    InboundSms,
    sendgrid_events,
    twilio_inbound,
    twilio_status,
)

ACCOUNT = "AC" + "0" * 32
MESSAGE_SID = "SM" + "a" * 32
CLINIC_NUMBER = "+441234567890"
PATIENT_NUMBER = "+447700900123"


def status_callback(status: str, **extra: str) -> dict[str, str]:
    """Twilio's status callback form, as it posts it."""
    return {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "From": CLINIC_NUMBER,
        "MessageSid": MESSAGE_SID,
        "MessageStatus": status,
        "SmsSid": MESSAGE_SID,
        "SmsStatus": status,
        "To": PATIENT_NUMBER,
        **extra,
    }


@pytest.mark.parametrize(
    ("twilio_says", "status"),
    [
        ("sent", DeliveryStatus.SENT),
        ("delivered", DeliveryStatus.DELIVERED),
        ("undelivered", DeliveryStatus.UNDELIVERED),
        ("failed", DeliveryStatus.FAILED),
        ("queued", None),
        ("accepted", None),
        ("sending", None),
    ],
)
def test_twilio_statuses_map_to_ours_and_the_rest_are_ignored(twilio_says, status):
    event = twilio_status(status_callback(twilio_says))

    assert event.status == status
    assert event.provider == "twilio"
    assert event.provider_message_id == MESSAGE_SID
    assert event.provider_status == twilio_says
    assert event.event_key == f"twilio:{MESSAGE_SID}:{twilio_says}"


def test_a_reposted_callback_has_the_same_key_and_a_new_state_another():
    first = twilio_status(status_callback("delivered"))
    again = twilio_status(status_callback("delivered"))
    earlier = twilio_status(status_callback("sent"))

    assert first.event_key == again.event_key
    assert earlier.event_key != first.event_key


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("30003", "unreachable"),
        ("30005", "does not exist"),
        ("30006", "landline"),
        ("30007", "filtered"),
        ("30008", "gave no reason"),
        ("30999", "Twilio error 30999"),
    ],
)
def test_twilio_error_codes_are_told_in_words(code, words):
    event = twilio_status(status_callback("undelivered", ErrorCode=code))

    assert event.error_code == code
    assert event.error_text is not None
    assert words in event.error_text
    assert code in event.error_text  # for anyone asking Twilio


def test_a_delivered_message_carries_no_error():
    event = twilio_status(status_callback("delivered", ErrorCode=""))

    assert (event.error_code, event.error_text) == (None, None)


@pytest.mark.parametrize("missing", ["MessageSid", "MessageStatus"])
def test_a_callback_without_its_essentials_is_refused(missing):
    params = status_callback("delivered")
    del params[missing]

    with pytest.raises(ValueError, match=missing):
        twilio_status(params)


def inbound(**changes: str) -> dict[str, str]:
    """Twilio's incoming message webhook form."""
    return {
        "ToCountry": "GB",
        "SmsMessageSid": "SM" + "b" * 32,
        "NumMedia": "0",
        "SmsSid": "SM" + "b" * 32,
        "SmsStatus": "received",
        "Body": "STOP",
        "FromCountry": "GB",
        "To": CLINIC_NUMBER,
        "NumSegments": "1",
        "MessageSid": "SM" + "b" * 32,
        "AccountSid": ACCOUNT,
        "From": PATIENT_NUMBER,
        "ApiVersion": "2010-04-01",
        **changes,
    }


def test_an_incoming_text_is_read():
    assert twilio_inbound(inbound()) == InboundSms(
        event_key=f"twilio:in:SM{'b' * 32}",
        provider_message_id="SM" + "b" * 32,
        from_number=PATIENT_NUMBER,
        to_number=CLINIC_NUMBER,
        body="STOP",
    )


def test_a_plus_lost_to_form_decoding_is_put_back():
    message = twilio_inbound(inbound(From="447700900123", Body=""))

    assert message.from_number == PATIENT_NUMBER
    assert message.body == ""


def test_an_incoming_text_without_a_sender_is_refused():
    with pytest.raises(ValueError, match="From"):
        twilio_inbound(inbound(From=""))


# --- SendGrid ---------------------------------------------------------------------------

X_MESSAGE_ID = "W86EgYT6SQKk0lRflfLRsA"
DELIVERY = uuid.UUID("0b9f1c6e-4a57-4d0e-9a1e-2f7f3f0c1a11")


def sendgrid(event: str, event_id: str, **fields: object) -> dict[str, object]:
    """One event as the Event Webhook posts it; our custom args are top-level keys."""
    return {
        "email": "jane@example.org",
        "timestamp": 1513299569,
        "smtp-id": f"<{X_MESSAGE_ID}@geopod-ismtpd-4-0>",
        "event": event,
        "sg_event_id": event_id,
        "sg_message_id": f"{X_MESSAGE_ID}.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
        "delivery_id": str(DELIVERY),
        **fields,
    }


def test_sendgrid_events_map_to_ours():
    body = json.dumps(
        [
            sendgrid("processed", "ev-processed"),
            sendgrid("deferred", "ev-deferred", response="400 try again later", attempt="5"),
            sendgrid("delivered", "ev-delivered", response="250 OK"),
            sendgrid("open", "ev-open", useragent="Mozilla/5.0", ip="255.255.255.255"),
            sendgrid("click", "ev-click", url="https://clinic.example"),
            sendgrid("bounce", "ev-bounce", reason="550 5.1.1 unknown recipient",
                     status="5.1.1", type="bounce"),
            sendgrid("bounce", "ev-blocked", reason="554 blocked by policy", status="5.7.1",
                     type="blocked"),
            sendgrid("dropped", "ev-dropped", reason="Bounced Address", status="5.0.0"),
        ]
    ).encode()  # fmt: skip

    events = {event.event_key: event for event in sendgrid_events(body)}

    assert {key: event.status for key, event in events.items()} == {
        "sendgrid:ev-processed": None,
        "sendgrid:ev-deferred": None,
        "sendgrid:ev-delivered": DeliveryStatus.DELIVERED,
        "sendgrid:ev-open": None,
        "sendgrid:ev-click": None,
        "sendgrid:ev-bounce": DeliveryStatus.BOUNCED,
        "sendgrid:ev-blocked": DeliveryStatus.BOUNCED,
        "sendgrid:ev-dropped": DeliveryStatus.FAILED,
    }
    delivered = events["sendgrid:ev-delivered"]
    assert delivered.provider == "sendgrid"
    assert delivered.provider_message_id == X_MESSAGE_ID  # the part before the first dot
    assert delivered.delivery_id == DELIVERY
    assert delivered.occurred_at == datetime.fromtimestamp(1513299569, UTC)
    assert delivered.error_text is None
    bounce = events["sendgrid:ev-bounce"]
    assert bounce.error_code == "5.1.1"
    assert bounce.error_text == "The e-mail bounced: 550 5.1.1 unknown recipient"
    assert "blocked" in (events["sendgrid:ev-blocked"].error_text or "")
    assert "Bounced Address" in (events["sendgrid:ev-dropped"].error_text or "")
    assert events["sendgrid:ev-open"].provider_status == "open"


@pytest.mark.parametrize(
    ("sg_message_id", "x_message_id"),
    [
        ("W86EgYT6SQKk0lRflfLRsA.recvd-5f54b5d587-ncg82-1-62CC7D8C-12.0", "W86EgYT6SQKk0lRflfLRsA"),
        # The older form of the documentation's example, whose ids had dots of their own.
        ("14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0", "14c5d75ce93.dfd.64b469"),
        ("W86EgYT6SQKk0lRflfLRsA", "W86EgYT6SQKk0lRflfLRsA"),
    ],
)
def test_the_message_id_is_the_one_sending_returned(sg_message_id, x_message_id):
    body = json.dumps([sendgrid("delivered", "ev-1", sg_message_id=sg_message_id)]).encode()

    [event] = sendgrid_events(body)

    assert event.provider_message_id == x_message_id


def test_unusable_events_are_skipped_and_the_rest_kept():
    body = json.dumps(
        [
            "not an event",
            {"event": "delivered"},  # no sg_event_id: cannot be recorded exactly once
            sendgrid("delivered", "ev-1", delivery_id="not-a-uuid", sg_message_id=None,
                     timestamp="yesterday"),
        ]
    ).encode()  # fmt: skip

    [event] = sendgrid_events(body)

    assert event.event_key == "sendgrid:ev-1"
    assert (event.delivery_id, event.provider_message_id, event.occurred_at) == (None,) * 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[{", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b'{"event": "delivered"}', "not a list"),
        (b"", "not JSON"),
    ],
)
def test_a_body_that_is_not_an_event_list_is_refused(body, message):
    with pytest.raises(ValueError, match=message):
        sendgrid_events(body)
