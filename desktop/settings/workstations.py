"""Workstations and staff, for clinic admins: who is signed in where, the buttons for a
lost laptop or a person who left, and recent sign-in lock-outs.

Unlike the rest of Settings this works only online: removing a workstation or a person
means nothing until the server knows. Every call runs on the network lane; the page says
in words when the server cannot be reached or the role does not allow it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from common.roles import Permission, can
from desktop.kit.errors import words
from desktop.kit.table_model import ColumnsModel
from desktop.kit.tasks import TaskRunner
from desktop.settings.online import SIGNED_IN_OFFLINE, on_server
from sync.account import Desk
from sync.client import ServerClient
from sync.protocol import LockoutInfo, StaffMemberRecord, WorkstationRecord


@dataclass(frozen=True)
class SignedIn:
    """One open sign-in, as a row: who, on which workstation, since when."""

    session_id: uuid.UUID
    staff_name: str
    workstation: str
    since: datetime


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%d %b %H:%M}" if moment else "never"


class WorkstationsModel(ColumnsModel):
    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(("Workstation", "Enrolled", "Last seen", "Status"))
        self.zone = zone

    def cell(self, row: WorkstationRecord, column: int, role: int) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        status = "Removed" if row.revoked_at else f"{len(row.signed_in)} signed in"
        return (
            f"{row.name} (this desk)" if row.this_workstation else row.name,
            _when(row.enrolled_at, self.zone),
            _when(row.last_seen_at, self.zone),
            status,
        )[column]


class SignInsModel(ColumnsModel):
    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(("Who", "Workstation", "Since"))
        self.zone = zone

    def cell(self, row: SignedIn, column: int, role: int) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return (row.staff_name, row.workstation, _when(row.since, self.zone))[column]


class LockoutsModel(ColumnsModel):
    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(("When", "Locked", "E-mail typed", "From", "Until"))
        self.zone = zone

    def cell(self, row: LockoutInfo, column: int, role: int) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        what = "Account" if row.scope == "account" else "Network address"
        return (
            _when(row.at, self.zone),
            what,
            row.email,
            row.address,
            _when(row.until, self.zone),
        )[column]


class StaffModel(ColumnsModel):
    def __init__(self) -> None:
        super().__init__(("Name", "E-mail", "Role", "Status"))

    def cell(self, row: StaffMemberRecord, column: int, role: int) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return (
            row.display_name,
            row.email,
            row.role.label,
            "Active" if row.active else "Deactivated",
        )[column]


def _table(model: ColumnsModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(True)
    view.verticalHeader().setVisible(False)
    return view


class WorkstationsTab(QWidget):
    def __init__(self, runner: TaskRunner, desk: Desk, zone: ZoneInfo) -> None:
        super().__init__()
        self.runner, self.desk, self.zone = runner, desk, zone
        self.workstations = WorkstationsModel(zone)
        self.sign_ins = SignInsModel(zone)
        self.staff = StaffModel()
        self.lockouts = LockoutsModel(zone)
        self.workstation_view = _table(self.workstations)
        self.sign_in_view = _table(self.sign_ins)
        self.staff_view = _table(self.staff)
        self.lockout_view = _table(self.lockouts)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setObjectName("workstationsMessage")

        self.refresh_button = QPushButton("Refresh")
        self.remove_button = QPushButton("Remove workstation…")
        self.end_button = QPushButton("End sign-in")
        self.deactivate_button = QPushButton("Deactivate…")
        self.reactivate_button = QPushButton("Reactivate")
        self.refresh_button.clicked.connect(self.refresh)
        self.remove_button.clicked.connect(self.remove_workstation)
        self.end_button.clicked.connect(self.end_sign_in)
        self.deactivate_button.clicked.connect(lambda: self.set_active(False))
        self.reactivate_button.clicked.connect(lambda: self.set_active(True))

        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(QLabel("<b>Workstations</b> (a removed one must sign in again)"))
        layout.addWidget(self.workstation_view, 2)
        layout.addLayout(_row(self.refresh_button, self.remove_button))
        layout.addWidget(QLabel("<b>Signed in now</b>"))
        layout.addWidget(self.sign_in_view, 1)
        layout.addLayout(_row(self.end_button))
        layout.addWidget(QLabel("<b>Staff</b> (a deactivated person can sign in nowhere)"))
        layout.addWidget(self.staff_view, 2)
        layout.addLayout(_row(self.deactivate_button, self.reactivate_button))
        layout.addWidget(QLabel("<b>Sign-in lock-outs</b> (too many wrong passwords)"))
        layout.addWidget(self.lockout_view, 1)
        self.set_desk(desk)

    def set_desk(self, desk: Desk) -> None:
        self.desk = desk
        allowed = can(desk.staff.role, Permission.STAFF_MANAGE)
        for button in (
            self.remove_button,
            self.end_button,
            self.deactivate_button,
            self.reactivate_button,
        ):
            button.setEnabled(allowed)
        if not allowed:
            self._say("Only clinic admins can see and change workstations and staff.")

    # --- talking to the server ----------------------------------------------------------

    def _online(self, work: Callable[[ServerClient], Any], then: Callable[[Any], None]) -> None:
        if not on_server(self.runner, self.desk, work, then, self._failed):
            self._say(SIGNED_IN_OFFLINE)

    def refresh(self) -> None:
        if not can(self.desk.staff.role, Permission.STAFF_MANAGE):
            return
        self._say("Asking the server…")
        self._online(lambda c: (c.workstations(), c.staff(), c.lockouts()), self._show)

    def _show(
        self,
        found: tuple[list[WorkstationRecord], list[StaffMemberRecord], list[LockoutInfo]],
    ) -> None:
        workstations, staff, lockouts = found
        self.lockouts.set_rows(lockouts)
        self.workstations.set_rows(workstations)
        self.sign_ins.set_rows(
            [
                SignedIn(s.id, s.staff_name, w.name, s.started_at)
                for w in workstations
                for s in w.signed_in
            ]
        )
        self.staff.set_rows(staff)
        self._say("")

    def _failed(self, error: BaseException) -> None:
        self._say(words(error))

    def _say(self, text: str) -> None:
        self.message.setText(text)

    # --- the buttons ----------------------------------------------------------------------

    def _selected(self, view: QTableView, model: ColumnsModel, what: str) -> Any:
        rows = view.selectionModel().selectedRows()
        found = model.row_at(rows[0].row()) if rows else None
        if found is None:
            self._say(f"Choose a {what} in the list first.")
        return found

    def remove_workstation(self) -> None:
        chosen = self._selected(self.workstation_view, self.workstations, "workstation")
        if chosen is not None and chosen.revoked_at is not None:
            self._say(f"{chosen.name} was removed already.")
            return
        here = (
            " This is the desk you are using: it stops syncing at once and you must sign in again."
            if chosen is not None and chosen.this_workstation
            else ""
        )
        if chosen is None or not self._confirm(
            f"Remove {chosen.name}? Everyone signed in there is signed out at once, its "
            "unsent changes are refused, and nobody can use it until someone signs in "
            f"there again online.{here}"
        ):
            return
        self._online(lambda c: c.revoke_workstation(chosen.id), lambda _r: self.refresh())

    def end_sign_in(self) -> None:
        chosen = self._selected(self.sign_in_view, self.sign_ins, "sign-in")
        if chosen is None:
            return
        self._online(lambda c: c.end_sign_in(chosen.session_id), lambda _r: self.refresh())

    def set_active(self, active: bool) -> None:
        chosen = self._selected(self.staff_view, self.staff, "staff member")
        if chosen is None:
            return
        if not active and not self._confirm(
            f"Deactivate {chosen.display_name}? They are signed out everywhere, their "
            "unsent changes are refused, and desks stop letting them sign in offline."
        ):
            return
        self._online(lambda c: c.set_staff_active(chosen.id, active), lambda _r: self.refresh())

    def _confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Are you sure?", question)
        return answer == QMessageBox.StandardButton.Yes


def _row(*buttons: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    for button in buttons:
        row.addWidget(button)
    row.addStretch(1)
    return row
