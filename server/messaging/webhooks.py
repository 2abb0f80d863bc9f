"""Providers' webhooks: texts from patients and delivery receipts.

Each request is believed only if it carries the provider's signature, checked exactly as
the provider documents it (``server.messaging.signatures``); anything else is a 403 and
changes nothing. A believed event is stored (once: by the provider's own id) and
answered at once; the work happens after the answer (``server.messaging.inbound``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from common.errors import Forbidden, InvalidInput, NotFound
from server.clinics.models import Clinic
from server.config import Settings
from server.db import Database
from server.deps import DatabaseDep, SettingsDep
from server.messaging import inbound
from server.messaging.receipts import twilio_inbound, twilio_status
from server.messaging.signatures import sendgrid_valid, twilio_valid

T = TypeVar("T")
router = APIRouter(prefix="/webhooks", tags=["webhooks"], include_in_schema=False)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
FORGED = "The request does not carry a valid signature of the messaging provider."


def _clinic(db: Database, slug: str) -> uuid.UUID:
    with db.reading() as session:
        found = session.scalar(select(Clinic.id).where(Clinic.slug == slug))
    if found is None:
        raise NotFound("There is no such clinic.")
    return found


def _signed_url(settings: Settings, request: Request) -> str:
    """The address the provider called, as it was configured with it: our public base
    URL (not the Host header, which a proxy may have changed) and the exact path and
    query."""
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{settings.public_base_url.rstrip('/')}{request.url.path}{query}"


async def _twilio_pairs(request: Request, settings: Settings) -> list[tuple[str, str]]:
    # Twilio posts application/x-www-form-urlencoded; every pair, in order, repeats kept.
    body = await request.body()
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise Forbidden(FORGED) from None
    token = settings.twilio_auth_token
    header = request.headers.get("X-Twilio-Signature", "")
    if token is None or not header:
        raise Forbidden(FORGED)
    if not twilio_valid(token.get_secret_value(), _signed_url(settings, request), pairs, header):
        raise Forbidden(FORGED)
    return pairs


def _parsed(parse: Callable[[], T]) -> T:
    """A signed request that still lacks what every such request has: a 422 in words."""
    try:
        return parse()
    except ValueError as error:
        raise InvalidInput(str(error)) from None


def _stored(
    db: Database, clinic_id: uuid.UUID, provider: str, kind: str, key: str, payload: object
) -> uuid.UUID | None:
    try:
        with db.writing() as session:
            return inbound.store(session, clinic_id, provider, kind, key, payload)
    except IntegrityError:
        return None  # the same event, stored a moment ago by a request running alongside


def _later(tasks: BackgroundTasks, db: Database, event_ids: list[uuid.UUID | None]) -> None:
    for event_id in event_ids:
        if event_id is not None:
            tasks.add_task(inbound.process, db, event_id)


@router.post("/twilio/{slug}/inbound")
async def twilio_inbound_text(
    slug: str, request: Request, tasks: BackgroundTasks, db: DatabaseDep, settings: SettingsDep
) -> Response:
    pairs = await _twilio_pairs(request, settings)
    clinic_id = _clinic(db, slug)
    text = _parsed(lambda: twilio_inbound(dict(pairs)))
    event_id = _stored(db, clinic_id, "twilio", inbound.INBOUND, text.event_key, pairs)
    _later(tasks, db, [event_id])
    return Response(EMPTY_TWIML, media_type="text/xml")


@router.post("/twilio/{slug}/status")
async def twilio_status_callback(
    slug: str, request: Request, tasks: BackgroundTasks, db: DatabaseDep, settings: SettingsDep
) -> Response:
    pairs = await _twilio_pairs(request, settings)
    clinic_id = _clinic(db, slug)
    status = _parsed(lambda: twilio_status(dict(pairs)))
    if status is not None:
        event_id = _stored(db, clinic_id, "twilio", inbound.STATUS, status.event_key, pairs)
        _later(tasks, db, [event_id])
    return Response(status_code=204)


@router.post("/sendgrid/{slug}/events")
async def sendgrid_event_webhook(
    slug: str, request: Request, tasks: BackgroundTasks, db: DatabaseDep, settings: SettingsDep
) -> Response:
    body = await request.body()
    key = settings.sendgrid_webhook_public_key
    valid = key is not None and sendgrid_valid(
        key,
        request.headers.get("X-Twilio-Email-Event-Webhook-Signature", ""),
        request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp", ""),
        body,
        now=time.time(),
    )
    if not valid:
        raise Forbidden(FORGED)
    clinic_id = _clinic(db, slug)
    try:
        events = json.loads(body)
    except ValueError:
        events = None
    if not isinstance(events, list):
        return Response(status_code=204)  # signed by SendGrid, yet nothing we know
    keyed = [
        (f"sendgrid:{event['sg_event_id']}", event)
        for event in events
        if isinstance(event, dict) and event.get("sg_event_id")
    ]
    try:  # a batch of receipts in one transaction
        with db.writing() as session:
            stored = [
                inbound.store(session, clinic_id, "sendgrid", inbound.STATUS, key, event)
                for key, event in keyed
            ]
    except IntegrityError:  # one of them stored a moment ago by a repeat: one at a time
        stored = [
            _stored(db, clinic_id, "sendgrid", inbound.STATUS, key, event) for key, event in keyed
        ]
    _later(tasks, db, stored)
    return Response(status_code=204)
