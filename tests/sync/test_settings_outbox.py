"""Admin settings through the desk's outbox: shown at once as pending, queued with the
version they are based on, taken back when the server turns a creation down, replaced by
the server's copy when it answers, and kept on top of whatever a pull brings meanwhile."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from common.errors import InvalidInput
from common.scheduling import ExceptionKind
from server.scheduling.models import BookingRules, Location, Provider, ScheduleException
from sync import account
from sync import outbox as outbox_module
from sync.account import Desk
from sync.engine import SyncEngine
from sync.protocol import (
    AppointmentTypeRecord,
    BookingRulesRecord,
    LocationRecord,
    Mutation,
    MutationResult,
    ProviderRecord,
    RemoveScheduleException,
    SaveAppointmentType,
    SaveLocation,
    SaveScheduleException,
    ScheduleExceptionRecord,
    SetBookingRules,
    SettingsCommand,
    SetWorkingHours,
    Tombstone,
    WorkingHoursEntry,
)
from sync.schema import booking_rules, outbox
from sync.store import Store, StoreError
from tests.support import records
from tests.support.live_server import LiveServer

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
STAFF = records.author()
MONDAY = date(2026, 6, 1)
ADMIN = ("admin@demo.clinic", "admin-demo-1")
FRONT_DESK = ("frontdesk@demo.clinic", "frontdesk-demo-1")


# --- small factories --------------------------------------------------------------------


def week(*ranges: tuple[int, int, int]) -> list[WorkingHoursEntry]:
    """(weekday, from hour, to hour) for each range."""
    return [WorkingHoursEntry(weekday=d, start=time(a), end=time(b)) for d, a, b in ranges]


def room_record(name: str = "Room 1", version: int = 5) -> LocationRecord:
    return LocationRecord(id=uuid.uuid4(), version=version, name=name, active=True)


def type_record(name: str = "Check-up", version: int = 6) -> AppointmentTypeRecord:
    return AppointmentTypeRecord(
        id=uuid.uuid4(),
        version=version,
        name=name,
        colour="#3366cc",
        duration_minutes=30,
        buffer_before_minutes=0,
        buffer_after_minutes=0,
        provider_ids=[],
        bookable_online=True,
        requires_confirmation=False,
        active=True,
    )


def exception_record(provider_id: uuid.UUID, version: int = 7) -> ScheduleExceptionRecord:
    return ScheduleExceptionRecord(
        id=uuid.uuid4(),
        version=version,
        provider_id=provider_id,
        kind=ExceptionKind.TIME_OFF,
        first_day=MONDAY,
        last_day=MONDAY + timedelta(days=2),
        start_time=None,
        end_time=None,
        note="Course",
    )


def rules_record(version: int = 8, **fields: Any) -> BookingRulesRecord:
    values: dict[str, Any] = {
        "horizon_days": 60,
        "min_notice_minutes": 120,
        "slot_rounding": 15,
        "allow_any_provider": True,
        "daily_cap": None,
        "patient_cancel_cutoff_hours": 24,
        "patient_reschedule_cutoff_hours": 24,
        "patients_may_cancel": True,
    }
    return BookingRulesRecord(id=uuid.uuid4(), version=version, **(values | fields))


def set_rules(**fields: Any) -> SetBookingRules:
    values: dict[str, Any] = {
        "base_version": None,
        "horizon_days": 90,
        "min_notice_minutes": 240,
        "slot_rounding": 30,
        "allow_any_provider": False,
        "daily_cap": 10,
        "patient_cancel_cutoff_hours": 48,
        "patient_reschedule_cutoff_hours": 12,
        "patients_may_cancel": False,
    }
    return SetBookingRules(**(values | fields))


def save_type(type_id: uuid.UUID | None = None, **fields: Any) -> SaveAppointmentType:
    values: dict[str, Any] = {
        "appointment_type_id": type_id or uuid.uuid4(),
        "base_version": None,
        "name": "New patient",
        "colour": "#aa5500",
        "duration_minutes": 45,
        "buffer_after_minutes": 15,
    }
    return SaveAppointmentType(**(values | fields))


def time_off(provider_id: uuid.UUID | None, **fields: Any) -> SaveScheduleException:
    values: dict[str, Any] = {
        "exception_id": uuid.uuid4(),
        "base_version": None,
        "provider_id": provider_id,
        "exception_kind": ExceptionKind.TIME_OFF,
        "first_day": MONDAY,
        "last_day": MONDAY,
    }
    return SaveScheduleException(**(values | fields))


def answer(
    mutation: Mutation, status: str = "applied", code: str | None = None, **record: Any
) -> MutationResult:
    return MutationResult(
        mutation_id=mutation.mutation_id,
        status=status,  # type: ignore[arg-type]
        code=code,  # type: ignore[arg-type]
        message=None if code is None else f"Turned down: {code}",
        **record,
    )


def outbox_kinds(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        return [(r.kind, r.state) for r in conn.execute(select(outbox).order_by(outbox.c.seq))]


def rules_rows(store: Store) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(booking_rules)))


# --- a desk with a copy of the clinic, no server ------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    yield opened
    opened.close()


@pytest.fixture
def provider(store: Store) -> ProviderRecord:
    made = records.provider("Dr Okafor", version=3)
    store.apply_page(records.page(providers=[made]), synced_at=NOW)
    return made


def test_a_setting_writes_its_row_and_its_outbox_entry_with_the_desks_version(
    store: Store, provider: ProviderRecord
) -> None:
    existing = room_record("Room 1", version=5)
    store.apply_page(records.page("1.11", locations=[existing]), synced_at=NOW)

    store.change_settings(
        STAFF, SetWorkingHours(provider_id=provider.id, base_version=999, hours=week((0, 9, 17)))
    )
    store.change_settings(
        STAFF, SaveLocation(location_id=existing.id, base_version=None, name="Room 1A")
    )
    created = uuid.uuid4()
    store.change_settings(STAFF, SaveLocation(location_id=created, base_version=7, name="Room 2"))

    schedule = store.schedule()
    [dr] = schedule.providers
    assert dr.pending
    assert [(r.weekday, r.start, r.end) for r in dr.week] == [(0, time(9), time(17))]
    assert [(r.name, r.version, r.pending) for r in schedule.locations] == [
        ("Room 1A", 5, True),
        ("Room 2", 0, True),
    ]
    sent = store.pending_mutations(10)
    assert [m.command.base_version for m in sent] == [3, 5, None]  # type: ignore[union-attr]
    assert all(m.staff_id == STAFF.staff_id for m in sent)


def test_an_edit_of_a_row_created_here_and_not_yet_sent_is_based_on_version_0(
    store: Store,
) -> None:
    created = uuid.uuid4()
    store.change_settings(STAFF, SaveLocation(location_id=created, base_version=None, name="A"))
    store.change_settings(STAFF, SaveLocation(location_id=created, base_version=None, name="B"))
    assert [m.command.base_version for m in store.pending_mutations(10)] == [None, 0]  # type: ignore[union-attr]
    assert [r.name for r in store.schedule().locations] == ["B"]


def test_the_row_and_the_outbox_entry_are_written_together_or_not_at_all(
    store: Store, provider: ProviderRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    def power_cut(name: str) -> None:
        if name == "local_write":
            raise OSError("power cut")

    monkeypatch.setattr(outbox_module, "crashpoint", power_cut)
    commands: list[SettingsCommand] = [
        SetWorkingHours(provider_id=provider.id, base_version=0, hours=week((1, 9, 12))),
        SaveLocation(location_id=uuid.uuid4(), base_version=None, name="Room 1"),
        save_type(),
        time_off(provider.id),
        set_rules(),
    ]
    for command in commands:
        with pytest.raises(OSError, match="power cut"):
            store.change_settings(STAFF, command)

    schedule = store.schedule()
    assert schedule.providers[0].week == ()
    assert not schedule.providers[0].pending
    assert (schedule.locations, schedule.appointment_types, schedule.exceptions) == ([], [], [])
    assert schedule.rules_version is None
    assert store.outbox_counts() == {"pending": 0, "attention": 0}


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (
            lambda p: SetWorkingHours(
                provider_id=p, base_version=0, hours=week((1, 9, 13), (1, 12, 15))
            ),
            "overlap",
        ),
        (
            lambda p: SetWorkingHours(provider_id=p, base_version=0, hours=week((1, 13, 9))),
            "must end after it starts",
        ),
        (lambda p: SaveLocation(location_id=uuid.uuid4(), base_version=None, name=" "), "name"),
        (lambda p: save_type(duration_minutes=0), "between 5 minutes"),
        (lambda p: save_type(name="x" * 121), "at most 120"),
        (lambda p: time_off(p, exception_kind=ExceptionKind.CLOSURE), "leave the provider"),
        (lambda p: time_off(p, exception_kind=ExceptionKind.EXTRA_HOURS), "start and an end"),
        (lambda p: set_rules(slot_rounding=7), "(?i)slot rounding must be one of"),
    ],
)
def test_a_setting_that_makes_no_sense_is_refused_in_words_and_nothing_is_queued(
    store: Store, provider: ProviderRecord, make: Any, words: str
) -> None:
    with pytest.raises(InvalidInput, match=words):
        store.change_settings(STAFF, make(provider.id))
    schedule = store.schedule()
    assert not schedule.providers[0].pending
    assert (schedule.locations, schedule.appointment_types, schedule.exceptions) == ([], [], [])
    assert rules_rows(store) == []
    assert store.outbox_counts() == {"pending": 0, "attention": 0}


def test_changes_to_records_this_desk_does_not_have_are_refused_locally(store: Store) -> None:
    with pytest.raises(StoreError, match="not in this desk's copy"):
        store.change_settings(
            STAFF, SetWorkingHours(provider_id=uuid.uuid4(), base_version=0, hours=[])
        )
    with pytest.raises(StoreError, match="not in this desk's copy"):
        store.change_settings(
            STAFF, RemoveScheduleException(exception_id=uuid.uuid4(), base_version=0)
        )
    assert store.outbox_counts() == {"pending": 0, "attention": 0}


# --- the server's answers -----------------------------------------------------------------


def test_an_applied_setting_becomes_the_servers_copy(
    store: Store, provider: ProviderRecord
) -> None:
    location_id = uuid.uuid4()
    store.change_settings(STAFF, SaveLocation(location_id=location_id, base_version=None, name="R"))
    [sent] = store.pending_mutations(10)
    stored = LocationRecord(id=location_id, version=21, name="R", active=True)

    store.record_results([sent], [answer(sent, location=stored)])

    [row] = store.schedule().locations
    assert (row.version, row.pending) == (21, False)
    assert store.outbox_counts() == {"pending": 0, "attention": 0}


@pytest.mark.parametrize("kind", ["location", "appointment_type", "schedule_exception"])
def test_a_refused_creation_takes_back_its_row_and_waits_in_needs_attention(
    store: Store, provider: ProviderRecord, kind: str
) -> None:
    command: SettingsCommand = {
        "location": SaveLocation(location_id=uuid.uuid4(), base_version=None, name="Room 9"),
        "appointment_type": save_type(),
        "schedule_exception": time_off(provider.id),
    }[kind]
    store.change_settings(STAFF, command)
    [sent] = store.pending_mutations(10)

    store.record_results([sent], [answer(sent, "rejected", "forbidden")])

    schedule = store.schedule()
    assert (schedule.locations, schedule.appointment_types, schedule.exceptions) == ([], [], [])
    [waiting] = store.needs_attention()
    assert waiting.command == sent.command
    assert waiting.result.code == "forbidden"
    assert store.outbox_counts() == {"pending": 0, "attention": 1}


def test_a_refused_edit_puts_back_the_record_as_the_server_has_it(
    store: Store, provider: ProviderRecord
) -> None:
    existing = exception_record(provider.id, version=7)
    store.apply_page(records.page("1.12", schedule_exceptions=[existing]), synced_at=NOW)
    store.change_settings(STAFF, RemoveScheduleException(exception_id=existing.id, base_version=0))
    store.change_settings(
        STAFF, SetWorkingHours(provider_id=provider.id, base_version=0, hours=week((2, 8, 9)))
    )
    assert store.schedule().exceptions == []
    removal, hours = store.pending_mutations(10)
    theirs = existing.model_copy(update={"version": 30, "note": "Moved"})
    their_provider = provider.model_copy(update={"version": 31})

    store.record_results(
        [removal, hours],
        [
            answer(removal, "rejected", "stale_version", schedule_exception=theirs),
            answer(hours, "rejected", "forbidden", provider=their_provider),
        ],
    )

    schedule = store.schedule()
    [back] = schedule.exceptions
    assert (back.exception.note, back.version, back.pending) == ("Moved", 30, False)
    [dr] = schedule.providers
    assert (dr.week, dr.version, dr.pending) == ((), 31, False)
    assert [a.result.code for a in store.needs_attention()] == ["stale_version", "forbidden"]


def test_the_provisional_booking_rules_give_way_to_the_servers(store: Store) -> None:
    store.change_settings(STAFF, set_rules(horizon_days=90))
    store.change_settings(STAFF, set_rules(horizon_days=120))
    schedule = store.schedule()
    assert (schedule.rules.horizon_days, schedule.rules_version, schedule.rules_pending) == (
        120,
        0,
        True,
    )
    first, second = store.pending_mutations(10)
    assert [m.command.base_version for m in (first, second)] == [None, None]  # type: ignore[union-attr]

    server_copy = rules_record(version=40, horizon_days=90)
    store.record_results([first], [answer(first, booking_rules=server_copy)])

    [row] = rules_rows(store)
    assert row.id == str(server_copy.id)
    schedule = store.schedule()
    assert schedule.rules.horizon_days == 120, "the second change is still pending on top"
    assert (schedule.rules_version, schedule.rules_pending) == (40, True)

    store.record_results(
        [second], [answer(second, booking_rules=server_copy.model_copy(update={"version": 41}))]
    )
    # The server's answer says 90 here only because this test says so: what matters is
    # that the desk now shows exactly what the server has.
    schedule = store.schedule()
    assert (schedule.rules.horizon_days, schedule.rules_version, schedule.rules_pending) == (
        90,
        41,
        False,
    )
    assert len(rules_rows(store)) == 1


def test_refused_first_booking_rules_leave_the_desk_on_the_defaults(store: Store) -> None:
    store.change_settings(STAFF, set_rules(horizon_days=90))
    [sent] = store.pending_mutations(10)

    store.record_results([sent], [answer(sent, "rejected", "forbidden")])

    assert rules_rows(store) == []
    schedule = store.schedule()
    assert (schedule.rules_version, schedule.rules_pending) == (None, False)
    assert schedule.rules.horizon_days == 60  # the defaults
    assert store.outbox_counts() == {"pending": 0, "attention": 1}


def test_a_pull_keeps_pending_settings_on_top_of_what_it_brings(
    store: Store, provider: ProviderRecord
) -> None:
    room, kind = room_record("Room 1", 5), type_record("Check-up", 6)
    gone, kept = exception_record(provider.id, 7), exception_record(provider.id, 8)
    server_rules = rules_record(version=9, horizon_days=30)
    store.apply_page(
        records.page(
            "1.20",
            locations=[room],
            appointment_types=[kind],
            schedule_exceptions=[gone, kept],
            booking_rules=[server_rules],
        ),
        synced_at=NOW,
    )
    new_room = uuid.uuid4()
    for command in (
        SetWorkingHours(provider_id=provider.id, base_version=0, hours=week((3, 9, 13))),
        SaveLocation(location_id=room.id, base_version=0, name="Room 1 (ours)"),
        SaveLocation(location_id=new_room, base_version=None, name="Room 2 (ours)"),
        save_type(kind.id, name="Check-up (ours)"),
        time_off(provider.id, exception_id=kept.id, note="ours"),
        RemoveScheduleException(exception_id=gone.id, base_version=0),
        set_rules(horizon_days=100),
    ):
        store.change_settings(STAFF, command)

    # Someone else's changes to every one of those records arrive meanwhile.
    store.apply_page(
        records.page(
            "1.30",
            providers=[provider.model_copy(update={"version": 21, "display_name": "Dr O"})],
            locations=[room.model_copy(update={"version": 22, "name": "Room 1 (theirs)"})],
            appointment_types=[kind.model_copy(update={"version": 23, "name": "theirs"})],
            schedule_exceptions=[
                gone.model_copy(update={"version": 24, "note": "theirs"}),
                kept.model_copy(update={"version": 25, "note": "theirs"}),
            ],
            booking_rules=[server_rules.model_copy(update={"version": 26, "horizon_days": 40})],
        ),
        synced_at=NOW,
    )

    schedule = store.schedule()
    [dr] = schedule.providers
    assert (dr.display_name, dr.version, dr.pending) == ("Dr O", 21, True)
    assert [(r.weekday, r.start) for r in dr.week] == [(3, time(9))]
    assert [(r.name, r.version, r.pending) for r in schedule.locations] == [
        ("Room 1 (ours)", 22, True),
        ("Room 2 (ours)", 0, True),
    ]
    assert [(t.name, t.version, t.pending) for t in schedule.appointment_types] == [
        ("Check-up (ours)", 23, True)
    ]
    assert [(e.exception.id, e.exception.note, e.version) for e in schedule.exceptions] == [
        (kept.id, "ours", 25)
    ]
    assert (schedule.rules.horizon_days, schedule.rules_version, schedule.rules_pending) == (
        100,
        26,
        True,
    )
    assert store.outbox_counts() == {"pending": 7, "attention": 0}

    # A reset (a new dataset epoch) drops the cache but never the outbox.
    store.apply_page(
        records.page(
            "2.1",
            reset=True,
            providers=[provider.model_copy(update={"version": 2})],
            locations=[room.model_copy(update={"version": 2})],
            schedule_exceptions=[kept.model_copy(update={"version": 2})],
        ),
        synced_at=NOW,
    )
    schedule = store.schedule()
    assert schedule.providers[0].pending
    assert [(r.name, r.version) for r in schedule.locations] == [
        ("Room 1 (ours)", 2),
        ("Room 2 (ours)", 0),
    ]
    assert [e.exception.note for e in schedule.exceptions] == ["ours"]
    assert (schedule.rules.horizon_days, schedule.rules_version) == (100, 0)


def test_an_exception_edited_here_and_removed_elsewhere_shows_until_the_server_answers(
    store: Store, provider: ProviderRecord
) -> None:
    theirs = exception_record(provider.id, 7)
    store.apply_page(records.page("1.20", schedule_exceptions=[theirs]), synced_at=NOW)
    store.change_settings(STAFF, time_off(provider.id, exception_id=theirs.id, note="ours"))
    store.apply_page(
        records.page(
            "1.21",
            tombstones=[Tombstone(entity="schedule_exceptions", id=theirs.id, version=30)],
        ),
        synced_at=NOW,
    )
    [shown] = store.schedule().exceptions
    assert (shown.exception.note, shown.pending) == ("ours", True)
    [sent] = store.pending_mutations(10)

    store.record_results([sent], [answer(sent, "rejected", "not_found")])

    assert store.schedule().exceptions == []
    assert [a.result.code for a in store.needs_attention()] == ["not_found"]


# --- against a real server --------------------------------------------------------------------


def open_desk(server: LiveServer, folder: Path, login: tuple[str, str]) -> tuple[Desk, SyncEngine]:
    desk = account.sign_in(folder, server.url, "demo", *login)
    engine = SyncEngine(desk.store, account.sync_client(desk))
    engine.sync()
    return desk, engine


def test_an_admins_offline_settings_reach_the_server_and_the_other_desks(
    live_server: LiveServer, tmp_path: Path
) -> None:
    admin, admin_engine = open_desk(live_server, tmp_path / "admin", ADMIN)
    reception, reception_engine = open_desk(live_server, tmp_path / "reception", FRONT_DESK)
    dr = admin.store.schedule().providers[0]
    room_id = uuid.uuid4()
    closure = time_off(None, exception_kind=ExceptionKind.CLOSURE, note="Bank holiday")
    for command in (
        SaveLocation(location_id=room_id, base_version=None, name="Room 4"),
        SetWorkingHours(
            provider_id=dr.id,
            base_version=0,
            hours=[
                WorkingHoursEntry(weekday=0, start=time(9), end=time(13), location_id=room_id),
                WorkingHoursEntry(weekday=0, start=time(14), end=time(18)),
            ],
        ),
        save_type(provider_ids=[dr.id]),
        time_off(dr.id),
        closure,
        set_rules(),
    ):
        admin.store.change_settings(admin.author, command)
    admin.store.change_settings(
        admin.author, RemoveScheduleException(exception_id=closure.exception_id, base_version=0)
    )
    assert admin.store.outbox_counts() == {"pending": 7, "attention": 0}

    report = admin_engine.sync()

    assert (report.applied, report.rejected) == (7, 0)
    mine = admin.store.schedule()
    assert not any(p.pending for p in mine.providers)
    assert not mine.rules_pending
    with live_server.sessionmaker() as session:
        stored = session.get(Provider, dr.id)
        assert stored is not None
        assert [h["start"] for h in stored.working_hours] == ["09:00", "14:00"]
        location = session.get(Location, room_id)
        assert location is not None
        assert location.name == "Room 4"
        assert session.scalar(select(BookingRules.horizon_days)) == 90
        removed = session.get(ScheduleException, closure.exception_id)
        assert removed is not None
        assert removed.deleted_at is not None

    reception_engine.sync()
    theirs = reception.store.schedule()
    assert theirs == mine, "the other desk sees exactly what the admin's desk shows"
    assert [e.exception.kind for e in theirs.exceptions] == [ExceptionKind.TIME_OFF]
    for desk in (admin, reception):
        desk.store.close()


def test_front_desk_settings_are_refused_and_the_desk_goes_back_to_the_servers_copy(
    live_server: LiveServer, tmp_path: Path
) -> None:
    desk, engine = open_desk(live_server, tmp_path, FRONT_DESK)
    before = desk.store.schedule()
    dr = before.providers[0]
    desk.store.change_settings(
        desk.author, SaveLocation(location_id=uuid.uuid4(), base_version=None, name="Mine")
    )
    desk.store.change_settings(
        desk.author,
        SetWorkingHours(provider_id=dr.id, base_version=0, hours=week((6, 9, 10))),
    )
    desk.store.change_settings(desk.author, set_rules())
    assert desk.store.schedule() != before

    report = engine.sync()

    assert report.rejected == 3
    assert [a.result.code for a in desk.store.needs_attention()] == ["forbidden"] * 3
    assert desk.store.schedule() == before
    with live_server.sessionmaker() as session:
        names = session.scalars(select(Location.name)).all()
        assert "Mine" not in names
        assert session.scalar(select(BookingRules.horizon_days)) == before.rules.horizon_days
    desk.store.close()


def test_two_admin_desks_change_the_rules_offline_and_the_second_sees_the_first(
    live_server: LiveServer, tmp_path: Path
) -> None:
    first, first_engine = open_desk(live_server, tmp_path / "first", ADMIN)
    second, second_engine = open_desk(live_server, tmp_path / "second", ADMIN)
    first.store.change_settings(first.author, set_rules(horizon_days=30))
    second.store.change_settings(second.author, set_rules(horizon_days=200))

    first_engine.sync()
    report = second_engine.sync()

    assert report.rejected == 1
    [waiting] = second.store.needs_attention()
    assert waiting.result.code == "stale_version"
    schedule = second.store.schedule()
    assert (schedule.rules.horizon_days, schedule.rules_pending) == (30, False)
    assert len(rules_rows(second.store)) == 1
    for desk in (first, second):
        desk.store.close()
