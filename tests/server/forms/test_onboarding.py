"""A first booking from the web, on both databases: confirming a widget request for a new
patient makes their portal account and e-mails them their forms and their video room
(an invitation that signs them in); nothing is made when there is nothing to fill in
or join, or when the address is not theirs alone. And the reminder two days later."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from common.appointments import AppointmentSource
from common.forms import FormKind
from common.portal import Relation
from common.roles import Role
from server.booking_requests.models import BookingRequest, BookingRequestStatus
from server.db import transaction, utcnow
from server.forms import reminders, service
from server.forms.models import FormRequest
from server.messaging.models import Delivery
from server.patients.models import Patient
from server.portal import accounts
from server.portal.models import PortalAccount, PortalMember
from server.scheduling import service as scheduling
from server.scheduling.models import Appointment, AppointmentType
from sync.protocol import API_PREFIX, PROTOCOL_HEADER, PROTOCOL_VERSION
from tests.server.conftest import Factory
from tests.server.portal import portalmaker
from tests.server.web import linkmaker
from tests.server.web.conftest import submit
from tests.support.diary import days_ahead, local

ADDRESS = "robin.ash@example.org"
SLOT = re.compile(r'name="slot" value="([^"]+)"')
NEW_PATIENT = {
    "first_name": "Robin",
    "last_name": "Ash",
    "date_of_birth": "1980-05-17",
    "phone": "+447400912345",
    "email": ADDRESS,
}


class Setting:
    def __init__(self, factory: Factory, db: sessionmaker[Session]) -> None:
        self.clinic = factory.clinic("north", roles=(Role.CLINIC_ADMIN, Role.FRONT_DESK))
        self.db = db
        with transaction(db) as session:
            self.at = linkmaker.practice(session, self.clinic.id, name="North Physio")
            video = AppointmentType(
                clinic_id=self.clinic.id,
                name="Video consultation",
                duration_minutes=30,
                video=True,
                requires_confirmation=True,
            )
            session.add(video)
            session.flush()
            self.video_type = video.id
        self.desk = {
            PROTOCOL_HEADER: str(PROTOCOL_VERSION),
            **factory.staff_headers(self.clinic.staff[Role.FRONT_DESK]),
        }

    def intake(self) -> None:
        with transaction(self.db) as session:
            service.save_template(
                session,
                portalmaker.staff_ctx(self.clinic.id),
                service.Draft(
                    "Health questionnaire",
                    FormKind.INTAKE,
                    [],
                    True,
                    [{"id": "reason", "kind": "text", "label": "What brings you to us?"}],
                ),
            )

    def request(self, *, kind: uuid.UUID | None = None, email: str = ADDRESS) -> uuid.UUID:
        """A widget request from someone not on file, as the widget writes it."""
        start = local(days_ahead(5), 11)
        with transaction(self.db) as session:
            row = BookingRequest(
                clinic_id=self.clinic.id,
                provider_id=self.at.provider_ids[0],
                appointment_type_id=kind or self.at.type_id,
                starts_at=start,
                ends_at=start + timedelta(minutes=30),
                status=BookingRequestStatus.PENDING,
                first_name="Robin",
                last_name="Ash",
                email=email,
                phone="+447400912345",
            )
            session.add(row)
            session.flush()
            return row.id

    def confirm(self, client: TestClient, request_id: uuid.UUID, **new: str) -> dict:
        answer = client.post(
            f"{API_PREFIX}/booking-requests/{request_id}/confirm",
            json={"new_patient": {**NEW_PATIENT, **new}},
            headers=self.desk,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def north(factory: Factory, db: sessionmaker[Session]) -> Setting:
    return Setting(factory, db)


def emails_to(db: sessionmaker[Session], address: str) -> list[Delivery]:
    with db() as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.created_at)).all()
    return [d for d in rows if (d.to_address or "").lower() == address]


def test_a_first_web_booking_makes_the_account_and_emails_the_forms_and_the_room(
    client: TestClient, web: TestClient, db: sessionmaker[Session], north: Setting
) -> None:
    north.intake()
    confirmed = north.confirm(client, north.request(kind=north.video_type))
    room = confirmed["appointment"]["video_url"]
    assert room.startswith("https://meet.jit.si/north-")

    with db() as session:
        account = session.scalar(select(PortalAccount).where(PortalAccount.email == ADDRESS))
        assert account is not None
        assert account.password_hash is None
        # Linked only once the patient accepts: the file must still hold the address.
        assert session.scalar(select(func.count()).select_from(PortalMember)) == 0
        [form] = session.scalars(select(FormRequest)).all()
        patient = session.get(Patient, form.patient_id)
        assert patient is not None
        assert patient.first_name == "Robin"
    welcome = next(d for d in emails_to(db, ADDRESS) if "your forms" in (d.subject or ""))
    assert "- Health questionnaire" in welcome.text
    assert room in welcome.text
    token = portalmaker.INVITE_LINK.search(welcome.text)
    assert token is not None

    # The link signs them in, and lets them choose a first password.
    started = portalmaker.post(
        web, f"/portal/invite/{token.group(1)}", f"/portal/invite/{token.group(1)}"
    )
    assert started.status_code == 303
    page = web.get(f"/portal/invite/{token.group(1)}/account")
    assert "Choose a password" in page.text
    done = portalmaker.post(
        web,
        f"/portal/invite/{token.group(1)}/account",
        f"/portal/invite/{token.group(1)}/account",
        password="harbour violet lantern 9",
    )
    assert done.status_code == 303
    assert done.headers["location"].startswith("/portal/north/home")
    with db() as session:
        again = session.get(PortalAccount, account.id)
        assert again is not None
        assert again.password_hash is not None
        assert session.scalar(select(func.count()).select_from(PortalAccount)) == 1
        member = session.scalar(select(PortalMember).where(PortalMember.account_id == account.id))
        assert member is not None
        assert (member.patient_id, member.relation) == (patient.id, Relation.SELF)


def test_a_mistyped_address_corrected_at_the_desk_opens_nothing_and_the_patient_can_be_invited(
    client: TestClient, web: TestClient, db: sessionmaker[Session], north: Setting
) -> None:
    """Reception registered a widget applicant with an address that is someone else's,
    then corrected it: the welcome e-mail in the stranger's mailbox opens nothing, a
    sign-in there finds no record, and the real patient can be invited."""
    north.intake()
    north.confirm(client, north.request(), email="stranger@example.org")
    welcome = next(d for d in emails_to(db, "stranger@example.org") if "your forms" in d.subject)
    token = portalmaker.INVITE_LINK.search(welcome.text)
    assert token is not None
    with transaction(db) as session:
        patient = session.scalar(select(Patient).where(Patient.first_name == "Robin"))
        assert patient is not None
        patient.email = ADDRESS
        patient_id = patient.id
    opened = web.get(f"/portal/invite/{token.group(1)}")
    assert "Set up my account" not in opened.text  # the invitation no longer works
    with db() as session:
        assert session.scalar(select(func.count()).select_from(PortalMember)) == 0
    # The stranger's account (made for the welcome) holds no record here.
    with transaction(db) as session:
        stranger = session.scalar(
            select(PortalAccount).where(PortalAccount.email == "stranger@example.org")
        )
        assert stranger is not None
        assert accounts.members_at(session, stranger.id, north.clinic.id) == []
    # And reception invites the real patient at the corrected address.
    real = portalmaker.send_invite(db, north.clinic.id, patient_id)
    portalmaker.accept_invite(web, real)
    with db() as session:
        member = session.scalar(select(PortalMember))
        assert member is not None
        assert member.patient_id == patient_id


def test_a_second_web_booking_does_not_send_a_second_welcome(
    client: TestClient, db: sessionmaker[Session], north: Setting
) -> None:
    north.intake()
    confirmed = north.confirm(client, north.request())
    patient_id = confirmed["appointment"]["patient_id"]
    start = local(days_ahead(8), 11)
    with transaction(db) as session:
        row = BookingRequest(
            clinic_id=north.clinic.id,
            provider_id=north.at.provider_ids[0],
            patient_id=uuid.UUID(patient_id),
            appointment_type_id=north.at.type_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            status=BookingRequestStatus.PENDING,
        )
        session.add(row)
        session.flush()
        second = row.id
    answer = client.post(f"{API_PREFIX}/booking-requests/{second}/confirm", headers=north.desk)
    assert answer.status_code == 200, answer.text
    welcomes = [d for d in emails_to(db, ADDRESS) if "your forms" in (d.subject or "")]
    assert len(welcomes) == 1


def test_nothing_to_fill_in_or_join_makes_no_account(
    client: TestClient, db: sessionmaker[Session], north: Setting
) -> None:
    north.confirm(client, north.request())
    with db() as session:
        assert session.scalar(select(func.count()).select_from(PortalAccount)) == 0
    assert [d.subject for d in emails_to(db, ADDRESS) if "your forms" in (d.subject or "")] == []


def test_an_address_on_another_patients_file_gets_no_account_but_the_forms_wait(
    client: TestClient, db: sessionmaker[Session], north: Setting
) -> None:
    north.intake()
    with transaction(db) as session:
        rosa = session.get(Patient, north.at.patient_id)
        assert rosa is not None
        rosa.email = ADDRESS  # a family's shared address
    north.confirm(client, north.request())
    with db() as session:
        assert session.scalar(select(func.count()).select_from(PortalAccount)) == 0
        assert session.scalar(select(func.count()).select_from(FormRequest)) == 1


def test_a_patient_already_on_the_portal_is_not_welcomed_again(
    client: TestClient, web: TestClient, db: sessionmaker[Session], north: Setting
) -> None:
    north.intake()
    portalmaker.signed_in(web, db, north.clinic.id, north.at.patient_id)
    start = local(days_ahead(6), 11)
    with transaction(db) as session:
        row = BookingRequest(
            clinic_id=north.clinic.id,
            provider_id=north.at.provider_ids[0],
            patient_id=north.at.patient_id,
            appointment_type_id=north.at.type_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            status=BookingRequestStatus.PENDING,
        )
        session.add(row)
        session.flush()
        request_id = row.id
    answer = client.post(f"{API_PREFIX}/booking-requests/{request_id}/confirm", headers=north.desk)
    assert answer.status_code == 200, answer.text
    assert [d for d in emails_to(db, "rosa@example.org") if "your forms" in (d.subject or "")] == []
    with db() as session:
        assert session.scalar(select(func.count()).select_from(FormRequest)) == 1


def test_forms_left_two_days_get_one_reminder_with_a_fresh_link_before_the_account_is_opened(
    client: TestClient, web: TestClient, db: sessionmaker[Session], north: Setting
) -> None:
    north.intake()
    north.confirm(client, north.request())
    welcome = next(d for d in emails_to(db, ADDRESS) if "your forms" in (d.subject or ""))
    first = portalmaker.INVITE_LINK.search(welcome.text)
    assert first is not None
    with transaction(db) as session:
        assert reminders.send_due(session, utcnow(), "https://clinic.example") == 0  # too soon
    later = utcnow() + timedelta(days=2, minutes=1)
    with transaction(db) as session:
        assert reminders.send_due(session, later, "https://clinic.example") == 1
    with transaction(db) as session:
        assert reminders.send_due(session, later + timedelta(days=1), "https://x") == 0
    [reminder] = [d for d in emails_to(db, ADDRESS) if d.subject == "Your forms for North Clinic"]
    assert "- Health questionnaire" in reminder.text
    fresh = portalmaker.INVITE_LINK.search(reminder.text)
    assert fresh is not None
    assert fresh.group(1) != first.group(1)
    assert "Set up my account" not in web.get(f"/portal/invite/{first.group(1)}").text
    portalmaker.accept_invite(web, fresh.group(1))  # the new one works


def test_a_patient_on_the_portal_is_reminded_where_to_find_the_forms(
    client: TestClient, web: TestClient, db: sessionmaker[Session], north: Setting
) -> None:
    north.intake()
    portalmaker.signed_in(web, db, north.clinic.id, north.at.patient_id)
    with transaction(db) as session:
        start = local(days_ahead(5), 11)
        scheduling.book(
            session,
            portalmaker.staff_ctx(north.clinic.id),
            appointment_id=uuid.uuid4(),
            provider_id=north.at.provider_ids[0],
            patient_id=north.at.patient_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            source=AppointmentSource.DESK,
        )
    with transaction(db) as session:
        later = utcnow() + timedelta(days=2, minutes=1)
        assert reminders.send_due(session, later, "https://clinic.example") == 1
    [reminder] = [
        d for d in emails_to(db, "rosa@example.org") if d.subject == "Your forms for North Clinic"
    ]
    assert "- Health questionnaire" in reminder.text
    assert "https://clinic.example/portal/north/forms" in reminder.text


def test_a_patient_not_on_the_portal_is_left_to_the_desk(
    db: sessionmaker[Session], north: Setting
) -> None:
    north.intake()
    with transaction(db) as session:
        start = local(days_ahead(5), 11)
        scheduling.book(
            session,
            portalmaker.staff_ctx(north.clinic.id),
            appointment_id=uuid.uuid4(),
            provider_id=north.at.provider_ids[0],
            patient_id=north.at.patient_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            source=AppointmentSource.DESK,
        )
    later = utcnow() + timedelta(days=3)
    with transaction(db) as session:
        assert reminders.send_due(session, later, "https://clinic.example") == 0
        [form] = session.scalars(select(FormRequest)).all()
        assert form.reminded_at is not None  # not scanned again every hour
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Appointment)) == 1


def test_a_first_booking_through_a_link_welcomes_the_patient_to_their_forms(
    web: TestClient, db: sessionmaker[Session], north: Setting
) -> None:
    north.intake()
    with transaction(db) as session:
        token, _link = linkmaker.booking_link(session, north.at)
    times = web.get(f"/l/{token}/times")
    slot = SLOT.search(times.text)
    assert slot is not None, "no free times offered"
    done = submit(
        web, f"/l/{token}/review?slot={slot.group(1)}", action=f"/l/{token}/confirm",
        slot=slot.group(1),
    )  # fmt: skip
    assert done.status_code == 303
    with db() as session:
        [form] = session.scalars(select(FormRequest)).all()
        assert form.patient_id == north.at.patient_id
    [welcome] = [d for d in emails_to(db, "rosa@example.org") if "your forms" in (d.subject or "")]
    assert "- Health questionnaire" in welcome.text
    assert portalmaker.INVITE_LINK.search(welcome.text)
