"""Settings → "Patient portal", for clinic admins: the portal's address (the one patients
are sent to), and inviting every patient at once.

Before "Send (N) invites" the page shows what the server would do: N patients with an
address of their own, how many invitations are still open, and the addresses on several
patients' files. Those patients are left out (a portal account needs an address of its
own), so each row of that report opens the patient's file, where staff fix the address;
Refresh reads the report again afterwards.

All of it lives on the server: read and sent on the network lane with the signed-in
person's session, whenever the tab is opened or refreshed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.kit import errors
from desktop.kit.table_model import ColumnsModel
from desktop.kit.tasks import TaskRunner
from desktop.settings.online import SIGNED_IN_OFFLINE, on_server
from sync.account import Desk
from sync.client import ServerClient
from sync.protocol import (
    BulkInviteResult,
    InviteCandidatesRecord,
    PracticeProfileBody,
    SharedAddressRecord,
)


def portal_address(profile: PracticeProfileBody) -> str:
    """Where patients reach this clinic's portal (its practice page's address)."""
    if not profile.saved or not profile.slug:
        return ""
    return f"{profile.public_base_url.rstrip('/')}/portal/{profile.slug}"


def send_words(count: int) -> str:
    return f"Send ({count}) invites"


@dataclass(frozen=True)
class SharedRow:
    """One patient on an address several files share."""

    email: str
    patient_id: uuid.UUID
    name: str
    first: bool  # the address's first row: the address is written once


def shared_rows(shared: list[SharedAddressRecord]) -> list[SharedRow]:
    return [
        SharedRow(address.email, patient_id, name or "(no name)", n == 0)
        for address in shared
        for n, (patient_id, name) in enumerate(
            zip(address.patient_ids, address.patient_names, strict=False)
        )
    ]


class SharedModel(ColumnsModel):
    def __init__(self) -> None:
        super().__init__(["Address", "Patient", ""])

    def cell(self, row: SharedRow, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.email if row.first else "", row.name, "")[column]
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            return row.email
        return None


class PortalSettingsTab(QWidget):
    """The tab. ``open_patient`` asks the main window for a patient's file."""

    open_patient = Signal(object)  # patient id

    def __init__(self, runner: TaskRunner, desk: Desk) -> None:
        super().__init__()
        self.runner, self.desk = runner, desk
        self.candidates: InviteCandidatesRecord | None = None
        self.busy = False
        self.confirm: QMessageBox | None = None  # the question before sending (tests answer)
        self.box: QMessageBox | None = None  # the last refusal shown

        self.address = QLineEdit()
        self.address.setObjectName("portalAddress")
        self.address.setReadOnly(True)
        self.address.setPlaceholderText("Save the practice page first: the portal uses its address")
        self.count = QLabel()
        self.count.setObjectName("portalCandidates")
        self.count.setWordWrap(True)
        self.pending = QLabel()
        self.pending.setObjectName("portalPending")
        self.send_button = QPushButton(send_words(0))
        self.send_button.setObjectName("portalSendAll")
        self.send_button.clicked.connect(self.ask_send)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.message = QLabel()
        self.message.setObjectName("portalSettingsMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.outcome = QLabel()
        self.outcome.setObjectName("portalSent")
        self.outcome.setTextFormat(Qt.TextFormat.PlainText)
        self.shared_title = QLabel()
        self.shared_title.setObjectName("portalSharedTitle")
        self.shared_title.setWordWrap(True)
        self.shared = SharedModel()
        self.shared_table = QTableView()
        self.shared_table.setObjectName("portalShared")
        self.shared_table.setModel(self.shared)
        self.shared_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.shared_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.shared_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.shared_table.verticalHeader().setVisible(False)
        header = self.shared_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.shared_table.doubleClicked.connect(
            lambda index: self._open_row(self.shared.row_at(index.row()))
        )
        self.open_buttons: list[QPushButton] = []

        where = QHBoxLayout()
        where.addWidget(QLabel("Portal address"))
        where.addWidget(self.address, 1)
        sending = QHBoxLayout()
        sending.addWidget(self.send_button)
        sending.addWidget(self.refresh_button)
        sending.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(where)
        layout.addWidget(QLabel("<b>Invite patients</b>"))
        layout.addWidget(self.count)
        layout.addWidget(self.pending)
        layout.addLayout(sending)
        layout.addWidget(self.outcome)
        layout.addWidget(self.message)
        layout.addWidget(self.shared_title)
        layout.addWidget(self.shared_table, 1)
        self._enable()

    def set_desk(self, desk: Desk) -> None:
        self.desk = desk

    # --- the server ------------------------------------------------------------------

    def _call(
        self,
        work: Callable[[ServerClient], Any],
        then: Callable[[Any], None],
        failed: Callable[[BaseException], None],
    ) -> None:
        self.busy = True
        self._enable()
        if not on_server(self.runner, self.desk, work, then, failed):
            self.busy = False
            self._enable()
            self._say(SIGNED_IN_OFFLINE)

    def refresh(self) -> None:
        """The address and who would be invited, as the server says now."""
        if self.busy:
            return
        self._say("Asking the server…")
        self._call(
            lambda c: (c.practice_profile(), c.portal_invite_candidates()),
            self._read,
            self._unread,
        )

    def _read(self, answer: tuple[PracticeProfileBody, InviteCandidatesRecord]) -> None:
        self.busy = False
        profile, found = answer
        self.address.setText(portal_address(profile))
        self._show(found)
        self._say("")

    def _unread(self, error: BaseException) -> None:
        self.busy = False
        self._enable()
        self._say(f"The portal's invitations could not be read: {errors.words(error)}")

    def ask_send(self) -> QMessageBox | None:
        """Asked first: invitations cannot be called back once e-mailed."""
        found = self.candidates
        if found is None or not found.count or self.busy:
            return None
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Invite patients to the portal",
            f"E-mail an invitation to the patient portal to {found.count} patients? Each "
            "link works for 14 days.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("portalConfirm")
        yes = box.button(QMessageBox.StandardButton.Yes)
        yes.setText(send_words(found.count))
        yes.clicked.connect(self.send)
        # Invitations cannot be called back: Enter must not send hundreds.
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.open()
        self.confirm = box
        return box

    def send(self) -> None:
        self.outcome.setText("")
        self._say("Sending the invitations…")
        self._call(lambda c: c.invite_everyone_to_portal(), self._sent, self._refused)

    def _sent(self, result: BulkInviteResult) -> None:
        self.busy = False
        self.outcome.setText(f"Sent {result.sent} invitations.")
        self.refresh()  # the count is now those left, the pending ones more

    def _refused(self, error: BaseException) -> None:
        self.busy = False
        self._enable()
        self._say(errors.words(error))
        self.box = errors.show(self, "The invitations were not sent", error)

    # --- showing -------------------------------------------------------------------------

    def _show(self, found: InviteCandidatesRecord) -> None:
        self.candidates = found
        self.count.setText(
            f"{found.count} patients have an e-mail address of their own and no portal "
            "account or open invitation yet."
            if found.count
            else "Everyone with an e-mail address of their own is invited or has an account."
        )
        self.pending.setText(f"Invitations still open: {found.pending}")
        self.send_button.setText(send_words(found.count))
        rows = shared_rows(found.shared)
        self.shared.set_rows(rows)
        self.shared_title.setText(
            f"<b>Addresses shared by several patients</b> ({len(found.shared)}): these "
            "patients are not invited until each has an address of their own. Open a file "
            "to change the address, then Refresh."
            if found.shared
            else "No address is on more than one patient's file."
        )
        self.shared_table.setVisible(bool(rows))
        self.open_buttons = []
        for n, row in enumerate(rows):
            button = QPushButton("Open file")
            button.clicked.connect(lambda _=False, r=row: self._open_row(r))
            self.shared_table.setIndexWidget(self.shared.index(n, 2), button)
            self.open_buttons.append(button)
        self._enable()

    def _open_row(self, row: SharedRow | None) -> None:
        if row is not None:
            self.open_patient.emit(row.patient_id)

    def _enable(self) -> None:
        found = self.candidates
        self.send_button.setEnabled(not self.busy and found is not None and found.count > 0)
        self.refresh_button.setEnabled(not self.busy)

    def _say(self, text: str) -> None:
        self.message.setText(text)
