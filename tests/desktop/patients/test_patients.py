"""The Patients page, the patient form and the diary's hover card, on a real SQLCipher store
(no server: every change lands in the local copy and the outbox, as it does offline)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.appointments import AppointmentStatus
from desktop.diary.model import summary
from desktop.diary.page import DiaryPage
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from desktop.patients.form import PatientForm, guess_from_search
from desktop.patients.page import PatientsPage
from sync.schema import outbox
from sync.store import Store
from tests.support import records

pytestmark = pytest.mark.qt
ZONE = ZoneInfo("Europe/London")
WAIT_MS = 20_000  # a deadline for what must happen, with room for a loaded CI worker
AUTHOR = records.author()


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=ZONE).astimezone(UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "desk.db", secrets.token_bytes(32))
    opened.set_meta({"country": "GB", "time_zone": "Europe/London"})
    today = datetime.now(ZONE).date()
    doctor = records.provider_with_hours("Dr Adams")
    kind = records.appointment_type("Consultation")
    ada = records.patient_with(
        "Ada", "Lovelace", born=date(1980, 5, 17), phone="+442079460123"
    ).model_copy(
        update={
            "email": "ada@example.org",
            "alerts": ["Needs wheelchair access"],
            "city": "London",
            "sex": "female",
        }
    )
    alan = records.patient_with("Alan", "Turing", born=date(1912, 6, 23), phone="07700 900456")
    opened.apply_page(
        records.page(
            providers=[doctor],
            appointment_types=[kind],
            patients=[ada, alan],
            appointments=[
                records.typed(
                    records.appointment(doctor, ada, at(today + timedelta(days=2), 9)), kind
                ),
                records.appointment(
                    doctor,
                    ada,
                    at(today - timedelta(days=3), 10),
                    status=AppointmentStatus.COMPLETED,
                ),
                records.appointment(doctor, alan, at(today + timedelta(days=2), 11)),
            ],
        ),
        synced_at=datetime.now(UTC),
    )
    opened.keep_window((at(today - timedelta(days=30), 0), at(today + timedelta(days=180), 0)), [])
    yield opened
    opened.close()


@pytest.fixture
def page(qtbot: QtBot, runner: TaskRunner, store: Store) -> PatientsPage:
    shown = PatientsPage(ChangeHub(runner), store, ZONE, author=AUTHOR, country="GB")
    qtbot.addWidget(shown)
    shown.resize(1200, 800)
    shown.show()
    return shown


def queued(store: Store) -> list[dict]:
    with store.engine.connect() as conn:
        return [json.loads(r.command) for r in conn.execute(select(outbox).order_by(outbox.c.seq))]


def search(qtbot: QtBot, page: PatientsPage, text: str, rows: int) -> None:
    page.search.setText(text)
    qtbot.waitUntil(lambda: page.matches.rowCount() == rows, timeout=WAIT_MS)


def names(page: PatientsPage) -> list[str]:
    return [page.matches.index(n, 0).data() for n in range(page.matches.rowCount())]


# --- finding ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("love", ["Lovelace, Ada"]),
        ("a", ["Lovelace, Ada", "Turing, Alan"]),
        ("17/05/1980", ["Lovelace, Ada"]),
        ("020 7946 0123", ["Lovelace, Ada"]),  # typed nationally, stored in E.164
        ("07700 900456", ["Turing, Alan"]),
        ("ada@exa", ["Lovelace, Ada"]),
    ],
)
def test_a_patient_is_found_as_you_type(
    qtbot: QtBot, page: PatientsPage, typed: str, found: list[str]
) -> None:
    search(qtbot, page, typed, len(found))
    assert names(page) == found


def test_no_match_says_how_to_register(qtbot: QtBot, page: PatientsPage) -> None:
    page.search.setText("Hopper")
    qtbot.waitUntil(lambda: "No patient matches" in page.notice.text(), timeout=WAIT_MS)
    assert "New patient" in page.notice.text()


def test_the_file_shows_details_alerts_and_past_and_future_appointments(
    qtbot: QtBot, page: PatientsPage
) -> None:
    search(qtbot, page, "Lovelace", 1)
    page.table.selectRow(0)
    qtbot.waitUntil(lambda: page.file.title.text() == "Ada Lovelace", timeout=WAIT_MS)
    assert page.file.alerts.text() == "⚠ Needs wheelchair access"
    assert page.file.details["phone"].text() == "020 7946 0123"
    assert page.file.details["born"].text() == "17 May 1980"
    assert page.file.details["sex"].text() == "Female"
    visits = page.file.visits
    assert visits.rowCount() == 2
    assert [visits.index(n, 3).data() for n in range(2)] == ["Booked", "Completed"]
    assert [visits.index(n, 2).data() for n in range(2)] == ["Consultation", "—"]
    assert page.file.visits_title.text().startswith("Appointments: 1 to come, 1 past")


def test_book_for_this_patient_asks_the_diary_with_the_patient(
    qtbot: QtBot, page: PatientsPage, store: Store
) -> None:
    search(qtbot, page, "Turing", 1)
    page.table.selectRow(0)
    qtbot.waitUntil(lambda: page.file.book_button.isEnabled(), timeout=WAIT_MS)
    with qtbot.waitSignal(page.book_requested, timeout=WAIT_MS) as asked:
        qtbot.mouseClick(page.file.book_button, Qt.MouseButton.LeftButton)
    assert asked.args[0].name == "Alan Turing"


# --- registering -----------------------------------------------------------------------


def fill(form: PatientForm, **fields: str) -> None:
    for name, value in fields.items():
        widget = getattr(form, name)
        if name == "alerts":
            widget.setPlainText(value)
        else:
            widget.setText(value)


def test_a_new_patient_is_registered_and_their_file_opens(
    qtbot: QtBot, page: PatientsPage, store: Store
) -> None:
    form = page.new_patient()
    assert form is not None
    fill(
        form,
        first_name="Grace",
        last_name="Hopper",
        date_of_birth="09/12/1906",
        phone="020 7946 0999",
        alerts="Hard of hearing",
    )
    with qtbot.waitSignal(form.saved, timeout=WAIT_MS) as saved:
        qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    patient_id = saved.args[0].id
    [command] = queued(store)
    assert command["kind"] == "register_patient"
    assert command["patient_id"] == str(patient_id)
    assert command["phone"] == "+442079460999"
    assert command["alerts"] == ["Hard of hearing"]
    qtbot.waitUntil(lambda: page.file.title.text().startswith("Grace Hopper"), timeout=WAIT_MS)
    assert "not yet sent" in page.file.title.text()
    search(qtbot, page, "hopper", 1)


@pytest.mark.parametrize(
    ("field", "typed", "words"),
    [
        ("phone", "0770 090", "That phone number is not a valid UK number: 0770 090."),
        ("email", "grace@", "That e-mail address is not valid: grace@."),
        ("date_of_birth", "31/02/1906", "There is no such day as 31/02/1906"),
        ("date_of_birth", "01/01/2199", "is in the future"),
        ("last_name", " ", "Type the patient's last name."),
    ],
)
def test_a_refusal_is_said_beside_its_field_and_nothing_is_queued(
    qtbot: QtBot, page: PatientsPage, store: Store, field: str, typed: str, words: str
) -> None:
    form = page.new_patient()
    assert form is not None
    fill(form, first_name="Grace", last_name="Hopper")
    fill(form, **{field: typed})
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    problem = form.problems[field]
    qtbot.waitUntil(problem.isVisible, timeout=WAIT_MS)
    assert words in problem.text()
    assert form.isVisible()
    assert form.save_button.isEnabled()
    assert queued(store) == []


def test_every_refused_field_is_said_at_once_not_one_per_press(
    qtbot: QtBot, page: PatientsPage, store: Store
) -> None:
    form = page.new_patient()
    assert form is not None
    fill(form, first_name="Grace", last_name="Hopper", phone="12", email="grace@")
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(form.problems["phone"].isVisible, timeout=WAIT_MS)
    assert form.problems["email"].isVisible()
    assert "e-mail address is not valid" in form.problems["email"].text()
    assert not form.problems["first_name"].isVisible()
    assert queued(store) == []


def test_a_possible_duplicate_is_shown_and_staff_may_open_it(
    qtbot: QtBot, page: PatientsPage, store: Store
) -> None:
    form = page.new_patient()
    assert form is not None
    fill(form, first_name="ada", last_name="LOVELACE", date_of_birth="17/05/1980")
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(form.duplicate_box.isVisible, timeout=WAIT_MS)
    assert "Already on file?" in form.duplicate_text.text()
    assert form.duplicate_list.count() == 1
    assert form.duplicate_list.item(0).text().startswith("Lovelace, Ada · born 17/05/1980")
    assert queued(store) == []
    qtbot.mouseClick(form.open_existing_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.file.title.text() == "Ada Lovelace", timeout=WAIT_MS)
    assert not form.isVisible()
    assert queued(store) == []


def test_staff_may_go_on_past_a_possible_duplicate(
    qtbot: QtBot, page: PatientsPage, store: Store
) -> None:
    form = page.new_patient()
    assert form is not None
    fill(form, first_name="Augusta", last_name="King", phone="+44 20 7946 0123")
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(form.duplicate_box.isVisible, timeout=WAIT_MS)
    with qtbot.waitSignal(form.saved, timeout=WAIT_MS):
        qtbot.mouseClick(form.go_on_button, Qt.MouseButton.LeftButton)
    assert [c["kind"] for c in queued(store)] == ["register_patient"]


def test_saving_an_existing_patient_unchanged_queues_nothing(
    qtbot: QtBot, page: PatientsPage, store: Store
) -> None:
    search(qtbot, page, "Turing", 1)  # a phone stored before the rules: kept as it is
    page.table.selectRow(0)
    qtbot.waitUntil(lambda: page.file.edit_button.isEnabled(), timeout=WAIT_MS)
    form = page.edit_patient()
    assert form is not None
    with qtbot.waitSignal(form.saved, timeout=WAIT_MS):
        qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    assert queued(store) == []


def test_an_edit_is_queued_on_the_version_seen_and_shown_at_once(
    qtbot: QtBot, page: PatientsPage, store: Store
) -> None:
    search(qtbot, page, "Lovelace", 1)
    page.table.selectRow(0)
    qtbot.waitUntil(lambda: page.file.edit_button.isEnabled(), timeout=WAIT_MS)
    form = page.edit_patient()
    assert form is not None
    fill(form, city="Bath", alerts="Needs wheelchair access\nPrefers mornings")
    with qtbot.waitSignal(form.saved, timeout=WAIT_MS):
        qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    [command] = queued(store)
    assert command["kind"] == "update_patient"
    assert command["base_version"] == 2
    assert command["city"] == "Bath"
    qtbot.waitUntil(lambda: "Prefers mornings" in page.file.alerts.text(), timeout=WAIT_MS)


def test_what_was_searched_starts_the_new_patients_form() -> None:
    guessed = guess_from_search("Grace Brewster Hopper 09/12/1906 020 7946 0999 g@h.org")
    assert (guessed.first_name, guessed.last_name) == ("Grace Brewster", "Hopper")
    assert guessed.date_of_birth == date(1906, 12, 9)
    assert guessed.phone == "020 7946 0999"
    assert guessed.email == "g@h.org"
    assert guess_from_search("Hopper").first_name == "Hopper"


# --- the diary --------------------------------------------------------------------------


def test_alerts_show_on_the_diarys_hover_card(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    diary = DiaryPage(ChangeHub(runner), store, ZONE, author=AUTHOR)
    qtbot.addWidget(diary)
    diary.go_to(datetime.now(ZONE).date() + timedelta(days=2))
    qtbot.waitUntil(lambda: len(diary.view.appointment_items()) == 2, timeout=WAIT_MS)
    cards = {i.entry.patient_name: i.toolTip() for i in diary.view.appointment_items()}
    assert cards["Ada Lovelace"].splitlines()[:2] == ["Ada Lovelace", "⚠ Needs wheelchair access"]
    assert "⚠" not in cards["Alan Turing"]
    ada = next(e for e in diary.model.rows if e.patient_name == "Ada Lovelace")
    assert "⚠ Needs wheelchair access" in summary(ada, ZONE)
    # Marked on the block itself, where staff look without hovering.
    titles = {i.entry.patient_name: i.title for i in diary.view.appointment_items()}
    assert "⚠ Ada Lovelace" in titles["Ada Lovelace"]
    assert "⚠" not in titles["Alan Turing"]


def test_new_patient_in_the_booking_dialog_is_chosen_and_booked_after_registering(
    qtbot: QtBot, runner: TaskRunner, store: Store
) -> None:
    diary = DiaryPage(ChangeHub(runner), store, ZONE, author=AUTHOR)
    qtbot.addWidget(diary)
    qtbot.waitUntil(lambda: diary.model.shown.providers != [], timeout=WAIT_MS)
    starts = at(datetime.now(ZONE).date() + timedelta(days=3), 15)
    dialog = diary.new_appointment(store.providers()[0].id, starts)
    assert dialog is not None
    dialog.search.setText("Grace Hopper")
    dialog.run_search()
    qtbot.waitUntil(lambda: dialog.results.count() == 1, timeout=WAIT_MS)
    assert dialog.results.item(0).text() == "No patient matches that"
    assert dialog.new_patient_button.isVisible()
    qtbot.mouseClick(dialog.new_patient_button, Qt.MouseButton.LeftButton)
    form = dialog.patient_form
    assert form is not None
    assert (form.first_name.text(), form.last_name.text()) == ("Grace", "Hopper")
    form.phone.setText("020 7946 0999")
    with qtbot.waitSignal(form.saved, timeout=WAIT_MS):
        qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    assert dialog.patient is not None
    assert dialog.patient.name == "Grace Hopper"
    assert "Grace Hopper" in dialog.chosen.text()
    with qtbot.waitSignal(dialog.saved, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    first, second = queued(store)
    assert (first["kind"], second["kind"]) == ("register_patient", "book")
    assert second["patient_id"] == first["patient_id"]
