"""Forms on the server, on both databases: the builder's versions, the forms a booking
sends (whoever booked), answers saved page by page and pinned to the version begun
under, what another clinic never sees, and video rooms."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from common.appointments import AppointmentSource
from common.errors import Forbidden, NotFound, StaleVersion
from common.forms import FormInvalid, FormKind, FormStatus
from common.roles import Role
from server.audit.models import AuditEvent
from server.auth.context import AuthContext
from server.db import transaction, utcnow
from server.forms import service
from server.forms.models import FormRequest, FormResponse
from server.scheduling import service as scheduling
from server.scheduling.models import Appointment, AppointmentType
from server.web.models import PracticeProfile
from sync.protocol import API_PREFIX, PROTOCOL_HEADER, PROTOCOL_VERSION
from tests.server.conftest import Factory, MadeClinic
from tests.support.diary import days_ahead, local

INTAKE = [
    {"id": "reason", "kind": "text", "label": "What brings you to us?"},
    {"id": "pain", "kind": "scale", "label": "How bad is the pain today?"},
    {"id": "since", "kind": "date", "label": "Since when?", "required": False},
    {
        "id": "smoker",
        "kind": "choice",
        "label": "Do you smoke?",
        "choices": ["Yes", "No", "I used to"],
    },
    {"id": "sign", "kind": "signature", "label": "I confirm my answers are true"},
]


@dataclass
class Made:
    clinic: MadeClinic
    admin: AuthContext
    desk: AuthContext
    video_type: uuid.UUID
    plain_type: uuid.UUID


def ctx_of(clinic: MadeClinic, role: Role) -> AuthContext:
    login = clinic.staff[role]
    return AuthContext(clinic_id=clinic.id, device_id=None, staff_id=login.staff_id, role=role)


def make(factory: Factory, db: sessionmaker[Session], slug: str) -> Made:
    clinic = factory.clinic(
        slug, roles=(Role.CLINIC_ADMIN, Role.FRONT_DESK), providers=1, patients=2
    )
    with transaction(db) as session:
        video = AppointmentType(
            clinic_id=clinic.id, name="Video consultation", duration_minutes=30, video=True
        )
        plain = AppointmentType(clinic_id=clinic.id, name="Follow-up", duration_minutes=30)
        session.add_all([video, plain])
        session.flush()
        return Made(
            clinic,
            ctx_of(clinic, Role.CLINIC_ADMIN),
            ctx_of(clinic, Role.FRONT_DESK),
            video.id,
            plain.id,
        )


@pytest.fixture
def bay(factory: Factory, db: sessionmaker[Session]) -> Made:
    return make(factory, db, "bay")


def draft(
    title: str = "Health questionnaire",
    kind: FormKind = FormKind.INTAKE,
    questions: list[dict[str, object]] | None = None,
    types: list[uuid.UUID] | None = None,
) -> service.Draft:
    return service.Draft(title, kind, types or [], True, INTAKE if questions is None else questions)


def publish(db: sessionmaker[Session], made: Made, **kwargs: object) -> uuid.UUID:
    with transaction(db) as session:
        return service.save_template(session, made.admin, draft(**kwargs)).id  # type: ignore[arg-type]


def book(
    db: sessionmaker[Session],
    made: Made,
    *,
    patient: int = 0,
    days: int = 3,
    hour: int = 10,
    kind: uuid.UUID | None = None,
    ctx: AuthContext | None = None,
) -> uuid.UUID:
    start = local(days_ahead(days), hour)
    with transaction(db) as session:
        return scheduling.book(
            session,
            ctx or made.desk,
            appointment_id=uuid.uuid4(),
            provider_id=made.clinic.records.provider_ids[0],
            patient_id=made.clinic.records.patient_ids[patient],
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            source=AppointmentSource.DESK,
            appointment_type_id=kind,
        ).id


def requests_of(db: sessionmaker[Session], made: Made, patient: int = 0) -> list[FormRequest]:
    with db() as session:
        return list(
            session.scalars(
                select(FormRequest)
                .where(FormRequest.patient_id == made.clinic.records.patient_ids[patient])
                .order_by(FormRequest.title)
            )
        )


def answer(
    db: sessionmaker[Session],
    made: Made,
    request_id: uuid.UUID,
    values: dict[str, list[str]],
    *,
    complete: bool = False,
    patient: int = 0,
) -> service.Opened:
    with transaction(db) as session:
        return service.save_page(
            session,
            AuthContext.for_patient(made.clinic.id, made.clinic.records.patient_ids[patient]),
            request_id,
            [made.clinic.records.patient_ids[patient]],
            values,
            list(values),
            signing=service.Signing(("Pat Zero",), "hash"),
            now=utcnow(),
            complete=complete,
        )


# --- the builder ---------------------------------------------------------------------------


def test_saving_publishes_a_version_only_when_the_questions_change(
    db: sessionmaker[Session], bay: Made
) -> None:
    template_id = publish(db, bay)
    with transaction(db) as session:
        same = service.save_template(
            session, bay.admin, draft(), template_id=template_id, base_version=1
        )
        assert same.current_version == 1  # saved unchanged: nothing new published
        changed = [*INTAKE[:-1], {"id": "allergy", "kind": "text", "label": "Any allergies?"}]
        again = service.save_template(
            session, bay.admin, draft(questions=changed), template_id=template_id, base_version=1
        )
        assert again.current_version == 2
        first = service.version_of(session, bay.clinic.id, template_id, 1)
        assert first is not None
        assert [q["id"] for q in first.questions] == [q["id"] for q in INTAKE]


def test_an_edit_of_an_older_version_is_refused_not_overwriting(
    db: sessionmaker[Session], bay: Made
) -> None:
    template_id = publish(db, bay)
    with transaction(db) as session:
        service.save_template(
            session, bay.admin, draft(title="Intake v2"), template_id=template_id, base_version=1
        )
    with pytest.raises(StaleVersion, match="newer version"), transaction(db) as session:
        service.save_template(
            session, bay.admin, draft(title="Mine"), template_id=template_id, base_version=1
        )


@pytest.mark.parametrize(
    ("questions", "field", "words"),
    [
        ([], "questions", "at least one question"),
        ([{"id": "a", "kind": "choice", "label": "Pick", "choices": ["Only"]}], "q1", "two"),
        ([{"id": "a", "kind": "text", "label": "  "}], "q1", "empty"),
        ([{"id": "a", "kind": "colour", "label": "Pick"}], "q1", "what kind"),
        (
            [{"id": "a", "kind": "text", "label": "A"}, {"id": "a", "kind": "text", "label": "B"}],
            "questions",
            "share one id",
        ),
    ],
)
def test_a_form_that_cannot_work_is_refused_in_words(
    db: sessionmaker[Session], bay: Made, questions: list[dict[str, object]], field: str, words: str
) -> None:
    with pytest.raises(FormInvalid, match=words) as refused, transaction(db) as session:
        service.save_template(session, bay.admin, draft(questions=questions))
    assert refused.value.field == field


def test_only_admins_build_forms(db: sessionmaker[Session], bay: Made) -> None:
    with pytest.raises(Forbidden), transaction(db) as session:
        service.save_template(session, bay.desk, draft())


# --- sending forms with bookings ----------------------------------------------------------------


def test_a_first_booking_sends_intake_once_and_a_service_form_with_each_booking_of_its_type(
    db: sessionmaker[Session], bay: Made
) -> None:
    publish(db, bay)
    publish(db, bay, title="Before your video call", kind=FormKind.SERVICE, types=[bay.video_type])
    first = book(db, bay, kind=bay.plain_type)
    assert [(r.title, r.appointment_id) for r in requests_of(db, bay)] == [
        ("Health questionnaire", None)
    ]
    video = book(db, bay, kind=bay.video_type, days=4)
    book(db, bay, kind=bay.video_type, days=5)
    sent = requests_of(db, bay)
    assert [r.title for r in sent].count("Health questionnaire") == 1  # once per patient
    service_forms = [r for r in sent if r.kind is FormKind.SERVICE]
    assert len(service_forms) == 2
    assert video in {r.appointment_id for r in service_forms}
    assert first not in {r.appointment_id for r in service_forms}
    assert all(r.status is FormStatus.PENDING for r in sent)


def test_a_clinic_without_forms_sends_none_and_an_unused_form_is_not_sent(
    db: sessionmaker[Session], bay: Made
) -> None:
    book(db, bay)
    assert requests_of(db, bay) == []
    template_id = publish(db, bay)
    with transaction(db) as session:
        service.save_template(
            session,
            bay.admin,
            service.Draft("Health questionnaire", FormKind.INTAKE, [], False, INTAKE),
            template_id=template_id,
        )
    book(db, bay, days=4)
    assert requests_of(db, bay) == []


def test_a_video_booking_gets_a_room_from_the_clinics_address(
    db: sessionmaker[Session], bay: Made
) -> None:
    plain = book(db, bay, kind=bay.plain_type)
    default = book(db, bay, kind=bay.video_type, days=4)
    with transaction(db) as session:
        session.add(
            PracticeProfile(
                clinic_id=bay.clinic.id,
                slug="bay-physio",
                display_name="Bay Physio",
                video_room_template="https://video.bay.example/rooms/{room}?lang=en",
            )
        )
    own = book(db, bay, kind=bay.video_type, days=5)
    with db() as session:
        rooms = {i: session.get(Appointment, i).video_url for i in (plain, default, own)}  # type: ignore[union-attr]
    assert rooms[plain] is None
    assert (rooms[default] or "").startswith("https://meet.jit.si/")
    assert (rooms[own] or "").startswith("https://video.bay.example/rooms/bay-physio-")
    assert (rooms[own] or "").endswith("?lang=en")
    assert rooms[default] != rooms[own]


# --- answering ---------------------------------------------------------------------------------


def test_answers_are_kept_page_by_page_and_a_form_begun_keeps_its_version(
    db: sessionmaker[Session], bay: Made
) -> None:
    template_id = publish(db, bay)
    book(db, bay)
    book(db, bay, patient=1, days=4)
    [begun] = requests_of(db, bay)
    [fresh] = requests_of(db, bay, patient=1)
    saved = answer(db, bay, begun.id, {"reason": ["Sore knee"], "pain": ["6"]})
    assert saved.request.status is FormStatus.IN_PROGRESS
    assert saved.request.version_number == 1

    v2 = [{"id": "new", "kind": "text", "label": "A question only version 2 asks"}, *INTAKE]
    with transaction(db) as session:
        service.save_template(
            session, bay.admin, draft(questions=v2), template_id=template_id, base_version=1
        )
    with db() as session:
        kept = service.open_form(session, session.get(FormRequest, begun.id))  # type: ignore[arg-type]
        newest = service.open_form(session, session.get(FormRequest, fresh.id))  # type: ignore[arg-type]
    assert kept.version.number == 1
    assert [q.id for q in kept.form.questions] == [q["id"] for q in INTAKE]
    assert kept.answers == {"reason": "Sore knee", "pain": 6}
    assert newest.version.number == 2
    assert newest.form.questions[0].label == "A question only version 2 asks"

    # The rest, then sent: version 1 still, with the signature stamped.
    done = answer(
        db,
        bay,
        begun.id,
        {"smoker": ["No"], "sign": ["pat  zero"]},
        complete=True,
    )
    assert done.request.status is FormStatus.COMPLETE
    assert done.request.version_number == 1
    assert done.answers["sign"]["name"] == "pat zero"
    assert done.answers["sign"]["address_hash"] == "hash"


def test_refused_answers_are_said_together_and_nothing_of_the_page_is_saved(
    db: sessionmaker[Session], bay: Made
) -> None:
    publish(db, bay)
    book(db, bay)
    [request] = requests_of(db, bay)
    with pytest.raises(service.PageRefused) as refused:
        answer(
            db,
            bay,
            request.id,
            {"reason": ["Fine"], "pain": ["11"], "since": ["31/02/2024"], "sign": ["Someone"]},
        )
    assert set(refused.value.refused) == {"pain", "since", "sign"}
    assert "0 to 10" in refused.value.refused["pain"]
    assert "no such day" in refused.value.refused["since"]
    assert "Pat Zero" in refused.value.refused["sign"]
    with db() as session:
        assert session.scalar(select(func.count()).select_from(FormResponse)) == 0
        row = session.get(FormRequest, request.id)
        assert row is not None
        assert row.status is FormStatus.PENDING
    with pytest.raises(service.PageRefused) as unfinished:
        answer(db, bay, request.id, {"reason": ["Fine"]}, complete=True)
    assert set(unfinished.value.refused) == {"pain", "smoker", "sign"}  # "since" is optional


def test_a_sent_form_cannot_be_changed_and_a_withdrawn_one_cannot_be_opened(
    db: sessionmaker[Session], bay: Made
) -> None:
    publish(db, bay)
    publish(db, bay, title="Consent to treatment", kind=FormKind.CONSENT,
            questions=[INTAKE[-1]])  # fmt: skip
    book(db, bay)
    consent, intake = requests_of(db, bay)
    answer(db, bay, consent.id, {"sign": ["Pat Zero"]}, complete=True)
    with pytest.raises(Exception, match="can no longer be changed"):
        answer(db, bay, consent.id, {"sign": ["Pat Zero"]}, complete=True)
    with transaction(db) as session:
        with pytest.raises(Exception, match="stays on the patient's file"):
            service.withdraw(session, bay.desk, consent.id)
        service.withdraw(session, bay.desk, intake.id)
    with pytest.raises(NotFound, match="withdrawn"):
        answer(db, bay, intake.id, {"reason": ["x"]})


# --- what another clinic sees ----------------------------------------------------------------


def desk_headers(factory: Factory, made: Made) -> dict[str, str]:
    return {
        PROTOCOL_HEADER: str(PROTOCOL_VERSION),
        **factory.staff_headers(made.clinic.staff[Role.FRONT_DESK]),
    }


def test_another_clinic_never_sees_a_form_or_its_answers(
    client: TestClient, db: sessionmaker[Session], factory: Factory, bay: Made
) -> None:
    cove = make(factory, db, "cove")
    publish(db, bay, title="Consent to treatment", kind=FormKind.CONSENT, questions=[INTAKE[-1]])
    book(db, bay)
    [consent] = requests_of(db, bay)
    answer(db, bay, consent.id, {"sign": ["Pat Zero"]}, complete=True)

    own = client.get(f"{API_PREFIX}/form-requests/{consent.id}", headers=desk_headers(factory, bay))
    assert own.status_code == 200, own.text
    body = own.json()
    assert body["request"]["status"] == "complete"
    assert body["answers"][0]["answer"].startswith("Signed “Pat Zero”")
    with db() as session:
        assert session.scalar(
            select(AuditEvent).where(
                AuditEvent.entity == "form_requests", AuditEvent.entity_id == consent.id
            )
        )

    other = client.get(
        f"{API_PREFIX}/form-requests/{consent.id}", headers=desk_headers(factory, cove)
    )
    assert other.status_code == 404
    assert "Pat Zero" not in other.text
    with pytest.raises(NotFound), transaction(db) as session:
        service.withdraw(session, cove.desk, consent.id)
    with pytest.raises(NotFound), transaction(db) as session:
        service.find_request(
            session, cove.clinic.id, consent.id, [bay.clinic.records.patient_ids[0]]
        )

    # The sync feed: Bay's desks get the form without its answers; Cove's get nothing.
    bay_pull = client.get(f"{API_PREFIX}/sync/changes", headers=desk_headers(factory, bay)).json()
    cove_pull = client.get(f"{API_PREFIX}/sync/changes", headers=desk_headers(factory, cove)).json()
    [synced] = bay_pull["form_requests"]
    assert synced["id"] == str(consent.id)
    assert synced["status"] == "complete"
    assert "Pat Zero" not in str(bay_pull)
    assert cove_pull["form_requests"] == []
    assert str(consent.id) not in str(cove_pull)


def test_the_desk_api_publishes_versions_and_refuses_in_words(
    client: TestClient, db: sessionmaker[Session], factory: Factory, bay: Made
) -> None:
    admin = {
        PROTOCOL_HEADER: str(PROTOCOL_VERSION),
        **factory.staff_headers(bay.clinic.staff[Role.CLINIC_ADMIN]),
    }
    body = {"title": "Intake", "kind": "intake", "questions": INTAKE}
    made = client.post(f"{API_PREFIX}/forms", json=body, headers=admin)
    assert made.status_code == 201, made.text
    form_id = made.json()["id"]
    assert made.json()["version"] == 1
    same = client.put(
        f"{API_PREFIX}/forms/{form_id}", json={**body, "base_version": 1}, headers=admin
    )
    assert same.json()["version"] == 1
    bad = client.put(
        f"{API_PREFIX}/forms/{form_id}",
        json={**body, "questions": [{"id": "x", "kind": "scale", "label": ""}], "base_version": 1},
        headers=admin,
    )
    assert bad.status_code == 422
    assert "Question 1" in bad.json()["message"]
    desk = client.post(f"{API_PREFIX}/forms", json=body, headers=desk_headers(factory, bay))
    assert desk.status_code == 403
    [listed] = client.get(f"{API_PREFIX}/forms", headers=admin).json()
    assert (listed["title"], listed["version"], len(listed["questions"])) == ("Intake", 1, 5)

    room = client.put(
        f"{API_PREFIX}/forms-settings",
        json={"video_room_template": "http://insecure/{room}", "default_video_room_template": ""},
        headers=admin,
    )
    assert room.status_code == 422
    assert "https://" in room.json()["message"]
