"""A property of the dispatcher, over time zones, clock times and clinics' windows: a text
that is not urgent is never handed to a provider outside the hours the clinic allows
texts, on the patient's (the clinic's) clocks; one that waits is due exactly when the
window next opens."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from common.messaging import Channel, DeliveryStatus, Direction, Purpose
from common.quiet_hours import QuietHours, next_allowed
from common.roles import Role
from server.clinics.models import Clinic
from server.db import transaction
from server.messaging.dispatcher import Dispatcher
from server.messaging.models import Delivery, Message, MessagingSettings
from server.messaging.providers.base import Accepted, Outgoing

ZONES = [
    "Europe/London",
    "America/New_York",
    "America/St_Johns",  # half an hour off
    "Asia/Kolkata",
    "Asia/Kathmandu",  # three quarters
    "Australia/Lord_Howe",  # a half-hour daylight saving change
    "Australia/Sydney",  # southern summer time
    "Pacific/Kiritimati",  # UTC+14
    "Pacific/Pago_Pago",  # UTC-11
    "America/Santiago",
    "Africa/Casablanca",
    "UTC",
]


class Recorder:
    name = "recorder"
    channel = Channel.SMS

    def __init__(self) -> None:
        self.handed: list[Outgoing] = []
        self.lock = threading.Lock()

    def send(self, message: Outgoing) -> Accepted:
        with self.lock:
            self.handed.append(message)
        return Accepted("SM1")


minutes = st.integers(min_value=0, max_value=23 * 60 + 59)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    zone=st.sampled_from(ZONES),
    moment=st.datetimes(min_value=datetime(2027, 1, 1), max_value=datetime(2035, 12, 31)),
    window=st.tuples(minutes, minutes).filter(lambda pair: pair[0] < pair[1]),
)
def test_no_text_is_handed_over_outside_the_window_in_the_patients_zone(
    factory, db, app, zone, moment, window
):
    if not hasattr(factory, "_quiet_clinic"):
        factory._quiet_clinic = factory.clinic("quiet", roles=(Role.FRONT_DESK,), patients=1)
    clinic = factory._quiet_clinic
    now = moment.replace(tzinfo=UTC)
    opens, closes = (time(m // 60, m % 60) for m in window)
    with transaction(db) as session:
        session.execute(delete(Delivery))
        session.execute(delete(Message))
        session.execute(delete(MessagingSettings))
        session.get(Clinic, clinic.id).time_zone = zone
        session.add(
            MessagingSettings(
                clinic_id=clinic.id, texts_from_minute=window[0], texts_until_minute=window[1]
            )
        )
        message = Message(
            id=uuid.uuid4(),
            clinic_id=clinic.id,
            patient_id=clinic.records.patient_ids[0],
            direction=Direction.OUT,
            purpose=Purpose.REMINDER,
            kind="reminder",
            channels=["sms"],
            body="See you tomorrow",
            deliveries=[],
        )
        session.add(message)
        session.flush()
        session.add(
            Delivery(
                clinic_id=clinic.id,
                message_id=message.id,
                patient_id=clinic.records.patient_ids[0],
                channel=Channel.SMS,
                purpose=Purpose.REMINDER,
                to_address="+447400912345",
                text="See you tomorrow",
                due_at=now - timedelta(days=1),
            )
        )
    provider = Recorder()
    Dispatcher(app.state.database, {Channel.SMS: provider}, clock=lambda: now).drain()

    local = now.astimezone(ZoneInfo(zone)).time()
    inside = opens <= local < closes
    assert bool(provider.handed) == inside
    with db() as session:
        delivery = session.query(Delivery).one()
    if not inside:
        assert delivery.status is DeliveryStatus.QUEUED
        opening = next_allowed(now, zone, QuietHours(opens, closes))
        assert delivery.due_at == opening
        assert opening > now
        assert opens <= opening.astimezone(ZoneInfo(zone)).time() < closes
