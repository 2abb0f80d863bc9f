"""Who made a change is proven, not claimed: signed changes against a real server.

A desk's changes carry the signature of the person signed in; the server applies a change
only as the person whose registered key signed it on that workstation. Altered, unsigned
or revoked changes wait in Needs attention; nothing is applied as anyone else.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from common.errors import SessionExpired
from server.db import transaction
from server.mutations.models import AppliedMutation
from server.scheduling.models import Appointment
from server.staff.models import StaffSession, StaffUser
from sync import account
from sync.client import ServerClient, ServerUnreachable
from sync.engine import SyncEngine
from sync.protocol import Mutation
from tests.support.live_server import LiveServer
from tests.sync.test_outbox import EMAIL, PASSWORD, book, free_evening, open_desk

ADMIN_EMAIL, ADMIN_PASSWORD = "admin@demo.clinic", "admin-demo-1"


def applied(server: LiveServer, appointment_id: uuid.UUID) -> Appointment | None:
    with server.sessionmaker() as session:
        return session.get(Appointment, appointment_id)


def test_a_change_made_offline_is_applied_when_the_desk_reconnects_hours_later(
    tmp_path: Path,
) -> None:
    """Signed with the key of an earlier online sign-in, the change counts although that
    sign-in has long ended (signed out, expired) by the time it reaches the server."""
    server = LiveServer(tmp_path / "server.sqlite3")
    try:
        desk, _engine = open_desk(server, tmp_path / "desk")
        desk.store.close()
        server.stop()
        offline = account.sign_in(tmp_path / "desk", server.url, "demo", EMAIL, PASSWORD)
        assert not offline.online
        assert offline.session_token is None
        appointment_id = book(offline, free_evening())
        with transaction(server.sessionmaker) as session:  # hours pass; the sign-in lapses
            session.execute(
                update(StaffSession).values(expires_at=datetime.now(UTC) - timedelta(hours=3))
            )
        back = LiveServer(tmp_path / "server.sqlite3", seed=False)  # the line is back
        engine = SyncEngine(
            offline.store, ServerClient(back.url, device_token=offline.device_token)
        )
        report = engine.sync()
        assert (report.applied, report.rejected) == (1, 0)
        found = applied(back, appointment_id)
        assert found is not None
        assert found.status.value == "booked"
        offline.store.close()
        back.close()
    finally:
        server.close()


def _unsent(live_server: LiveServer, folder: Path) -> tuple[Any, SyncEngine, Mutation]:
    desk, engine = open_desk(live_server, folder)
    book(desk, free_evening())
    [pending] = desk.store.pending_mutations(10)
    return desk, engine, pending


ALTERATIONS: dict[str, Any] = {
    "mutation_id": lambda m: {"mutation_id": uuid.uuid4()},
    "seq": lambda m: {"seq": m.seq + 1},
    "made_at": lambda m: {"made_at": m.made_at - timedelta(minutes=1)},
    "key_id": lambda m: {"key_id": uuid.uuid4()},
    "signature": lambda m: {
        "signature": m.signature[:-2] + ("AA" if m.signature[-2:] != "AA" else "BA")
    },
    "no signature": lambda m: {"signature": None},
    "starts_at": lambda m: {
        "command": m.command.model_copy(
            update={
                "starts_at": m.command.starts_at + timedelta(minutes=30),
                "ends_at": m.command.ends_at + timedelta(minutes=30),
            }
        )
    },
    "provider_id": lambda m: {
        "command": m.command.model_copy(update={"provider_id": uuid.uuid4()})
    },
    "patient_id": lambda m: {"command": m.command.model_copy(update={"patient_id": uuid.uuid4()})},
    "appointment_id": lambda m: {
        "command": m.command.model_copy(update={"appointment_id": uuid.uuid4()})
    },
}


@pytest.mark.parametrize("field", list(ALTERATIONS))
def test_altering_any_field_of_a_signed_change_gets_it_refused_into_needs_attention(
    live_server: LiveServer, tmp_path: Path, field: str
) -> None:
    desk, engine, signed = _unsent(live_server, tmp_path / "desk")
    altered = signed.model_copy(update=ALTERATIONS[field](signed))
    answer = engine.client.push([altered])
    [result] = answer.results
    assert (result.status, result.code) == ("rejected", "unverified"), result
    assert "signature" in (result.message or "")
    desk.store.record_results([altered], answer.results)
    if field != "mutation_id":
        [waiting] = desk.store.needs_attention()
        assert waiting.result.code == "unverified"
    with live_server.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(AppliedMutation)) == 0
        assert session.get(Appointment, signed.command.appointment_id) is None  # type: ignore[union-attr]
    # The change as signed still goes through: refusing the forgery claimed nothing.
    [genuine] = engine.client.push([signed]).results
    assert genuine.status == "applied"
    desk.store.close()


def test_a_revoked_sign_in_and_a_deactivated_person_are_refused(
    live_server: LiveServer, tmp_path: Path
) -> None:
    """An admin ending a sign-in revokes its key; deactivating a person refuses whatever
    they signed. Their pending changes wait in Needs attention on their desk."""
    desk, engine = open_desk(live_server, tmp_path / "desk")
    book(desk, free_evening(hour=19))
    admin = account.sign_in(
        tmp_path / "admin", live_server.url, "demo", ADMIN_EMAIL, ADMIN_PASSWORD
    )
    client = account.sync_client(admin)
    with live_server.sessionmaker() as session:
        sign_in_id = session.scalar(
            select(StaffSession.id).where(
                StaffSession.staff_id == desk.staff.id, StaffSession.ended_at.is_(None)
            )
        )
    response = client._http.post(f"/sign-ins/{sign_in_id}/revoke", headers=client._headers())
    assert response.status_code == 204, response.text
    engine.push()
    [waiting] = desk.store.needs_attention()
    assert waiting.result.code == "unverified"
    assert "ended" in (waiting.result.message or "")

    # Signed in again (a new key), then deactivated: refused as no longer allowed.
    again, _ = open_desk(live_server, tmp_path / "desk2")
    book(again, free_evening(hour=20))
    response = client._http.post(f"/staff/{again.staff.id}/deactivate", headers=client._headers())
    assert response.status_code == 200, response.text
    with pytest.raises(SessionExpired, match="Sign in again"):  # their desk is told
        SyncEngine(again.store, account.sync_client(again)).sync()
    workstation_only = ServerClient(again.server_url, device_token=again.device_token)
    SyncEngine(again.store, workstation_only).push()
    [refused] = again.store.needs_attention()
    assert refused.result.code == "forbidden"
    with live_server.sessionmaker() as session:
        assert not session.get(StaffUser, again.staff.id).active
    for open_store in (desk.store, again.store, admin.store):
        open_store.close()


def test_a_deactivated_person_cannot_sign_in_offline_after_the_next_sync(
    live_server: LiveServer, tmp_path: Path
) -> None:
    desk, _engine = open_desk(live_server, tmp_path / "desk")
    with transaction(live_server.sessionmaker) as session:
        staff = session.get(StaffUser, desk.staff.id)
        assert staff is not None
        staff.active = False
    admin = account.sign_in(tmp_path / "desk", live_server.url, "demo", ADMIN_EMAIL, ADMIN_PASSWORD)
    SyncEngine(admin.store, account.sync_client(admin)).sync()
    admin.store.close()
    desk.store.close()
    live_server.stop()
    with pytest.raises(ServerUnreachable, match="still active"):
        account.sign_in(tmp_path / "desk", live_server.url, "demo", EMAIL, PASSWORD)
    offline_admin = account.sign_in(
        tmp_path / "desk", live_server.url, "demo", ADMIN_EMAIL, ADMIN_PASSWORD
    )
    assert not offline_admin.online
    offline_admin.store.close()
