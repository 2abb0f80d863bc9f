"""A ready-made ``Outgoing`` for the provider tests; each test changes what it is about."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from common.messaging import Channel
from server.messaging.providers.base import Outgoing

PATIENT_NUMBER = "+447700900123"
PATIENT_EMAIL = "jane.patient@example.org"


@pytest.fixture
def outgoing() -> Callable[..., Outgoing]:
    """``outgoing(channel=Channel.SMS, text="…")``: an e-mail to a patient unless told."""
    base = Outgoing(
        delivery_id=uuid.UUID("0b9f1c6e-4a57-4d0e-9a1e-2f7f3f0c1a11"),
        clinic_id=uuid.uuid4(),
        channel=Channel.EMAIL,
        to=PATIENT_EMAIL,
        sender_name="Demo Clinic",
        text="Your appointment is on Tuesday at 09:30.",
        subject="Your appointment",
    )

    def make(**changes: Any) -> Outgoing:
        if changes.get("channel") is Channel.SMS and "to" not in changes:
            changes["to"] = PATIENT_NUMBER
        return replace(base, **changes)

    return make
