"""The clinic's online booking rules: how far ahead and how soon patients may
book, where start times land, "no preference", a daily cap per provider, and until when
patients may cancel or reschedule online. Staff at the desk are exempt from all of them.

Like the week editor, the form keeps unsaved values through a reload after a sync.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from common.scheduling import SLOT_ROUNDINGS, BookingRules
from desktop.kit.combo import choose
from desktop.settings.models import NOT_YET_SENT
from desktop.settings.week import Submit
from sync.protocol import SetBookingRules
from sync.scheduling import ClinicSchedule


class BookingRulesTab(QWidget):
    """The clinic's online booking rules. Staff at the desk are exempt."""

    def __init__(self, submit: Submit) -> None:
        super().__init__()
        self.submit = submit
        self.schedule: ClinicSchedule | None = None
        self.dirty = False
        self.horizon = self._spin(1, 730, " days ahead")
        self.notice = QDoubleSpinBox()
        self.notice.setRange(0, 1440)
        self.notice.setDecimals(2)
        self.notice.setSingleStep(0.5)
        self.notice.setSuffix(" hours")
        self.rounding = QComboBox()
        for minutes in SLOT_ROUNDINGS:
            self.rounding.addItem(f"every {minutes} minutes", minutes)
        self.any_provider = QCheckBox("Patients may choose “no preference” (first available)")
        self.daily_cap = self._spin(0, 500, " per provider per day")
        self.daily_cap.setSpecialValueText("No cap")
        self.cancel_cutoff = self._spin(0, 1440, " hours before")
        self.reschedule_cutoff = self._spin(0, 1440, " hours before")
        self.patients_may_cancel = QCheckBox("Patients may cancel or reschedule online")
        self.state = QLabel()
        self.save_button = QPushButton("Save booking rules")
        self.undo_button = QPushButton("Undo changes")
        self.fields: list[QWidget] = [
            self.horizon,
            self.notice,
            self.rounding,
            self.any_provider,
            self.daily_cap,
            self.cancel_cutoff,
            self.reschedule_cutoff,
            self.patients_may_cancel,
        ]
        form = QFormLayout()
        form.addRow("Patients may book up to", self.horizon)
        form.addRow("Minimum notice", self.notice)
        form.addRow("Start times", self.rounding)
        form.addRow("", self.any_provider)
        form.addRow("Daily cap", self.daily_cap)
        form.addRow("Patients may cancel up to", self.cancel_cutoff)
        form.addRow("Patients may reschedule up to", self.reschedule_cutoff)
        form.addRow("", self.patients_may_cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.state, 1)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel("How patients book online. Staff at the desk are not bound by these.")
        )
        layout.addLayout(form)
        layout.addStretch(1)
        layout.addLayout(buttons)
        for spin in (self.horizon, self.daily_cap, self.cancel_cutoff, self.reschedule_cutoff):
            spin.valueChanged.connect(self._edited)
        self.notice.valueChanged.connect(self._edited)
        self.rounding.currentIndexChanged.connect(self._edited)
        for box in (self.any_provider, self.patients_may_cancel):
            box.toggled.connect(self._edited)
        self.save_button.clicked.connect(self.save)
        self.undo_button.clicked.connect(self._load)

    @staticmethod
    def _spin(low: int, high: int, suffix: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSuffix(suffix)
        return spin

    def show_schedule(self, schedule: ClinicSchedule) -> None:
        self.schedule = schedule
        if not self.dirty:
            self._load()
        self._show_state()

    def _load(self) -> None:
        rules = self.schedule.rules if self.schedule else BookingRules()
        widgets: list[QWidget] = self.fields
        for widget in widgets:
            widget.blockSignals(True)
        self.horizon.setValue(rules.horizon_days)
        self.notice.setValue(rules.min_notice.total_seconds() / 3600)
        choose(self.rounding, rules.slot_rounding)
        self.any_provider.setChecked(rules.allow_any_provider)
        self.daily_cap.setValue(rules.daily_cap or 0)
        self.cancel_cutoff.setValue(int(rules.patient_cancel_cutoff.total_seconds() // 3600))
        self.reschedule_cutoff.setValue(
            int(rules.patient_reschedule_cutoff.total_seconds() // 3600)
        )
        self.patients_may_cancel.setChecked(rules.patients_may_cancel)
        for widget in widgets:
            widget.blockSignals(False)
        self.dirty = False
        self._show_state()

    def _edited(self) -> None:
        self.dirty = True
        self._show_state()

    def _show_state(self) -> None:
        schedule = self.schedule
        if self.dirty:
            text = "Unsaved changes"
        elif schedule is not None and schedule.rules_pending:
            text = NOT_YET_SENT
        elif schedule is not None and schedule.rules_version is None:
            text = "The clinic uses the standard rules"
        else:
            text = ""
        self.state.setText(text)
        self.undo_button.setEnabled(self.dirty and self.save_button.isEnabled())

    def command(self) -> SetBookingRules:
        return SetBookingRules(
            base_version=self.schedule.rules_version if self.schedule else None,
            horizon_days=self.horizon.value(),
            min_notice_minutes=round(self.notice.value() * 60),
            slot_rounding=self.rounding.currentData(),
            allow_any_provider=self.any_provider.isChecked(),
            daily_cap=self.daily_cap.value() or None,
            patient_cancel_cutoff_hours=self.cancel_cutoff.value(),
            patient_reschedule_cutoff_hours=self.reschedule_cutoff.value(),
            patients_may_cancel=self.patients_may_cancel.isChecked(),
        )

    def save(self) -> None:
        self.submit(self.command(), self._saved)

    def _saved(self) -> None:
        self.dirty = False
        self._show_state()

    def set_editable(self, editable: bool) -> None:
        for widget in [*self.fields, self.save_button]:
            widget.setEnabled(editable)
        self._show_state()
