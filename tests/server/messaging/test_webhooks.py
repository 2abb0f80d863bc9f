"""Providers' webhooks: believed only with the provider's signature (anything else is a
403 that changes nothing), processed once however often they come, and a STOP-family
word opts the number out before anything else happens."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from common.messaging import Channel, DeliveryStatus
from common.roles import Role
from server.config import Settings
from server.db import transaction
from server.messaging.dispatcher import Dispatcher
from server.messaging.models import (
    ConsentDecision,
    Delivery,
    DevOutboxEntry,
    Message,
    PhoneOptOut,
    WebhookEvent,
)
from server.messaging.signatures import twilio_signature
from server.patients.models import Patient
from tests.server.test_mutations import mutation, push

TOKEN = "twilio-auth-token-for-tests"
BASE = "http://testserver"
NUMBER = "+447400912345"
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(
    SENDGRID_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()
DEV_OUTBOX = {Channel.SMS: None, Channel.EMAIL: None}
STOP_WORDS = [
    "STOP",
    " stop ",
    "StopAll",
    "UNSUBSCRIBE\n",
    "cancel",
    "End ",
    "QUIT",
    "revoke",
    "OptOut",
]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        environment="test",
        dispatch_in_server=False,
        twilio_auth_token=TOKEN,
        sendgrid_webhook_public_key=SENDGRID_PUBLIC,
        public_base_url=BASE,
    )


@pytest.fixture
def clinic(factory):
    made = factory.clinic("alder", roles=(Role.FRONT_DESK,), providers=1, patients=2)
    with transaction(factory.db) as session:
        session.get(Patient, made.records.patient_ids[0]).phone = NUMBER
        session.get(Patient, made.records.patient_ids[0]).email = "ada@example.org"
    return made


def inbound(clinic, body, *, sid=None, sender=NUMBER, token=TOKEN, tamper=None):
    params = {
        "MessageSid": sid or f"SM{uuid.uuid4().hex}",
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "+447700900000",
        "Body": body,
        "NumMedia": "0",
    }
    path = f"/webhooks/twilio/{clinic.slug}/inbound"
    signature = twilio_signature(token, BASE + path, params)
    sent = params | (tamper or {})
    return path, sent, {"X-Twilio-Signature": signature}


def post_inbound(client, clinic, body, **kwargs):
    path, params, headers = inbound(clinic, body, **kwargs)
    return client.post(path, data=params, headers=headers)


def count(db, model):
    with db() as session:
        return session.scalar(select(func.count()).select_from(model))


def messages(db):
    with db() as session:
        return session.scalars(select(Message).order_by(Message.created_at)).all()


# --- forged, tampered, stale ------------------------------------------------------------


def test_forged_and_tampered_texts_are_refused_and_change_nothing(client, db, clinic):
    path, params, _ = inbound(clinic, "Hello")
    assert client.post(path, data=params).status_code == 403  # no signature at all
    assert client.post(path, data=params, headers={"X-Twilio-Signature": "AAAA"}).status_code == 403
    _, tampered, signed = inbound(clinic, "Hello", tamper={"Body": "STOP"})
    assert client.post(path, data=tampered, headers=signed).status_code == 403
    _, wrong_key, signed = inbound(clinic, "Hello", token="someone-elses-token")
    answer = client.post(path, data=wrong_key, headers=signed)
    assert answer.status_code == 403
    assert "signature" in answer.json()["message"]
    # Signed for another clinic's address: not valid here.
    other = params | {}
    signature = twilio_signature(TOKEN, f"{BASE}/webhooks/twilio/birch/inbound", other)
    response = client.post(path, data=other, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert count(db, WebhookEvent) == 0
    assert count(db, Message) == 0


def sendgrid_post(client, clinic, events, *, timestamp=None, tamper=False):
    body = json.dumps(events).encode()
    stamp = str(int(timestamp if timestamp is not None else time.time()))
    signature = SENDGRID_KEY.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "Content-Type": "application/json",
    }
    sent = body.replace(b"delivered", b"bounce") if tamper else body
    return client.post(f"/webhooks/sendgrid/{clinic.slug}/events", content=sent, headers=headers)


def test_sendgrid_events_need_a_fresh_valid_signature(client, db, clinic):
    event = [{"sg_event_id": "ev1", "sg_message_id": "abc.filter", "event": "delivered"}]
    assert sendgrid_post(client, clinic, event, tamper=True).status_code == 403
    assert sendgrid_post(client, clinic, event, timestamp=time.time() - 3600).status_code == 403
    assert sendgrid_post(client, clinic, event, timestamp=time.time() + 3600).status_code == 403
    response = client.post(f"/webhooks/sendgrid/{clinic.slug}/events", content=b"[]")
    assert response.status_code == 403
    assert count(db, WebhookEvent) == 0
    assert sendgrid_post(client, clinic, event).status_code == 204
    assert count(db, WebhookEvent) == 1


# --- texts from patients --------------------------------------------------------------------


def test_a_text_lands_in_its_patients_conversation_once_however_often_posted(client, db, clinic):
    path, params, headers = inbound(clinic, "Can I come at 3 instead?")
    for _ in range(5):
        response = client.post(path, data=params, headers=headers)
        assert response.status_code == 200
        assert "<Response>" in response.text
    [message] = messages(db)
    assert message.patient_id == clinic.records.patient_ids[0]
    assert message.direction.value == "in"
    assert message.body == "Can I come at 3 instead?"
    assert message.read_at is None
    assert count(db, WebhookEvent) == 1


def test_a_text_from_an_unknown_number_waits_to_be_attached(client, db, clinic):
    assert post_inbound(client, clinic, "Who is this?", sender="+447400111222").status_code == 200
    [message] = messages(db)
    assert message.patient_id is None
    assert message.counterpart == "+447400111222"


def test_a_signed_request_missing_its_message_id_is_told_so(client, db, clinic):
    path = f"/webhooks/twilio/{clinic.slug}/inbound"
    params = {"From": NUMBER, "Body": "hi"}
    signature = twilio_signature(TOKEN, BASE + path, params)
    response = client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 422
    assert "MessageSid" in response.json()["message"]


def send_text(client, headers, clinic, staff_id, seq=1):
    command = {
        "kind": "send_message",
        "message_id": str(uuid.uuid4()),
        "patient_id": str(clinic.records.patient_ids[0]),
        "channels": ["sms", "email"],
        "purpose": "care",
        "subject": "",
        "body": "Your results are in",
    }
    [result] = push(client, headers, mutation(staff_id, command, seq=seq))
    return {d["channel"]: d for d in result["message_record"]["deliveries"]}


@pytest.mark.parametrize("word", STOP_WORDS)
def test_every_stop_word_opts_the_number_out_before_anything_else(
    client, db, factory, app, clinic, word
):
    desk = factory.signed_desk(clinic.front_desk)
    staff = clinic.front_desk.staff_id
    waiting = send_text(client, desk, clinic, staff, seq=1)
    assert waiting["sms"]["status"] == "queued"
    assert post_inbound(client, clinic, word).status_code == 200
    with db() as session:
        assert session.scalar(select(func.count()).select_from(PhoneOptOut)) == 1
        withdrawn = session.scalars(
            select(ConsentDecision).where(ConsentDecision.channel == Channel.SMS)
        ).all()
        held = session.scalars(select(Delivery).where(Delivery.channel == Channel.SMS)).all()
    assert {d.purpose.value for d in withdrawn} == {
        "care",
        "reminder",
        "marketing",
        "survey",
        "review",
    }
    assert not any(d.granted for d in withdrawn)
    assert all(d.source.value == "sms_keyword" for d in withdrawn)
    # The text that was waiting is held; only the one confirmation goes to the number.
    queued_before = [d for d in held if not d.answers_keyword]
    assert [d.status for d in queued_before] == [DeliveryStatus.HELD]
    Dispatcher(app.state.database, DEV_OUTBOX).drain()
    with db() as session:
        texts = session.scalars(
            select(DevOutboxEntry).where(DevOutboxEntry.channel == Channel.SMS)
        ).all()
    assert len(texts) == 1
    assert "no more texts" in texts[0].text
    assert "Alder Clinic" in texts[0].text
    # Afterwards: nothing by SMS, whatever the purpose; e-mail still goes.
    later = send_text(client, desk, clinic, staff, seq=2)
    assert later["sms"]["status"] == "held"
    assert later["email"]["status"] == "queued"
    Dispatcher(app.state.database, DEV_OUTBOX).drain()
    with db() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(DevOutboxEntry)
                .where(DevOutboxEntry.channel == Channel.SMS)
            )
            == 1
        )


def test_start_opts_back_in_to_care_but_not_to_marketing(client, db, factory, app, clinic):
    desk = factory.signed_desk(clinic.front_desk)
    post_inbound(client, clinic, "STOP")
    post_inbound(client, clinic, " Start ")
    with db() as session:
        assert session.scalar(select(func.count()).select_from(PhoneOptOut)) == 0
    after = send_text(client, desk, clinic, clinic.front_desk.staff_id)
    assert after["sms"]["status"] == "queued"
    Dispatcher(app.state.database, DEV_OUTBOX).drain()
    with db() as session:
        texts = [
            entry.text
            for entry in session.scalars(
                select(DevOutboxEntry)
                .where(DevOutboxEntry.channel == Channel.SMS)
                .order_by(DevOutboxEntry.sent_at)
            )
        ]
        marketing = session.scalars(
            select(ConsentDecision)
            .where(ConsentDecision.purpose == "marketing")
            .order_by(ConsentDecision.decided_at)
        ).all()
    assert len(texts) == 3  # the STOP reply, the START reply, then the message
    assert "Alder Clinic: Your results are in" in texts
    assert [d.granted for d in marketing] == [False]  # START did not sign them up


def test_help_is_answered_with_the_clinics_name(client, db, app, clinic):
    post_inbound(client, clinic, "help")
    Dispatcher(app.state.database, DEV_OUTBOX).drain()
    with db() as session:
        [reply] = session.scalars(select(DevOutboxEntry)).all()
        assert session.scalar(select(func.count()).select_from(PhoneOptOut)) == 0
    assert "Alder Clinic" in reply.text
    assert reply.to_address == NUMBER


# --- delivery receipts -----------------------------------------------------------------------


def sent_sms(client, factory, app, clinic, provider_id="SM0001"):
    """A text to the patient, handed to "Twilio" (a provider that accepts everything)."""

    class Accepting:
        name = "twilio"
        channel = Channel.SMS

        def send(self, message):
            from server.messaging.providers.base import Accepted

            return Accepted(provider_id, segments=1)

    desk = factory.signed_desk(clinic.front_desk)
    send_text(client, desk, clinic, clinic.front_desk.staff_id)
    Dispatcher(app.state.database, {Channel.SMS: Accepting(), Channel.EMAIL: None}).drain()


def status_callback(client, clinic, status, *, error_code=None, sid="SM0001"):
    path = f"/webhooks/twilio/{clinic.slug}/status"
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32}
    if error_code:
        params["ErrorCode"] = error_code
    headers = {"X-Twilio-Signature": twilio_signature(TOKEN, BASE + path, params)}
    return client.post(path, data=params, headers=headers)


def sms_delivery(db):
    with db() as session:
        return session.scalars(select(Delivery).where(Delivery.channel == Channel.SMS)).one()


def test_a_receipt_moves_the_delivery_forwards_once_and_never_back(
    client, db, factory, app, clinic
):
    sent_sms(client, factory, app, clinic)
    assert sms_delivery(db).status is DeliveryStatus.SENT
    for _ in range(5):
        assert status_callback(client, clinic, "delivered").status_code == 204
    assert sms_delivery(db).status is DeliveryStatus.DELIVERED
    assert count(db, WebhookEvent) == 1
    status_callback(client, clinic, "sent")  # late and out of order
    assert sms_delivery(db).status is DeliveryStatus.DELIVERED
    with db() as session:
        message = session.scalars(select(Message)).one()
    assert {d["channel"]: d["status"] for d in message.deliveries}["sms"] == "delivered"


def test_an_undelivered_text_shows_why_in_words(client, db, factory, app, clinic):
    sent_sms(client, factory, app, clinic)
    status_callback(client, clinic, "undelivered", error_code="30003")
    failed = sms_delivery(db)
    assert failed.status is DeliveryStatus.UNDELIVERED
    assert "reach" in failed.error  # Twilio's 30003 in words: the phone could not be reached
    with db() as session:
        message = session.scalars(select(Message)).one()
    summary = {d["channel"]: d for d in message.deliveries}["sms"]
    assert summary["status"] == "undelivered"
    assert summary["error"] == failed.error


def test_sendgrid_bounces_reach_the_email_delivery_once(client, db, factory, app, clinic):
    desk = factory.signed_desk(clinic.front_desk)
    send_text(client, desk, clinic, clinic.front_desk.staff_id)

    class SendGridLike:
        name = "sendgrid"
        channel = Channel.EMAIL

        def send(self, message):
            from server.messaging.providers.base import Accepted

            return Accepted("xyzMessageId")

    Dispatcher(app.state.database, {Channel.SMS: None, Channel.EMAIL: SendGridLike()}).drain()
    event = {
        "sg_event_id": "bounce-1",
        "sg_message_id": "xyzMessageId.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
        "event": "bounce",
        "type": "bounce",
        "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
        "email": "ada@example.org",
        "timestamp": int(time.time()),
    }
    for _ in range(5):
        assert sendgrid_post(client, clinic, [event]).status_code == 204
    with db() as session:
        email = session.scalars(select(Delivery).where(Delivery.channel == Channel.EMAIL)).one()
    assert email.status is DeliveryStatus.BOUNCED
    assert "does not exist" in email.error
    assert count(db, WebhookEvent) == 1
