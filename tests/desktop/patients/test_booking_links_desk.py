"""Booking links at the desk, against a real server: a clinic admin sets up a rule in
Settings → Booking links; a receptionist (who does not see that section) opens a patient,
finds the rule by typing part of its title, sends it once however often the button is
clicked, sees and copies the link, expires it, and the history shows sent → expired."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from desktop.patients.page import PatientsPage
from desktop.settings.page import SettingsPage
from server.booking_links.models import BookingLink
from server.demo import ADMIN, DEMO_TIME_ZONE, FRONT_DESK, DemoLogin
from server.patients.models import Patient
from server.web import tokens
from sync import account
from sync.account import Desk
from sync.engine import SyncEngine
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
WAIT_MS = 20_000
LEFT = Qt.MouseButton.LeftButton
ZONE = ZoneInfo(DEMO_TIME_ZONE)
TITLE = "Physio follow-up"


def signed_in(server: LiveServer, folder: Path, who: DemoLogin) -> Desk:
    desk = account.sign_in(folder, server.url, "demo", who.email, who.password)
    SyncEngine(desk.store, account.sync_client(desk)).sync()  # types and providers
    return desk


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    made = TaskRunner()
    yield made
    made.shutdown()


@pytest.fixture
def desks(live_server: LiveServer, tmp_path: Path) -> Iterator[tuple[Desk, Desk]]:
    admin = signed_in(live_server, tmp_path / "admin", ADMIN)
    reception = signed_in(live_server, tmp_path / "reception", FRONT_DESK)
    yield admin, reception
    admin.store.close()
    reception.store.close()


def a_patient(server: LiveServer) -> uuid.UUID:
    with server.sessionmaker() as session:
        patient = session.scalars(
            select(Patient).where(Patient.phone.is_not(None)).order_by(Patient.last_name)
        ).first()
        assert patient is not None
        return patient.id


def test_a_rule_is_set_up_sent_copied_and_expired(
    qtbot: QtBot, live_server: LiveServer, desks: tuple[Desk, Desk], runner: TaskRunner
) -> None:
    admin, reception = desks
    # An admin adds the rule.
    settings = SettingsPage(ChangeHub(runner), admin, ZONE)
    qtbot.addWidget(settings)
    settings.show()
    tab = settings.booking_links
    assert settings.tabs.isTabVisible(settings.tabs.indexOf(tab))
    qtbot.waitUntil(lambda: tab.schedule is not None, timeout=WAIT_MS)
    settings.tabs.setCurrentWidget(tab)
    dialog = tab.add()
    assert dialog.kind.count() > 0
    dialog.title.setText(TITLE)
    dialog.sms.setPlainText("{clinic}: book your follow-up here {link}")
    qtbot.waitUntil(lambda: dialog.sms_size.text().startswith("1 SMS"), timeout=WAIT_MS)
    dialog.submit()
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=WAIT_MS)
    assert not dialog.isVisible()
    assert tab.model.rows[0].title == TITLE

    # The front desk does not see the section.
    desk_settings = SettingsPage(ChangeHub(runner), reception, ZONE)
    qtbot.addWidget(desk_settings)
    index = desk_settings.tabs.indexOf(desk_settings.booking_links)
    assert not desk_settings.tabs.isTabVisible(index)

    # The receptionist opens a patient's file, on the Online booking tab.
    page = PatientsPage(
        ChangeHub(runner),
        reception.store,
        ZONE,
        author=reception.author,
        country=reception.country,
    )
    qtbot.addWidget(page)
    links = page.links
    links.set_desk(reception)
    page.show()
    page.file.tabs.setCurrentWidget(links)
    patient_id = a_patient(live_server)
    page.open_patient(patient_id)
    qtbot.waitUntil(lambda: links.rule_combo.count() == 1, timeout=WAIT_MS)
    assert not links.send_button.isEnabled(), "nothing chosen yet"

    # Typing part of the title finds it; choosing it enables sending.
    line = links.rule_combo.lineEdit()
    assert line is not None
    qtbot.keyClicks(line, "follow")
    completer = links.rule_combo.completer()
    qtbot.waitUntil(lambda: completer.completionCount() == 1, timeout=WAIT_MS)
    assert completer.currentCompletion() == TITLE
    assert not links.send_button.isEnabled(), "a part of a title is not a choice"
    completer.activated.emit(TITLE)  # what picking it in the popup does
    qtbot.waitUntil(links.send_button.isEnabled, timeout=WAIT_MS)

    # Two clicks, one link.
    qtbot.mouseClick(links.send_button, LEFT)
    qtbot.mouseClick(links.send_button, LEFT)
    qtbot.waitUntil(lambda: links.link_field.text().startswith("http"), timeout=WAIT_MS)
    url = links.link_field.text()
    with live_server.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(BookingLink)) == 1
        row = session.scalars(select(BookingLink)).one()
        assert row.token_hash == tokens.digest(url.rsplit("/", 1)[1])
    assert "on its way" in links.message.text()
    assert links.allows.text().startswith(f"<b>{TITLE}</b>")
    qtbot.waitUntil(lambda: links.links.rowCount() == 1, timeout=WAIT_MS)
    assert links.links.rows[0].status.value == "sent"

    # Copy puts it on the clipboard.
    qtbot.mouseClick(links.copy_button, LEFT)
    clipboard = QGuiApplication.clipboard()
    assert clipboard.text() == url

    # Expiring takes it out of this place; the history says sent → expired.
    qtbot.mouseClick(links.expire_button, LEFT)
    qtbot.waitUntil(
        lambda: links.links.rowCount() == 1 and links.links.rows[0].status.value == "expired",
        timeout=WAIT_MS,
    )
    qtbot.waitUntil(lambda: not links.link_box.isVisibleTo(links), timeout=WAIT_MS)
    links.table.selectRow(0)
    links.view_history()
    qtbot.waitUntil(lambda: links.events_dialog is not None, timeout=WAIT_MS)
    dialog_rows = links.events_dialog.model.rows if links.events_dialog else []
    assert [e.status.value for e in dialog_rows] == ["sent", "expired"]
    assert dialog_rows[0].staff_name == FRONT_DESK.display_name


def test_offline_the_tab_says_it_needs_the_server(
    qtbot: QtBot, live_server: LiveServer, desks: tuple[Desk, Desk], runner: TaskRunner
) -> None:
    _admin, reception = desks
    page = PatientsPage(
        ChangeHub(runner), reception.store, ZONE, author=reception.author, country=None
    )
    qtbot.addWidget(page)
    offline = dataclasses.replace(reception, session_token=None)
    page.links.set_desk(offline)
    page.show()
    page.file.tabs.setCurrentWidget(page.links)
    page.open_patient(a_patient(live_server))
    qtbot.waitUntil(lambda: "signed in while offline" in page.links.message.text(), timeout=WAIT_MS)
    assert not page.links.send_button.isEnabled()
