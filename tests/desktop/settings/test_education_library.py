"""Settings → Education library, against a real server: an admin adds an article, a PDF
(read and sent off the UI thread) and a video link, edits and removes them (removing asks
first); an item the rules refuse is refused in the dialog, which keeps what was typed;
front-desk staff do not get the tab."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.content import ContentKind
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from desktop.settings.education import EducationTab, ItemDialog
from desktop.settings.page import SettingsPage
from server.content.models import ContentItem
from server.demo import ADMIN, DEMO_TIME_ZONE, FRONT_DESK, DemoLogin, demo_pdf
from sync import account
from sync.account import Desk
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
