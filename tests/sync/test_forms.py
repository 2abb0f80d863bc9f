"""Forms sent to patients in the desk's store, with no server: a patient's forms newest
first; how far an appointment's forms are filled in (its own forms, and the patient's
intake and consent forms, complete ones too); the worklist of incomplete forms, new
patients first; and a store from before forms upgrading and downloading afresh."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from common.appointments import AppointmentStatus
from common.forms import FormKind, FormStatus
from sync.forms import Completion
from sync.protocol import AppointmentRecord, FormRequestRecord, PatientRecord
from sync.schema import MIGRATIONS
from sync.store import Store
from tests.support import records

NOW = datetime(2031, 3, 10, 9, 0, tzinfo=UTC)
DR = records.provider()
NELL = records.patient("Nell", "Newcomer")  # booked, never seen
KIT = records.patient("Kit", "Known")  # seen last week
ZOE = records.patient("Zoe", "Zed")  # new, booked later than Nell


def form(
    who: PatientRecord,
    title: str,
    kind: FormKind,
    *,
    status: FormStatus = FormStatus.PENDING,
    appointment: AppointmentRecord | None = None,
    sent: datetime = NOW - timedelta(days=1),
    version: int = 7,
) -> FormRequestRecord:
    return FormRequestRecord(
        id=uuid.uuid4(),
        version=version,
        patient_id=who.id,
        appointment_id=appointment.id if appointment else None,
        title=title,
        kind=kind,
        status=status,
        sent_at=sent,
        completed_at=NOW - timedelta(hours=1) if status is FormStatus.COMPLETE else None,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    opened.apply_page(records.page(providers=[DR], patients=[NELL, KIT, ZOE]), synced_at=NOW)
    yield opened
    opened.close()


def test_a_patients_forms_are_listed_newest_first_withdrawn_ones_too(store: Store) -> None:
    older = form(NELL, "Intake", FormKind.INTAKE, sent=NOW - timedelta(days=3))
    newer = form(NELL, "Consent", FormKind.CONSENT, status=FormStatus.WITHDRAWN)
    someone_else = form(KIT, "Intake", FormKind.INTAKE)
    store.apply_page(records.page(form_requests=[older, newer, someone_else]), synced_at=NOW)

    listed = store.form_requests(NELL.id)
    assert [(f.title, f.status) for f in listed] == [
        ("Consent", FormStatus.WITHDRAWN),
        ("Intake", FormStatus.PENDING),
    ]
    assert listed[1].open
    assert not listed[0].open


def test_a_signed_consent_form_reads_as_a_consent_record(store: Store) -> None:
    signed = form(NELL, "Treatment consent", FormKind.CONSENT, status=FormStatus.COMPLETE)
    intake = form(NELL, "Intake", FormKind.INTAKE, status=FormStatus.COMPLETE)
    store.apply_page(records.page(form_requests=[signed, intake]), synced_at=NOW)
    found = {f.title: f.consent_record for f in store.form_requests(NELL.id)}
    assert found == {"Treatment consent": True, "Intake": False}


def test_an_appointments_forms_count_its_own_and_the_patients_once_only_forms(
    store: Store,
) -> None:
    visit = records.appointment(DR, NELL, NOW + timedelta(days=2))
    later = records.appointment(DR, NELL, NOW + timedelta(days=9))
    known = records.appointment(DR, KIT, NOW + timedelta(days=2, hours=1))
    plain = records.appointment(DR, ZOE, NOW + timedelta(days=3))
    store.apply_page(
        records.page(
            appointments=[visit, later, known, plain],
            form_requests=[
                form(NELL, "Knee questionnaire", FormKind.SERVICE, appointment=visit),
                form(
                    NELL,
                    "Knee check",
                    FormKind.SERVICE,
                    appointment=visit,
                    status=FormStatus.COMPLETE,
                ),
                form(
                    NELL,
                    "Sent by mistake",
                    FormKind.SERVICE,
                    appointment=visit,
                    status=FormStatus.WITHDRAWN,
                ),
                form(NELL, "Intake", FormKind.INTAKE, status=FormStatus.IN_PROGRESS),
                # Done long ago: the visit's forms are all in, and the card says so.
                form(KIT, "Consent", FormKind.CONSENT, status=FormStatus.COMPLETE),
                form(KIT, "Old intake", FormKind.INTAKE, status=FormStatus.WITHDRAWN),
                # Withdrawn: no form at all is what Zoe's visit waits for.
                form(ZOE, "Intake", FormKind.INTAKE, status=FormStatus.WITHDRAWN),
            ],
        ),
        synced_at=NOW,
    )

    shown = {e.id: e.forms for e in store.diary(NOW, NOW + timedelta(days=10))}
    assert shown[visit.id] == Completion(1, 3)  # its two forms and the open intake
    assert shown[visit.id].words() == "Forms: 1 of 3 complete"
    assert shown[later.id] == Completion(0, 1)  # the intake waits for it too
    assert shown[known.id] == Completion(1, 1)
    assert shown[known.id].words() == "Forms: all complete"
    assert shown[plain.id] == Completion()
    assert shown[plain.id].words() == ""
    assert Completion(2, 2).words() == "Forms: all complete"


def test_appointments_fetched_from_the_server_get_their_forms_and_video_room(
    store: Store,
) -> None:
    far = records.appointment(DR, NELL, NOW + timedelta(days=400)).model_copy(
        update={"video_url": "https://meet.jit.si/demo-abc"}
    )
    store.apply_page(
        records.page(form_requests=[form(NELL, "Knee", FormKind.SERVICE, appointment=far)]),
        synced_at=NOW,
    )
    [entry] = store.entries_for([far])
    assert entry.forms == Completion(0, 1)
    # Fetched days count the patient's complete intake and consent forms too.
    store.apply_page(
        records.page(
            form_requests=[
                form(NELL, "Intake", FormKind.INTAKE, status=FormStatus.COMPLETE),
                form(NELL, "Consent", FormKind.CONSENT, status=FormStatus.WITHDRAWN),
            ]
        ),
        synced_at=NOW,
    )
    [entry] = store.entries_for([far])
    assert entry.forms == Completion(1, 2)
    assert entry.video_url == "https://meet.jit.si/demo-abc"


def test_the_worklist_puts_new_patients_first_with_their_next_appointment(store: Store) -> None:
    nell_next = records.appointment(DR, NELL, NOW + timedelta(days=2))
    nell_later = records.appointment(DR, NELL, NOW + timedelta(days=20))
    # A visit Nell missed and one she cancelled: she is still new.
    missed = records.appointment(
        DR, NELL, NOW - timedelta(days=5), status=AppointmentStatus.NO_SHOW
    )
    zoe_next = records.appointment(DR, ZOE, NOW + timedelta(days=1))
    zoe_cancelled = records.appointment(
        DR, ZOE, NOW - timedelta(days=3), status=AppointmentStatus.CANCELLED
    )
    kit_seen = records.appointment(
        DR, KIT, NOW - timedelta(days=7), status=AppointmentStatus.COMPLETED
    )
    kit_next = records.appointment(DR, KIT, NOW + timedelta(hours=3))
    zoe_intake = form(ZOE, "Intake", FormKind.INTAKE, status=FormStatus.IN_PROGRESS)
    store.apply_page(
        records.page(
            appointments=[
                nell_next,
                nell_later,
                missed,
                zoe_next,
                zoe_cancelled,
                kit_seen,
                kit_next,
            ],
            form_requests=[
                form(NELL, "Intake", FormKind.INTAKE, sent=NOW - timedelta(days=2)),
                form(NELL, "Consent", FormKind.CONSENT, sent=NOW - timedelta(days=1)),
                zoe_intake,
                form(KIT, "Knee", FormKind.SERVICE, appointment=kit_next),
                form(KIT, "Old", FormKind.INTAKE, status=FormStatus.COMPLETE),
                form(KIT, "Gone", FormKind.CONSENT, status=FormStatus.WITHDRAWN),
            ],
        ),
        synced_at=NOW,
    )

    found = store.incomplete_forms(NOW)
    assert [(f.name, f.new_patient) for f in found] == [
        ("Zoe Zed", True),  # new, and coming first
        ("Nell Newcomer", True),
        ("Kit Known", False),  # known, even though coming soonest
    ]
    zoe, nell, kit = found
    assert zoe.next_appointment == zoe_next.starts_at
    assert nell.next_appointment == nell_next.starts_at
    assert nell.outstanding == ("Intake", "Consent")  # oldest sent first
    assert kit.outstanding == ("Knee",)

    # Once complete (a later pull), a patient leaves the list.
    finished = zoe_intake.model_copy(
        update={"status": FormStatus.COMPLETE, "completed_at": NOW, "version": 9}
    )
    store.apply_page(records.page(form_requests=[finished]), synced_at=NOW)
    assert [f.name for f in store.incomplete_forms(NOW)] == ["Nell Newcomer", "Kit Known"]


def test_a_withdrawal_the_server_answered_is_kept_at_once_and_never_goes_back(
    store: Store,
) -> None:
    sent = form(NELL, "Intake", FormKind.INTAKE, version=7)
    store.apply_page(records.page(form_requests=[sent]), synced_at=NOW)
    store.take_form_request(sent.model_copy(update={"status": FormStatus.WITHDRAWN, "version": 8}))
    assert store.form_requests(NELL.id)[0].status is FormStatus.WITHDRAWN
    assert store.incomplete_forms(NOW) == []
    # An older copy (a page fetched before the withdrawal) does not bring it back.
    store.apply_page(records.page(form_requests=[sent]), synced_at=NOW)
    assert store.form_requests(NELL.id)[0].status is FormStatus.WITHDRAWN


def test_a_store_from_before_forms_gets_the_table_and_columns_and_downloads_afresh(
    tmp_path: Path,
) -> None:
    key = secrets.token_bytes(32)
    older = Store.open(tmp_path / "old.db", key)
    forms = next(
        n
        for n, steps in enumerate(MIGRATIONS)
        if any("CREATE TABLE form_requests" in s for s in steps)
    )
    with older.engine.begin() as conn:
        # As the store was before forms and video consultations.
        conn.exec_driver_sql("DROP TABLE form_requests")
        conn.exec_driver_sql("ALTER TABLE appointment_types DROP COLUMN video")
        conn.exec_driver_sql("ALTER TABLE appointments DROP COLUMN video_url")
        conn.exec_driver_sql(f"PRAGMA user_version = {forms}")
    older.set_meta({"cursor": "1.500"})
    older.close()

    upgraded = Store.open(tmp_path / "old.db", key)
    try:
        assert upgraded.get_meta("cursor") is None  # forms sent before it are fetched too
        with upgraded.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA user_version").scalar_one() == len(MIGRATIONS)
            table = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(form_requests)")}
            types = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(appointment_types)")}
            visits = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(appointments)")}
        assert {"patient_id", "appointment_id", "status", "completed_at"} <= table
        assert "video" in types
        assert "video_url" in visits
        visit = records.appointment(DR, NELL, NOW).model_copy(
            update={"video_url": "https://meet.jit.si/x-1"}
        )
        upgraded.apply_page(
            records.page(
                providers=[DR],
                patients=[NELL],
                appointments=[visit],
                form_requests=[form(NELL, "Intake", FormKind.INTAKE)],
            ),
            synced_at=NOW,
        )
        [entry] = upgraded.diary(NOW, NOW + timedelta(hours=1))
        assert entry.video_url == "https://meet.jit.si/x-1"
        assert entry.forms == Completion(0, 1)
    finally:
        upgraded.close()
