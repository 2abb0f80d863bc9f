"""The desk's kit: change operations announced to every page, errors in words, remembered
view state that survives what an older version or another backend wrote."""

from __future__ import annotations

import logging
import threading
import uuid
from enum import StrEnum

import pytest
from pydantic import BaseModel, ValidationError
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from common.errors import SlotTaken
from desktop.kit import errors, state
from desktop.kit.ops import ChangeHub, Changes, Topic
from desktop.kit.tasks import TaskRunner

pytestmark = pytest.mark.qt
WAIT_MS = 20_000  # a deadline for what must happen, with room for a loaded CI worker


@pytest.fixture
def hub() -> ChangeHub:
    runner = TaskRunner()
    yield ChangeHub(runner)
    runner.shutdown()


def test_a_change_runs_off_the_ui_thread_and_every_listener_hears_its_topics(
    qtbot: QtBot, hub: ChangeHub
) -> None:
    page = QWidget()
    qtbot.addWidget(page)
    heard: list[Changes] = []
    hub.changed.connect(heard.append)
    ran_on: list[str] = []
    results: list[object] = []

    def work() -> str:
        ran_on.append(threading.current_thread().name)
        return "written"

    hub.change(page, work, {Topic.PATIENTS}, then=results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=WAIT_MS)
    assert results == ["written"]
    assert ran_on[0].startswith("clinicdesk-db")
    assert heard[0].topics == {Topic.PATIENTS, Topic.OUTBOX}  # every local change queues
    assert heard[0].origin is page
    assert heard[0].touch(Topic.PATIENTS, Topic.APPOINTMENTS)
    assert not heard[0].touch(Topic.SCHEDULE)


def test_a_change_whose_window_closed_is_still_announced_but_not_followed_up(
    qtbot: QtBot, hub: ChangeHub
) -> None:
    page = QWidget()
    release = threading.Event()
    heard: list[Changes] = []
    hub.changed.connect(heard.append)
    followed: list[object] = []
    hub.change(page, lambda: release.wait(5), {Topic.APPOINTMENTS}, then=followed.append)
    page.deleteLater()
    qtbot.waitUntil(lambda: not _alive(page), timeout=WAIT_MS)
    release.set()
    qtbot.waitUntil(lambda: bool(heard), timeout=WAIT_MS)
    assert heard[0].touch(Topic.OUTBOX)  # the change was made: the outbox must be sent
    assert followed == []


def test_a_refused_change_is_said_in_words_and_announces_nothing(
    qtbot: QtBot, hub: ChangeHub
) -> None:
    page = QWidget()
    qtbot.addWidget(page)
    heard: list[Changes] = []
    hub.changed.connect(heard.append)

    def refused() -> None:
        raise SlotTaken("Dr Ames already has an appointment then.")

    hub.change(page, refused, {Topic.APPOINTMENTS})
    qtbot.waitUntil(lambda: _message_box(page) is not None, timeout=WAIT_MS)
    box = _message_box(page)
    assert box is not None
    assert box.text() == "Dr Ames already has an appointment then."
    assert box.windowTitle() == "The change was not made"
    assert heard == []


def test_an_unexpected_error_is_logged_and_staff_get_calm_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="desktop"):
        said = errors.words(KeyError("provider_id"))
    assert said == errors.UNEXPECTED
    assert "provider_id" not in said
    assert caplog.records[0].exc_info is not None  # the traceback is kept for support


def test_expected_errors_keep_their_own_words_and_are_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Form(BaseModel):
        first_name: str

    with pytest.raises(ValidationError) as invalid:
        Form.model_validate({"first_name": 3})
    with caplog.at_level(logging.ERROR, logger="desktop"):
        assert errors.words(SlotTaken("Taken.")) == "Taken."
        assert errors.words(invalid.value).startswith("Please check first name:")
    assert caplog.records == []


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


def test_remembered_state_falls_back_on_what_this_version_does_not_know() -> None:
    colour = state.choice(f"test/colour-{uuid.uuid4()}", Colour.RED)
    size = state.number(f"test/size-{uuid.uuid4()}", 5, frozenset({5, 15}))
    chosen = state.ids(f"test/ids-{uuid.uuid4()}")
    assert (colour.get(), size.get(), chosen.get()) == (Colour.RED, 5, frozenset())

    settings = QSettings()
    settings.setValue(colour.key, "mauve")
    settings.setValue(size.key, "7")
    one = uuid.uuid4()
    settings.setValue(chosen.key, [str(one), "not-an-id"])
    assert (colour.get(), size.get(), chosen.get()) == (Colour.RED, 5, {one})

    settings.setValue(chosen.key, str(one))  # one entry: some backends store a bare string
    assert chosen.get() == {one}

    colour.set(Colour.BLUE)
    size.set(15)
    chosen.set(frozenset())
    assert (colour.get(), size.get(), chosen.get()) == (Colour.BLUE, 15, frozenset())


def test_a_choice_is_declared_once() -> None:
    key = f"test/twice-{uuid.uuid4()}"
    state.text(key)
    with pytest.raises(ValueError, match="remembered twice"):
        state.text(key)
    assert key in state.declared()


def _alive(widget: QWidget) -> bool:
    import shiboken6

    return shiboken6.isValid(widget)


def _message_box(parent: QWidget) -> QMessageBox | None:
    return parent.findChild(QMessageBox, "errorMessage")
