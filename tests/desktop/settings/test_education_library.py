"""Settings → Education library, against a real server: an admin adds an article, a PDF
(read and sent off the UI thread) and a video link, edits and removes them (removing asks
first); an item the rules refuse is refused in the dialog, which keeps what was typed;
front-desk staff do not get the tab."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.content import ContentKind
from desktop.kit.errors import UNEXPECTED
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from desktop.settings import education
from desktop.settings.education import EducationTab, ItemDialog
from desktop.settings.page import SettingsPage
from server.content.models import ContentItem
from server.demo import ADMIN, DEMO_TIME_ZONE, FRONT_DESK, DemoLogin, demo_pdf
from sync import account
from sync.account import Desk
from sync.client import ServerClient, ServerUnreachable
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.qt
WAIT_MS = 20_000
LEFT = Qt.MouseButton.LeftButton
ZONE = ZoneInfo(DEMO_TIME_ZONE)


def signed_in(server: LiveServer, folder: Path, who: DemoLogin) -> Desk:
    return account.sign_in(folder, server.url, "demo", who.email, who.password)


@pytest.fixture
def admin(live_server: LiveServer, tmp_path: Path) -> Iterator[Desk]:
    desk = signed_in(live_server, tmp_path / "admin", ADMIN)
    yield desk
    desk.store.close()


def open_tab(qtbot: QtBot, runner: TaskRunner, desk: Desk) -> tuple[SettingsPage, EducationTab]:
    page = SettingsPage(ChangeHub(runner), desk, ZONE)
    qtbot.addWidget(page)
    page.show()
    page.tabs.setCurrentWidget(page.education)
    return page, page.education


def items_on_server(server: LiveServer) -> list[ContentItem]:
    with server.sessionmaker() as session:
        rows = list(session.scalars(select(ContentItem).order_by(ContentItem.created_at)))
        for row in rows:
            session.expunge(row)
        return rows


def saved(qtbot: QtBot, tab: EducationTab, dialog: ItemDialog, rows: int) -> None:
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: tab.model.rowCount() == rows, timeout=WAIT_MS)


def test_an_admin_keeps_the_library(
    qtbot: QtBot, live_server: LiveServer, admin: Desk, runner: TaskRunner, tmp_path: Path
) -> None:
    page, tab = open_tab(qtbot, runner, admin)
    assert page.tabs.isTabVisible(page.tabs.indexOf(tab))
    qtbot.waitUntil(lambda: "library is empty" in tab.message.text(), timeout=WAIT_MS)

    article = tab.add(ContentKind.ARTICLE)
    article.title.setText("Caring for your braces")
    article.body.setPlainText("Brush after every meal.")
    article.phases.setText("Fitting, Adjustment")
    saved(qtbot, tab, article, 1)

    leaflet = tmp_path / "foods.pdf"
    leaflet.write_bytes(demo_pdf("Foods to avoid", ["Toffee."]))
    pdf = tab.add(ContentKind.PDF)
    pdf.title.setText("Foods to avoid")
    pdf.choose_pdf = lambda _parent: str(leaflet)
    qtbot.mouseClick(pdf.file_button, LEFT)
    assert pdf.file_label.text() == "foods.pdf"
    pdf.phases.setText("Fitting")
    saved(qtbot, tab, pdf, 2)

    video = tab.add(ContentKind.VIDEO)
    video.title.setText("Brushing with braces")
    video.url.setText("http://video.example.org/brushing")
    video.ok_button.click()
    assert "https://" in video.problem.text(), "refused before it is sent"
    assert video.isVisible()
    video.url.setText("https://video.example.org/brushing")
    saved(qtbot, tab, video, 3)

    stored = {row.title: row for row in items_on_server(live_server)}
    assert stored["Caring for your braces"].phases == ["Fitting", "Adjustment"]
    assert stored["Foods to avoid"].file_size == leaflet.stat().st_size
    assert stored["Brushing with braces"].url == "https://video.example.org/brushing"
    rows = [tab.model.index(n, 0).data() for n in range(3)]
    assert rows == ["Brushing with braces", "Caring for your braces", "Foods to avoid"]

    # Edit: the dialog opens with what is kept.
    tab.table.selectRow(1)
    edit = tab.edit()
    assert edit is not None
    assert edit.phases.text() == "Fitting, Adjustment"
    edit.published.setChecked(False)
    saved(qtbot, tab, edit, 3)
    qtbot.waitUntil(
        lambda: tab.model.index(1, 4).data() == "No (hidden from patients)", timeout=WAIT_MS
    )

    # Remove asks first; Cancel keeps it.
    tab.table.selectRow(2)
    asked = tab.remove()
    assert asked is not None
    assert asked.defaultButton() is asked.button(QMessageBox.StandardButton.Cancel)
    asked.button(QMessageBox.StandardButton.Cancel).click()
    assert len(items_on_server(live_server)) == 3
    tab.table.selectRow(2)
    asked = tab.remove()
    assert asked is not None
    asked.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: tab.model.rowCount() == 2, timeout=WAIT_MS)
    assert "removed from the library" in tab.message.text()


def test_a_file_that_is_not_a_pdf_is_refused_in_the_dialog(
    qtbot: QtBot, live_server: LiveServer, admin: Desk, runner: TaskRunner, tmp_path: Path
) -> None:
    _page, tab = open_tab(qtbot, runner, admin)
    fake = tmp_path / "leaflet.pdf"
    fake.write_bytes(b"\xff\xd8\xff\xe0 a JPEG, named .pdf")
    dialog = tab.add(ContentKind.PDF)
    dialog.title.setText("Leaflet")
    dialog.ok_button.click()
    assert dialog.problem.text() == "Choose the PDF file to add to the library."
    dialog.choose_pdf = lambda _parent: str(fake)
    qtbot.mouseClick(dialog.file_button, LEFT)
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: "not a PDF" in dialog.problem.text(), timeout=WAIT_MS)
    assert dialog.isVisible()
    assert dialog.title.text() == "Leaflet"
    assert dialog.ok_button.isEnabled()
    assert items_on_server(live_server) == []


def test_front_desk_staff_do_not_get_the_tab(
    qtbot: QtBot, live_server: LiveServer, runner: TaskRunner, tmp_path: Path
) -> None:
    desk = signed_in(live_server, tmp_path / "reception", FRONT_DESK)
    try:
        page = SettingsPage(ChangeHub(runner), desk, ZONE)
        qtbot.addWidget(page)
        assert not page.tabs.isTabVisible(page.tabs.indexOf(page.education))
        assert not page.education.add_buttons[ContentKind.ARTICLE].isEnabled()
    finally:
        desk.store.close()


def test_a_video_link_that_is_no_address_is_refused_in_the_dialog(
    qtbot: QtBot, live_server: LiveServer, admin: Desk, runner: TaskRunner
) -> None:
    """``https://[::1`` made the address parser raise: the dialog said nothing and the
    server answered 500. Now it is the usual refusal, in the dialog, before it is sent."""
    _page, tab = open_tab(qtbot, runner, admin)
    video = tab.add(ContentKind.VIDEO)
    video.title.setText("Brushing with braces")
    video.url.setText("https://[::1")
    video.ok_button.click()
    assert "secure web address starting with https://" in video.problem.text()
    assert video.isVisible()
    assert video.ok_button.isEnabled()
    assert items_on_server(live_server) == []


def test_anything_unexpected_is_said_calmly_in_the_dialog(
    qtbot: QtBot,
    live_server: LiveServer,
    admin: Desk,
    runner: TaskRunner,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("a fault in the desk")

    monkeypatch.setattr(education, "check_item", broken)
    _page, tab = open_tab(qtbot, runner, admin)
    article = tab.add(ContentKind.ARTICLE)
    article.title.setText("Caring for your braces")
    article.body.setPlainText("Brush after every meal.")
    article.ok_button.click()
    assert article.problem.text() == UNEXPECTED
    assert article.isVisible()
    assert article.title.text() == "Caring for your braces"
    assert "a fault in the desk" in caplog.text, "logged for whoever supports the clinic"


def test_a_pdf_whose_file_did_not_arrive_is_sent_again_to_the_same_item(
    qtbot: QtBot,
    live_server: LiveServer,
    admin: Desk,
    runner: TaskRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The item's fields are kept, then the line drops before its file is: the dialog
    says so and stays open; saving again sends the file to that item, not a second one.
    Meanwhile the list says the item has no file yet (no patient is shown it)."""
    leaflet = tmp_path / "foods.pdf"
    leaflet.write_bytes(demo_pdf("Foods to avoid", ["Toffee."]))
    send = ServerClient.put_content_file
    tries: list[int] = []

    def dropped_once(client: ServerClient, item_id: uuid.UUID, pdf: bytes) -> object:
        tries.append(len(pdf))
        if len(tries) == 1:
            raise ServerUnreachable("Can't reach the server: the line dropped.")
        return send(client, item_id, pdf)

    monkeypatch.setattr(ServerClient, "put_content_file", dropped_once)
    _page, tab = open_tab(qtbot, runner, admin)
    pdf = tab.add(ContentKind.PDF)
    pdf.title.setText("Foods to avoid")
    pdf.choose_pdf = lambda _parent: str(leaflet)
    qtbot.mouseClick(pdf.file_button, LEFT)
    pdf.ok_button.click()
    qtbot.waitUntil(lambda: "was added, but not its file" in pdf.problem.text(), timeout=WAIT_MS)
    assert "the line dropped" in pdf.problem.text()
    assert pdf.isVisible()
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=WAIT_MS)
    assert tab.model.index(0, 4).data().startswith("No file yet")
    [kept] = items_on_server(live_server)
    assert kept.file_path is None

    saved(qtbot, tab, pdf, 1)
    qtbot.waitUntil(lambda: tab.model.index(0, 4).data() == "Yes", timeout=WAIT_MS)
    [kept] = items_on_server(live_server)
    assert kept.file_size == leaflet.stat().st_size
    assert tries == [leaflet.stat().st_size] * 2
