"""The "Portal" tab of a patient's file: whether the patient has a portal account (or is
a family member on someone else's), who is on that account, the invitations sent and
where each stands, and the portable profile the patient keeps on their account, shown
only while they share it with this clinic.

The portal lives on the server only (nothing of it is kept in the desk's copy), so every
read and action runs on the network lane with the signed-in person's session, whenever
the tab is looked at. A refusal (an address another file has too, no usable address)
comes back in the server's words, in a dialog, so staff can fix the file and try again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from common.errors import NotAuthenticated
from common.portal import PROFILE_FIELDS, InviteStatus, Relation
from common.roles import Permission, can
from desktop.kit import errors
from desktop.kit.table_model import ColumnsModel, own_selection
from desktop.kit.tasks import TaskRunner
from desktop.settings.online import SIGNED_IN_OFFLINE, on_server
from sync.account import Desk
from sync.client import ServerClient, ServerUnreachable
from sync.protocol import (
    ImpersonationTicket,
    PatientPortalRecord,
    PortalInviteRecord,
    PortalPersonRecord,
)

SEND = "Send invite to patient portal"
AGAIN = "Send a new invitation"
NOT_SHARED = (
    "Not shared: the patient has not signed this clinic's profile-sharing consent. "
    "You see only the name."
)
OPEN = (InviteStatus.SENT, InviteStatus.OPENED)


def when(moment: datetime | None, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%d %b %Y %H:%M}" if moment else ""


def account_words(record: PatientPortalRecord) -> str:
    """The account's state in one sentence."""
    if record.relation is Relation.DEPENDANT:
        holder = record.holder_name or "another patient"
        return f"Family member: managed on the portal account of {holder}."
    if record.has_account:
        return f"Has a portal account: {record.email}."
    return "No portal account."


class PeopleModel(ColumnsModel):
    def __init__(self) -> None:
        super().__init__(["Name", "On the account as"])

    def cell(self, row: PortalPersonRecord, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.name, row.relation.label)[column]
        return None


class InvitesModel(ColumnsModel):
    """Newest first, as the server lists them."""

    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(["State", "E-mail", "Sent", "Opened", "Account created", "Expires"])
        self.zone = zone

    def cell(self, row: PortalInviteRecord, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                row.status.label,
                row.email,
                when(row.sent_at, self.zone),
                when(row.opened_at, self.zone),
                when(row.accepted_at, self.zone),
                when(row.expires_at, self.zone) if row.status in OPEN else "",
            )[column]
        return None


def _table(model: ColumnsModel, name: str) -> QTableView:
    table = QTableView()
    table.setObjectName(name)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


class PortalTab(QWidget):
    """The tab itself. ``set_desk`` gives it who is signed in (None: nobody), and with it
    what their role may do here; ``show_patient`` the file open. It asks the server
    whenever it is shown."""

    def __init__(self, runner: TaskRunner, zone: ZoneInfo) -> None:
        super().__init__()
        self.runner, self.zone = runner, zone
        self.desk: Desk | None = None
        self.patient_id: uuid.UUID | None = None
        self.record: PatientPortalRecord | None = None
        self.busy = False
        self.box: QMessageBox | None = None  # the last refusal shown (tests read it)
        # How the impersonation address is opened (the system's browser).
        self.open_url: Callable[[QUrl], Any] = QDesktopServices.openUrl

        self.state = QLabel()
        self.state.setObjectName("portalState")
        self.state.setWordWrap(True)
        self.state.setTextFormat(Qt.TextFormat.PlainText)
        self.message = QLabel()
        self.message.setObjectName("portalMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.invite_button = QPushButton(SEND)
        self.invite_button.setObjectName("portalInvite")
        self.invite_button.clicked.connect(self.invite)
        self.withdraw_button = QPushButton("Withdraw")
        self.withdraw_button.setToolTip("Call off the chosen invitation: its link stops working")
        self.withdraw_button.clicked.connect(self.withdraw)
        self.impersonate_button = QPushButton("View portal as patient")
        self.impersonate_button.setObjectName("portalImpersonate")
        self.impersonate_button.setToolTip(
            "Opens the portal in your browser as this patient sees it; recorded in the audit"
        )
        self.impersonate_button.clicked.connect(self.impersonate)

        self.people = PeopleModel()
        self.people_table = _table(self.people, "portalPeople")
        self.invites = InvitesModel(zone)
        self.invites_table = _table(self.invites, "portalInvites")
        own_selection(self.invites_table).selectionChanged.connect(lambda *_: self._enable())

        self.not_shared = QLabel(NOT_SHARED)
        self.not_shared.setObjectName("portalNotShared")
        self.not_shared.setWordWrap(True)
        self.profile_box = QWidget()
        profile_form = QFormLayout(self.profile_box)
        profile_form.setContentsMargins(0, 0, 0, 0)
        self.profile: dict[str, QLabel] = {}
        for key, label in PROFILE_FIELDS.items():
            value = QLabel()
            value.setObjectName(f"portalProfile_{key}")
            value.setTextFormat(Qt.TextFormat.PlainText)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            profile_form.addRow(label, value)
            self.profile[key] = value
        self.shared_since = QLabel()
        self.shared_since.setObjectName("portalSharedSince")

        actions = QHBoxLayout()
        actions.addWidget(self.invite_button)
        actions.addWidget(self.impersonate_button)
        actions.addStretch(1)
        invites_head = QHBoxLayout()
        invites_head.addWidget(QLabel("<b>Invitations</b>, newest first"))
        invites_head.addStretch(1)
        invites_head.addWidget(self.withdraw_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.state)
        layout.addLayout(actions)
        layout.addWidget(self.message)
        layout.addWidget(QLabel("<b>People on the account</b>"))
        layout.addWidget(self.people_table, 1)
        layout.addLayout(invites_head)
        layout.addWidget(self.invites_table, 2)
        layout.addWidget(QLabel("<b>Shared profile</b>"))
        layout.addWidget(self.not_shared)
        layout.addWidget(self.shared_since)
        layout.addWidget(self.profile_box)
        self._show(None)

    # --- who and whom --------------------------------------------------------------------

    def set_desk(self, desk: Desk | None) -> None:
        """The signed-in person's role decides what shows: inviting needs patients:write,
        viewing the portal as the patient needs portal:impersonate."""
        self.desk = desk
        role = desk.staff.role if desk else None
        self.invite_button.setVisible(role is not None and can(role, Permission.PATIENTS_WRITE))
        self.withdraw_button.setVisible(role is not None and can(role, Permission.PATIENTS_WRITE))
        self.impersonate_button.setVisible(
            role is not None and can(role, Permission.PORTAL_IMPERSONATE)
        )
        self._enable()

    def show_patient(self, patient_id: uuid.UUID | None) -> None:
        if patient_id != self.patient_id:
            self._show(None)
            self._say("")
        self.patient_id = patient_id
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.refresh()  # what the patient did on the portal since: read when looked at

    # --- talking to the server -----------------------------------------------------------

    def _online(
        self,
        work: Callable[[ServerClient], Any],
        then: Callable[[Any], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> bool:
        if self.desk is None:
            self._say("Sign in to see the patient portal.")
            return False
        if not on_server(self.runner, self.desk, work, then, failed or self._failed):
            self._say(SIGNED_IN_OFFLINE)
            return False
        return True

    def _failed(self, error: BaseException) -> None:
        self.busy = False
        self._enable()
        self._say(errors.words(error))

    def _refused(self, title: str, error: BaseException) -> None:
        """The server's words in a dialog (and on the tab); the file is read again."""
        self.busy = False
        self._enable()
        self._say(errors.words(error))
        if not isinstance(error, ServerUnreachable | NotAuthenticated):
            self.box = errors.show(self, title, error)
        self.refresh()

    def refresh(self) -> None:
        patient_id = self.patient_id
        if patient_id is None or self.desk is None:
            return
        self._online(
            lambda c: c.patient_portal(patient_id), lambda found: self._read(patient_id, found)
        )

    def _read(self, patient_id: uuid.UUID, record: PatientPortalRecord) -> None:
        if patient_id == self.patient_id:
            self._show(record)

    def _act(
        self, work: Callable[[ServerClient], Any], then: Callable[[Any], None], title: str
    ) -> None:
        if self.busy or self.patient_id is None:
            return
        self.busy = True
        self._enable()
        if not self._online(work, then, lambda error: self._refused(title, error)):
            self.busy = False
            self._enable()

    # --- actions -------------------------------------------------------------------------

    def invite(self) -> None:
        """Send an invitation; while one is still open, ask first (the new one replaces
        it, and the link already in the patient's mailbox stops working)."""
        patient_id = self.patient_id
        if patient_id is None or self.busy:
            return
        pending = self._pending()
        if pending is None:
            self._send_invite()
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Send a new invitation?",
            f"The invitation sent to {pending.email} on {when(pending.sent_at, self.zone)} "
            "still works. Send a new one? The link in the earlier e-mail will stop working.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("portalReinvite")
        box.button(QMessageBox.StandardButton.Yes).setText(AGAIN)
        box.button(QMessageBox.StandardButton.Yes).clicked.connect(self._send_invite)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.open()
        self.box = box

    def _pending(self) -> PortalInviteRecord | None:
        record = self.record
        return next((i for i in record.invites if i.status in OPEN), None) if record else None

    def _send_invite(self) -> None:
        patient_id = self.patient_id
        if patient_id is None:
            return
        self._say("Sending the invitation…")
        self._act(
            lambda c: c.invite_to_portal(patient_id),
            self._invited,
            "The invitation was not sent",
        )

    def _invited(self, sent: PortalInviteRecord) -> None:
        self.busy = False
        self._say(f"Invitation sent to {sent.email}. The link works for 14 days.")
        self.refresh()

    def chosen(self) -> PortalInviteRecord | None:
        rows = self.invites_table.selectionModel().selectedRows()
        found: PortalInviteRecord | None = self.invites.row_at(rows[0].row()) if rows else None
        return found

    def withdraw(self) -> None:
        invite = self.chosen()
        if invite is None or invite.status not in OPEN:
            return
        self._act(
            lambda c: c.withdraw_portal_invite(invite.id),
            self._withdrawn,
            "The invitation was not withdrawn",
        )

    def _withdrawn(self, invite: PortalInviteRecord) -> None:
        self.busy = False
        self._say(f"The invitation to {invite.email} was withdrawn; its link no longer works.")
        self.refresh()

    def impersonate(self) -> None:
        patient_id = self.patient_id
        if patient_id is None:
            return
        self._say("Asking the server for a one-time address…")
        self._act(
            lambda c: c.impersonate_patient(patient_id),
            self._ticket,
            "The portal could not be opened as the patient",
        )

    def _ticket(self, ticket: ImpersonationTicket) -> None:
        self.busy = False
        self._enable()
        self.open_url(QUrl(ticket.url))
        self._say(
            "The portal opened in your browser as the patient sees it; everything done there "
            "is recorded under your name."
        )

    # --- showing -------------------------------------------------------------------------

    def _show(self, record: PatientPortalRecord | None) -> None:
        self.record = record
        if record is None:
            self.state.setText("Asking the server…" if self.patient_id else "No patient open")
            self.people.set_rows([])
            self.invites.set_rows([])
        else:
            self.state.setText(account_words(record))
            self.people.set_rows(record.people)
            self.invites.set_rows(record.invites)
        profile = record.profile if record else None
        self.not_shared.setVisible(record is not None and profile is None)
        self.profile_box.setVisible(profile is not None)
        self.shared_since.setVisible(profile is not None and record is not None)
        if record is not None and record.shared_since is not None:
            self.shared_since.setText(f"Shared since {when(record.shared_since, self.zone)}.")
        for key, label in self.profile.items():
            label.setText((profile or {}).get(key, "") or "—")
        self._enable()

    def _enable(self) -> None:
        ready = self.desk is not None and self.record is not None and not self.busy
        record = self.record
        self.invite_button.setEnabled(ready and record is not None and not record.has_account)
        self.invite_button.setText(AGAIN if self._pending() is not None else SEND)
        chosen = self.chosen()
        self.withdraw_button.setEnabled(ready and chosen is not None and chosen.status in OPEN)
        self.impersonate_button.setEnabled(ready and record is not None and record.has_account)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
