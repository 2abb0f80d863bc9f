"""Settings → Messages → Sending, against a real server: an admin loads the clinic's
messaging settings, changes them and the server has them; a refusal is shown in the
server's words and nothing typed is lost, offline too; a Save that changes nothing changes
nothing on the server; other staff only look. And the client calls underneath."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt, QTime
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.errors import Forbidden, InvalidInput
from desktop.kit.combo import choose
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from desktop.settings.messaging import NEEDS_SERVER, MessagesTab, MessagingSettingsForm
from desktop.settings.page import SettingsPage
from server.demo import ADMIN, DEMO_TIME_ZONE, FRONT_DESK, DemoLogin
from server.messaging.models import MessagingSettings
from sync import account
from sync.account import Desk, sync_client
from sync.protocol import MessagingSettingsBody
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


def open_tab(qtbot: QtBot, runner: TaskRunner, desk: Desk) -> MessagesTab:
    """Settings, then the Messages tab, as staff open it: it asks the server then."""
    page = SettingsPage(ChangeHub(runner), desk, ZONE)
    qtbot.addWidget(page)
    page.show()
    assert page.messages.form.loaded is None, "nothing is asked before the tab is opened"
    page.tabs.setCurrentWidget(page.messages)
    qtbot.waitUntil(lambda: page.messages.form.loaded is not None, timeout=WAIT_MS)
    return page.messages


def server_row(server: LiveServer) -> dict[str, Any] | None:
    """The clinic's messaging settings as the server's database holds them, every column."""
    with server.sessionmaker() as session:
        row = session.scalars(select(MessagingSettings)).one_or_none()
        if row is None:
            return None
        return {c.key: getattr(row, c.key) for c in MessagingSettings.__table__.columns}


def saved_through(qtbot: QtBot, form: MessagingSettingsForm) -> None:
    with qtbot.waitSignal(form.settled, timeout=WAIT_MS):
        qtbot.mouseClick(form.save_button, LEFT)


def refused(qtbot: QtBot, form: MessagingSettingsForm) -> str:
    """Press Save; the words of the dialog that says why not (closed again)."""
    form.dialog = None
    qtbot.mouseClick(form.save_button, LEFT)
    qtbot.waitUntil(lambda: form.dialog is not None, timeout=WAIT_MS)
    assert form.dialog is not None
    said = form.dialog.text()
    assert form.message.text() == said
    form.dialog.close()
    return said


# --- changing them -------------------------------------------------------------------------


@pytest.mark.quiet_hours
def test_an_admin_changes_the_quiet_hours_and_the_server_has_them(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    tab = open_tab(qtbot, runner, admin)
    form = tab.form
    assert form.sender_name.text() == "Demo Clinic"  # the server's default: the clinic's name
    assert form.sender_name.placeholderText() == "Demo Clinic"
    assert (form.texts_from.time(), form.texts_until.time()) == (QTime(8, 0), QTime(20, 0))
    assert form.send_confirmations.isChecked()
    assert form.save_button.isEnabled()
    assert form.state.text() == ""

    form.texts_from.setTime(QTime(9, 30))
    form.texts_until.setTime(QTime(18, 0))
    form.phone.setFocus()
    qtbot.keyClicks(form.phone, "020 7946 0001")
    choose(form.language, "de")
    form.marketing_cap.setValue(2)
    assert form.state.text() == "Unsaved changes"
    saved_through(qtbot, form)

    row = server_row(live_server)
    assert row is not None
    assert (row["texts_from_minute"], row["texts_until_minute"]) == (9 * 60 + 30, 18 * 60)
    assert (row["phone"], row["language"], row["marketing_cap"]) == ("020 7946 0001", "de", 2)
    assert row["sender_name"] == "Demo Clinic"
    assert form.message.text().startswith("Saved.")
    assert form.state.text() == ""
    # The wording editor now writes in German, with the clinic's own details in its samples.
    assert tab.editor.clinic.language == "de"
    assert tab.editor.preview.toPlainText().startswith("Demo Clinic: Hallo Alex")


def test_a_window_that_ends_before_it_starts_is_refused_in_the_servers_words(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    form = open_tab(qtbot, runner, admin).form
    form.texts_from.setTime(QTime(21, 0))
    form.texts_until.setTime(QTime(9, 0))
    form.sender_name.setText("Brook Street")

    said = refused(qtbot, form)

    assert said == (
        "Texts must be allowed for part of the day: the time they may start (21:00) must be "
        "before the time they must stop (09:00)."
    )
    assert (form.texts_from.time(), form.texts_until.time()) == (QTime(21, 0), QTime(9, 0))
    assert form.sender_name.text() == "Brook Street"
    assert form.state.text() == "Unsaved changes"
    assert form.save_button.isEnabled(), "put it right and save again"
    assert server_row(live_server) is None, "nothing was saved"

    form.texts_until.setTime(QTime(22, 0))
    saved_through(qtbot, form)
    row = server_row(live_server)
    assert row is not None
    assert (row["texts_from_minute"], row["texts_until_minute"], row["sender_name"]) == (
        21 * 60,
        22 * 60,
        "Brook Street",
    )


def test_saving_unchanged_changes_nothing_on_the_server(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    client = sync_client(admin)
    before = client.messaging_settings()
    form = open_tab(qtbot, runner, admin).form

    qtbot.mouseClick(form.save_button, LEFT)

    assert form.message.text() == "Nothing has changed, so nothing was sent."
    assert server_row(live_server) is None, "the defaults were not written down"
    assert client.messaging_settings() == before

    # Once the clinic has settings of its own: opened afresh and saved unchanged.
    form.email.setText("hello@demo.clinic")
    saved_through(qtbot, form)
    row = server_row(live_server)
    answer = client.messaging_settings()
    again = open_tab(qtbot, runner, admin).form
    assert again.email.text() == "hello@demo.clinic"
    qtbot.mouseClick(again.save_button, LEFT)
    assert again.message.text() == "Nothing has changed, so nothing was sent."
    assert server_row(live_server) == row
    # And the call itself: the server's own answer put back changes nothing either.
    assert client.save_messaging_settings(answer) == answer
    assert server_row(live_server) == row
    client.close()


def test_offline_the_form_says_it_needs_the_server_and_keeps_what_was_typed(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    form = open_tab(qtbot, runner, admin).form
    live_server.stop()
    form.sender_name.setText("Brook Street")
    form.texts_until.setTime(QTime(19, 0))

    said = refused(qtbot, form)

    assert said.startswith(NEEDS_SERVER)
    assert "What you typed is still here" in said
    assert form.sender_name.text() == "Brook Street"
    assert form.texts_until.time() == QTime(19, 0)
    assert form.state.text() == "Unsaved changes"

    live_server.start_again()
    saved_through(qtbot, form)
    row = server_row(live_server)
    assert row is not None
    assert (row["sender_name"], row["texts_until_minute"]) == ("Brook Street", 19 * 60)


def test_signed_in_offline_the_form_says_so_and_asks_nothing(
    qtbot: QtBot, runner: TaskRunner, admin: Desk
) -> None:
    tab = MessagesTab(runner, dataclasses.replace(admin, session_token=None))
    qtbot.addWidget(tab)
    qtbot.mouseClick(tab.form.load_button, LEFT)
    assert tab.form.message.text().startswith(NEEDS_SERVER)
    assert "signed in while offline" in tab.form.message.text()
    assert tab.form.loaded is None
    assert not tab.form.save_button.isEnabled(), "nothing to save over before it is loaded"
    assert not tab.form.sender_name.isEnabled()


# --- who may change them -------------------------------------------------------------------


def test_front_desk_staff_see_the_messaging_settings_but_cannot_change_them(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, tmp_path: Path
) -> None:
    desk = signed_in(live_server, tmp_path / "reception", FRONT_DESK)
    tab = open_tab(qtbot, runner, desk)
    form = tab.form
    assert form.sender_name.text() == "Demo Clinic"
    assert [w for w in [*form.fields, form.save_button] if w.isEnabled()] == []
    assert tab.editor.body.isReadOnly()
    assert not tab.editor.restore_button.isEnabled()
    assert not tab.editor.save_button.isEnabled()
    form.save()  # even if the button were reached somehow
    assert server_row(live_server) is None

    client = sync_client(desk)
    with pytest.raises(Forbidden, match="Your role does not allow this"):
        client.save_messaging_settings(client.messaging_settings())
    client.close()
    desk.store.close()


def test_the_client_turns_a_refusal_into_the_servers_words(admin: Desk) -> None:
    client = sync_client(admin)
    current = client.messaging_settings()
    same_time = current.model_copy(update={"texts_from": time(9), "texts_until": time(9)})
    with pytest.raises(InvalidInput, match=r"must be before the time they must stop \(09:00\)"):
        client.save_messaging_settings(same_time)
    unknown = MessagingSettingsBody.model_construct(**{**current.__dict__, "language": "eng"})
    with pytest.raises(InvalidInput, match="language"):
        client.save_messaging_settings(unknown)
    assert client.messaging_settings() == current
    client.close()


def test_the_clinics_own_sms_number_is_refused_in_words_when_wrong_and_kept_in_e164(
    qtbot: QtBot, runner: TaskRunner, live_server: LiveServer, admin: Desk
) -> None:
    form = open_tab(qtbot, runner, admin).form
    form.sms_number.setText("12")
    assert "number" in refused(qtbot, form)
    assert form.sms_number.text() == "12", "what was typed stays"
    assert server_row(live_server) is None

    form.sms_number.setText("+44 7400 912345")  # typed as people write it
    saved_through(qtbot, form)
    row = server_row(live_server)
    assert row is not None
    assert row["sms_number"] == "+447400912345"
