"""A server process's PostgreSQL listener: it hears a change when the changing
transaction commits (never one that rolled back), and comes back by itself when its
connection is cut, waking every stream so nothing missed meanwhile stays unseen."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from server.changefeed import live
from server.db import transaction
from server.patients.models import Patient
from tests.support.postgres import needs_postgres

pytestmark = [
    pytest.mark.postgres,
    needs_postgres(),
    pytest.mark.parametrize(
        "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
    ),
]


class Recorder(live.ChangeHub):
    """A hub that remembers what it was told."""

    def __init__(self) -> None:
        super().__init__()
        self.heard: list[uuid.UUID] = []
        self.woke_all = 0
        self.changed = threading.Condition()

    def notify(self, clinic_ids: set[uuid.UUID]) -> None:
        with self.changed:
            self.heard.extend(clinic_ids)
            self.changed.notify_all()

    def notify_all(self) -> None:
        with self.changed:
            self.woke_all += 1
            self.changed.notify_all()

    def wait_for(self, check, timeout: float = 10.0) -> bool:
        with self.changed:
            return self.changed.wait_for(check, timeout)


@pytest.fixture
def listening(database_url):
    recorder = Recorder()
    listener = live.PostgresListener(database_url, target=recorder)
    listener.start()
    assert listener.connected.wait(10), "the listener never connected"
    yield recorder, listener
    listener.stop()


def test_a_committed_change_is_heard_and_a_rolled_back_one_is_not(db, factory, listening):
    recorder, _listener = listening
    clinic = factory.clinic("rowan", roles=())  # no staff: staff are synced, and heard too
    recorder.heard.clear()

    with db() as session:
        session.begin()
        session.add(Patient(clinic_id=clinic.id, first_name="Never", last_name="Saved"))
        session.flush()  # versions stamped, notification queued ...
        session.rollback()  # ... and dropped with the transaction
    with transaction(db) as session:
        session.add(Patient(clinic_id=clinic.id, first_name="Saved", last_name="Once"))

    assert recorder.wait_for(lambda: clinic.id in recorder.heard)
    time.sleep(0.3)  # anything else on its way arrives by now
    assert recorder.heard == [clinic.id]


def test_the_listener_comes_back_after_its_connection_is_cut(database_url, listening):
    recorder, listener = listening
    woke = recorder.woke_all
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            cut = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": f"{live.LISTENER_NAME} {os.getpid()}"},
            ).all()
        assert cut, "no listener connection to cut"

        assert recorder.wait_for(lambda: recorder.woke_all > woke, timeout=20)
        assert listener.connected.wait(10)
        clinic_id = uuid.uuid4()
        with engine.begin() as connection:
            connection.execute(
                text("SELECT pg_notify(:channel, :clinic)"),
                {"channel": live.CHANNEL, "clinic": str(clinic_id)},
            )
        assert recorder.wait_for(lambda: clinic_id in recorder.heard)
    finally:
        engine.dispose()
