"""The portal walked whole in real Chromium on a phone, its e-mails through a real SMTP
server (aiosmtpd), against a served demo clinic and a second clinic on the same server:

- reception fixes an address two patients share, then sends everyone their invitation;
  the patient follows it from the e-mail, later signs in by an e-mailed link, books,
  cancels in time, is refused (with the clinic's phone) inside the cut-off, reschedules,
  and books for a child added to the account;
- the same person, a patient of a second clinic too, signs the first clinic's sharing
  consent: the first clinic's desk now sees the portable profile, the second's only the
  name.
"""

from __future__ import annotations

import email
import re
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import BrowserContext, Page
from sqlalchemy import select, update

from common.appointments import AppointmentSource, AppointmentStatus
from common.messaging import Channel
from common.roles import Role
from server.clinics.models import Clinic
from server.clinics.service import create_clinic
from server.db import transaction, utcnow
from server.demo import ADMIN, DEMO_SLUG
from server.messaging.calendar_attachments import confirmation_attachments
from server.messaging.dispatcher import Dispatcher
from server.messaging.providers.smtp import SmtpEmail
from server.patients.models import Patient
from server.portal.models import PortalMember
from server.scheduling.models import Appointment, AppointmentType, Provider
from server.staff.service import create_staff_user
from server.web.models import PracticeProfile
from sync.client import ServerClient
from tests.server.portal.test_appointments_in_chromium import book
from tests.support.browser import check_accessible
from tests.support.live_server import DemoTemplates, LiveServer

pytestmark = pytest.mark.browser

FAMILY = "family.lind@example.org"
NORA = "nora.lind@example.org"
CLINIC_C_STAFF = ("admin@cedar.example", "cedar-admin-password-1")


class Inbox:
    """An aiosmtpd handler keeping what it is sent."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        self.received.append(
            email.message_from_bytes(envelope.content, policy=default_policy)  # type: ignore[arg-type]
        )
        return "250 OK"

    def link_to(self, address: str, pattern: str) -> str:
        """The newest link matching ``pattern`` in an e-mail to ``address``."""
        for message in reversed(self.received):
            if message["To"] == address:
                text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
                found = re.search(pattern, text)
                if found:
                    return found.group(0)
        raise AssertionError(f"no e-mail to {address} with {pattern}")


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def server(
    tmp_path_factory: pytest.TempPathFactory, demo_templates: DemoTemplates
) -> Iterator[LiveServer]:
    path: Path = tmp_path_factory.mktemp("portal") / "server.sqlite3"
    demo_templates.copy_to(path)
    served = LiveServer(path, seed=False)
    yield served
    served.close()


def dispatch(server: LiveServer, port: int, expected: int) -> int:
    """What the server's dispatcher does: send the e-mails waiting, over SMTP, until
    ``expected`` have gone (a sign-in link is written just after its page is answered)."""
    mail = SmtpEmail("127.0.0.1", port, from_address="hello@demo.example", starttls=False)
    dispatcher = Dispatcher(
        server.app.state.database,
        {Channel.EMAIL: mail, Channel.SMS: None},
        attachments=confirmation_attachments,
    )
    sent, deadline = 0, time.monotonic() + 20
    while sent < expected and time.monotonic() < deadline:
        sent += dispatcher.drain().sent
        if sent < expected:
            time.sleep(0.1)
    return sent


def desk(server: LiveServer, clinic: str, login: tuple[str, str]) -> ServerClient:
    client = ServerClient(server.url)
    client.device_token = client.enroll(clinic, *login, "Reception").device_token
    client.session_token = client.sign_in(*login).session_token
    return client


@pytest.fixture
def lind(server: LiveServer) -> tuple[uuid.UUID, uuid.UUID]:
    """Nora Lind and her husband share one address on file; nobody else in the demo has
    an address (so "everyone" is the two of them)."""
    with transaction(server.sessionmaker) as session:
        clinic = session.scalar(select(Clinic).where(Clinic.slug == DEMO_SLUG))
        assert clinic is not None
        session.execute(update(Patient).values(email=None))
        nora, tom = session.scalars(
            select(Patient).where(Patient.clinic_id == clinic.id).order_by(Patient.id).limit(2)
        ).all()
        nora.first_name, nora.last_name, nora.email = "Nora", "Lind", FAMILY
        tom.first_name, tom.last_name, tom.email = "Tom", "Lind", FAMILY
        return nora.id, tom.id


def invite_everyone_after_fixing_the_shared_address(
    server: LiveServer, inbox: Inbox, port: int, nora: uuid.UUID, tom: uuid.UUID
) -> str:
    admin = desk(server, DEMO_SLUG, (ADMIN.email, ADMIN.password))
    report = admin.portal_invite_candidates()
    assert report.count == 0
    [shared] = report.shared
    assert shared.email == FAMILY
    assert set(shared.patient_ids) == {nora, tom}
    # Reception gives Nora her own address on her file (the desk's Edit details).
    with transaction(server.sessionmaker) as session:
        patient = session.get(Patient, nora)
        assert patient is not None
        patient.email = NORA
    report = admin.portal_invite_candidates()
    assert report.count == 2
    assert report.shared == []
    assert admin.invite_everyone_to_portal().sent == 2
    assert dispatch(server, port, 2) == 2
    assert {m["To"] for m in inbox.received} == {NORA, FAMILY}
    return inbox.link_to(NORA, r"https?://\S+/portal/invite/[A-Za-z0-9_-]+")


def local(url: str, server: LiveServer) -> str:
    """A link from an e-mail, on this test's server (links carry the public address)."""
    return server.url + "/portal/" + url.split("/portal/", 1)[1]


def open_portal_by_invitation(page: Page, server: LiveServer, link: str) -> str:
    page.goto(local(link, server))
    check_accessible(page)
    page.get_by_role("button", name="Set up my account").click()
    check_accessible(page)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url("**/home*")
    page.get_by_role("heading", name="Hello, Nora").wait_for()
    check_accessible(page)
    return page.url.split("/home")[0]


def sign_in_by_email_link(
    page: Page, server: LiveServer, base: str, inbox: Inbox, port: int
) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in to your patient portal").wait_for()
    check_accessible(page)
    page.locator("#f-email").first.fill(NORA)
    page.get_by_role("button", name="E-mail me a sign-in link").click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()
    assert dispatch(server, port, 1) == 1
    link = inbox.link_to(NORA, r"https?://\S+/portal/link/[A-Za-z0-9_-]+")
    page.goto(local(link, server))
    check_accessible(page)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/home")


def nora_appointments(server: LiveServer, patient_id: uuid.UUID) -> list[Appointment]:
    with server.sessionmaker() as session:
        rows = list(
            session.scalars(
                select(Appointment)
                .where(
                    Appointment.patient_id == patient_id,
                    Appointment.source == AppointmentSource.PORTAL,
                )
                .order_by(Appointment.created_at)
            )
        )
        for row in rows:
            session.expunge(row)
        return rows


def appointment_soon(server: LiveServer, patient_id: uuid.UUID) -> uuid.UUID:
    """An appointment the desk booked for three hours from now: inside the cut-off."""
    with transaction(server.sessionmaker) as session:
        patient = session.get(Patient, patient_id)
        assert patient is not None
        provider = session.scalars(
            select(Provider).where(Provider.clinic_id == patient.clinic_id).order_by(Provider.id)
        ).first()
        kind = session.scalars(
            select(AppointmentType).where(AppointmentType.clinic_id == patient.clinic_id)
        ).first()
        assert provider is not None
        assert kind is not None
        starts = (utcnow() + timedelta(hours=3)).replace(second=0, microsecond=0)
        # Clear the provider's diary there so the desk's booking fits.
        session.execute(
            update(Appointment)
            .where(
                Appointment.provider_id == provider.id,
                Appointment.starts_at < starts + timedelta(minutes=30),
                Appointment.ends_at > starts,
            )
            .values(status=AppointmentStatus.CANCELLED)
        )
        row = Appointment(
            clinic_id=patient.clinic_id,
            provider_id=provider.id,
            patient_id=patient_id,
            appointment_type_id=kind.id,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=30),
            status=AppointmentStatus.BOOKED,
        )
        session.add(row)
        session.flush()
        return row.id


def test_invited_signed_in_by_email_link_books_cancels_reschedules_and_books_for_a_child(
    phone: BrowserContext,
    server: LiveServer,
    smtp: tuple[Inbox, int],
    lind: tuple[uuid.UUID, uuid.UUID],
) -> None:
    inbox, port = smtp
    nora, tom = lind
    link = invite_everyone_after_fixing_the_shared_address(server, inbox, port, nora, tom)
    page = phone.new_page()
    base = open_portal_by_invitation(page, server, link)
    sign_in_by_email_link(page, server, base, inbox, port)

    # Book, then cancel: days ahead, well before the cut-off.
    book(page, base)
    [first] = nora_appointments(server, nora)
    assert first.status is AppointmentStatus.CONFIRMED
    page.goto(f"{base}/appointments/{first.id}")
    page.get_by_role("link", name="Cancel appointment").click()
    page.get_by_role("button", name="Yes, cancel this appointment").click()
    page.get_by_text("Your appointment has been cancelled").wait_for()
    assert nora_appointments(server, nora)[0].status is AppointmentStatus.CANCELLED

    # Inside the cut-off: no button, and the reason with the clinic's phone.
    soon = appointment_soon(server, nora)
    page.goto(f"{base}/appointments/{soon}")
    page.get_by_role("heading", name="Your appointment").wait_for()
    assert page.get_by_role("link", name="Cancel appointment").count() == 0
    assert "can no longer be cancelled online" in page.content()
    with server.sessionmaker() as session:
        profile = session.scalar(select(PracticeProfile).where(PracticeProfile.slug == DEMO_SLUG))
        assert profile is not None
        phone_number = profile.phone
    assert phone_number
    assert phone_number in page.content()
    check_accessible(page)

    # Book again and move it to another time.
    book(page, base)
    second = nora_appointments(server, nora)[-1]
    page.goto(f"{base}/appointments/{second.id}")
    page.get_by_role("link", name="Reschedule").click()
    page.get_by_role("heading", name="Choose a new time").wait_for()
    check_accessible(page)
    offered = page.locator("input[name=slot]")
    offered.nth(offered.count() - 1).check()
    page.get_by_role("button", name="Move my appointment to this time").click()
    page.get_by_role("heading", name="Your appointment").wait_for()
    moved = next(a for a in nora_appointments(server, nora) if a.id == second.id)
    assert moved.starts_at != second.starts_at
    assert moved.status is not AppointmentStatus.CANCELLED

    # A child added to the account, and booked for.
    page.goto(f"{base}/family")
    check_accessible(page)
    page.get_by_role("link", name="Add a family member").click()
    page.locator("#f-first_name").fill("Ivy")
    page.locator("#f-last_name").fill("Lind")
    page.locator("#f-date_of_birth").fill("03/04/2017")
    check_accessible(page)
    page.get_by_role("button", name="Add to my account").click()
    page.get_by_text("Ivy Lind").first.wait_for()
    with server.sessionmaker() as session:
        ivy = session.scalar(
            select(Patient).where(Patient.first_name == "Ivy", Patient.last_name == "Lind")
        )
        assert ivy is not None
        member = session.scalar(select(PortalMember).where(PortalMember.patient_id == ivy.id))
        assert member is not None
        ivy_id = ivy.id
    book(page, base, person="Ivy Lind")
    [for_ivy] = nora_appointments(server, ivy_id)
    assert for_ivy.status is AppointmentStatus.CONFIRMED


def clinic_c_with_nora(server: LiveServer, nora_email: str) -> tuple[uuid.UUID, uuid.UUID]:
    """Cedar Dental, on the same server, where Nora is a patient too (same address)."""
    with transaction(server.sessionmaker) as session:
        clinic = create_clinic(
            session, slug="cedar", name="Cedar Dental", time_zone="Europe/London"
        )
        create_staff_user(
            session,
            clinic,
            email=CLINIC_C_STAFF[0],
            display_name="Cedar Admin",
            password=CLINIC_C_STAFF[1],
            role=Role.CLINIC_ADMIN,
        )
        session.add(
            PracticeProfile(
                clinic_id=clinic.id, slug="cedar", display_name="Cedar Dental", published=True
            )
        )
        patient = Patient(
            clinic_id=clinic.id, first_name="Nora", last_name="Lind", email=nora_email
        )
        session.add(patient)
        session.flush()
        return clinic.id, patient.id


def test_sharing_with_one_clinic_shows_the_profile_there_and_only_the_name_at_another(
    phone: BrowserContext,
    server: LiveServer,
    smtp: tuple[Inbox, int],
    lind: tuple[uuid.UUID, uuid.UUID],
) -> None:
    inbox, port = smtp
    nora, tom = lind
    link = invite_everyone_after_fixing_the_shared_address(server, inbox, port, nora, tom)
    page = phone.new_page()
    base = open_portal_by_invitation(page, server, link)

    # Cedar invites her too: the same account gains Cedar.
    _clinic_c, nora_at_c = clinic_c_with_nora(server, NORA)
    cedar = desk(server, "cedar", CLINIC_C_STAFF)
    cedar.invite_to_portal(nora_at_c)
    assert dispatch(server, port, 1) == 1
    page.goto(local(inbox.link_to(NORA, r"https?://\S+/portal/invite/[A-Za-z0-9_-]+"), server))
    page.get_by_role("button", name="Set up my account").click()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/portal/cedar/home*")

    # Her portable profile, kept on her account.
    page.goto(f"{base}/profile")
    check_accessible(page)
    page.locator("#f-allergies").fill("Penicillin")
    page.locator("#f-blood_type").select_option("O+")
    page.get_by_role("button", name="Save my profile").click()
    page.get_by_text("saved", exact=False).first.wait_for()

    demo = desk(server, DEMO_SLUG, (ADMIN.email, ADMIN.password))
    assert demo.patient_portal(nora).profile is None
    assert cedar.patient_portal(nora_at_c).profile is None

    # She signs the demo clinic's consent, not Cedar's.
    page.goto(f"{base}/sharing")
    check_accessible(page)
    with server.sessionmaker() as session:
        demo_id = session.scalar(select(Clinic.id).where(Clinic.slug == DEMO_SLUG))
    page.locator(f"a[href$='/sharing/{demo_id}/sign']").click()
    check_accessible(page)
    page.locator("#f-signed_name").fill("nora lind")
    page.get_by_role("button", name="Sign the consent").click()
    page.get_by_role("heading", name="Sharing").first.wait_for()

    shared = demo.patient_portal(nora)
    assert shared.profile is not None
    assert shared.profile["allergies"] == "Penicillin"
    assert shared.profile["blood_type"] == "O+"
    at_cedar = cedar.patient_portal(nora_at_c)
    assert at_cedar.profile is None
    assert at_cedar.shared is False
