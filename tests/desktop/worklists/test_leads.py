"""Leads on a connected desk, against a real server: a web enquiry shows within moments,
counted in the tab; Contacted moves it; Discard needs a note; Convert warns of a possible
duplicate first and registers a new patient, linked to the lead; offline the page says
the list needs the server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.leads import Enquiry, LeadStatus, PreferredContact, attribute
from desktop.kit.tasks import TaskRunner
from desktop.mainwindow import MainWindow
from desktop.worklists.leads import LeadsPage
from server.changefeed import live
from server.clinics.models import Clinic
from server.db import transaction
from server.leads import service as leads
from server.leads.models import Lead
from server.patients.models import Patient
from sync import account
from sync.account import Desk
from sync.engine import SyncEngine
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
EMAIL, PASSWORD = "frontdesk@demo.clinic", "frontdesk-demo-1"
WAIT_MS = 20_000  # a deadline for what must happen, with room for a loaded CI worker
NO_POLLING = 3600


@dataclass
class Opened:
    window: MainWindow
    desk: Desk
    runner: TaskRunner

    @property
    def page(self) -> LeadsPage:
        return self.window.leads


@pytest.fixture
def opened(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Opened]:
    monkeypatch.setattr(live, "FALLBACK_POLL", float(NO_POLLING))
    desk = account.sign_in(tmp_path / "here", live_server.url, "demo", EMAIL, PASSWORD)
    runner = TaskRunner()
    window = MainWindow(
        desk, runner, SyncEngine(desk.store, account.sync_client(desk)), sync_interval=NO_POLLING
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Online"), timeout=WAIT_MS)
    qtbot.waitUntil(window.live.connected.is_set, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.leads.fetched_at is not None, timeout=WAIT_MS)
    yield Opened(window, desk, runner)
    window.close()
    runner.shutdown()
    desk.store.close()


def _enquiry(
    server: LiveServer, last_name: str = "Hopper", phone: str = "+447400912345"
) -> uuid.UUID:
    """What the web form records, through the server's own service."""
    with transaction(server.sessionmaker) as session:
        clinic = session.scalars(select(Clinic).where(Clinic.slug == "demo")).one()
        lead = leads.record_enquiry(
            session,
            clinic.id,
            Enquiry(
                first_name="Grace",
                last_name=last_name,
                date_of_birth=date(1986, 12, 9),
                phone=phone,
                email=None,
                message="Shoulder pain",
                preferred_contact=PreferredContact.PHONE,
            ),
            attribute("google", None, None),
            form_key=uuid.uuid4().hex,
            ip_hash="a" * 32,
            user_agent_hash="b" * 32,
            user_agent_family="Chrome on Android",
        )
        return lead.id


def _row(server: LiveServer, lead_id: uuid.UUID) -> Lead:
    with server.sessionmaker() as session:
        row = session.get(Lead, lead_id)
        assert row is not None
        session.expunge(row)
        return row


def _listed(page: LeadsPage) -> list[uuid.UUID]:
    return [r.id for r in page.model.rows]


def _select(page: LeadsPage, lead_id: uuid.UUID) -> None:
    page.table.selectRow(_listed(page).index(lead_id))


def test_a_new_lead_is_listed_counted_and_marked_contacted(
    qtbot: QtBot, opened: Opened, live_server: LiveServer
) -> None:
    page, window = opened.page, opened.window
    first = _enquiry(live_server, "Older")
    lead_id = _enquiry(live_server)
    qtbot.waitUntil(lambda: lead_id in _listed(page), timeout=WAIT_MS)
    assert _listed(page)[:2] == [lead_id, first]  # newest first
    qtbot.waitUntil(
        lambda: window.worklists.tabText(window.worklists.indexOf(page)) == "Leads (2)",
        timeout=WAIT_MS,
    )
    _select(page, lead_id)
    shown = page.details.toPlainText()
    assert "Grace Hopper" in shown
    assert "Channel: Search (utm_source=google)" in shown
    assert "Chrome on Android" in shown
    assert "same address seen 2 times" in shown
    assert page.convert_button.isEnabled()

    page.contacted_button.click()
    qtbot.waitUntil(
        lambda: _row(live_server, lead_id).status is LeadStatus.CONTACTED, timeout=WAIT_MS
    )
    qtbot.waitUntil(lambda: lead_id not in _listed(page), timeout=WAIT_MS)  # filter: New
    qtbot.waitUntil(
        lambda: window.worklists.tabText(window.worklists.indexOf(page)) == "Leads (1)",
        timeout=WAIT_MS,
    )
    page.filter.setCurrentIndex(page.filter.findText("Contacted"))
    qtbot.waitUntil(lambda: lead_id in _listed(page), timeout=WAIT_MS)
    _select(page, lead_id)
    assert not page.contacted_button.isEnabled()  # only the moves the rules allow


def test_discard_needs_a_note(qtbot: QtBot, opened: Opened, live_server: LiveServer) -> None:
    page = opened.page
    lead_id = _enquiry(live_server)
    qtbot.waitUntil(lambda: lead_id in _listed(page), timeout=WAIT_MS)
    _select(page, lead_id)
    page.ask_discard()
    dialog = page.discard_dialog
    dialog.note_edit.setText("  ")
    dialog.ok_button.click()
    assert dialog.isVisible()
    assert "Type a note" in dialog.message.text()
    dialog.note_edit.setText("Asked for a service we do not offer")
    dialog.ok_button.click()
    qtbot.waitUntil(
        lambda: _row(live_server, lead_id).status is LeadStatus.DISCARDED, timeout=WAIT_MS
    )
    assert _row(live_server, lead_id).notes[-1]["text"] == "Asked for a service we do not offer"
    qtbot.waitUntil(lambda: "Discarded" in page.outcome.text(), timeout=WAIT_MS)


def test_convert_warns_of_a_duplicate_then_registers_a_new_patient(
    qtbot: QtBot, opened: Opened, live_server: LiveServer
) -> None:
    page = opened.page
    with transaction(live_server.sessionmaker) as session:
        clinic = session.scalars(select(Clinic).where(Clinic.slug == "demo")).one()
        session.add(
            Patient(
                clinic_id=clinic.id, first_name="Gerald", last_name="Other", phone="+447400912399"
            )
        )
    lead_id = _enquiry(live_server, "Duplicate", phone="+447400912399")
    qtbot.waitUntil(lambda: lead_id in _listed(page), timeout=WAIT_MS)
    _select(page, lead_id)
    page.ask_convert()
    dialog = page.convert_dialog
    qtbot.waitUntil(lambda: "Possible duplicate" in dialog.warning.text(), timeout=WAIT_MS)
    assert "Gerald Other (same phone)" in dialog.warning.text()
    assert dialog.results.count() == 1
    assert "Grace Duplicate" in dialog.prefill.text()
    dialog.new_button.click()
    qtbot.waitUntil(
        lambda: _row(live_server, lead_id).status is LeadStatus.CONVERTED, timeout=WAIT_MS
    )
    row = _row(live_server, lead_id)
    with live_server.sessionmaker() as session:
        patient = session.get(Patient, row.patient_id)
        assert patient is not None
        assert (patient.first_name, patient.last_name) == ("Grace", "Duplicate")
    qtbot.waitUntil(lambda: "Converted Grace Duplicate" in page.outcome.text(), timeout=WAIT_MS)
    # The new patient reaches this desk's copy with the sync the conversion started.
    qtbot.waitUntil(
        lambda: any(m.id == row.patient_id for m in opened.desk.store.search_patients("Duplicate")),
        timeout=WAIT_MS,
    )


def test_offline_the_page_says_leads_need_the_server(qtbot: QtBot, opened: Opened) -> None:
    page = opened.page
    page.went_offline("The server did not answer.")
    assert not page.notice.isHidden()  # its tab may be behind another
    assert "Leads need the server" in page.notice.text()
    assert not page.note_button.isEnabled()
    assert not page.convert_button.isEnabled()
