"""The main window: navigation on the left, the chosen page on the right, sync state below."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QStyle,
    QSystemTrayIcon,
    QWidget,
)

from common.roles import Permission, can
from desktop.config import SignInDefaults
from desktop.diary.page import DiaryPage
from desktop.kit.ops import SYNC, ChangeHub, Changes, Topic, synced
from desktop.kit.tasks import TaskRunner
from desktop.messages.page import MessagesPage
from desktop.patients.page import PatientsPage
from desktop.settings.page import SettingsPage
from desktop.signin import SignInDialog
from desktop.sync_status import Connection, SyncController, SyncState
from desktop.worklists.attention import AttentionPage
from desktop.worklists.forms import IncompleteFormsPage
from desktop.worklists.leads import LeadsPage
from desktop.worklists.page import WorklistsPage, titled
from desktop.worklists.portal_invites import PortalInvitesPage
from desktop.worklists.requests import RequestsPage
from sync.account import Desk, sync_client
from sync.engine import SyncEngine, SyncReport
from sync.live import LiveFeed
from sync.protocol import MessageTemplateRecord, SaveMessageTemplate
from sync.scheduling import PatientMatch

PAGES = ("Diary", "Worklists", "Messages", "Patients", "Settings")


class _Relay(QObject):
    """Carries calls from the live feed's and the network lane's threads onto the UI
    thread."""

    poke = Signal()  # the server says something changed
    seen = Signal()  # the server answered: it is reachable again
    requests = Signal()  # the booking requests changed on the server


class MainWindow(QMainWindow):
    def __init__(
        self, desk: Desk, runner: TaskRunner, engine: SyncEngine, sync_interval: int = 15
    ) -> None:
        super().__init__()
        self.desk = desk
        self.runner = runner
        # Every change made here or brought in by a sync is announced on the hub; each page
        # decides for itself whether to reload.
        self.hub = ChangeHub(runner)
        self.zone = ZoneInfo(desk.time_zone)
        self.setWindowTitle(f"Clinicdesk — {desk.clinic_name}")
        # The diary wants width (a lane per provider, the waiting room beside): take what
        # the screen offers, up to a comfortable size.
        screen = QGuiApplication.primaryScreen()
        room = screen.availableGeometry() if screen is not None else None
        self.resize(
            max(1200, min(1600, room.width())) if room else 1200,
            max(800, min(1000, room.height())) if room else 800,
        )

        self.nav = QListWidget()
        self.nav.addItems(PAGES)
        self.nav.setFixedWidth(150)
        self.pages = QStackedWidget()
        self.diary = DiaryPage(
            self.hub,
            desk.store,
            self.zone,
            fetch=lambda s, e: self.sync.engine.client.appointments(s, e),
            author=desk.author,
            clinic=desk.clinic_name,
        )
        self.diary.open_patient_requested.connect(self.open_patient)
        self.pages.addWidget(self.diary)
        self.attention = AttentionPage(self.hub, desk, self.zone)
        # Booking requests are listed live over the API; both lists count in "Worklists".
        self.requests = RequestsPage(
            self.hub,
            lambda: self.sync.engine.client,
            self.zone,
            lambda: self.sync.sync_now(),
            country=desk.country,
        )
        self.requests_waiting = 0
        self.requests.count_changed.connect(self._requests_counted)
        # Leads (web enquiries) are listed live too, and new ones count.
        self.leads = LeadsPage(
            self.hub,
            lambda: self.sync.engine.client,
            self.zone,
            lambda: self.sync.sync_now(),
            desk.store,
            desk.country,
        )
        self.leads_waiting = 0
        self.leads.count_changed.connect(self._leads_counted)
        # Invitations to the patient portal: listed live, when looked at.
        self.portal_invites = PortalInvitesPage(runner, lambda: self.sync.engine.client, self.zone)
        self.portal_invites.open_patient.connect(self.open_patient)
        # Patients whose forms are still open, from the desk's copy.
        self.incomplete_forms = IncompleteFormsPage(self.hub, desk.store, self.zone)
        self.incomplete_forms.open_patient.connect(self.open_patient_forms)
        self.worklists = WorklistsPage(
            self.attention, self.requests, self.leads, self.portal_invites, self.incomplete_forms
        )
        self.pages.addWidget(self.worklists)
        self.messages = MessagesPage(
            self.hub,
            desk.store,
            self.zone,
            author=desk.author,
            role=desk.staff.role,
            country=desk.country,
            clinic=desk.clinic_name,
        )
        self.messages.unread_changed.connect(self._messages_counted)
        self.messages.notified.connect(self.notify)
        self.tray: QSystemTrayIcon | None = None
        self.pages.addWidget(self.messages)
        self.patients = PatientsPage(
            self.hub, desk.store, self.zone, author=desk.author, country=desk.country
        )
        role = desk.staff.role
        self.patients.may_record_consent = can(role, Permission.PATIENTS_WRITE)
        self.patients.file.consent_button.setEnabled(self.patients.may_record_consent)
        self.diary.may_send_messages = can(role, Permission.COMMS_SEND_MESSAGE)
        self.diary.late_button.setEnabled(self.diary.may_send_messages)
        self.patients.book_requested.connect(self.book_for)
        self.patients.write_requested.connect(self.open_conversation)
        self.patients.links.set_desk(desk)  # booking links: online, with this sign-in
        self.patients.portal.set_desk(desk)  # the patient portal too
        self.patients.forms.set_desk(desk)  # and the answers to forms
        self.patients.treatment.set_desk(desk)  # and treatment plans
        self.patients.bills.set_desk(desk)  # and bills
        self.patients.appointment_requested.connect(self.show_appointment)
        self.pages.addWidget(self.patients)
        self.settings = SettingsPage(
            self.hub,
            desk,
            self.zone,
            templates=lambda: saved_templates(desk),
            save_template=self._save_template,
        )
        self.settings.open_patient_requested.connect(self.open_patient)
        self.pages.addWidget(self.settings)
        self.nav.currentRowChanged.connect(self.pages.setCurrentIndex)
        self.nav.setCurrentRow(0)
        for index in range(len(PAGES)):
            QShortcut(
                QKeySequence(f"Ctrl+{index + 1}"), self, lambda i=index: self.nav.setCurrentRow(i)
            )

        body = QWidget()
        layout = QHBoxLayout(body)
        layout.addWidget(self.nav)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(body)

        self.who = QLabel(f"{desk.staff.display_name} ({desk.staff.role.label})")
        self.sync_label = QLabel()
        self.sync_label.setObjectName("syncState")
        self.sign_in_again_button = QPushButton("Sign in again…")
        self.sign_in_again_button.setVisible(False)
        self.sign_in_again_button.clicked.connect(self.sign_in_again)
        self.statusBar().addWidget(self.sync_label, 1)
        self.sync_now_button = QPushButton("Sync now")
        self.sync_now_button.setObjectName("syncNow")
        self.sync_now_button.setToolTip("Send and fetch changes now, without waiting (F5)")
        self.statusBar().addPermanentWidget(self.sync_now_button)
        self.sign_out_button = QPushButton("Sign out")
        self.sign_out_button.setToolTip("End your sign-in; the next person signs in here")
        self.sign_out_button.clicked.connect(self.sign_out)
        self.statusBar().addPermanentWidget(self.sign_in_again_button)
        self.statusBar().addPermanentWidget(self.who)
        self.statusBar().addPermanentWidget(self.sign_out_button)

        self.sync = SyncController(runner, engine, desk.last_sync_at, sync_interval)
        self.sync.state_changed.connect(self._show_sync_state)
        self.sync.state_changed.connect(self._requests_reach)
        self.sync.synced.connect(self._after_sync)
        self.sync.revoked.connect(self._forget_offline_sign_ins)
        self._show_sync_state(self.sync.state)
        self.attention.reload()
        runner.run("db", desk.store.outbox_counts, self.sync.set_counts)
        self.hub.changed.connect(self._changes_heard)
        self._told = _Relay()
        self._told.poke.connect(self.sync.sync_now)
        self._told.seen.connect(self.sync.server_seen)
        self._told.requests.connect(
            lambda: self.hub.announce({Topic.BOOKING_REQUESTS, Topic.LEADS}, origin=SYNC)
        )
        self.sync_now_button.clicked.connect(self.sync.retry_now)
        QShortcut(QKeySequence(Qt.Key.Key_F5), self, self.sync.retry_now)
        self._watch(engine)
        self.sync.start()
        self.live = self._listen()
        self.requests.reload()
        self.leads.reload()

    def _watch(self, engine: SyncEngine) -> None:
        """Any request this engine's client gets answered is a sign the server is up."""
        engine.client.answered = self._told.seen.emit

    def _listen(self) -> LiveFeed:
        """Pull as soon as the server says something changed (the timer is the fallback);
        the stream opening again means the server is back: sync at once."""
        feed = LiveFeed(
            self.desk.server_url,
            self.desk.device_token,
            self._told.poke.emit,
            on_connect=self._told.seen.emit,
            on_requests=self._told.requests.emit,
        )
        feed.start()
        return feed

    # --- changes made here ---------------------------------------------------------

    def make_change(self, change: Callable[[], object]) -> None:
        """Write a change (local row + outbox entry) on the db lane; it is on screen at
        once and sent at once, online or not."""
        self.hub.change(self, change, {Topic.APPOINTMENTS})

    def _changes_heard(self, changes: Changes) -> None:
        if changes.touch(Topic.OUTBOX):
            # Something was queued here: count it and send it now.
            self.runner.run("db", self.desk.store.outbox_counts, self.sync.set_counts)
            self.sync.sync_now()

    def open_patient(self, patient_id: uuid.UUID) -> None:
        """The patient's file, on the Patients page."""
        self.nav.setCurrentRow(PAGES.index("Patients"))
        self.patients.open_patient(patient_id)

    def open_patient_forms(self, patient_id: uuid.UUID) -> None:
        """The patient's file on its Forms tab: what the worklist of incomplete forms
        opens it for."""
        self.open_patient(patient_id)
        self.patients.file.tabs.setCurrentWidget(self.patients.forms)

    def show_appointment(self, appointment_id: uuid.UUID, starts_at: datetime | None) -> None:
        """The appointment, selected on its day in the diary."""
        self.nav.setCurrentRow(PAGES.index("Diary"))
        self.diary.show_appointment(appointment_id, starts_at)

    def open_conversation(self, patient_id: uuid.UUID) -> None:
        """The patient's conversation, on the Messages page."""
        self.nav.setCurrentRow(PAGES.index("Messages"))
        self.messages.open_patient(patient_id)

    def _messages_counted(self, unread: int) -> None:
        self.nav.item(PAGES.index("Messages")).setText(titled("Messages", unread))

    def _save_template(self, command: SaveMessageTemplate, done: Callable[[], None]) -> None:
        """A clinic admin's wording, queued like every other change (offline too)."""
        store, author = self.desk.store, self.desk.author
        self.hub.change(
            self,
            lambda: store.save_template(
                author,
                command.message_kind,
                command.channel,
                body=command.body,
                subject=command.subject,
            ),
            {Topic.MESSAGES},
            then=lambda _id: done(),
        )

    def notify(self, title: str, text: str) -> None:
        """A new text, said by the system tray where there is one (clicking it opens the
        Messages page); the count in the navigation says it everywhere."""
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        if self.tray is None:
            icon = self.windowIcon()
            if icon.isNull():
                icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation)
            self.tray = QSystemTrayIcon(icon, self)
            self.tray.setToolTip(self.windowTitle())
            self.tray.messageClicked.connect(
                lambda: self.nav.setCurrentRow(PAGES.index("Messages"))
            )
            self.tray.show()
        self.tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 10_000)

    def book_for(self, patient: PatientMatch) -> None:
        """The diary's appointment dialog, with the patient already chosen."""
        self.nav.setCurrentRow(PAGES.index("Diary"))
        dialog = self.diary.new_appointment()
        if dialog is not None:
            dialog.choose_patient(patient)

    def _show_sync_state(self, state: SyncState) -> None:
        self.sync_label.setText(state.describe(self.zone))
        self._count_worklists()
        self.sign_in_again_button.setVisible(state.connection is Connection.SIGNED_OUT)

    def _requests_counted(self, count: int) -> None:
        self.requests_waiting = count
        self._count_worklists()

    def _leads_counted(self, count: int) -> None:
        self.leads_waiting = count
        self._count_worklists()

    def _requests_reach(self, state: SyncState) -> None:
        """Booking requests and leads live on the server: the pages follow whether it
        answers."""
        if state.connection is not Connection.SYNCING:
            self.requests.connection_changed(state.connection is Connection.ONLINE)
            self.leads.connection_changed(state.connection is Connection.ONLINE)

    def _count_worklists(self) -> None:
        """What waits in the worklists: changes needing attention, booking requests and
        new leads."""
        attention = self.sync.state.attention
        self.worklists.show_attention(attention)
        waiting = attention + self.requests_waiting + self.leads_waiting
        self.nav.item(PAGES.index("Worklists")).setText(titled("Worklists", waiting))

    def _forget_offline_sign_ins(self) -> None:
        """This workstation was removed by an admin: nobody may use it offline either,
        until an online sign-in enrolls it again."""
        self.runner.run("db", self.desk.store.forget_logins, lambda _none: None)

    def sign_out(self) -> SignInDialog:
        """End this person's sign-in (on the server too, when it can be reached) and ask
        for the next one; the window stays hidden meanwhile. Their unsent changes stay in
        the outbox and are still sent: they were signed when made."""
        client = self.sync.engine.client
        self.runner.run("net", client.sign_out, lambda _none: None, lambda _error: None)
        self.diary.author = None  # nothing more is signed as them
        self.patients.set_author(None)
        self.patients.links.set_desk(None)
        self.patients.portal.set_desk(None)
        self.patients.forms.set_desk(None)
        self.patients.treatment.set_desk(None)
        self.patients.bills.set_desk(None)
        self.messages.set_author(None)
        self.hide()
        dialog = self.sign_in_again()
        dialog.rejected.connect(self.close)
        return dialog

    def sign_in_again(self) -> SignInDialog:
        """Re-enroll this workstation (its enrollment lapsed or was revoked) and resume
        syncing into the same local store."""
        defaults = SignInDefaults(
            self.desk.server_url, self.desk.clinic_slug, self.desk.staff.email
        )
        # No parent: it must stay on screen while this window is hidden (after signing
        # out). Held here, so it lives as long as it is open.
        dialog = SignInDialog(
            self.runner, self.desk.store.path.parent, defaults, None, same_clinic=True
        )
        dialog.accepted.connect(lambda: self._signed_in_again(dialog))
        self._sign_in_dialog = dialog
        dialog.open()
        return dialog

    def _signed_in_again(self, dialog: SignInDialog) -> None:
        fresh = dialog.desk
        if fresh is None:
            return
        fresh.store.close()  # the same file (same server and clinic) this window has open
        self.show()
        self.desk = replace(
            self.desk,
            staff=fresh.staff,
            author=fresh.author,
            online=fresh.online,
            session_token=fresh.session_token,
            device_token=fresh.device_token,
        )
        self.who.setText(f"{fresh.staff.display_name} ({fresh.staff.role.label})")
        self.diary.author = fresh.author  # changes from now on are theirs and signed so
        self.patients.set_author(fresh.author)
        self.patients.links.set_desk(self.desk)
        self.patients.portal.set_desk(self.desk)
        self.patients.forms.set_desk(self.desk)
        self.patients.treatment.set_desk(self.desk)
        self.patients.bills.set_desk(self.desk)
        self.messages.set_author(fresh.author, fresh.staff.role)
        self.attention.desk = self.desk
        self.settings.set_desk(self.desk)  # what may be edited follows the role
        engine = SyncEngine(self.desk.store, sync_client(self.desk), window=self.sync.engine.window)
        self._watch(engine)
        self.sync.resume(engine)
        self.live.stop()
        self.live = self._listen()

    def _after_sync(self, report: SyncReport) -> None:
        """Tell every page what the sync may have changed."""
        topics = synced(report)
        if report.rejected or report.attention != len(self.attention.model.rows):
            topics.add(Topic.ATTENTION)
        self.hub.announce(topics, origin=SYNC)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.sync.stop()
        self.live.stop()
        if self.tray is not None:
            self.tray.hide()
        super().closeEvent(event)


def saved_templates(desk: Desk) -> list[MessageTemplateRecord]:
    """The clinic's own wordings as this desk has them (the editor shows defaults for the
    rest)."""
    return [
        MessageTemplateRecord(
            id=view.id,
            version=view.version,
            kind=view.kind,
            channel=view.channel,
            purpose=view.purpose,
            subject=view.subject,
            body=view.body,
        )
        for view in desk.store.templates()
    ]
