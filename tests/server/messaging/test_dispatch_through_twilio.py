"""What the dispatcher does with each of Twilio's answers, through the real adapter
(answered by respx in Twilio's documented shapes): accepted → sent with Twilio's id and
segment count; 429 → tried again after the time Twilio asked; 5xx → tried again with
back-off; an invalid number → failed at once, the reason in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from sqlalchemy import select

from common.messaging import Channel, DeliveryStatus
from common.roles import Role
from server.db import transaction
from server.messaging.dispatcher import Dispatcher
from server.messaging.models import Delivery, Message
from server.messaging.providers.twilio import TwilioSms
from server.patients.models import Patient
from tests.server.messaging.test_dispatch_exactly_once import queue
from tests.server.messaging.test_twilio import MESSAGES_URL, SID, TOKEN, created, twilio_error

NOON = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)  # inside the window for texts, in London


@pytest.fixture
def twilio():
    with httpx.Client() as client, respx.mock(assert_all_called=False) as mock:
        yield TwilioSms(SID, TOKEN, client=client, from_number="+441234567890"), mock


@pytest.fixture
def one_text(factory, db):
    clinic = factory.clinic("alder", roles=(Role.FRONT_DESK,), providers=1, patients=1)
    with transaction(db) as session:
        session.get(Patient, clinic.records.patient_ids[0]).phone = "+447400912345"
    queue(db, clinic, 1)
    return clinic


def only_delivery(db) -> Delivery:
    with db() as session:
        return session.scalars(select(Delivery)).one()


def dispatcher(app, provider, now):
    return Dispatcher(
        app.state.database, {Channel.SMS: provider, Channel.EMAIL: None}, clock=lambda: now[0]
    )


def test_accepted_by_twilio_is_sent_with_its_id_and_segments(app, db, twilio, one_text):
    provider, mock = twilio
    route = mock.post(MESSAGES_URL).mock(return_value=created(sid="SM" + "a" * 32))
    assert dispatcher(app, provider, [NOON]).drain().sent == 1
    sent = only_delivery(db)
    assert (sent.status, sent.provider, sent.segments) == (DeliveryStatus.SENT, "twilio", 2)
    assert sent.provider_message_id == "SM" + "a" * 32
    assert route.call_count == 1
    assert "Body=Message+0" in route.calls[0].request.content.decode()


def test_a_429_is_tried_again_when_twilio_says_then_sent(app, db, twilio, one_text):
    provider, mock = twilio
    route = mock.post(MESSAGES_URL).mock(
        side_effect=[
            twilio_error(429, 20429, "Too Many Requests", **{"Retry-After": "120"}),
            created(),
        ]
    )
    now = [NOON]
    run = dispatcher(app, provider, now)
    assert run.run_once().retrying == 1
    waiting = only_delivery(db)
    assert waiting.status is DeliveryStatus.QUEUED
    assert waiting.due_at == NOON + timedelta(seconds=120)
    now[0] = NOON + timedelta(seconds=60)
    assert run.run_once().claimed == 0  # not before the time asked
    now[0] = NOON + timedelta(seconds=121)
    assert run.run_once().sent == 1
    assert route.call_count == 2


def test_a_server_error_is_retried_with_back_off_and_then_given_up(app, db, twilio, one_text):
    provider, mock = twilio
    mock.post(MESSAGES_URL).mock(return_value=httpx.Response(503, text="Service Unavailable"))
    now = [NOON]
    run = dispatcher(app, provider, now)
    run.max_attempts = 3
    for _ in range(3):
        run.run_once()
        now[0] += timedelta(hours=2)
    failed = only_delivery(db)
    assert failed.status is DeliveryStatus.FAILED
    assert failed.attempts == 3
    with db() as session:
        message = session.scalars(select(Message)).one()
    assert message.deliveries[0]["status"] == "failed"
    assert message.deliveries[0]["error"]


def test_an_invalid_number_fails_at_once_with_the_reason_in_words(app, db, twilio, one_text):
    provider, mock = twilio
    route = mock.post(MESSAGES_URL).mock(
        return_value=twilio_error(
            400, 21211, "The 'To' number +447400912345 is not a valid phone number."
        )
    )
    assert dispatcher(app, provider, [NOON]).drain().failed == 1
    failed = only_delivery(db)
    assert failed.status is DeliveryStatus.FAILED
    assert failed.attempts == 1
    assert route.call_count == 1
    assert "+447400912345" not in failed.error  # never a patient's number in a reason
    assert failed.error


def test_a_clinic_with_its_own_number_texts_from_it(app, db, twilio, one_text):
    from server.messaging.models import MessagingSettings

    provider, mock = twilio
    with transaction(db) as session:
        session.add(MessagingSettings(clinic_id=one_text.id, sms_number="+447700900123"))
    route = mock.post(MESSAGES_URL).mock(return_value=created())
    assert dispatcher(app, provider, [NOON]).drain().sent == 1
    assert "From=%2B447700900123" in route.calls[0].request.content.decode()
