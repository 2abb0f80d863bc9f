"""The "Online booking" tab of a patient's file: send the patient a link to book one
appointment of a kind the clinic set up (a broadcast rule), see and copy the link just
sent, re-send or expire it, and the history of every link sent to them.

Links live on the server only (a link's address exists once, in the answer to sending
it), so everything here runs on the network lane with the signed-in person's session,
and the tab says in words when the server cannot be asked. The address of a link sent
from this desk is kept in memory only, for copying, until the file is closed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QShowEvent, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from common.booking_links import BookingLinkStatus
from common.roles import Permission, can
from desktop.kit.errors import words
from desktop.kit.table_model import ColumnsModel
from desktop.kit.tasks import TaskRunner
from desktop.settings.online import SIGNED_IN_OFFLINE, on_server
from sync.account import Desk
from sync.client import ServerClient
from sync.protocol import (
    BookingLinkEventRecord,
    BookingLinkRecord,
    BroadcastRuleRecord,
    SentBookingLink,
)

SEND = "Send appointment booking SMS"
NO_ADDRESS = "The address was shown when it was sent. Re-send for a new one to copy."


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%d %b %Y %H:%M}" if moment else ""


def allows_text(link: BookingLinkRecord, zone: ZoneInfo) -> str:
    """What the link lets the patient book, in one paragraph."""
    who = ", ".join(link.provider_names) if link.provider_names else "any provider who offers it"
    reschedule = "may" if link.allow_reschedule else "may not"
    return (
        f"{link.type_name} with {who}, on a day from {link.first_day:%d %b %Y} to "
        f"{link.last_day:%d %b %Y}. The link works until {_when(link.expires_at, zone)}; "
        f"the patient {reschedule} reschedule online."
    )


class LinksModel(ColumnsModel):
    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(["Status", "Rule", "Sent", "By", "Appointment"])
        self.zone = zone

    def cell(self, row: BookingLinkRecord, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                row.status.label,
                row.rule_title,
                _when(row.sent_at, self.zone),
                row.sent_by_name or "",
                _when(row.appointment_starts_at, self.zone) or "—",
            )[column]
        return None


class EventsModel(ColumnsModel):
    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(["When", "Status", "Appointment", "By", "Detail"])
        self.zone = zone

    def cell(self, row: BookingLinkEventRecord, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            booked = _when(row.starts_at, self.zone)
            if booked and row.provider_name:
                booked += f" with {row.provider_name}"
            return (
                _when(row.at, self.zone),
                row.status.label,
                booked or "—",
                row.staff_name or "",
                row.detail,
            )[column]
        return None


def _table(model: ColumnsModel) -> QTableView:
    table = QTableView()
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class EventsDialog(QDialog):
    """A link's whole history: sent, re-sent, opened, booked, rescheduled, expired."""

    def __init__(
        self,
        link: BookingLinkRecord,
        events: list[BookingLinkEventRecord],
        zone: ZoneInfo,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"History of the link “{link.rule_title}”")
        self.model = EventsModel(zone)
        self.model.set_rows(events)
        self.table = _table(self.model)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(allows_text(link, zone)))
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(720, 320)


class OnlineBookingTab(QWidget):
    """The tab itself. ``set_desk`` gives it who is signed in (None: nobody); ``show_patient``
    the file open; it reads the rules and the links whenever it is shown."""

    open_appointment = Signal(object, object)  # appointment id, its start (aware)

    def __init__(self, runner: TaskRunner, zone: ZoneInfo) -> None:
        super().__init__()
        self.runner, self.zone = runner, zone
        self.desk: Desk | None = None
        self.patient_id: uuid.UUID | None = None
        self.rules: list[BroadcastRuleRecord] = []
        self.current: BookingLinkRecord | None = None
        self.addresses: dict[uuid.UUID, str] = {}  # sent from here, this file's visit only
        self.busy = False
        self.events_dialog: EventsDialog | None = None

        self.rule_combo = QComboBox()
        # Items in a model made here, handed to the completer as it is: the combo's
        # ``model()`` could come back as a stale wrapper of another type.
        self.rule_items = QStandardItemModel(self.rule_combo)
        self.rule_combo.setModel(self.rule_items)
        self.rule_combo.setObjectName("bookingLinkRule")
        self.rule_combo.setEditable(True)
        self.rule_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        line = self.rule_combo.lineEdit()
        assert line is not None  # editable
        line.setPlaceholderText("Type to find a kind of appointment link")
        completer = QCompleter(self.rule_items, self.rule_combo)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.rule_combo.setCompleter(completer)
        completer.activated.connect(self._picked)
        self.send_button = QPushButton(SEND)
        self.send_button.setObjectName("sendBookingLink")
        self.send_button.clicked.connect(self.send)
        self.rule_combo.currentTextChanged.connect(lambda _t: self._enable())
        self.rule_combo.currentIndexChanged.connect(lambda _i: self._enable())

        self.message = QLabel()
        self.message.setObjectName("bookingLinkMessage")
        self.message.setWordWrap(True)
        self.link_field = QLineEdit()
        self.link_field.setObjectName("bookingLinkAddress")
        self.link_field.setReadOnly(True)
        self.copy_button = QPushButton("Copy link")
        self.copy_button.clicked.connect(self.copy)
        self.resend_button = QPushButton("Re-send")
        self.resend_button.clicked.connect(lambda: self.resend(self.current))
        self.expire_button = QPushButton("Expire link")
        self.expire_button.clicked.connect(lambda: self.expire(self.current))
        self.allows = QLabel()
        self.allows.setObjectName("bookingLinkAllows")
        self.allows.setWordWrap(True)
        self.link_box = QWidget()
        link_layout = QVBoxLayout(self.link_box)
        link_layout.setContentsMargins(0, 0, 0, 0)
        address = QHBoxLayout()
        address.addWidget(self.link_field, 1)
        address.addWidget(self.copy_button)
        address.addWidget(self.resend_button)
        address.addWidget(self.expire_button)
        link_layout.addLayout(address)
        link_layout.addWidget(self.allows)

        self.links = LinksModel(zone)
        self.table = _table(self.links)
        self.table.setObjectName("bookingLinkHistory")
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(
            lambda _pos: self._menu().popup(self.table.viewport().mapToGlobal(_pos))
        )
        self.table.doubleClicked.connect(lambda _index: self.view_history())
        self.actions_button = QToolButton()
        self.actions_button.setText("Actions")
        self.actions_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.actions_menu = QMenu(self)
        self.open_action = self.actions_menu.addAction("Open appointment", self.open_chosen)
        self.history_action = self.actions_menu.addAction("View history", self.view_history)
        self.actions_menu.addSeparator()
        self.row_resend = self.actions_menu.addAction("Re-send", lambda: self.resend(self.chosen()))
        self.row_expire = self.actions_menu.addAction(
            "Expire link", lambda: self.expire(self.chosen())
        )
        self.row_delete = self.actions_menu.addAction("Delete", lambda: self.delete(self.chosen()))
        self.actions_menu.aboutToShow.connect(self._actions_fit)
        self.actions_button.setMenu(self.actions_menu)

        chooser = QHBoxLayout()
        chooser.addWidget(self.rule_combo, 1)
        chooser.addWidget(self.send_button)
        history = QHBoxLayout()
        history.addWidget(QLabel("<b>Booking links sent</b>, newest first"))
        history.addStretch(1)
        history.addWidget(self.actions_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(chooser)
        layout.addWidget(self.message)
        layout.addWidget(self.link_box)
        layout.addLayout(history)
        layout.addWidget(self.table, 1)
        self._show_current(None)
        self._enable()

    # --- who and whom --------------------------------------------------------------------

    def set_desk(self, desk: Desk | None) -> None:
        self.desk = desk
        self._enable()

    def show_patient(self, patient_id: uuid.UUID | None) -> None:
        if patient_id != self.patient_id:
            self.addresses.clear()
            self.links.set_rows([])
            self._show_current(None)
            self._say("")
        self.patient_id = patient_id
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.refresh()  # what the patient did on the web since: read when looked at

    @property
    def may_send(self) -> bool:
        role = self.desk.staff.role if self.desk else None
        return role is not None and all(
            can(role, p) for p in (Permission.COMMS_SEND_MESSAGE, Permission.DIARY_BOOK)
        )

    # --- talking to the server -----------------------------------------------------------

    def _online(self, work: Callable[[ServerClient], Any], then: Callable[[Any], None]) -> bool:
        if self.desk is None:
            self._say("Sign in to send booking links.")
            return False
        if not on_server(self.runner, self.desk, work, then, self._failed):
            self._say(SIGNED_IN_OFFLINE)
            return False
        return True

    def _failed(self, error: BaseException) -> None:
        self.busy = False
        self._enable()
        self._say(words(error))

    def refresh(self) -> None:
        """Read the active rules and the patient's links again."""
        patient_id = self.patient_id
        if patient_id is None or self.desk is None:
            return
        self._online(
            lambda c: (c.broadcast_rules(), c.booking_links(patient_id)),
            lambda found: self._read(patient_id, found),
        )

    def _read(
        self,
        patient_id: uuid.UUID,
        found: tuple[list[BroadcastRuleRecord], list[BookingLinkRecord]],
    ) -> None:
        if patient_id != self.patient_id:
            return  # another file was opened meanwhile
        rules, links = found
        self._show_rules(rules)
        self._show_links(links)

    def _show_rules(self, rules: list[BroadcastRuleRecord]) -> None:
        if [r.id for r in rules] == [r.id for r in self.rules]:
            return  # the same menu: leave what is being typed alone
        typed = self.rule_combo.currentText()
        self.rules = rules
        self.rule_combo.blockSignals(True)
        self.rule_combo.clear()
        for rule in rules:
            self.rule_combo.addItem(rule.title, rule.id)
        self.rule_combo.setCurrentIndex(-1)
        self.rule_combo.setEditText(typed)
        self.rule_combo.blockSignals(False)
        if not rules:
            self._say(
                "No kinds of booking link are set up yet: a clinic admin adds them in "
                "Settings → Booking links."
            )
        self._enable()

    def _show_links(self, links: list[BookingLinkRecord]) -> None:
        self.links.set_rows(links)
        current = self.current
        fresh = next((link for link in links if current and link.id == current.id), None)
        if fresh is None or not fresh.status.open:
            # The newest open link, else nothing: a booked or expired one leaves this place.
            fresh = next((link for link in links if link.status.open), None)
        self._show_current(fresh)

    def _picked(self, title: str) -> None:
        """A title picked in the completer's list: the combo's item, chosen."""
        index = self.rule_combo.findText(title, Qt.MatchFlag.MatchExactly)
        if index >= 0:
            self.rule_combo.setCurrentIndex(index)
        self._enable()

    def chosen_rule(self) -> BroadcastRuleRecord | None:
        """The rule whose title is in the box (typed in full or picked)."""
        text = self.rule_combo.currentText().strip().casefold()
        return next((r for r in self.rules if r.title.casefold() == text), None)

    # --- sending -------------------------------------------------------------------------

    def send(self) -> None:
        rule, patient_id = self.chosen_rule(), self.patient_id
        if rule is None or patient_id is None or self.busy or not self.may_send:
            return
        self.busy = True  # a double click sends once
        self._enable()
        self._say("Sending…")
        if not self._online(
            lambda c: c.send_booking_link(patient_id, rule.id),
            lambda sent: self._sent(patient_id, sent),
        ):
            self.busy = False
            self._enable()

    def _sent(self, patient_id: uuid.UUID, sent: SentBookingLink) -> None:
        self.busy = False
        if patient_id != self.patient_id:
            return
        self.addresses[sent.link.id] = sent.url
        self._show_current(sent.link)
        self._say(sent.notice)
        self.refresh()

    def resend(self, link: BookingLinkRecord | None) -> None:
        patient_id = self.patient_id
        if link is None or patient_id is None or self.busy or not self.may_send:
            return
        self.busy = True
        self._enable()
        if not self._online(
            lambda c: c.resend_booking_link(patient_id, link.id),
            lambda sent: self._sent(patient_id, sent),
        ):
            self.busy = False
            self._enable()

    def expire(self, link: BookingLinkRecord | None) -> None:
        patient_id = self.patient_id
        if link is None or patient_id is None or self.busy:
            return
        self.busy = True
        self._enable()

        def done(_record: BookingLinkRecord) -> None:
            self.busy = False
            self.addresses.pop(link.id, None)
            self._say("The link was expired: it books nothing more.")
            self.refresh()

        if not self._online(lambda c: c.expire_booking_link(patient_id, link.id), done):
            self.busy = False
            self._enable()

    def delete(self, link: BookingLinkRecord | None) -> None:
        patient_id = self.patient_id
        if link is None or patient_id is None or self.busy:
            return

        def done(_record: BookingLinkRecord) -> None:
            self.addresses.pop(link.id, None)
            self._say("The link was deleted: it books nothing, and stays in the history.")
            self.refresh()

        self._online(lambda c: c.delete_booking_link(patient_id, link.id), done)

    def copy(self) -> None:
        url = self.link_field.text()
        if url.startswith("http"):
            QGuiApplication.clipboard().setText(url)
            self._say("The link is copied: paste it into a text or an e-mail.")

    # --- the history ---------------------------------------------------------------------

    def chosen(self) -> BookingLinkRecord | None:
        rows = self.table.selectionModel().selectedRows()
        found: BookingLinkRecord | None = self.links.row_at(rows[0].row()) if rows else None
        return found

    def _menu(self) -> QMenu:
        self._actions_fit()
        return self.actions_menu

    def _actions_fit(self) -> None:
        link = self.chosen()
        self.open_action.setEnabled(link is not None and link.appointment_id is not None)
        self.history_action.setEnabled(link is not None)
        live = link is not None and link.status.open
        self.row_resend.setEnabled(live and self.may_send)
        self.row_expire.setEnabled(live)
        self.row_delete.setEnabled(
            link is not None and link.status is not BookingLinkStatus.DELETED
        )

    def open_chosen(self) -> None:
        link = self.chosen()
        if link is not None and link.appointment_id is not None:
            self.open_appointment.emit(link.appointment_id, link.appointment_starts_at)

    def view_history(self) -> None:
        link, patient_id = self.chosen(), self.patient_id
        if link is None or patient_id is None:
            return
        self._online(
            lambda c: c.booking_link_events(patient_id, link.id),
            lambda events: self._show_events(link, events),
        )

    def _show_events(self, link: BookingLinkRecord, events: list[BookingLinkEventRecord]) -> None:
        dialog = EventsDialog(link, events, self.zone, self)
        self.events_dialog = dialog
        dialog.open()

    # --- showing -------------------------------------------------------------------------

    def _show_current(self, link: BookingLinkRecord | None) -> None:
        self.current = link
        self.link_box.setVisible(link is not None)
        if link is None:
            self.link_field.clear()
            self.allows.clear()
        else:
            url = self.addresses.get(link.id)
            self.link_field.setText(url or "")
            self.link_field.setPlaceholderText("" if url else NO_ADDRESS)
            self.allows.setText(
                f"<b>{escape(link.rule_title)}</b> ({link.status.label.lower()}): "
                f"{allows_text(link, self.zone)}"
            )
        self._enable()

    def _enable(self) -> None:
        ready = self.desk is not None and self.patient_id is not None and not self.busy
        self.send_button.setEnabled(ready and self.may_send and self.chosen_rule() is not None)
        has_url = self.current is not None and self.current.id in self.addresses
        self.copy_button.setEnabled(has_url)
        self.resend_button.setEnabled(ready and self.may_send and self.current is not None)
        self.expire_button.setEnabled(ready and self.current is not None)

    def _say(self, text: str) -> None:
        self.message.setText(text)
