"""The encrypted store: real SQLCipher files, checked byte by byte."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from common.appointments import AppointmentSource
from common.roles import Role
from server.patients.models import Patient
from sync import account
from sync.engine import SyncEngine
from sync.protocol import (
    ChangesPage,
    Cursor,
    ProviderRecord,
    StaffInfo,
    StaffRecord,
    Tombstone,
    b64,
)
from sync.schema import staff_logins
from sync.signing import Author, WrongPassword
from sync.store import SCHEMA_VERSION, Store, StoreKeyError
from tests.support import records
from tests.support.live_server import LiveServer

NOW = datetime(2026, 3, 29, 9, 0, tzinfo=UTC)


def _page(**parts: object) -> ChangesPage:
    return records.page(**parts)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    yield opened
    opened.close()


def _store_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_demo_patient_names_appear_in_no_byte_of_the_synced_store_or_its_wal(
    live_server: LiveServer, tmp_path: Path
) -> None:
    desk = account.sign_in(
        tmp_path, live_server.url, "demo", "frontdesk@demo.clinic", "frontdesk-demo-1"
    )
    client = account.sync_client(desk)
    report = SyncEngine(desk.store, client, page_size=100).pull()
    client.close()
    assert report.rows > 400
    assert desk.store.count("patients") == 200

    with live_server.sessionmaker() as session:
        demo = session.scalars(select(Patient)).all()
    # What a plaintext file would hold verbatim, one column at a time. Names of six letters
    # or more, so a hit cannot be a chance match in ciphertext.
    secrets_in_store = {
        value.encode()
        for p in demo
        for value in (p.first_name, p.last_name, p.email, p.phone)
        if value and len(value) >= 6
    }
    assert len(secrets_in_store) > 200
    wal = desk.store.path.with_name(desk.store.path.name + "-wal")
    assert wal.stat().st_size > 0, "the check must cover a live WAL too"
    raw = _store_bytes(desk.store.path)
    assert [s for s in secrets_in_store if s in raw] == []
    # The same bytes through the key show the data is really there.
    assert desk.store.diary(NOW - timedelta(days=3650), NOW + timedelta(days=3650))
    assert desk.store.cipher_version().startswith("4.")
    assert desk.store.integrity_check() == "ok"
    desk.store.close()


def test_a_plain_sqlite_reader_sees_no_database(store: Store) -> None:
    import sqlite3

    store.set_meta({"probe": "Olivia Smith"})
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        sqlite3.connect(store.path).execute("SELECT * FROM sqlite_master").fetchall()


def test_the_wrong_key_fails_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "desk.db"
    Store.open(path, secrets.token_bytes(32)).close()
    with pytest.raises(StoreKeyError, match="key in the system keyring does not fit"):
        Store.open(path, secrets.token_bytes(32))


def test_a_short_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreKeyError, match="256 bits"):
        Store.open(tmp_path / "desk.db", b"short")


def test_store_runs_wal_with_full_sync_and_is_migrated(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA user_version").scalar_one() == SCHEMA_VERSION


def test_reopening_keeps_data_and_does_not_migrate_twice(tmp_path: Path) -> None:
    key, path = secrets.token_bytes(32), tmp_path / "desk.db"
    first = Store.open(path, key)
    first.set_meta({"cursor": "1.42"})
    first.close()
    again = Store.open(path, key)
    assert again.cursor() == Cursor(1, 42)
    again.close()


def test_apply_page_upserts_deletes_and_moves_the_cursor_together(store: Store) -> None:
    provider, patient = records.provider(), records.patient()
    appointment = records.appointment(provider, patient, NOW, source=AppointmentSource.WIDGET)
    store.apply_page(
        _page(providers=[provider], patients=[patient], appointments=[appointment]), synced_at=NOW
    )
    [entry] = store.diary(NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    assert entry.patient_name == "Ada Lovelace"
    assert entry.source is AppointmentSource.WIDGET
    assert store.cursor() == Cursor(1, 10)
    assert store.last_sync_at() == NOW

    moved = appointment.model_copy(
        update={
            "version": 11,
            "starts_at": NOW + timedelta(hours=2),
            "ends_at": NOW + timedelta(hours=3),
        }
    )
    store.apply_page(_page(next_cursor="1.11", appointments=[moved]), synced_at=NOW)
    assert store.diary(NOW - timedelta(hours=1), NOW + timedelta(hours=1)) == []
    assert store.count("appointments") == 1

    store.apply_page(
        _page(
            next_cursor="1.12",
            tombstones=[Tombstone(entity="appointments", id=appointment.id, version=12)],
        ),
        synced_at=NOW,
    )
    assert store.count("appointments") == 0
    assert store.count("patients") == 1
    assert store.cursor() == Cursor(1, 12)


def test_a_reset_page_drops_the_old_cache_first(store: Store) -> None:
    old = ProviderRecord(
        id=uuid.uuid4(), version=1, display_name="Old", colour="#000000", active=True
    )
    new = ProviderRecord(
        id=uuid.uuid4(), version=1, display_name="New", colour="#000000", active=True
    )
    store.apply_page(_page(providers=[old]), synced_at=NOW)
    store.apply_page(_page(next_cursor="2.1", reset=True, providers=[new]), synced_at=NOW)
    assert [p.display_name for p in store.providers()] == ["New"]


def test_a_page_that_fails_at_the_cursor_write_changes_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = ProviderRecord(
        id=uuid.uuid4(), version=1, display_name="Dr A", colour="#000000", active=True
    )
    store.apply_page(_page(next_cursor="1.1", providers=[good]), synced_at=NOW)

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store, "set_meta", disk_full)
    renamed = good.model_copy(update={"display_name": "Dr B", "version": 2})
    with pytest.raises(OSError, match="disk full"):
        store.apply_page(_page(next_cursor="1.2", providers=[renamed]), synced_at=NOW)
    monkeypatch.undo()
    assert [p.display_name for p in store.providers()] == ["Dr A"]
    assert store.cursor() == Cursor(1, 1)


def test_offline_login_verifier_accepts_only_the_right_password(store: Store) -> None:
    staff = StaffInfo(
        id=uuid.uuid4(), email="robin@demo.clinic", display_name="Robin", role=Role.FRONT_DESK
    )
    author = records.author(staff.id)
    store.remember_login("Robin@Demo.Clinic ", "a-long-password", staff, author)
    assert store.check_login("robin@demo.clinic", "a-long-password") == (staff, author)
    assert store.check_login("robin@demo.clinic", "wrong-password") is None
    assert store.check_login("someone@demo.clinic", "a-long-password") is None


def test_the_signing_key_is_kept_only_wrapped_by_the_password(store: Store) -> None:
    """The store holds the private key only encrypted under the person's password: the
    raw key is nowhere in the row, and another password does not open it."""
    staff = StaffInfo(
        id=uuid.uuid4(), email="robin@demo.clinic", display_name="Robin", role=Role.FRONT_DESK
    )
    author = records.author(staff.id)
    store.remember_login("robin@demo.clinic", "a-long-password", staff, author)
    with store.engine.connect() as conn:
        wrapped = conn.execute(select(staff_logins.c.signing_key)).scalar_one()
    assert author.private_key.hex() not in wrapped
    assert b64(author.private_key) not in wrapped
    with pytest.raises(WrongPassword):
        Author.unwrap(staff.id, wrapped, "another-password")
    assert Author.unwrap(staff.id, wrapped, "a-long-password") == author


def test_a_departed_staff_member_loses_offline_sign_in_at_the_next_pull(store: Store) -> None:
    staff = StaffInfo(
        id=uuid.uuid4(), email="robin@demo.clinic", display_name="Robin", role=Role.FRONT_DESK
    )
    store.remember_login("robin@demo.clinic", "a-long-password", staff, records.author(staff.id))
    active = StaffRecord(
        id=staff.id, version=5, display_name="Robin", role=Role.FRONT_DESK, active=True
    )
    store.apply_page(records.page("1.5", staff=[active]), synced_at=datetime.now(UTC))
    assert store.check_login("robin@demo.clinic", "a-long-password") is not None
    gone = active.model_copy(update={"version": 6, "active": False})
    store.apply_page(records.page("1.6", staff=[gone]), synced_at=datetime.now(UTC))
    assert store.check_login("robin@demo.clinic", "a-long-password") is None


def test_reads_do_not_wait_for_a_write_in_progress(store: Store) -> None:
    """The diary reads while the sync writes: WAL readers must not queue behind it."""
    import threading

    read: list[int] = []
    with store._write() as conn:  # a sync page half-applied, holding the write lock
        store.set_meta({"cursor": "1.99"}, conn)
        reader = threading.Thread(target=lambda: read.append(len(store.providers())))
        reader.start()
        reader.join(timeout=5)
        assert read == [0], "the read finished while the write was still open"
    assert store.cursor() == Cursor(1, 99)


def test_a_reset_keeps_the_outbox_and_replays_it_on_the_fresh_copy(store: Store) -> None:
    provider, patient = records.provider(), records.patient()
    store.apply_page(_page(providers=[provider], patients=[patient]), synced_at=NOW)
    booked = store.book(
        records.author(),
        provider_id=provider.id,
        patient_id=patient.id,
        starts_at=NOW,
        ends_at=NOW + timedelta(minutes=30),
    )

    store.apply_page(
        _page(next_cursor="2.5", reset=True, providers=[provider], patients=[patient]),
        synced_at=NOW,
    )

    assert store.outbox_counts() == {"pending": 1, "attention": 0}
    [entry] = store.diary(NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    assert entry.id == booked
    assert entry.pending
