"""The desk keeps a date window of appointments: what leaves it goes, what enters it is
fetched, and a change that moves an appointment out of it is honoured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from server.db import transaction
from server.scheduling.models import Appointment
from sync import account
from sync.engine import SyncEngine, WindowPolicy
from sync.schema import appointments
from tests.support.live_server import LiveServer

EMAIL, PASSWORD = "frontdesk@demo.clinic", "frontdesk-demo-1"


def cached_ids(store) -> set[str]:
    with store.engine.connect() as conn:
        return {row.id for row in conn.execute(select(appointments.c.id))}


def server_ids(server: LiveServer, window: tuple[datetime, datetime]) -> set[str]:
    with server.sessionmaker() as session:
        return {
            str(i)
            for i in session.scalars(
                select(Appointment.id).where(
                    Appointment.starts_at < window[1], Appointment.ends_at > window[0]
                )
            )
        }


def test_only_the_window_is_kept_and_it_follows_the_policy(
    live_server: LiveServer, tmp_path: Path
) -> None:
    desk = account.sign_in(tmp_path, live_server.url, "demo", EMAIL, PASSWORD)
    narrow = WindowPolicy(past_days=1, future_days=2)
    SyncEngine(desk.store, account.sync_client(desk), window=narrow).sync()
    window = narrow.around(datetime.now(UTC))
    assert cached_ids(desk.store) == server_ids(live_server, window)
    assert (
        0
        < len(cached_ids(desk.store))
        < len(
            server_ids(
                live_server, (window[0] - timedelta(days=30), window[1] + timedelta(days=30))
            )
        )
    )

    # The window grows ahead (as it does each morning) and shrinks behind.
    wider = WindowPolicy(past_days=0, future_days=7)
    report = SyncEngine(desk.store, account.sync_client(desk), window=wider).sync()
    assert report.rows > 0
    assert cached_ids(desk.store) == server_ids(live_server, wider.around(datetime.now(UTC)))
    desk.store.close()


def test_an_appointment_moved_out_of_the_window_leaves_the_desk(
    live_server: LiveServer, tmp_path: Path
) -> None:
    desk = account.sign_in(tmp_path, live_server.url, "demo", EMAIL, PASSWORD)
    policy = WindowPolicy(past_days=1, future_days=2)
    engine = SyncEngine(desk.store, account.sync_client(desk), window=policy)
    engine.sync()
    moved_id = sorted(cached_ids(desk.store))[0]
    with transaction(live_server.sessionmaker) as session:
        row = session.get(Appointment, __import__("uuid").UUID(moved_id))
        assert row is not None
        row.starts_at += timedelta(days=60)
        row.ends_at += timedelta(days=60)

    engine.sync()

    assert moved_id not in cached_ids(desk.store)
    desk.store.close()
