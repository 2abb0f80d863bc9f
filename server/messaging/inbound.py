"""What providers tell us, processed once: texts from patients and delivery receipts.

The webhook endpoints only check the provider's signature and store the event
(``WebhookEvent``, unique by the provider's own event id) before answering; the work is
done here afterwards, each event in one transaction that also marks it processed, so an
event posted five times, or processed by two workers at once, takes effect once. Events
left unprocessed by a crash are picked up by ``process_pending`` (the dispatcher's
thread runs it every round).

A text that is just a keyword is answered by the law's rules before anything else:
STOP and its family opt the number out (every waiting text to it is held, the desks see
it at once) and get one confirmation; START opts back in; HELP gets the clinic's name and
number.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from common.messaging import (
    STATUS_RANK,
    Channel,
    ConsentSource,
    DeliveryStatus,
    Direction,
    Purpose,
)
from common.sms import Keyword, help_reply, keyword, opt_in_reply, opt_out_reply
from server.clinics.models import Clinic
from server.crypto import index_of_stored_phone
from server.db import Database, utcnow
from server.messaging import service
from server.messaging.models import Delivery, Message, PhoneOptOut, WebhookEvent
from server.messaging.receipts import (
    InboundSms,
    StatusEvent,
    sendgrid_events,
    twilio_inbound,
    twilio_status,
)
from server.messaging.redact import redact
from server.patients.models import Patient
from server.patients.service import patients_with_phone

log = logging.getLogger(__name__)

INBOUND, STATUS = "inbound", "status"


# --- storing (in the webhook's request) --------------------------------------------------


def store(
    session: Session, clinic_id: uuid.UUID, provider: str, kind: str, key: str, payload: object
) -> uuid.UUID | None:
    """Keep the event unless it is already kept; its id, or None for a repeat."""
    known = session.scalar(select(WebhookEvent.id).where(WebhookEvent.event_key == key))
    if known is not None:
        return None
    event = WebhookEvent(
        id=uuid.uuid4(),
        clinic_id=clinic_id,
        provider=provider,
        kind=kind,
        event_key=key,
        payload=json.dumps(payload),
    )
    session.add(event)
    session.flush()
    return event.id


# --- processing (after answering) -------------------------------------------------------


def process(db: Database, event_id: uuid.UUID) -> bool:
    """Do what the event says, once. False if it was done already (or is gone)."""
    with db.writing() as session:
        event = session.scalar(
            select(WebhookEvent)
            .where(WebhookEvent.id == event_id, WebhookEvent.processed_at.is_(None))
            .with_for_update()
        )
        if event is None:
            return False
        try:
            with session.begin_nested():
                _handle(session, event)
        except NotYet:
            if utcnow() - event.received_at < PATIENCE:
                return False
        except Exception:  # a bad event must not block the queue behind it
            log.exception("webhook event %s could not be processed", event.id)
        event.processed_at = utcnow()
    return True


def process_pending(db: Database, limit: int = 200) -> int:
    """Process events stored but not yet processed (a worker died after answering)."""
    with db.reading() as session:
        waiting = list(
            session.scalars(
                select(WebhookEvent.id)
                .where(WebhookEvent.processed_at.is_(None))
                .order_by(WebhookEvent.received_at)
                .limit(limit)
            )
        )
    return sum(process(db, event_id) for event_id in waiting)


def _handle(session: Session, event: WebhookEvent) -> None:
    payload = json.loads(event.payload)
    if event.provider == "twilio" and event.kind == INBOUND:
        receive_text(
            session, event.clinic_id, twilio_inbound(dict(_pairs(payload))), event.received_at
        )
    elif event.provider == "twilio":
        status = twilio_status(dict(_pairs(payload)))
        if status is not None:
            apply_status(session, event.clinic_id, status)
    elif event.provider == "sendgrid":
        for status in sendgrid_events(json.dumps([payload]).encode()):
            apply_status(session, event.clinic_id, status)


def _pairs(payload: object) -> list[tuple[str, str]]:
    assert isinstance(payload, list)
    return [(str(key), str(value)) for key, value in payload]


# --- texts from patients ----------------------------------------------------------------


def receive_text(
    session: Session, clinic_id: uuid.UUID, text: InboundSms, received_at: datetime
) -> Message:
    """File the text in its patient's conversation (or as from an unknown number), after
    acting on a keyword."""
    clinic = session.get(Clinic, clinic_id)
    assert clinic is not None
    number = text.from_number
    patients = patients_with_phone(session, clinic_id, number)
    word = keyword(text.body)
    if word is Keyword.OPT_OUT:
        opt_out(session, clinic_id, number, patients)
    elif word is Keyword.OPT_IN:
        opt_in(session, clinic_id, number, patients)
    message = Message(
        id=uuid.uuid4(),
        clinic_id=clinic_id,
        # A number shared by several patients (a family) is left for staff to attach.
        patient_id=patients[0].id if len(patients) == 1 else None,
        direction=Direction.IN,
        purpose=Purpose.CARE,
        kind="inbound" if word is None else f"keyword_{word.value}",
        channels=[Channel.SMS.value],
        body=text.body,
        counterpart=number,
        due_at=received_at,
        deliveries=[],
    )
    session.add(message)
    if word is not None:
        _answer(session, clinic, number, patients, word)
    session.flush()
    return message


def opt_out(session: Session, clinic_id: uuid.UUID, number: str, patients: list[Patient]) -> None:
    index = index_of_stored_phone(number)
    if index is None:  # a sender that is no phone number (a short code): nothing to stop
        return
    waiting = session.scalars(
        select(Delivery).where(
            Delivery.clinic_id == clinic_id,
            Delivery.to_index == index,
            Delivery.channel == Channel.SMS,
            Delivery.status == DeliveryStatus.QUEUED,
        )
    ).all()
    service.hold(session, waiting, service.OPTED_OUT)  # first: the reason staff read
    known = session.scalar(
        select(PhoneOptOut.id).where(
            PhoneOptOut.clinic_id == clinic_id, PhoneOptOut.phone_index == index
        )
    )
    if known is None:
        session.add(PhoneOptOut(clinic_id=clinic_id, phone_index=index))
    for patient in patients:
        for purpose in Purpose:
            service.decide(
                session,
                clinic_id,
                patient.id,
                Channel.SMS,
                purpose,
                granted=False,
                source=ConsentSource.SMS_KEYWORD,
                note="replied STOP",
            )


def opt_in(session: Session, clinic_id: uuid.UUID, number: str, patients: list[Patient]) -> None:
    """START: texts about their care and reminders again. Marketing, surveys and review
    requests stay off until the patient agrees to them afresh."""
    index = index_of_stored_phone(number)
    if index is not None:
        session.execute(
            delete(PhoneOptOut).where(
                PhoneOptOut.clinic_id == clinic_id, PhoneOptOut.phone_index == index
            )
        )
    for patient in patients:
        for purpose in Purpose:
            if not purpose.needs_opt_in:
                service.decide(
                    session,
                    clinic_id,
                    patient.id,
                    Channel.SMS,
                    purpose,
                    granted=True,
                    source=ConsentSource.SMS_KEYWORD,
                    note="replied START",
                )


def _answer(
    session: Session, clinic: Clinic, number: str, patients: list[Patient], word: Keyword
) -> None:
    settings = service.settings_of(session, clinic.id)
    name = service.signature(settings, clinic)
    reply = {
        Keyword.OPT_OUT: lambda: opt_out_reply(name),
        Keyword.OPT_IN: lambda: opt_in_reply(name),
        Keyword.HELP: lambda: help_reply(name, settings.phone),
    }[word]()
    service.compose(
        session,
        clinic.id,
        patient=patients[0] if len(patients) == 1 else None,
        number=number,
        purpose=Purpose.CARE,
        kind=f"{word.value}_reply",
        drafts=[service.Draft(Channel.SMS, reply)],
        urgent=True,
        answering_keyword=True,
    )


# --- delivery receipts ------------------------------------------------------------------


class NotYet(Exception):
    """The event names something not recorded yet; keep it for a later round."""


# How long a receipt for a send we have no record of is kept for another try.
PATIENCE = timedelta(hours=1)


def apply_status(session: Session, clinic_id: uuid.UUID, event: StatusEvent) -> None:
    """Move the delivery forwards (never back: a late "sent" after "delivered" is
    ignored) and show it on the message."""
    if event.status is None:
        return  # "processed", "opened", "queued": nothing a desk shows
    if event.delivery_id is not None:
        # SendGrid's webhook is one per account and says whose delivery it was (our
        # custom argument, inside the signed body): its clinic, whatever the address.
        found = session.scalar(
            select(Delivery)
            .where(Delivery.id == event.delivery_id, Delivery.provider == event.provider)
            .with_for_update()
        )
    elif event.provider_message_id:
        found = session.scalar(
            select(Delivery)
            .where(
                Delivery.clinic_id == clinic_id,
                Delivery.provider == event.provider,
                Delivery.provider_message_id == event.provider_message_id,
            )
            .with_for_update()
        )
    else:
        return  # names no message: nothing of ours
    if found is None:
        # The receipt may have overtaken our own record of the send: try again later.
        raise NotYet
    if found.status.final:
        return
    if STATUS_RANK[event.status] < STATUS_RANK[found.status]:
        return
    now = utcnow()
    found.status = event.status
    if event.status is DeliveryStatus.DELIVERED:
        found.delivered_at = now
        found.error = None
    elif event.status.went_wrong:
        found.failed_at = now
        found.error = redact(event.error_text or "The provider could not deliver it.")[:500]
    service.refresh_summaries(session, [found.message_id])
