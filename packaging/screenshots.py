"""Take the README's screenshots from the real desktop, signed in to a real demo server.

Run under Xvfb by ``make screenshots``; the keyring is the tests' in-memory one and the
settings live in a temporary folder, so the machine's own are never touched.

- ``diary.png``: today's day view, after two of today's patients have checked in (so the
  waiting room and the "arrived" marks show).
- ``week.png``: this week, every provider, the waiting room folded away.
- ``patient.png``: the file of one of today's patients with a staff alert, and their
  appointments past and to come.
- ``requests.png``: Worklists → Booking requests, the demo's web requests waiting.
- ``messages.png``: the inbox, unread texts first, one conversation open with its
  delivery states (the demo's conversations, sent through the development outbox).
- ``form-builder.png``: Settings → Forms, the demo's health questionnaire open in the
  form builder (signed in as the clinic admin), its choice question chosen.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import keyring
from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from common.appointments import AppointmentStatus
from desktop.diary.model import Mode
from desktop.kit.tasks import TaskRunner
from desktop.mainwindow import PAGES, MainWindow
from desktop.settings.forms import FormsTab
from server.clinics.models import Clinic
from server.db import transaction
from server.demo import ADMIN, FRONT_DESK, seed_demo_conversations, seed_demo_forms
from server.messaging.dispatcher import Dispatcher
from sync import account, keys
from sync.engine import SyncEngine
from tests.support.live_server import LiveServer
from tests.support.memory_keyring import MEMORY_KEYRING, MemoryKeyring


def _wait(app: QApplication, done: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the desktop did not get there in time")
        app.processEvents()
        time.sleep(0.02)


def _settle(app: QApplication) -> None:
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)


def _private_settings(folder: Path) -> None:
    QCoreApplication.setOrganizationName("ClinicdeskScreenshots")
    QCoreApplication.setApplicationName("ClinicdeskScreenshots")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))


def _shows(window: MainWindow, mode: Mode) -> bool:
    shown = window.diary.view.shown
    return shown is not None and shown.mode is mode and bool(window.diary.view.items_by_id)


def _check_in_two(app: QApplication, window: MainWindow) -> None:
    """Two of today's booked patients arrive, and the change reaches the server."""
    diary = window.diary
    booked = sorted(
        (e for e in diary.model.rows if e.status is AppointmentStatus.BOOKED),
        key=lambda e: e.starts_at,
    )[:2]
    for entry in booked:
        diary.request_status(entry.id, "check_in")
    _wait(
        app,
        lambda: all(
            (i := diary.view.items_by_id.get(e.id)) is not None
            and i.entry.status is AppointmentStatus.ARRIVED
            and not i.entry.pending
            for e in booked
        ),
    )


def _converse(server: LiveServer) -> None:
    """The demo's conversations, as ``clinicdesk seed-demo`` writes them, and sent."""
    with transaction(server.sessionmaker) as session:
        clinic = session.scalars(select(Clinic).where(Clinic.slug == "demo")).one()
        seed_demo_conversations(session, clinic)
    Dispatcher(server.app.state.database, {}).drain()


def _form_builder(
    app: QApplication, server: LiveServer, window: MainWindow, folder: Path, out_dir: Path
) -> None:
    """The demo's forms, and the health questionnaire open in the builder, as the
    clinic admin sees it."""
    with transaction(server.sessionmaker) as session:
        clinic = session.scalars(select(Clinic).where(Clinic.slug == "demo")).one()
        seed_demo_forms(session, clinic)
    admin = account.sign_in(folder, server.url, "demo", ADMIN.email, ADMIN.password)
    SyncEngine(admin.store, account.sync_client(admin)).sync()  # the video type too
    tab = FormsTab(window.runner, admin, window.zone)
    tab.show_schedule(admin.store.schedule())
    tab.refresh()
    _wait(app, lambda: tab.model.rowCount() >= 2)
    row = next(n for n, f in enumerate(tab.model.rows) if f.title == "Health questionnaire")
    dialog = tab.edit(row)
    assert dialog is not None
    dialog.resize(900, 640)
    dialog.questions.setCurrentRow(1)  # a choice question: its choices show
    _settle(app)
    dialog.grab().save(str(out_dir / "form-builder.png"))
    dialog.reject()
    admin.store.close()


def main(out_dir: Path) -> None:
    keys.TRUSTED_BACKENDS.add(MEMORY_KEYRING)
    keyring.set_keyring(MemoryKeyring())
    app = QApplication(sys.argv[:1])
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        _private_settings(Path(tmp) / "settings")
        server = LiveServer(Path(tmp) / "server.sqlite3")
        _converse(server)
        desk = account.sign_in(
            Path(tmp) / "desk", server.url, "demo", FRONT_DESK.email, FRONT_DESK.password
        )
        runner = TaskRunner()
        window = MainWindow(desk, runner, SyncEngine(desk.store, account.sync_client(desk)))
        window.resize(1400, 880)
        window.show()
        _wait(app, lambda: window.sync_label.text().startswith("Online"))
        _wait(app, lambda: _shows(window, Mode.DAY))
        _check_in_two(app, window)
        _wait(app, lambda: window.diary.arrivals.model.rowCount() == 2)
        _settle(app)
        window.grab().save(str(out_dir / "diary.png"))

        window.resize(1440, 900)
        window.diary.splitter.setSizes([1, 0])  # the week gets the whole width
        window.diary.set_mode(Mode.WEEK)
        _wait(app, lambda: _shows(window, Mode.WEEK))
        _settle(app)
        window.grab().save(str(out_dir / "week.png"))

        alerted = next(e for e in window.diary.model.rows if e.patient_alerts)
        window.open_patient(alerted.patient_id)
        patients = window.patients
        _wait(app, lambda: patients.file.shown is not None and bool(patients.file.visits.rows))
        _settle(app)
        window.grab().save(str(out_dir / "patient.png"))

        window.nav.setCurrentRow(PAGES.index("Worklists"))
        window.worklists.setCurrentWidget(window.requests)
        _wait(app, lambda: window.requests.model.rowCount() > 0)
        window.requests.table.selectRow(0)
        _settle(app)
        window.grab().save(str(out_dir / "requests.png"))

        window.nav.setCurrentRow(PAGES.index("Messages"))
        messages = window.messages
        _wait(app, lambda: messages.model.rowCount() > 3)
        messages.table.selectRow(0)
        _wait(app, lambda: messages.shown is not None and bool(messages.shown.messages))
        _settle(app)
        window.grab().save(str(out_dir / "messages.png"))

        _form_builder(app, server, window, Path(tmp) / "admin", out_dir)

        window.close()
        runner.shutdown()
        desk.store.close()
        server.close()
    print(
        "Saved diary.png, week.png, patient.png, requests.png, messages.png and "
        f"form-builder.png in {out_dir}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "resources/screenshots"))
