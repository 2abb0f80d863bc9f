"""The hover card says how an appointment was booked: every way a patient books on the web
(the widget, a booking link, the portal) reads "Booked online"."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from common.appointments import AppointmentSource, AppointmentStatus
from desktop.diary.model import booked_how, summary
from sync.store import DiaryEntry

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def entry(source: AppointmentSource) -> DiaryEntry:
    return DiaryEntry(
        id=uuid.uuid4(),
        provider_id=uuid.uuid4(),
        starts_at=START,
        ends_at=START + timedelta(minutes=30),
        status=AppointmentStatus.BOOKED,
        source=source,
        patient_name="Ada Lovelace",
    )


@pytest.mark.parametrize("source", list(AppointmentSource))
def test_every_web_source_reads_booked_online(source: AppointmentSource) -> None:
    expected = "Booked online" if source.online else "Booked at the desk"
    assert booked_how(entry(source)) == expected


def test_a_link_booking_says_so_on_the_hover_card() -> None:
    card = summary(entry(AppointmentSource.LINK), ZoneInfo("Europe/London"))
    assert card.splitlines()[-1] == "Booked online"
