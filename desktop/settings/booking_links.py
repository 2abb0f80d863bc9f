"""Booking links' broadcast rules, for clinic admins: what each kind of link offers (an
appointment type, some providers, a window of days), how long it stays valid, and the
texts the patient reads.

Rules live on the server only (the send menu on every desk reads them there), so this
tab works online only and says so in words otherwise. The editor checks what it can
with the server's own rules (``common.broadcast_rules``) and counts what the text would
cost as it is typed; the server has the last word, and its refusal is shown in the
dialog, which stays open with everything typed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from common.booking_links import TITLE_LENGTH
from common.broadcast_rules import (
    DEFAULT_SMS,
    MAX_SEGMENTS,
    MAX_VALID_DAYS,
    MAX_WINDOW_DAYS,
    RuleDays,
    check_rule,
    typical_size,
)
from common.roles import Permission, can
from desktop.kit.combo import choose
from desktop.kit.errors import words
from desktop.kit.table_model import ColumnsModel, own_selection
from desktop.kit.tasks import TaskRunner
from desktop.settings.dialogs import problem_label, say
from desktop.settings.online import SIGNED_IN_OFFLINE, on_server
from desktop.settings.templates import ucs2_warning
from sync.account import Desk
from sync.client import ServerClient
from sync.protocol import BroadcastRuleRecord, SaveBroadcastRule
from sync.scheduling import ClinicSchedule

COUNT_DELAY_MS = 150


def days_words(rule: BroadcastRuleRecord) -> str:
    return f"days {rule.earliest_days}–{rule.latest_days} after sending"


class RulesModel(ColumnsModel):
    def __init__(self) -> None:
        super().__init__(["Title", "Appointment type", "Providers", "Window", "Valid", "Status"])

    def cell(self, row: BroadcastRuleRecord, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                row.title,
                row.type_name,
                ", ".join(row.provider_names) or "Everyone who offers it",
                days_words(row),
                f"{row.link_valid_days} days",
                "In use" if row.active else "Not in use",
            )[column]
        return None


def size_words(text: str, clinic: str) -> str:
    """ "2 SMS · GSM-7 · 37 characters left" with a link and a name filled in."""
    size = typical_size(text, clinic)
    over = f" — too long: at most {MAX_SEGMENTS}" if size.segments > MAX_SEGMENTS else ""
    return (
        f"{size.segments} SMS · {size.encoding} · {size.remaining} characters left, "
        f"with a link and a name filled in{over}"
    )


class RuleDialog(QDialog):
    """One rule's every field. OK asks the server (through ``save``); the dialog closes
    only when it accepted, else it says why and keeps what was typed."""

    def __init__(
        self,
        schedule: ClinicSchedule | None,
        rule: BroadcastRuleRecord | None,
        clinic: str,
        save: Callable[[SaveBroadcastRule, Callable[[], None], Callable[[str], None]], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit booking link rule" if rule else "New booking link rule")
        self.rule, self.clinic, self.save = rule, clinic, save
        self.schedule = schedule
        self.title = QLineEdit(rule.title if rule else "")
        self.title.setObjectName("ruleTitle")
        self.title.setMaxLength(TITLE_LENGTH)
        self.kind = QComboBox()
        self.kind.setObjectName("ruleType")
        types = [t for t in (schedule.appointment_types if schedule else []) if t.active]
        for kind in types:
            self.kind.addItem(kind.name, kind.id)
        if rule is not None:
            choose(self.kind, rule.appointment_type_id)
        self.providers = QListWidget()
        self.providers.setObjectName("ruleProviders")
        self.providers.setMaximumHeight(110)
        chosen = set(rule.provider_ids) if rule else set()
        for provider in schedule.providers if schedule else []:
            item = QListWidgetItem(provider.display_name)
            item.setData(Qt.ItemDataRole.UserRole, provider.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if provider.id in chosen else Qt.CheckState.Unchecked
            )
            self.providers.addItem(item)
        self.earliest = self._days(rule.earliest_days if rule else 0, MAX_WINDOW_DAYS)
        self.latest = self._days(rule.latest_days if rule else 28, MAX_WINDOW_DAYS)
        self.valid = self._days(rule.link_valid_days if rule else 14, MAX_VALID_DAYS, low=1)
        self.welcome = QPlainTextEdit(rule.welcome_text if rule else "")
        self.welcome.setPlaceholderText("What the patient reads when they open the link")
        self.sms = QPlainTextEdit(rule.sms_text if rule else DEFAULT_SMS)
        self.sms.setObjectName("ruleSms")
        self.sms_size = QLabel()
        self.sms_size.setObjectName("ruleSmsSize")
        self.sms_size.setWordWrap(True)
        self.confirmation = QPlainTextEdit(rule.confirmation_text if rule else "")
        self.confirmation.setPlaceholderText("Shown, and sent, once they have booked")
        self.reschedule = QCheckBox("The patient may reschedule online")
        self.reschedule.setChecked(rule.allow_reschedule if rule else False)
        self.problem = problem_label()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Save")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        window = QHBoxLayout()
        window.addWidget(QLabel("from day"))
        window.addWidget(self.earliest)
        window.addWidget(QLabel("to day"))
        window.addWidget(self.latest)
        window.addWidget(QLabel("after the link is sent"))
        window.addStretch(1)
        form = QFormLayout(self)
        form.addRow(self.problem)
        form.addRow("Title", self.title)
        form.addRow("Appointment type", self.kind)
        form.addRow("Providers (none: all)", self.providers)
        form.addRow("Bookable", window)
        form.addRow("Link valid for (days)", self.valid)
        form.addRow("Welcome text", self.welcome)
        form.addRow("SMS text ({link} {clinic} {first_name})", self.sms)
        form.addRow("", self.sms_size)
        form.addRow("Confirmation text", self.confirmation)
        form.addRow("", self.reschedule)
        form.addRow(buttons)
        if not types:
            say(self.problem, "There is no appointment type in use: add one first.")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COUNT_DELAY_MS)
        self._timer.timeout.connect(self.count)
        self.sms.textChanged.connect(self._timer.start)
        self.count()
        self.resize(560, 640)

    @staticmethod
    def _days(value: int, high: int, low: int = 0) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        box.setValue(value)
        return box

    def count(self) -> None:
        """What the text would cost, said as it is typed."""
        text = self.sms.toPlainText()
        warning = ucs2_warning(text)
        self.sms_size.setText(size_words(text, self.clinic) + (f"\n{warning}" if warning else ""))

    def body(self) -> SaveBroadcastRule:
        providers = [
            item.data(Qt.ItemDataRole.UserRole)
            for item in (self.providers.item(n) for n in range(self.providers.count()))
            if item.checkState() == Qt.CheckState.Checked
        ]
        return SaveBroadcastRule(
            title=self.title.text(),
            appointment_type_id=self.kind.currentData(),
            provider_ids=providers,
            earliest_days=self.earliest.value(),
            latest_days=self.latest.value(),
            link_valid_days=self.valid.value(),
            welcome_text=self.welcome.toPlainText(),
            sms_text=self.sms.toPlainText(),
            confirmation_text=self.confirmation.toPlainText(),
            allow_reschedule=self.reschedule.isChecked(),
        )

    def submit(self) -> None:
        if self.kind.currentData() is None:
            say(self.problem, "Choose the appointment type the link books.")
            return
        try:
            body = self.body()
        except ValidationError as error:
            say(self.problem, words(error))
            return
        problems = check_rule(
            title=body.title,
            days=RuleDays(body.earliest_days, body.latest_days, body.link_valid_days),
            welcome_text=body.welcome_text,
            sms_text=body.sms_text,
            confirmation_text=body.confirmation_text,
            clinic=self.clinic,
        )
        if problems:
            say(self.problem, " ".join(problems))
            return
        say(self.problem, "Saving…")
        self.ok_button.setEnabled(False)
        self.save(body, self.accept, self._refused)

    def _refused(self, reason: str) -> None:
        self.ok_button.setEnabled(True)
        say(self.problem, reason)


class BookingLinksTab(QWidget):
    """The clinic's rules, with Add, Edit and Take out of use / Put back in use."""

    def __init__(self, runner: TaskRunner, desk: Desk) -> None:
        super().__init__()
        self.runner, self.desk = runner, desk
        self.schedule: ClinicSchedule | None = None
        self.dialog: RuleDialog | None = None
        self.model = RulesModel()
        self.table = QTableView()
        self.table.setObjectName("broadcastRules")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda _index: self.edit())
        self.message = QLabel()
        self.message.setObjectName("bookingLinksMessage")
        self.message.setWordWrap(True)
        self.add_button = QPushButton("Add…")
        self.add_button.clicked.connect(self.add)
        self.edit_button = QPushButton("Edit…")
        self.edit_button.clicked.connect(self.edit)
        self.active_button = QPushButton("Take out of use")
        self.active_button.clicked.connect(self.toggle_active)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.active_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                "The kinds of booking link staff can text to a patient from their file: "
                "what each lets the patient book, when, and what they read."
            )
        )
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        own_selection(self.table).selectionChanged.connect(lambda *_: self._selected())

    def set_desk(self, desk: Desk) -> None:
        self.desk = desk

    def show_schedule(self, schedule: ClinicSchedule) -> None:
        """The desk's types and providers, for the editor's choices."""
        self.schedule = schedule

    # --- the server --------------------------------------------------------------------

    def _online(
        self,
        work: Callable[[ServerClient], Any],
        then: Callable[[Any], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> bool:
        if not can(self.desk.staff.role, Permission.SETTINGS_MANAGE):
            self._say("Only clinic admins can set up booking links.")
            return False
        if not on_server(self.runner, self.desk, work, then, failed or self._failed):
            self._say(SIGNED_IN_OFFLINE)
            return False
        return True

    def _failed(self, error: BaseException) -> None:
        self._say(words(error))

    def _say(self, text: str) -> None:
        self.message.setText(text)

    def refresh(self) -> None:
        self._online(lambda c: c.broadcast_rules(include_inactive=True), self._show)

    def _show(self, rules: list[BroadcastRuleRecord]) -> None:
        chosen = self.chosen()
        self.model.set_rows(rules)
        if chosen is not None:
            row = next((n for n, r in enumerate(rules) if r.id == chosen.id), None)
            if row is not None:
                self.table.selectRow(row)
        self._say("" if rules else "No booking link rules yet: add the first with “Add…”.")
        self._selected()

    def chosen(self) -> BroadcastRuleRecord | None:
        rows = self.table.selectionModel().selectedRows()
        found: BroadcastRuleRecord | None = self.model.row_at(rows[0].row()) if rows else None
        return found

    def _selected(self) -> None:
        rule = self.chosen()
        self.active_button.setText(
            "Put back in use" if rule is not None and not rule.active else "Take out of use"
        )

    # --- the buttons -------------------------------------------------------------------

    def add(self) -> RuleDialog:
        return self._open(None)

    def edit(self) -> RuleDialog | None:
        rule = self.chosen()
        if rule is None:
            self._say("Choose a rule in the list first.")
            return None
        return self._open(rule)

    def _open(self, rule: BroadcastRuleRecord | None) -> RuleDialog:
        rule_id = rule.id if rule else None

        def save(
            body: SaveBroadcastRule, done: Callable[[], None], refused: Callable[[str], None]
        ) -> None:
            def saved(_record: BroadcastRuleRecord) -> None:
                done()
                self.refresh()

            if not self._online(
                lambda c: c.save_broadcast_rule(body, rule_id),
                saved,
                lambda error: refused(words(error)),
            ):
                refused(self.message.text())

        dialog = RuleDialog(self.schedule, rule, self.desk.clinic_name, save, self)
        self.dialog = dialog
        dialog.open()
        return dialog

    def toggle_active(self) -> None:
        rule = self.chosen()
        if rule is None:
            self._say("Choose a rule in the list first.")
            return
        rule_id: uuid.UUID = rule.id
        self._online(
            lambda c: c.set_broadcast_rule_active(rule_id, not rule.active),
            lambda _r: self.refresh(),
        )
