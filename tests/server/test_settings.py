"""Admin settings through the desk's mutation endpoint: applied for clinic admins, sent to
every desk by the change feed, refused with words (never a 500) when they make no sense,
come from another clinic or from someone without the right."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from common.roles import Role
from server.scheduling.models import BookingRules, Location, Provider, ScheduleException
from sync.protocol import API_PREFIX, Mutation
from sync.signing import Author
from tests.support.signed import sign_all

PUSH = f"{API_PREFIX}/sync/mutations"
MONDAY = date(2026, 6, 1)


@pytest.fixture
def clinic(factory):
    return factory.clinic(
        "alder", roles=(Role.CLINIC_ADMIN, Role.FRONT_DESK), providers=2, patients=1
    )


@pytest.fixture
def admin(clinic):
    return clinic.staff[Role.CLINIC_ADMIN].staff_id


@pytest.fixture
def admin_desk(factory, clinic):
    """The headers of a workstation the admin enrolled."""
    return factory.signed_desk(clinic.staff[Role.CLINIC_ADMIN])


@pytest.fixture
def other_desk(factory, clinic):
    """Another workstation of the same clinic, nobody signed in: it only pulls."""
    return factory.issue_device(clinic.front_desk, name="Reception 2")


# --- commands, as a desk sends them --------------------------------------------------


def mutation(staff_id, command, *, seq=1):
    return {
        "mutation_id": str(uuid.uuid4()),
        "seq": seq,
        "staff_id": str(staff_id),
        "made_at": datetime.now(UTC).isoformat(),
        "command": command,
    }


def push(client, headers, *mutations) -> list[dict[str, Any]]:
    response = client.post(PUSH, json={"mutations": sign_all(headers, mutations)}, headers=headers)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def hours(provider_id, base_version, *ranges, **overrides):
    return {
        "kind": "set_working_hours",
        "provider_id": str(provider_id),
        "base_version": base_version,
        "hours": [
            {"weekday": day, "start": start, "end": end, "location_id": room}
            for day, start, end, room in ranges
        ],
    } | overrides


def room(name="Room 1", *, location_id=None, base_version=None, active=True):
    return {
        "kind": "save_location",
        "location_id": str(location_id or uuid.uuid4()),
        "base_version": base_version,
        "name": name,
        "active": active,
    }


def appointment_type(name="Check-up", *, type_id=None, base_version=None, **fields):
    return {
        "kind": "save_appointment_type",
        "appointment_type_id": str(type_id or uuid.uuid4()),
        "base_version": base_version,
        "name": name,
        "colour": "#3366cc",
        "duration_minutes": 30,
        "buffer_before_minutes": 5,
        "buffer_after_minutes": 10,
        "provider_ids": [],
        "bookable_online": True,
        "requires_confirmation": False,
        "active": True,
    } | fields


def exception(provider_id, kind="time_off", *, exception_id=None, base_version=None, **fields):
    return {
        "kind": "save_schedule_exception",
        "exception_id": str(exception_id or uuid.uuid4()),
        "base_version": base_version,
        "provider_id": str(provider_id) if provider_id else None,
        "exception_kind": kind,
        "first_day": MONDAY.isoformat(),
        "last_day": (MONDAY + timedelta(days=4)).isoformat(),
        "start_time": None,
        "end_time": None,
        "note": "Conference",
    } | fields


def rules(base_version=None, **fields):
    return {
        "kind": "set_booking_rules",
        "base_version": base_version,
        "horizon_days": 90,
        "min_notice_minutes": 240,
        "slot_rounding": 30,
        "allow_any_provider": False,
        "daily_cap": 12,
        "patient_cancel_cutoff_hours": 48,
        "patient_reschedule_cutoff_hours": 24,
        "patients_may_cancel": True,
    } | fields


def provider_version(db, provider_id) -> int:
    with db() as session:
        provider = session.get(Provider, provider_id)
        assert provider is not None
        return provider.version


# --- applied, answered, and sent to the other desks ---------------------------------------


def _commands(clinic, db) -> list[tuple[str, str, dict[str, Any]]]:
    """(result field, feed entity, command) for each kind of setting."""
    first = clinic.records.provider_ids[0]
    return [
        (
            "provider",
            "providers",
            hours(
                first,
                provider_version(db, first),
                (0, "09:00", "12:30", None),
                (0, "13:30", "17:00", None),
                (5, "10:00", "14:00", None),
            ),
        ),
        ("location", "locations", room("Treatment room 2")),
        ("appointment_type", "appointment_types", appointment_type(provider_ids=[str(first)])),
        ("schedule_exception", "schedule_exceptions", exception(first)),
        (
            "schedule_exception",
            "schedule_exceptions",
            exception(None, "closure", note="Bank holiday"),
        ),
        (
            "schedule_exception",
            "schedule_exceptions",
            exception(first, "extra_hours", start_time="18:00", end_time="20:00"),
        ),
        ("booking_rules", "booking_rules", rules()),
    ]


def test_each_setting_is_applied_answered_and_pulled_by_another_desk(
    client, db, clinic, admin, admin_desk, other_desk, pull_all
):
    before = pull_all(other_desk)[-1]["next_cursor"]
    commands = _commands(clinic, db)

    results = push(
        client,
        admin_desk,
        *(mutation(admin, command, seq=n) for n, (_, _, command) in enumerate(commands, 1)),
    )

    assert [r["status"] for r in results] == ["applied"] * len(commands), results
    pulled = pull_all(other_desk, before)
    for result, (field, entity, command) in zip(results, commands, strict=True):
        record = result[field]
        assert record is not None
        assert record["version"] > 0
        feed = {r["id"]: r for page in pulled for r in page[entity]}
        assert feed[record["id"]] == record, f"{command['kind']} reached the other desk"
    week = results[0]["provider"]["working_hours"]
    assert [(h["weekday"], h["start"], h["end"]) for h in week] == [
        (0, "09:00:00", "12:30:00"),
        (0, "13:30:00", "17:00:00"),
        (5, "10:00:00", "14:00:00"),
    ]
    assert results[2]["appointment_type"]["provider_ids"] == [str(clinic.records.provider_ids[0])]
    assert results[4]["schedule_exception"]["provider_id"] is None
    assert results[6]["booking_rules"]["daily_cap"] == 12


def test_an_edit_based_on_the_current_version_is_applied(client, admin, admin_desk):
    [created] = push(client, admin_desk, mutation(admin, room("Room 1")))
    saved = created["location"]
    [renamed] = push(
        client,
        admin_desk,
        mutation(
            admin,
            room("Room 1A", location_id=saved["id"], base_version=saved["version"], active=False),
            seq=2,
        ),
    )
    assert renamed["status"] == "applied"
    assert renamed["location"]["name"] == "Room 1A"
    assert renamed["location"]["active"] is False
    assert renamed["location"]["version"] > saved["version"]


def test_working_hours_may_name_a_room_of_the_clinic(client, db, clinic, admin, admin_desk):
    [made] = push(client, admin_desk, mutation(admin, room("Room 3")))
    provider = clinic.records.provider_ids[1]
    [result] = push(
        client,
        admin_desk,
        mutation(
            admin,
            hours(
                provider,
                provider_version(db, provider),
                (2, "08:00", "12:00", made["location"]["id"]),
            ),
            seq=2,
        ),
    )
    assert result["status"] == "applied"
    assert result["provider"]["working_hours"][0]["location_id"] == made["location"]["id"]


def test_a_removed_exception_reaches_other_desks_as_a_tombstone(
    client, db, clinic, admin, admin_desk, other_desk, pull_all
):
    [saved] = push(client, admin_desk, mutation(admin, exception(clinic.records.provider_ids[0])))
    made = saved["schedule_exception"]
    cursor = pull_all(other_desk)[-1]["next_cursor"]

    [removed] = push(
        client,
        admin_desk,
        mutation(
            admin,
            {
                "kind": "remove_schedule_exception",
                "exception_id": made["id"],
                "base_version": made["version"],
            },
            seq=2,
        ),
    )

    assert removed["status"] == "applied"
    assert removed["schedule_exception"] is None, "the server keeps no live copy"
    pages = pull_all(other_desk, cursor)
    tombstones = [t for page in pages for t in page["tombstones"]]
    assert [(t["entity"], t["id"]) for t in tombstones] == [("schedule_exceptions", made["id"])]
    assert not any(page["schedule_exceptions"] for page in pages)
    with db() as session:
        row = session.get(ScheduleException, uuid.UUID(made["id"]))
        assert row is not None
        assert row.deleted_at is not None

    [again] = push(
        client,
        admin_desk,
        mutation(
            admin,
            exception(
                clinic.records.provider_ids[0],
                exception_id=made["id"],
                base_version=made["version"],
            ),
            seq=3,
        ),
    )
    assert (again["status"], again["code"]) == ("rejected", "not_found")


# --- who may ----------------------------------------------------------------------------


def test_front_desk_staff_cannot_change_settings(client, db, clinic, factory):
    headers = factory.signed_desk(clinic.front_desk)
    staff = clinic.front_desk.staff_id
    commands = [command for _, _, command in _commands(clinic, db)]
    before = provider_version(db, clinic.records.provider_ids[0])

    results = push(client, headers, *(mutation(staff, c, seq=n) for n, c in enumerate(commands, 1)))

    assert [(r["status"], r["code"]) for r in results] == [("rejected", "forbidden")] * len(
        commands
    )
    assert all("clinic admin" in r["message"] for r in results)
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Location)) == 0
        assert session.scalar(select(func.count()).select_from(ScheduleException)) == 0
        assert session.scalar(select(func.count()).select_from(BookingRules)) == 0
    assert provider_version(db, clinic.records.provider_ids[0]) == before


def test_an_admins_device_does_not_lend_its_rights_to_front_desk_staff(client, clinic, factory):
    """The role checked is that of the person who made the change, not the enroller's."""
    shared = factory.signed_desk(clinic.staff[Role.CLINIC_ADMIN], clinic.front_desk)
    [result] = push(client, shared, mutation(clinic.front_desk.staff_id, room()))
    assert result["code"] == "forbidden"


def test_a_read_only_members_desk_cannot_change_settings_by_naming_the_admin(
    client, db, factory, clinic, admin
):
    """The admin's id is no secret (booking requests show who decided them). Naming it
    from a desk where only a read-only member signed in proves nothing: the change is
    signed by the read-only member's key, or by none the server knows, and is refused."""
    reader = factory.staff(clinic, Role.READ_ONLY)
    desk = factory.signed_desk(reader)
    own_key = desk.authors[reader.staff_id]
    as_admin = mutation(admin, room("Sneaky room"))
    signed_by_reader = Author(admin, own_key.key_id, own_key.private_key).sign(
        Mutation.model_validate(as_admin)
    )
    results = push(client, desk, as_admin)  # signed with a key the server never saw
    response = client.post(
        PUSH, json={"mutations": [signed_by_reader.model_dump(mode="json")]}, headers=desk
    )
    results += response.json()["results"]
    assert [r["code"] for r in results] == ["unverified", "unverified"]
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Location)) == 0


# --- nonsense is refused in words, one at a time ----------------------------------------------


def test_bad_values_are_refused_with_words_and_never_block_the_rest(
    client, db, factory, clinic, admin, admin_desk
):
    other = factory.clinic("birch", providers=1)
    other_admin = factory.staff(other, Role.CLINIC_ADMIN)
    [foreign_room] = push(
        client, factory.signed_desk(other_admin), mutation(other_admin.staff_id, room())
    )
    first = clinic.records.provider_ids[0]
    foreign = other.records.provider_ids[0]
    version = provider_version(db, first)
    cases = [
        (
            hours(first, version, (1, "09:00", "13:00", None), (1, "12:00", "15:00", None)),
            "invalid",
            "overlap",
        ),
        (hours(first, version, (2, "13:00", "09:00", None)), "invalid", "end after it starts"),
        (hours(first, version, (2, "09:00", "09:00", None)), "invalid", "end after it starts"),
        (
            hours(first, version, (2, "09:00+02:00", "17:00", None)),
            "invalid",
            "local clock time",
        ),
        (hours(first, version, (2, "09:00:30", "17:00", None)), "invalid", "whole minutes"),
        (hours(foreign, 1, (0, "09:00", "17:00", None)), "not_found", "no such provider"),
        (
            hours(first, version, (0, "09:00", "17:00", foreign_room["location"]["id"])),
            "not_found",
            "no such room",
        ),
        (appointment_type(duration_minutes=0), "invalid", "between 5 minutes and 12 hours"),
        (appointment_type(buffer_after_minutes=300), "invalid", "buffer after"),
        (appointment_type(name="   "), "invalid", "needs a name"),
        (appointment_type(name="x" * 150), "invalid", "at most 120"),
        (appointment_type(provider_ids=[str(foreign)]), "not_found", "not in this clinic"),
        (room("   "), "invalid", "needs a name"),
        (room("y" * 150), "invalid", "at most 120"),
        (exception(first, "closure"), "invalid", "leave the provider empty"),
        (exception(None, "time_off"), "invalid", "needs a provider"),
        (exception(first, "extra_hours"), "invalid", "Extra hours need a start and an end"),
        (
            exception(first, last_day=(MONDAY - timedelta(days=1)).isoformat()),
            "invalid",
            "last day must not be before",
        ),
        (exception(first, start_time="12:00", end_time="11:00"), "invalid", "after the start"),
        (exception(first, start_time="12:00"), "invalid", "or neither"),
        (exception(foreign), "not_found", "no such provider"),
        (rules(slot_rounding=7), "invalid", "slot rounding must be one of"),
        (rules(horizon_days=0), "invalid", "horizon"),
        (rules(daily_cap=0), "invalid", "daily cap"),
        (rules(patient_cancel_cutoff_hours=5000), "invalid", "cut-off"),
    ]

    results = push(
        client,
        admin_desk,
        *(mutation(admin, command, seq=n) for n, (command, _, _) in enumerate(cases, 1)),
        mutation(admin, room("Room that stands"), seq=len(cases) + 1),
    )

    for result, (command, code, words) in zip(results, cases, strict=False):
        assert (result["status"], result["code"]) == ("rejected", code), (command, result)
        assert words.lower() in result["message"].lower(), (command, result["message"])
    assert results[-1]["status"] == "applied"
    assert provider_version(db, first) == version, "no refused week was stored"
    with db() as session:
        names = session.scalars(select(Location.name).where(Location.clinic_id == clinic.id))
        assert list(names) == ["Room that stands"]


def test_a_malformed_setting_is_a_clear_422_for_the_batch(client, admin, admin_desk):
    """Shapes (a weekday 9, a colour that is not #rrggbb) are the protocol's business."""
    for bad in (
        hours(uuid.uuid4(), 1, (9, "09:00", "17:00", None)),
        appointment_type(colour="blue"),
        rules(horizon_days=-1),
    ):
        response = client.post(PUSH, json={"mutations": [mutation(admin, bad)]}, headers=admin_desk)
        assert response.status_code == 422, bad
        assert response.json()["code"] == "invalid"


# --- versions and ids -------------------------------------------------------------------------


def test_an_edit_based_on_a_version_another_desk_replaced_is_stale(
    client, factory, clinic, admin, admin_desk
):
    second_desk = factory.signed_desk(clinic.staff[Role.CLINIC_ADMIN], device_name="Office")
    [made] = push(client, admin_desk, mutation(admin, room("Room 1")))
    seen = made["location"]
    [theirs] = push(
        client,
        second_desk,
        mutation(admin, room("Room 9", location_id=seen["id"], base_version=seen["version"])),
    )
    assert theirs["status"] == "applied"

    [ours] = push(
        client,
        admin_desk,
        mutation(
            admin, room("Room 2", location_id=seen["id"], base_version=seen["version"]), seq=2
        ),
    )

    assert ours["code"] == "stale_version"
    assert "Someone else changed this room" in ours["message"]
    assert ours["location"]["name"] == "Room 9", "the record as it now stands"


@pytest.mark.parametrize("kind", ["working_hours", "exception", "removal", "booking_rules"])
def test_each_kind_of_setting_refuses_a_stale_base_version(
    client, db, factory, clinic, admin, admin_desk, kind
):
    second_desk = factory.signed_desk(clinic.staff[Role.CLINIC_ADMIN], device_name="Office")
    provider = clinic.records.provider_ids[0]
    if kind == "working_hours":
        seen = provider_version(db, provider)
        theirs = hours(provider, seen, (0, "09:00", "17:00", None))
        ours = hours(provider, seen, (0, "10:00", "16:00", None))
    elif kind == "booking_rules":
        [made] = push(client, admin_desk, mutation(admin, rules()))
        seen = made["booking_rules"]["version"]
        theirs, ours = rules(seen, horizon_days=30), rules(seen, horizon_days=120)
    else:
        [made] = push(client, admin_desk, mutation(admin, exception(provider)))
        record = made["schedule_exception"]
        seen = record["version"]
        theirs = exception(provider, exception_id=record["id"], base_version=seen, note="Away")
        ours = (
            exception(provider, exception_id=record["id"], base_version=seen, note="Course")
            if kind == "exception"
            else {
                "kind": "remove_schedule_exception",
                "exception_id": record["id"],
                "base_version": seen,
            }
        )
    [applied] = push(client, second_desk, mutation(admin, theirs))
    assert applied["status"] == "applied"

    [result] = push(client, admin_desk, mutation(admin, ours, seq=5))

    assert (result["status"], result["code"]) == ("rejected", "stale_version")
    assert "in the meantime" in result["message"]


def test_first_booking_rules_from_two_desks_the_second_is_stale(
    client, factory, clinic, admin, admin_desk
):
    """Both desks ran on the defaults (no base version); the later one must look again."""
    second_desk = factory.signed_desk(clinic.staff[Role.CLINIC_ADMIN], device_name="Office")
    [first] = push(client, second_desk, mutation(admin, rules(horizon_days=30)))
    [second] = push(client, admin_desk, mutation(admin, rules(horizon_days=120)))
    assert first["status"] == "applied"
    assert second["code"] == "stale_version"
    assert second["booking_rules"]["horizon_days"] == 30


def test_a_desk_may_chain_its_own_offline_booking_rules_edits(client, db, admin, admin_desk):
    """Offline, a desk on the defaults changes the rules twice: neither knows a version."""
    results = push(
        client,
        admin_desk,
        mutation(admin, rules(horizon_days=30), seq=1),
        mutation(admin, rules(horizon_days=45), seq=2),
    )
    assert [r["status"] for r in results] == ["applied", "applied"], results
    with db() as session:
        assert session.scalars(select(BookingRules.horizon_days)).all() == [45]


def test_a_desk_may_chain_its_own_offline_edits_of_a_room_it_created(client, admin, admin_desk):
    location_id = uuid.uuid4()
    results = push(
        client,
        admin_desk,
        mutation(admin, room("Room 1", location_id=location_id), seq=1),
        # The desk's copy of a row it created offline has version 0.
        mutation(admin, room("Room 1B", location_id=location_id, base_version=0), seq=2),
    )
    assert [r["status"] for r in results] == ["applied", "applied"], results
    assert results[1]["location"]["name"] == "Room 1B"


def test_concurrent_first_booking_rules_let_one_through_and_never_a_500(
    app, db, factory, clinic, admin
):
    from fastapi.testclient import TestClient

    devices = [
        factory.signed_desk(clinic.staff[Role.CLINIC_ADMIN], device_name=f"Desk {n}")
        for n in range(6)
    ]
    barrier = threading.Barrier(len(devices))
    results: list[dict[str, Any]] = []

    def race(headers, horizon):
        with TestClient(app) as own:
            barrier.wait()
            results.extend(push(own, headers, mutation(admin, rules(horizon_days=horizon))))

    threads = [threading.Thread(target=race, args=(h, 10 + n)) for n, h in enumerate(devices)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["status"] for r in results) == ["applied"] + ["rejected"] * 5
    assert {r["code"] for r in results if r["status"] == "rejected"} == {"stale_version"}
    with db() as session:
        assert session.scalar(select(func.count()).select_from(BookingRules)) == 1


@pytest.mark.parametrize("kind", ["location", "appointment_type", "schedule_exception"])
def test_creating_with_an_id_another_clinic_uses_is_refused_and_leaks_nothing(
    client, db, factory, clinic, admin, admin_desk, kind
):
    other = factory.clinic("birch", providers=1)
    other_admin = factory.staff(other, Role.CLINIC_ADMIN)
    theirs = {
        "location": room("Their room"),
        "appointment_type": appointment_type("Their type"),
        "schedule_exception": exception(other.records.provider_ids[0]),
    }[kind]
    [made] = push(client, factory.signed_desk(other_admin), mutation(other_admin.staff_id, theirs))
    assert made["status"] == "applied"
    taken = made[kind]["id"]
    id_field = {
        "location": "location_id",
        "appointment_type": "appointment_type_id",
        "schedule_exception": "exception_id",
    }[kind]
    ours = {
        "location": room("Our room"),
        "appointment_type": appointment_type("Our type"),
        "schedule_exception": exception(clinic.records.provider_ids[0]),
    }[kind] | {id_field: taken}

    [result] = push(client, admin_desk, mutation(admin, ours))

    assert (result["status"], result["code"]) == ("rejected", "invalid")
    assert "cannot be used" in result["message"]
    assert "exist" not in result["message"], "nothing says the id is held anywhere"
    assert result[kind] is None, "nothing of the other clinic comes back"
    # Editing it as if it were ours is not found either.
    [edit] = push(
        client, admin_desk, mutation(admin, ours | {"base_version": made[kind]["version"]}, seq=2)
    )
    assert (edit["code"], edit[kind]) == ("not_found", None)
    with db() as session:
        model = {"location": Location, "schedule_exception": ScheduleException}.get(kind)
        if model is not None:
            row = session.get(model, uuid.UUID(taken))
            assert row is not None
            assert row.clinic_id == other.id
