"""``make bench``: messaging figures.

- The dispatcher's throughput through the development outbox: deliveries per second
  from "queued" to "delivered", with one and with two dispatchers (threads of this
  process, each with its own connections), on SQLite and on PostgreSQL.
- The webhook's throughput: signed Twilio texts posted by 20 concurrent senders to a real
  ``clinicdesk serve``, events answered per second (each stored before its answer; the
  processing follows on the server's own dispatcher thread).

PostgreSQL runs use ``CLINICDESK_BENCH_DATABASE_URL`` (or ``CLINICDESK_TEST_DATABASE_URL``),
whose ``public`` schema is dropped and rebuilt: never point it at data you want to keep.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import func, insert, select

import server.models  # noqa: F401  - version stamping
from common.messaging import Channel, DeliveryStatus, Direction, Purpose
from server.clinics.service import create_clinic
from server.config import Settings
from server.crypto import configure
from server.db import Database, make_engine, migrate, transaction, utcnow
from server.messaging.dispatcher import Dispatcher
from server.messaging.models import Delivery, Message
from server.messaging.signatures import twilio_signature
from server.patients.models import Patient
from tests.bench.server_bench import postgres_url
from tests.bench.sync_bench import Row
from tests.support.served import ServeProcess
from tests.support.server_process import reset_postgres

DELIVERIES = 3000
DISPATCH_TARGET = 500  # deliveries/s on PostgreSQL
WEBHOOK_SENDERS = 20
WEBHOOK_SECONDS = 5.0
TOKEN = "bench-twilio-token"


def _queue(db: Database, count: int) -> None:
    """A clinic, one patient, and ``count`` urgent texts due now (bulk inserts)."""
    with transaction(db.sessions) as session:
        clinic = create_clinic(session, slug="bench", name="Bench Clinic", time_zone="UTC")
        patient = Patient(
            clinic_id=clinic.id, first_name="Ada", last_name="Bench", phone="+447400912345"
        )
        session.add(patient)
        session.flush()
        now = utcnow()
        messages, deliveries = [], []
        for n in range(count):
            message_id = uuid.uuid4()
            messages.append(
                {
                    "id": message_id,
                    "clinic_id": clinic.id,
                    "patient_id": patient.id,
                    "direction": Direction.OUT,
                    "purpose": Purpose.CARE,
                    "kind": "reply",
                    "channels": ["sms"],
                    "subject": "",
                    "body": f"Message {n}",
                    "urgent": True,
                    "due_at": now,
                    "deliveries": [],
                    "version": n + 1,
                    "created_at": now,
                    "modified_at": now,
                }
            )
            deliveries.append(
                {
                    "id": uuid.uuid4(),
                    "clinic_id": clinic.id,
                    "message_id": message_id,
                    "patient_id": patient.id,
                    "channel": Channel.SMS,
                    "purpose": Purpose.CARE,
                    "urgent": True,
                    "answers_keyword": False,
                    "to_address": "+447400912345",
                    "subject": "",
                    "text": f"Message {n}",
                    "status": DeliveryStatus.QUEUED,
                    "due_at": now,
                    "attempts": 0,
                    "created_at": now,
                    "modified_at": now,
                }
            )
        session.execute(insert(Message), messages)
        session.execute(insert(Delivery), deliveries)
        clinic.sync_version = count


def _delivered(db: Database) -> int:
    with db.reading() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status == DeliveryStatus.DELIVERED)
            )
            or 0
        )


def dispatch_rate(url: str, dispatchers: int, count: int = DELIVERIES) -> float:
    """Deliveries per second from queued to delivered with ``dispatchers`` at work."""
    migrate(url)
    configure(Settings(database_url=url, environment="test"))  # sealed addresses
    db = Database(make_engine(url))
    try:
        _queue(db, count)
        outbox = {Channel.SMS: None, Channel.EMAIL: None}
        workers = [
            threading.Thread(
                target=Dispatcher(db, outbox, name=f"bench-{n}", batch=200).drain, daemon=True
            )
            for n in range(dispatchers)
        ]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        if _delivered(db) != count:
            raise RuntimeError("the dispatchers left deliveries unsent")
        return count / elapsed
    finally:
        db.dispose()


def webhook_rate(url: str, work: Path) -> float:
    """Signed inbound texts answered per second under ``WEBHOOK_SENDERS`` senders."""
    migrate(url)
    db = Database(make_engine(url))
    with transaction(db.sessions) as session:
        create_clinic(session, slug="bench", name="Bench Clinic", time_zone="UTC")
    db.dispose()
    served = ServeProcess(
        url,
        work / "webhook-server.log",
        env={
            "CLINICDESK_TWILIO_AUTH_TOKEN": TOKEN,
            "CLINICDESK_PUBLIC_BASE_URL": "http://bench.invalid",
        },
    )
    try:
        return asyncio.run(_post_texts(served.url))
    finally:
        served.close()


async def _post_texts(base: str) -> float:
    path = "/webhooks/twilio/bench/inbound"
    answered = 0
    failures = 0
    stop_at = time.perf_counter() + WEBHOOK_SECONDS

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal answered, failures
        while time.perf_counter() < stop_at:
            params = {
                "MessageSid": f"SM{uuid.uuid4().hex}",
                "From": "+447400912345",
                "To": "+447700900000",
                "Body": "Running 5 minutes late, sorry",
            }
            signature = twilio_signature(TOKEN, "http://bench.invalid" + path, params)
            response = await client.post(
                base + path, data=params, headers={"X-Twilio-Signature": signature}
            )
            if response.status_code == 200:
                answered += 1
            else:
                failures += 1

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(sender(client) for _ in range(WEBHOOK_SENDERS)))
    elapsed = time.perf_counter() - started
    if failures:
        print(f"webhook bench: {failures} requests were not answered 200", file=sys.stderr)
    return answered / elapsed


def rows(work: Path) -> list[Row]:
    backends = [("SQLite", lambda name: f"sqlite:///{work / name}")]
    pg = postgres_url()
    if pg is not None:

        def fresh_postgres(_name: str) -> str:
            reset_postgres(pg)
            return pg

        backends.append(("PostgreSQL", fresh_postgres))
    else:
        print(
            "messaging on PostgreSQL: skipped (set CLINICDESK_BENCH_DATABASE_URL)", file=sys.stderr
        )
    found: list[Row] = []
    for label, url_for in backends:
        for dispatchers in (1, 2):
            rate = dispatch_rate(url_for(f"dispatch-{dispatchers}.sqlite3"), dispatchers)
            on_postgres = label == "PostgreSQL"
            found.append(
                Row(
                    f"dispatcher, {label}, {dispatchers} at once",
                    rate,
                    "deliveries/s",
                    f">= {DISPATCH_TARGET}" if on_postgres else "",
                    rate >= DISPATCH_TARGET if on_postgres else None,
                )
            )
        rate = webhook_rate(url_for("webhooks.sqlite3"), work)
        found.append(Row(f"webhook, {label}, {WEBHOOK_SENDERS} senders", rate, "events/s"))
    return found
