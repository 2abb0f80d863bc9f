"""The patient portal at the desk, against a real server: the Portal tab of a patient's
file (no account, an invitation sent and shown as Sent, a shared address refused in a
dialog with the server's words, the shared profile only under consent, "View portal as
patient" only for roles that may), Settings → Patient portal (N, the shared-address
report, "Send (N) invites" sending N), and Worklists → Portal invites (states, filter,
opening the file)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select, update

from common.portal import PROFILE_FIELDS, InviteStatus, Relation
from common.roles import Role
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from desktop.patients.page import PatientsPage
from desktop.patients.portal import AGAIN, NOT_SHARED, SEND
from desktop.settings.page import SettingsPage
from desktop.worklists.portal_invites import PortalInvitesPage
from server.auth.context import AuthContext
from server.clinics.models import Clinic
from server.db import transaction, utcnow
from server.demo import ADMIN, DEMO_TIME_ZONE, FRONT_DESK, DemoLogin
from server.patients.models import Patient
from server.portal import accounts, invites, sharing
from server.portal.models import MagicLink, PortalInvite, SharingConsent
from sync import account
from sync.account import Desk
from sync.engine import SyncEngine
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
WAIT_MS = 20_000  # a deadline for what must happen, with room for a loaded CI worker
LEFT = Qt.MouseButton.LeftButton
ZONE = ZoneInfo(DEMO_TIME_ZONE)
SHARED = "family@example.org"


@dataclass(frozen=True)
class Trimmed:
    """The demo clinic, trimmed so that who can be invited is known: every address
    removed but three patients' own and one address on two files."""

    id: uuid.UUID
    own: list[uuid.UUID]  # an address of their own each
    shared: list[uuid.UUID]  # the two on SHARED


def signed_in(server: LiveServer, folder: Path, who: DemoLogin) -> Desk:
    desk = account.sign_in(folder, server.url, "demo", who.email, who.password)
    SyncEngine(desk.store, account.sync_client(desk)).sync()
    return desk


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    made = TaskRunner()
    yield made
    made.shutdown()


@pytest.fixture
def clinic(live_server: LiveServer) -> Trimmed:
    with transaction(live_server.sessionmaker) as session:
        clinic_id = session.scalars(select(Clinic.id).where(Clinic.slug == "demo")).one()
        ids = list(
            session.scalars(
                select(Patient.id)
                .where(Patient.clinic_id == clinic_id)
                .order_by(Patient.last_name, Patient.first_name, Patient.id)
                .limit(5)
            )
        )
        session.execute(update(Patient).where(Patient.clinic_id == clinic_id).values(email=None))
        for n, patient_id in enumerate(ids[:3]):
            session.get_one(Patient, patient_id).email = f"own{n}@example.org"
        for patient_id in ids[3:]:
            session.get_one(Patient, patient_id).email = SHARED
    return Trimmed(clinic_id, ids[:3], ids[3:])


@pytest.fixture
def desks(live_server: LiveServer, tmp_path: Path) -> Iterator[tuple[Desk, Desk]]:
    admin = signed_in(live_server, tmp_path / "admin", ADMIN)
    reception = signed_in(live_server, tmp_path / "reception", FRONT_DESK)
    yield admin, reception
    admin.store.close()
    reception.store.close()


def patients_page(qtbot: QtBot, runner: TaskRunner, desk: Desk) -> PatientsPage:
    page = PatientsPage(ChangeHub(runner), desk.store, ZONE, author=desk.author, country=None)
    qtbot.addWidget(page)
    page.portal.set_desk(desk)
    page.show()
    page.file.tabs.setCurrentWidget(page.portal)
    return page


def staff(clinic_id: uuid.UUID) -> AuthContext:
    return AuthContext(clinic_id=clinic_id, device_id=None, staff_id=None, role=Role.CLINIC_ADMIN)


def invites_on_server(
    server: LiveServer, patient_id: uuid.UUID | None = None
) -> list[PortalInvite]:
    with server.sessionmaker() as session:
        query = select(PortalInvite)
        if patient_id is not None:
            query = query.where(PortalInvite.patient_id == patient_id)
        return list(session.scalars(query))


def test_the_tab_invites_a_patient_without_an_account_and_withdraws_it(
    qtbot: QtBot,
    live_server: LiveServer,
    clinic: Trimmed,
    desks: tuple[Desk, Desk],
    runner: TaskRunner,
) -> None:
    _admin, reception = desks
    page = patients_page(qtbot, runner, reception)
    tab = page.portal
    patient_id = clinic.own[0]
    page.open_patient(patient_id)
    qtbot.waitUntil(lambda: tab.record is not None, timeout=WAIT_MS)
    assert tab.state.text() == "No portal account."
    assert tab.invites.rowCount() == 0
    assert tab.not_shared.text() == NOT_SHARED
    assert not tab.not_shared.isHidden()
    assert tab.profile_box.isHidden()
    assert tab.invite_button.text() == SEND
    assert tab.invite_button.isEnabled()

    qtbot.mouseClick(tab.invite_button, LEFT)
    qtbot.waitUntil(lambda: tab.invites.rowCount() == 1, timeout=WAIT_MS)
    [row] = invites_on_server(live_server, patient_id)
    assert row.status is InviteStatus.SENT
    assert row.email == "own0@example.org"
    shown = tab.invites.rows[0]
    assert shown.id == row.id
    assert tab.invites.index(0, 0).data() == "Sent"
    assert "Invitation sent to own0@example.org" in tab.message.text()

    # Sending again while it is open asks first, Cancel by default; Cancel sends nothing.
    assert tab.invite_button.text() == AGAIN
    qtbot.mouseClick(tab.invite_button, LEFT)
    asked = tab.box
    assert asked is not None
    assert asked.objectName() == "portalReinvite"
    assert asked.defaultButton() is asked.button(QMessageBox.StandardButton.Cancel)
    asked.button(QMessageBox.StandardButton.Cancel).click()
    assert len(invites_on_server(live_server, patient_id)) == 1

    # Withdraw the open invitation: the server's row is withdrawn, and so is the line.
    assert not tab.withdraw_button.isEnabled(), "nothing chosen yet"
    tab.invites_table.selectRow(0)
    qtbot.waitUntil(tab.withdraw_button.isEnabled, timeout=WAIT_MS)
    qtbot.mouseClick(tab.withdraw_button, LEFT)
    qtbot.waitUntil(lambda: tab.invites.index(0, 0).data() == "Withdrawn", timeout=WAIT_MS)
    [row] = invites_on_server(live_server, patient_id)
    assert row.status is InviteStatus.WITHDRAWN


def test_a_shared_address_is_refused_in_a_dialog_with_the_servers_words(
    qtbot: QtBot,
    live_server: LiveServer,
    clinic: Trimmed,
    desks: tuple[Desk, Desk],
    runner: TaskRunner,
) -> None:
    _admin, reception = desks
    page = patients_page(qtbot, runner, reception)
    tab = page.portal
    page.open_patient(clinic.shared[0])
    qtbot.waitUntil(lambda: tab.record is not None, timeout=WAIT_MS)
    qtbot.mouseClick(tab.invite_button, LEFT)
    qtbot.waitUntil(lambda: tab.box is not None and tab.box.isVisible(), timeout=WAIT_MS)
    assert isinstance(tab.box, QMessageBox)
    assert tab.box.windowTitle() == "The invitation was not sent"
    assert f"{SHARED} is also on the file of" in tab.box.text()
    assert "address of its own" in tab.box.text()
    tab.box.close()
    assert invites_on_server(live_server) == []


def test_an_account_holder_who_shares_shows_the_profile_and_family(
    qtbot: QtBot,
    live_server: LiveServer,
    clinic: Trimmed,
    desks: tuple[Desk, Desk],
    runner: TaskRunner,
) -> None:
    holder, child = clinic.own[1], clinic.own[2]
    with transaction(live_server.sessionmaker) as session:
        made = accounts.create_account(session, "own1@example.org", utcnow())
        accounts.link_record(session, made, clinic.id, holder, Relation.SELF)
        accounts.link_record(session, made, clinic.id, child, Relation.DEPENDANT)
        sharing.set_profile(made, {"allergies": "Penicillin", "blood_type": "O+"}, utcnow())
        account_id = made.id
        person = session.get_one(Patient, holder)
        name = f"{person.first_name} {person.last_name}"
    _admin, reception = desks
    page = patients_page(qtbot, runner, reception)
    tab = page.portal

    # Not shared yet: the name only, never the profile.
    page.open_patient(holder)
    qtbot.waitUntil(lambda: tab.record is not None, timeout=WAIT_MS)
    assert tab.state.text() == "Has a portal account: own1@example.org."
    assert tab.people.rowCount() == 2
    assert {tab.people.index(r, 1).data() for r in range(2)} == {
        "Account holder",
        "Family member",
    }
    assert not tab.not_shared.isHidden()
    assert tab.profile_box.isHidden()
    assert not tab.invite_button.isEnabled(), "an account holder is not invited again"

    with transaction(live_server.sessionmaker) as session:
        session.add(SharingConsent(clinic_id=clinic.id, account_id=account_id, signed_name=name))
    tab.refresh()
    qtbot.waitUntil(lambda: not tab.profile_box.isHidden(), timeout=WAIT_MS)
    assert tab.not_shared.isHidden()
    assert tab.profile["allergies"].text() == "Penicillin"
    assert tab.profile["blood_type"].text() == "O+"
    assert tab.profile["insurance"].text() == "—"
    assert set(tab.profile) == set(PROFILE_FIELDS)

    # The child's file: a family member, managed on the holder's account.
    page.open_patient(child)
    qtbot.waitUntil(
        lambda: tab.record is not None and tab.record.relation is Relation.DEPENDANT,
        timeout=WAIT_MS,
    )
    assert tab.state.text() == f"Family member: managed on the portal account of {name}."


def test_view_portal_as_patient_is_for_roles_that_may_impersonate(
    qtbot: QtBot, clinic: Trimmed, desks: tuple[Desk, Desk], runner: TaskRunner
) -> None:
    admin, reception = desks
    at_desk = patients_page(qtbot, runner, reception)
    assert at_desk.portal.impersonate_button.isHidden()
    as_admin = patients_page(qtbot, runner, admin)
    assert not as_admin.portal.impersonate_button.isHidden()
    assert as_admin.portal.impersonate_button.text() == "View portal as patient"


def test_settings_count_report_and_send_everyone(
    qtbot: QtBot,
    live_server: LiveServer,
    clinic: Trimmed,
    desks: tuple[Desk, Desk],
    runner: TaskRunner,
) -> None:
    admin, reception = desks
    front = SettingsPage(ChangeHub(runner), reception, ZONE)
    qtbot.addWidget(front)
    assert not front.tabs.isTabVisible(front.tabs.indexOf(front.portal))

    settings = SettingsPage(ChangeHub(runner), admin, ZONE)
    qtbot.addWidget(settings)
    settings.show()
    tab = settings.portal
    assert settings.tabs.isTabVisible(settings.tabs.indexOf(tab))
    settings.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.candidates is not None, timeout=WAIT_MS)
    assert tab.address.text() == f"{live_server.settings.public_base_url.rstrip('/')}/portal/demo"
    assert tab.send_button.text() == "Send (3) invites"
    assert tab.send_button.isEnabled()
    assert tab.pending.text() == "Invitations still open: 0"
    assert tab.shared.rowCount() == 2
    assert tab.shared.index(0, 0).data() == SHARED
    assert {r.patient_id for r in tab.shared.rows} == set(clinic.shared)
    assert len(tab.open_buttons) == 2

    # "Open file" asks for the patient's file.
    with qtbot.waitSignal(settings.open_patient_requested, timeout=WAIT_MS) as opened:
        qtbot.mouseClick(tab.open_buttons[1], LEFT)
    assert opened.args == [tab.shared.rows[1].patient_id]

    # Confirm, then send: three invitations on the server.
    box = tab.ask_send()
    assert box is not None
    assert "3 patients" in box.text()
    yes = box.button(QMessageBox.StandardButton.Yes)
    assert yes.text() == "Send (3) invites"
    qtbot.mouseClick(yes, LEFT)
    qtbot.waitUntil(lambda: tab.outcome.text() == "Sent 3 invitations.", timeout=WAIT_MS)
    sent = invites_on_server(live_server)
    assert {r.patient_id for r in sent} == set(clinic.own)
    assert all(r.status is InviteStatus.SENT for r in sent)
    qtbot.waitUntil(lambda: tab.send_button.text() == "Send (0) invites", timeout=WAIT_MS)
    assert tab.pending.text() == "Invitations still open: 3"
    assert not tab.send_button.isEnabled()

    # The address fixed on one file: Refresh shows the report without it.
    with transaction(live_server.sessionmaker) as session:
        session.get_one(Patient, clinic.shared[1]).email = "own-now@example.org"
    qtbot.mouseClick(tab.refresh_button, LEFT)
    qtbot.waitUntil(lambda: tab.shared.rowCount() == 0, timeout=WAIT_MS)
    assert tab.send_button.text() == "Send (2) invites"


def test_the_worklist_lists_invitations_with_their_states(
    qtbot: QtBot,
    live_server: LiveServer,
    clinic: Trimmed,
    desks: tuple[Desk, Desk],
    runner: TaskRunner,
) -> None:
    with transaction(live_server.sessionmaker) as session:
        for patient_id in clinic.own:
            invites.invite(
                session,
                staff(clinic.id),
                patient_id,
                now=utcnow(),
                public_base_url=live_server.settings.public_base_url,
            )
    with transaction(live_server.sessionmaker) as session:
        withdrawn = session.scalars(
            select(PortalInvite).where(PortalInvite.patient_id == clinic.own[0])
        ).one()
        withdrawn.status = InviteStatus.WITHDRAWN
        withdrawn_id = withdrawn.id
    _admin, reception = desks
    client = account.sync_client(reception)
    page = PortalInvitesPage(runner, lambda: client, ZONE)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=WAIT_MS)
    states = {r.id: page.model.index(n, 2).data() for n, r in enumerate(page.model.rows)}
    assert states[withdrawn_id] == "Withdrawn"
    assert sorted(states.values()) == ["Sent", "Sent", "Withdrawn"]
    assert {page.model.index(n, 1).data() for n in range(3)} == {
        "own0@example.org",
        "own1@example.org",
        "own2@example.org",
    }
    assert all(page.model.index(n, 3).data() for n in range(3)), "sent dates shown"

    page.filter.setCurrentIndex(page.filter.findText("Withdrawn"))
    assert page.model.rowCount() == 1
    assert page.model.rows[0].id == withdrawn_id
    page.filter.setCurrentIndex(page.filter.findText("Account created"))
    assert page.model.rowCount() == 0
    assert not page.empty.isHidden()
    page.filter.setCurrentIndex(page.filter.findText("Sent"))
    assert page.model.rowCount() == 2

    with qtbot.waitSignal(page.open_patient, timeout=WAIT_MS) as opened:
        rect = page.table.visualRect(page.model.index(0, 0))
        # A view takes a double click on the row its press chose: press, then click twice.
        qtbot.mouseClick(page.table.viewport(), LEFT, pos=rect.center())
        qtbot.mouseDClick(page.table.viewport(), LEFT, pos=rect.center())
    assert opened.args == [page.model.rows[0].patient_id]
    client.close()
    with live_server.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(PortalInvite)) == 3


def test_view_portal_as_patient_opens_a_one_time_address_of_the_portal(
    qtbot: QtBot,
    live_server: LiveServer,
    clinic: Trimmed,
    desks: tuple[Desk, Desk],
    runner: TaskRunner,
) -> None:
    """The admin's click asks the server for a ticket and hands its address to the
    system's browser (captured here): that address opens the portal's "View the portal
    as the patient" page, and the ticket is the admin's, for this patient."""
    holder = clinic.own[0]
    with transaction(live_server.sessionmaker) as session:
        made = accounts.create_account(session, "own0@example.org", utcnow())
        accounts.link_record(session, made, clinic.id, holder, Relation.SELF)
    admin, _reception = desks
    page = patients_page(qtbot, runner, admin)
    tab = page.portal
    opened: list[str] = []
    tab.open_url = lambda url: opened.append(url.toString())
    page.open_patient(holder)
    qtbot.waitUntil(lambda: tab.record is not None and tab.record.has_account, timeout=WAIT_MS)
    assert tab.impersonate_button.isEnabled()
    qtbot.mouseClick(tab.impersonate_button, LEFT)
    qtbot.waitUntil(lambda: bool(opened), timeout=WAIT_MS)
    [url] = opened
    assert "/portal/link/" in url
    answer = httpx.get(live_server.url + "/portal/link/" + url.rsplit("/portal/link/", 1)[1])
    assert answer.status_code == 200
    assert "View the portal as the patient" in answer.text
    with live_server.sessionmaker() as session:
        [ticket] = session.scalars(select(MagicLink)).all()
        assert ticket.staff_id == admin.author.staff_id
        assert ticket.patient_id == holder
        assert ticket.used_at is None  # opening it spent nothing
