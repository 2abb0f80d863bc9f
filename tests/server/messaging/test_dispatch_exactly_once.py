"""Every delivery is sent exactly once: two dispatcher processes working the same queue at
once, one of them killed (SIGKILL) with a batch claimed and not yet recorded, then
started again. On PostgreSQL the claims skip each other's locked rows; on SQLite they
queue for the one writer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from common.messaging import Channel, DeliveryStatus, Direction, Purpose
from common.roles import Role
from server.db import transaction
from server.messaging.models import Delivery, DevOutboxEntry, Message
from server.patients.models import Patient

ROOT = Path(__file__).resolve().parents[3]
COUNT = 400


def queue(db, clinic, count):
    """``count`` messages of one urgent text each, due now, written as composing would."""
    with transaction(db) as session:
        patient = session.get(Patient, clinic.records.patient_ids[0])
        for n in range(count):
            message = Message(
                id=uuid.uuid4(),
                clinic_id=clinic.id,
                patient_id=patient.id,
                direction=Direction.OUT,
                purpose=Purpose.CARE,
                kind="reply",
                channels=["sms"],
                body=f"Message {n}",
                urgent=True,
                deliveries=[],
            )
            session.add(message)
            session.flush()
            session.add(
                Delivery(
                    clinic_id=clinic.id,
                    message_id=message.id,
                    patient_id=patient.id,
                    channel=Channel.SMS,
                    purpose=Purpose.CARE,
                    urgent=True,
                    to_address="+447400912345",
                    text=f"Message {n}",
                )
            )


def child(url, name, *, pause=0.0):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.dispatch_child",
            url,
            name,
            "--pause",
            str(pause),
            "--lease",
            "2",
            "--idle-rounds",
            "15",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )


def holding(db, name):
    with db() as session:
        return session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_by == name)
        )


def sent_count(db):
    with db() as session:
        return session.scalar(select(func.count()).select_from(DevOutboxEntry))


@pytest.mark.slow
def test_two_dispatchers_and_a_killed_one_send_each_delivery_exactly_once(
    db, factory, database_url
):
    clinic = factory.clinic("alder", roles=(Role.FRONT_DESK,), providers=1, patients=1)
    queue(db, clinic, COUNT)

    doomed = child(database_url, "doomed", pause=0.02)
    steady = child(database_url, "steady", pause=0.002)
    deadline = time.monotonic() + 60
    while sent_count(db) < COUNT // 4 or not holding(db, "doomed"):
        assert time.monotonic() < deadline, "the dispatchers made no progress"
        time.sleep(0.02)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    stranded = holding(db, "doomed")  # claimed, never recorded: it died mid-batch
    assert stranded > 0
    restarted = child(database_url, "restarted")
    outputs = [json.loads(process.communicate(timeout=120)[0]) for process in (steady, restarted)]

    with db() as session:
        statuses = session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        ).all()
        sent_ids = session.scalars(select(DevOutboxEntry.delivery_id)).all()
    assert dict(statuses) == {DeliveryStatus.DELIVERED: COUNT}
    assert len(sent_ids) == COUNT
    assert len(set(sent_ids)) == COUNT  # none twice
    # The survivors sent everything the killed one had not recorded, its batch included.
    assert sum(output["sent"] for output in outputs) >= stranded
