"""Signing in on a workstation: enrollment, re-enrollment, offline sign-in, the keyring."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring
from sqlalchemy import select, update

from common.errors import WrongCredentials
from server.auth.security import hash_token
from server.db import utcnow
from server.staff.models import Device
from sync import account, keys
from sync.client import ServerUnreachable
from sync.engine import SyncEngine
from tests.support.live_server import LiveServer
from tests.support.memory_keyring import MemoryKeyring

EMAIL, PASSWORD = "frontdesk@demo.clinic", "frontdesk-demo-1"


def _devices(server: LiveServer) -> list[Device]:
    with server.sessionmaker() as session:
        return list(session.scalars(select(Device)))


def test_first_sign_in_enrolls_and_keeps_the_token_only_in_the_keyring(
    live_server: LiveServer, tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    desk = account.sign_in(tmp_path, live_server.url, "demo", EMAIL, PASSWORD)
    assert desk.online
    assert desk.staff.email == EMAIL
    assert desk.clinic_name == "Demo Clinic"
    token = keys.device_token(account.store_path(tmp_path, live_server.url, "demo"))
    assert token is not None
    [device] = _devices(live_server)
    assert device.token_hash == hash_token(token)
    assert token.encode() not in desk.store.path.read_bytes()
    # Signing in again reuses the enrollment instead of making another.
    desk.store.close()
    account.sign_in(tmp_path, live_server.url, "demo", EMAIL, PASSWORD).store.close()
    assert len(_devices(live_server)) == 1


def test_an_expired_enrollment_is_renewed_by_the_next_sign_in(
    live_server: LiveServer, tmp_path: Path
) -> None:
    account.sign_in(tmp_path, live_server.url, "demo", EMAIL, PASSWORD).store.close()
    old = keys.device_token(account.store_path(tmp_path, live_server.url, "demo"))
    with live_server.sessionmaker.begin() as session:
        session.execute(update(Device).values(expires_at=utcnow() - timedelta(seconds=1)))
    desk = account.sign_in(tmp_path, live_server.url, "demo", EMAIL, PASSWORD)
    assert desk.online
    assert keys.device_token(account.store_path(tmp_path, live_server.url, "demo")) not in (
        None,
        old,
    )
    assert len(_devices(live_server)) == 2
    desk.store.close()


def test_wrong_password_online_enrolls_nothing(live_server: LiveServer, tmp_path: Path) -> None:
    with pytest.raises(WrongCredentials):
        account.sign_in(tmp_path, live_server.url, "demo", EMAIL, "wrong-password")
    assert _devices(live_server) == []
    assert keys.device_token(account.store_path(tmp_path, live_server.url, "demo")) is None


def test_a_mistyped_password_on_an_enrolled_workstation_keeps_its_enrollment(
    live_server: LiveServer, tmp_path: Path
) -> None:
    account.sign_in(tmp_path, live_server.url, "demo", EMAIL, PASSWORD).store.close()
    token = keys.device_token(account.store_path(tmp_path, live_server.url, "demo"))
    with pytest.raises(WrongCredentials):
        account.sign_in(tmp_path, live_server.url, "demo", EMAIL, "mistyped-password")
    assert keys.device_token(account.store_path(tmp_path, live_server.url, "demo")) == token
    account.sign_in(tmp_path, live_server.url, "demo", EMAIL, PASSWORD).store.close()
    assert len(_devices(live_server)) == 1


def test_offline_sign_in_works_for_someone_who_signed_in_here_before(
    live_server: LiveServer, tmp_path: Path
) -> None:
    desk = account.sign_in(tmp_path, live_server.url, "demo", EMAIL, PASSWORD)
    SyncEngine(desk.store, account.sync_client(desk)).pull()
    desk.store.close()
    live_server.stop()

    offline = account.sign_in(tmp_path, live_server.url, "demo", EMAIL, PASSWORD)
    assert not offline.online
    assert offline.store.count("appointments") > 0
    assert offline.staff.email == EMAIL
    offline.store.close()
    with pytest.raises(ServerUnreachable, match="only staff who signed in on this workstation"):
        account.sign_in(tmp_path, live_server.url, "demo", EMAIL, "wrong-password")


def test_offline_with_no_local_copy_says_there_is_nothing_to_work_from(
    live_server: LiveServer, tmp_path: Path
) -> None:
    live_server.stop()
    with pytest.raises(ServerUnreachable, match="no local copy of that clinic yet"):
        account.sign_in(tmp_path, live_server.url, "demo", EMAIL, PASSWORD)


def test_no_usable_keyring_refuses_with_instructions(tmp_path: Path) -> None:
    keyring.set_keyring(fail.Keyring())
    with pytest.raises(keys.KeyringUnavailable, match="Secret Service"):
        account.sign_in(tmp_path, "http://127.0.0.1:1", "demo", EMAIL, PASSWORD)
    assert list(tmp_path.iterdir()) == []  # no store was made with a weak key


def test_a_plaintext_file_keyring_is_not_accepted(tmp_path: Path) -> None:
    keyring.set_keyring(PlaintextKeyring())
    with pytest.raises(keys.KeyringUnavailable):
        keys.require_secure_keyring()


def test_an_unknown_backend_is_not_trusted_either() -> None:
    class HomeMadeKeyring(MemoryKeyring):
        pass

    keyring.set_keyring(HomeMadeKeyring())
    with pytest.raises(keys.KeyringUnavailable, match="Secret Service"):
        keys.require_secure_keyring()


def test_a_store_whose_key_was_lost_is_not_silently_replaced(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    path = tmp_path / "desk.db"
    keys.store_key(path)
    path.write_bytes(b"pretend store")
    memory_keyring.secrets.clear()
    with pytest.raises(keys.StoreKeyMissing, match="no longer in the system keyring"):
        keys.store_key(path)


def test_each_clinic_gets_its_own_store(tmp_path: Path) -> None:
    one = account.store_path(tmp_path, "https://a.example.com", "demo")
    other = account.store_path(tmp_path, "https://a.example.com", "riverside")
    assert one != other
