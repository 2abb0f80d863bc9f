"""Settings → Practice page, against a real server: an admin loads the demo's page, edits
it and the server has it; a taken or bad value is refused in words with everything typed
kept; an unchanged Save sends nothing; the embed code follows the size and colour; the
logo goes up off the UI thread; Preview opens a link the server honours; offline it
says so; front-desk staff only look."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop.kit.combo import choose
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from desktop.settings.page import SettingsPage
from desktop.settings.practice import NEEDS_SERVER, PracticePageTab
from server.demo import ADMIN, DEMO_TIME_ZONE, FRONT_DESK, DemoLogin
from server.web.models import PracticeProfile
from sync import account
from sync.account import Desk
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
WAIT_MS = 20_000
LEFT = Qt.MouseButton.LeftButton
ZONE = ZoneInfo(DEMO_TIME_ZONE)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def signed_in(server: LiveServer, folder: Path, who: DemoLogin) -> Desk:
    return account.sign_in(folder, server.url, "demo", who.email, who.password)


@pytest.fixture
def admin(live_server: LiveServer, tmp_path: Path) -> Iterator[Desk]:
    desk = signed_in(live_server, tmp_path / "admin", ADMIN)
    yield desk
    desk.store.close()


def open_tab(qtbot: QtBot, runner: TaskRunner, desk: Desk) -> PracticePageTab:
    page = SettingsPage(ChangeHub(runner), desk, ZONE)
    qtbot.addWidget(page)
    page.show()
    assert page.practice.loaded is None, "nothing is asked before the tab is opened"
    page.tabs.setCurrentWidget(page.practice)
    qtbot.waitUntil(lambda: page.practice.loaded is not None, timeout=WAIT_MS)
    return page.practice


def server_row(server: LiveServer) -> dict[str, Any]:
    with server.sessionmaker() as session:
        row = session.scalars(select(PracticeProfile)).one()
        return {c.key: getattr(row, c.key) for c in PracticeProfile.__table__.columns}


def saved_through(qtbot: QtBot, tab: PracticePageTab) -> None:
    with qtbot.waitSignal(tab.settled, timeout=WAIT_MS):
        qtbot.mouseClick(tab.save_button, LEFT)


def refused(qtbot: QtBot, tab: PracticePageTab) -> str:
    tab.dialog = None
    qtbot.mouseClick(tab.save_button, LEFT)
    qtbot.waitUntil(lambda: tab.dialog is not None, timeout=WAIT_MS)
    assert tab.dialog is not None
    said = tab.dialog.text()
    assert tab.message.text() == said
    tab.dialog.close()
    return said


def test_an_admin_edits_the_page_and_patients_see_it(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    tab = open_tab(qtbot, runner, admin)
    assert tab.slug.text() == "demo"
    assert tab.display_name.text() == "Demo Clinic"
    assert "Bupa" in tab.insurances.toPlainText().splitlines()
    assert tab.published.isChecked()
    assert tab.booking_enabled.isChecked()
    assert tab.state.text() == ""

    tab.specialty.setText("Sports physiotherapy")
    tab.insurances.setPlainText("Bupa\n\nAviva\n")
    tab.leads_enabled.setChecked(False)
    assert tab.state.text() == "Unsaved changes"
    saved_through(qtbot, tab)

    row = server_row(live_server)
    assert row["specialty"] == "Sports physiotherapy"
    assert row["insurances"] == ["Bupa", "Aviva"]
    assert row["leads_enabled"] is False
    assert tab.message.text().startswith("Saved.")
    page = httpx.get(live_server.url + "/practice/demo")
    assert "Sports physiotherapy" in page.text
    assert "/enquire/demo" not in page.text
    assert "/book/demo" in page.text


def test_saving_unchanged_sends_nothing(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    before = server_row(live_server)
    tab = open_tab(qtbot, runner, admin)
    qtbot.mouseClick(tab.save_button, LEFT)
    assert tab.message.text() == "Nothing has changed, so nothing was sent."
    assert server_row(live_server) == before


def test_a_refusal_is_in_words_and_keeps_what_was_typed(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    before = server_row(live_server)
    tab = open_tab(qtbot, runner, admin)
    tab.slug.setText("demo clinic!")
    tab.button_colour.setText("orange")
    tab.about.setPlainText("Typed with care.")
    said = refused(qtbot, tab)
    assert "The page address 'demo clinic!' cannot be used" in said
    assert "The button colour 'orange' is not a colour" in said
    assert tab.slug.text() == "demo clinic!"
    assert tab.about.toPlainText() == "Typed with care."
    assert tab.state.text() == "Unsaved changes"
    assert server_row(live_server) == before

    tab.slug.setText("demo-physio")
    tab.button_colour.setText("#FFCC00")
    saved_through(qtbot, tab)
    row = server_row(live_server)
    assert (row["slug"], row["button_colour"], row["about"]) == (
        "demo-physio",
        "#ffcc00",
        "Typed with care.",
    )


def test_the_embed_code_follows_size_and_colour(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    tab = open_tab(qtbot, runner, admin)
    code = tab.button_box.toPlainText()
    assert tab.loaded is not None
    assert f'href="{tab.loaded.public_base_url}/book/demo"' in code
    assert 'target="_blank" rel="noopener"' in code
    assert 'title="Book an appointment with Demo Clinic"' in tab.iframe_box.toPlainText()
    choose(tab.button_size, "large")
    tab.button_colour.setText("#ffcc00")
    large = tab.button_box.toPlainText()
    assert "20px" in large
    assert "background:#ffcc00" in large
    assert "color:#000000" in large, "dark text on a light button"
    choose(tab.button_size, "small")
    assert "14px" in tab.button_box.toPlainText()
    qtbot.mouseClick(tab.copy_button, LEFT)
    assert QGuiApplication.clipboard().text() == tab.button_box.toPlainText()
    assert tab.button_box.isReadOnly()


def admin_base(tab: PracticePageTab) -> str:
    assert tab.loaded is not None
    return tab.loaded.public_base_url


def test_logo_and_preview(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk, tmp_path: Path
) -> None:
    tab = open_tab(qtbot, runner, admin)
    not_an_image = tmp_path / "logo.png"
    not_an_image.write_text("<svg/>")
    tab.dialog = None
    tab.upload_logo(str(not_an_image))
    qtbot.waitUntil(lambda: tab.dialog is not None, timeout=WAIT_MS)
    assert tab.message.text() == "The logo must be a PNG or JPEG image."

    logo = tmp_path / "real.png"
    logo.write_bytes(PNG)
    with qtbot.waitSignal(tab.settled, timeout=WAIT_MS):
        tab.upload_logo(str(logo))
    assert tab.logo_state.text() == "A logo is set"
    assert server_row(live_server)["logo"] == PNG
    assert tab.remove_logo_button.isEnabled()

    opened: list[QUrl] = []
    tab.open_url = opened.append
    tab.published.setChecked(False)
    saved_through(qtbot, tab)
    assert httpx.get(live_server.url + "/practice/demo").status_code == 404
    qtbot.mouseClick(tab.preview_button, LEFT)
    qtbot.waitUntil(lambda: bool(opened), timeout=WAIT_MS)
    # The link starts with the server's public address (not this test server's port).
    link = opened[0]
    assert link.toString().startswith(admin_base(tab) + "/practice/demo?preview=")
    preview = httpx.get(f"{live_server.url}{link.path()}?{link.query()}")
    assert preview.status_code == 200
    assert "Preview — not published" in preview.text

    with qtbot.waitSignal(tab.settled, timeout=WAIT_MS):
        qtbot.mouseClick(tab.remove_logo_button, LEFT)
    assert server_row(live_server)["logo"] is None


def test_offline_it_says_it_needs_the_server(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    tab = open_tab(qtbot, runner, admin)
    live_server.stop()
    tab.specialty.setText("Kept")
    said = refused(qtbot, tab)
    assert said.startswith(NEEDS_SERVER)
    assert tab.specialty.text() == "Kept"
    live_server.start_again()

    offline = PracticePageTab(runner, dataclasses.replace(admin, session_token=None))
    qtbot.addWidget(offline)
    qtbot.mouseClick(offline.load_button, LEFT)
    assert offline.message.text().startswith(NEEDS_SERVER)
    assert "signed in while offline" in offline.message.text()
    assert not offline.save_button.isEnabled()


def test_front_desk_staff_only_look(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, tmp_path: Path
) -> None:
    desk = signed_in(live_server, tmp_path / "reception", FRONT_DESK)
    before = server_row(live_server)
    tab = open_tab(qtbot, runner, desk)
    assert tab.display_name.text() == "Demo Clinic"
    editing = [*tab.fields, tab.save_button, tab.logo_button, tab.remove_logo_button]
    assert [w for w in editing if w.isEnabled()] == []
    assert tab.copy_button.isEnabled(), "anyone may copy the website code"
    tab.save()
    assert server_row(live_server) == before
    desk.store.close()
