"""The change feed: every synced row once, in version order, with tombstones and resets."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import event, func, select

from common.appointments import AppointmentStatus
from common.roles import Role
from server.audit.models import AuditEvent
from server.changefeed.service import FEED
from server.clinics.models import Clinic
from server.db import make_sessionmaker, transaction, utcnow
from server.demo import FRONT_DESK, seed_demo
from server.patients.models import Patient
from server.scheduling.models import Appointment, Provider
from sync.protocol import API_PREFIX, MAX_PAGE_SIZE, PROTOCOL_HEADER, PROTOCOL_VERSION, Cursor

CHANGES = f"{API_PREFIX}/sync/changes"
DEMO_TODAY = date(2026, 3, 25)  # a Wednesday; the demo's four weeks cross a DST change
SYNCED = {entity: model for entity, (model, _record) in FEED.items()}  # every synced table


def stored_versions(db, clinic_id):
    """{(entity, id): version} of every synced row of the clinic, tombstones included."""
    with db() as session:
        return {
            (entity, str(row.id)): row.version
            for entity, model in SYNCED.items()
            for row in session.scalars(select(model).where(model.clinic_id == clinic_id))
        }


def clinic_counters(db, clinic_id):
    with db() as session:
        clinic = session.get(Clinic, clinic_id)
        return clinic.sync_version, clinic.dataset_epoch


def assert_versions_are_unique_and_counted(db, clinic_id):
    versions = list(stored_versions(db, clinic_id).values())
    assert len(versions) == len(set(versions)), "two rows of one clinic share a version"
    assert min(versions) >= 1
    sync_version, _epoch = clinic_counters(db, clinic_id)
    assert sync_version == max(versions)


def feed_rows(pages, rows_of):
    return [row for page in pages for row in rows_of(page)]


@pytest.fixture
def demo(db, factory):
    with transaction(db) as session:
        clinic, created = seed_demo(session, today=DEMO_TODAY)
        clinic_id = clinic.id
    assert created
    login = factory.existing_login("demo", FRONT_DESK.email, FRONT_DESK.password)
    assert login.clinic_id == clinic_id
    return login


@pytest.fixture
def small(factory):
    """A small clinic and a workstation of its, with nobody signed in."""
    clinic = factory.clinic("riverside", providers=2, patients=3, appointments=4)
    return clinic, factory.issue_device(clinic.front_desk)


# --- a full download ------------------------------------------------------------------------


def test_paging_returns_every_row_once_in_version_order(db, factory, demo, pull, pull_all, rows_of):
    headers = factory.staff_headers(demo)
    limit = 97  # not a divisor of any table's size, so pages straddle tables

    pages = pull_all(headers, limit=limit)

    expected = stored_versions(db, demo.clinic_id)
    rows = feed_rows(pages, rows_of)
    assert len(pages) > 3
    assert len(rows) == len(expected)
    assert {(entity, row_id): version for entity, row_id, version in rows} == expected
    # Oldest first: every page is newer than the one before, and within a page each
    # entity's records come in version order.
    for earlier, later in pairwise(pages):
        assert max(v for *_, v in rows_of(earlier)) < min(v for *_, v in rows_of(later))
    for page in pages:
        for entity in SYNCED:
            versions = [record["version"] for record in page[entity]]
            assert versions == sorted(versions)
    assert [len(rows_of(page)) for page in pages[:-1]] == [limit] * (len(pages) - 1)
    assert [page["has_more"] for page in pages] == [True] * (len(pages) - 1) + [False]
    assert all(page["tombstones"] == [] for page in pages)
    sync_version, epoch = clinic_counters(db, demo.clinic_id)
    assert pages[-1]["next_cursor"] == str(Cursor(epoch, sync_version))
    assert_versions_are_unique_and_counted(db, demo.clinic_id)


def test_a_pull_with_nothing_new_returns_nothing_and_keeps_the_cursor(small, pull, pull_all):
    _clinic, headers = small
    cursor = pull_all(headers)[-1]["next_cursor"]

    for _ in range(2):
        again = pull(headers, cursor)
        assert again["next_cursor"] == cursor
        assert (again["has_more"], again["reset"]) == (False, False)
        assert again["providers"] == again["patients"] == again["appointments"] == []
        assert again["tombstones"] == []


def test_the_largest_page_size_is_accepted(small, pull):
    _clinic, headers = small

    page = pull(headers, limit=MAX_PAGE_SIZE)

    assert page["has_more"] is False


# --- changes after the download -------------------------------------------------------------


def test_an_update_shows_up_in_the_next_pull_with_a_higher_version(db, small, pull, pull_all):
    clinic, headers = small
    cursor = pull_all(headers)[-1]["next_cursor"]
    changed_id = clinic.records.appointment_ids[1]
    with transaction(db) as session:
        appointment = session.get(Appointment, changed_id)
        before = appointment.version
        appointment.status = AppointmentStatus.ARRIVED

    page = pull(headers, cursor)

    assert page["providers"] == page["patients"] == page["tombstones"] == []
    [record] = page["appointments"]
    assert record["id"] == str(changed_id)
    assert record["status"] == AppointmentStatus.ARRIVED.value
    assert record["version"] > before
    assert record["version"] > Cursor.parse(cursor).version
    assert page["next_cursor"] == str(Cursor(Cursor.parse(cursor).epoch, record["version"]))
    assert_versions_are_unique_and_counted(db, clinic.id)


@pytest.mark.parametrize("entity", ["providers", "patients", "appointments"])
def test_a_soft_delete_arrives_as_a_tombstone(db, small, pull, pull_all, entity):
    clinic, headers = small
    cursor = pull_all(headers)[-1]["next_cursor"]
    deleted_id = {
        "providers": clinic.records.provider_ids,
        "patients": clinic.records.patient_ids,
        "appointments": clinic.records.appointment_ids,
    }[entity][0]
    with transaction(db) as session:
        session.get(SYNCED[entity], deleted_id).deleted_at = utcnow()

    page = pull(headers, cursor)

    assert page["providers"] == page["patients"] == page["appointments"] == []
    [tombstone] = page["tombstones"]
    assert tombstone["entity"] == entity
    assert tombstone["id"] == str(deleted_id)
    assert tombstone["version"] > Cursor.parse(cursor).version
    assert stored_versions(db, clinic.id)[(entity, str(deleted_id))] == tombstone["version"]
    # A desk downloading from scratch learns of the deletion too.
    full = pull(headers)
    assert str(deleted_id) not in {record["id"] for record in full[entity]}
    assert [t["id"] for t in full["tombstones"]] == [str(deleted_id)]


# --- resets and cursors ----------------------------------------------------------------------


def test_a_cursor_from_an_older_epoch_resets_and_starts_from_zero(
    db, small, pull, pull_all, rows_of
):
    clinic, headers = small
    everything = stored_versions(db, clinic.id)
    sync_version, epoch = clinic_counters(db, clinic.id)
    current = pull_all(headers)[-1]["next_cursor"]
    assert pull(headers, current)["reset"] is False

    older = pull(headers, str(Cursor(epoch - 1, sync_version // 2)), limit=2)

    assert older["reset"] is True
    assert min(v for *_, v in rows_of(older)) == min(everything.values())
    assert older["next_cursor"].startswith(f"{epoch}.")

    # The server starts a new generation: every desk's cursor is now from the past.
    with transaction(db) as session:
        session.get(Clinic, clinic.id).dataset_epoch = epoch + 1

    reset = pull(headers, current)

    assert reset["reset"] is True
    assert {(entity, row_id) for entity, row_id, _ in rows_of(reset)} == set(everything)
    assert reset["next_cursor"] == str(Cursor(epoch + 1, sync_version))
    after = pull(headers, reset["next_cursor"])
    assert after["reset"] is False
    assert rows_of(after) == []


@pytest.mark.parametrize(
    "cursor", ["nonsense", "1", "1.", ".5", "1.-5", "1.5.6", "one.two", "1" * 65]
)
def test_a_malformed_cursor_is_invalid(client, small, cursor):
    _clinic, headers = small

    response = client.get(CHANGES, params={"cursor": cursor}, headers=headers)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid"
    assert response.json()["message"]


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1, "ten"])
def test_a_page_size_out_of_bounds_is_invalid(client, small, limit):
    _clinic, headers = small

    response = client.get(CHANGES, params={"limit": limit}, headers=headers)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid"
    assert "limit" in response.json()["message"]


# --- who may pull, and the audit trail ----------------------------------------------------------


def test_the_feed_needs_credentials(client, small):
    response = client.get(CHANGES, headers={PROTOCOL_HEADER: str(PROTOCOL_VERSION)})

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_every_page_with_patients_or_appointments_is_audited(db, factory, small, pull_all):
    clinic, device_headers = small
    login = clinic.front_desk
    staff_headers = factory.staff_headers(login)

    staff_pages = pull_all(staff_headers, limit=2)
    device_pages = pull_all(device_headers, limit=2)

    with db() as session:
        events = session.scalars(select(AuditEvent)).all()
    for entity in ("patients", "appointments"):
        audited = [e for e in events if e.entity == entity]
        expected = [len(p[entity]) for p in staff_pages + device_pages if p[entity]]
        assert len(expected) >= 2
        assert sorted(e.record_count for e in audited) == sorted(expected)
    assert {e.entity for e in events} == {"patients", "appointments"}
    assert {(e.action, e.clinic_id) for e in events} == {("sync_pull", clinic.id)}
    assert all(e.reason for e in events)
    staff_events = [e for e in events if e.staff_id is not None]
    device_events = [e for e in events if e.staff_id is None]
    assert {e.staff_id for e in staff_events} == {login.staff_id}
    assert all(e.device_id is not None for e in staff_events)
    assert len({e.device_id for e in device_events}) == 1  # the workstation on its own
    assert len(device_events) == sum(
        bool(p["patients"]) + bool(p["appointments"]) for p in device_pages
    )


def test_a_device_token_alone_reads_the_same_feed_as_a_signed_in_user(
    factory, small, pull_all, rows_of
):
    clinic, device_headers = small

    by_device = feed_rows(pull_all(device_headers), rows_of)
    by_staff = feed_rows(pull_all(factory.staff_headers(clinic.front_desk)), rows_of)

    assert sorted(by_device) == sorted(by_staff)
    assert {row_id for _, row_id, _ in by_device} == {str(i) for i in clinic.synced_ids}


def test_a_read_only_user_may_pull(factory, small, pull_all, rows_of):
    clinic, _device_headers = small
    viewer = factory.staff(clinic, Role.READ_ONLY)

    rows = feed_rows(pull_all(factory.staff_headers(viewer)), rows_of)

    everyone = clinic.synced_ids | {viewer.staff_id}
    assert {row_id for _, row_id, _ in rows} == {str(i) for i in everyone}


# --- the version counter under concurrency --------------------------------------------------------


def test_concurrent_writers_get_distinct_versions(db, factory, engine_factory):
    clinic = factory.clinic("riverside", roles=())
    writers, per_writer = 2, 3
    sessionmakers = [make_sessionmaker(engine_factory()) for _ in range(writers)]
    start = threading.Barrier(writers, timeout=30)
    errors: list[BaseException] = []

    def add_patients(number):
        try:
            start.wait()  # both open their transactions at once, then race to the counter
            with transaction(sessionmakers[number]) as session:
                for n in range(per_writer):
                    session.add(
                        Patient(clinic_id=clinic.id, first_name=f"W{number}-{n}", last_name="Race")
                    )
                    session.flush()
        except BaseException as exc:  # reported below, from the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=add_patients, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    assert errors == []
    with db() as session:
        versions = session.scalars(
            select(Patient.version).where(Patient.clinic_id == clinic.id)
        ).all()
        sync_version = session.scalar(select(Clinic.sync_version).where(Clinic.id == clinic.id))
        max_version = session.scalar(select(func.max(Patient.version)))
    assert len(versions) == writers * per_writer
    assert len(set(versions)) == len(versions)
    assert sync_version == max_version == max(versions)


def test_a_pull_never_skips_a_change_committed_between_its_reads(
    app, small, pull, pull_all, rows_of, engine_factory
):
    """A pull reads several tables; on PostgreSQL each read sees every commit made before
    it, and on SQLite the pull is a read snapshot that a writer commits beside (a read
    never holds the write lock). A change committed after the providers were read but
    before the patients were must not move the cursor past the provider the pull did not
    see."""
    clinic, headers = small
    cursor = pull_all(headers)[-1]["next_cursor"]
    writer = make_sessionmaker(engine_factory())
    with transaction(writer) as session:  # something to pull, so the pull reads the tables
        session.add(Patient(clinic_id=clinic.id, first_name="Early", last_name="Bird"))
    made = {}

    def commit_a_change_midway(_conn, _cursor, statement, *_args):
        if made or "FROM patients" not in statement:
            return
        with transaction(writer) as session:
            provider = Provider(clinic_id=clinic.id, display_name="Dr Late")
            session.add(provider)
            session.flush()  # the provider gets the lower version ...
            patient = Patient(clinic_id=clinic.id, first_name="Late", last_name="Comer")
            session.add(patient)
            session.flush()  # ... the patient the higher one
            made.update(providers=str(provider.id), patients=str(patient.id))

    engine = app.state.engine
    event.listen(engine, "before_cursor_execute", commit_a_change_midway)
    try:
        first = pull(headers, cursor)
    finally:
        event.remove(engine, "before_cursor_execute", commit_a_change_midway)
    rest = pull_all(headers, first["next_cursor"])

    assert made, "the concurrent change was never made"
    seen = {(entity, row_id) for page in [first, *rest] for entity, row_id, _ in rows_of(page)}
    assert set(made.items()) <= seen


def test_a_cursor_ahead_of_the_clinic_counter_starts_again(db, small, pull, rows_of):
    """After a restore from backup a desk may be ahead of the server; it must re-download,
    not wait forever for versions that will be numbered again."""
    clinic, headers = small
    everything = stored_versions(db, clinic.id)
    sync_version, epoch = clinic_counters(db, clinic.id)

    ahead = pull(headers, str(Cursor(epoch, sync_version + 50)), limit=len(everything))

    assert ahead["reset"] is True
    assert {(entity, row_id) for entity, row_id, _ in rows_of(ahead)} == set(everything)


@pytest.mark.parametrize("headers", [{}, {"X-Clinicdesk-Device": "made-up"}])
def test_the_event_stream_needs_an_enrolled_workstation(client, headers):
    response = client.get(f"{API_PREFIX}/sync/events", headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_appointments_outside_the_desks_window_come_as_left_scope(client, db, small, pull):
    clinic, headers = small
    with db() as session:
        rows = session.scalars(
            select(Appointment)
            .where(Appointment.clinic_id == clinic.id)
            .order_by(Appointment.starts_at)
        ).all()
    inside, outside = rows[0], rows[-1]
    window = (inside.starts_at - timedelta(minutes=1), inside.ends_at)  # the next starts then
    params = {
        "cursor": "0.0",
        "limit": 1000,
        "window_start": window[0].isoformat(),
        "window_end": window[1].isoformat(),
    }

    page = client.get(CHANGES, params=params, headers=headers).json()

    assert [a["id"] for a in page["appointments"]] == [str(inside.id)]
    left = {t["id"]: t["reason"] for t in page["tombstones"]}
    assert left[str(outside.id)] == "left_scope"
    assert len(page["patients"]) == len(clinic.records.patient_ids), "patients are not windowed"


def test_a_range_of_appointments_is_fetched_whatever_the_cursor(client, db, factory, small):
    clinic, headers = small
    other = factory.clinic("other", providers=1, patients=1, appointments=3)
    with db() as session:
        rows = session.scalars(select(Appointment).order_by(Appointment.starts_at)).all()
    first = min(r.starts_at for r in rows)
    last = max(r.ends_at for r in rows)

    response = client.get(
        f"{API_PREFIX}/sync/appointments",
        params={"start": first.isoformat(), "end": last.isoformat()},
        headers=headers,
    )

    assert response.status_code == 200, response.text
    ids = {a["id"] for a in response.json()}
    assert ids == {str(i) for i in clinic.records.appointment_ids}
    assert not ids & {str(i) for i in other.records.appointment_ids}


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-03-02T10:00:00+00:00", "2026-03-01T10:00:00+00:00"),
        ("2026-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00"),
        ("2026-01-01T00:00:00", "2026-01-02T00:00:00+00:00"),
    ],
    ids=["backwards", "too long", "no time zone"],
)
def test_bad_ranges_get_a_clear_422(client, small, start, end):
    _clinic, headers = small
    response = client.get(
        f"{API_PREFIX}/sync/appointments", params={"start": start, "end": end}, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"


def test_a_cursor_behind_the_tombstone_horizon_downloads_everything_again(
    db, small, pull, pull_all, rows_of
):
    from server.changefeed.service import purge_tombstones

    clinic, headers = small
    old_cursor = pull_all(headers)[-1]["next_cursor"]
    with transaction(db) as session:
        gone = session.get(Appointment, clinic.records.appointment_ids[0])
        gone.deleted_at = utcnow() - timedelta(days=400)
    current = pull_all(headers, old_cursor)[-1]["next_cursor"]
    with transaction(db) as session:
        assert purge_tombstones(session, clinic.id, utcnow() - timedelta(days=180)) == 1
        assert session.get(Appointment, clinic.records.appointment_ids[0]) is None

    behind = pull(headers, old_cursor)
    caught_up = pull(headers, current)

    assert behind["reset"] is True, "it may have missed the purged deletion"
    ids = {row_id for _entity, row_id, _v in rows_of(behind)}
    assert str(clinic.records.appointment_ids[0]) not in ids
    assert caught_up["reset"] is False
    assert rows_of(caught_up) == []
