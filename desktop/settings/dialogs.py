"""Editors for one exception (time off, extra hours, a closure) and one appointment type.

A dialog checks what it was given with the same rules the server applies
(``sync.scheduling.check_setting``) when OK is pressed: if something is wrong it says so
and stays open with everything typed still there; only a sensible change leaves it, as
``command``, for the page to queue.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from PySide6.QtCore import QDate, Qt, QTime
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTimeEdit,
    QWidget,
)

from common.errors import DomainError
from common.scheduling import (
    MAX_BUFFER_MINUTES,
    MAX_DURATION_MINUTES,
    NAME_LENGTH,
    ExceptionKind,
)
from desktop.kit.combo import choose
from desktop.kit.errors import words
from desktop.settings.models import WHOLE_CLINIC
from sync.protocol import SaveAppointmentType, SaveScheduleException, SettingsCommand
from sync.scheduling import (
    AppointmentTypeRow,
    ExceptionRow,
    ProviderWeek,
    check_setting,
)

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOUR = "#4a90d9"


def problem_label() -> QLabel:
    """Where a page or dialog says, in words, why a change cannot be made."""
    label = QLabel()
    label.setObjectName("problem")
    label.setWordWrap(True)
    label.setStyleSheet("color: #b00020;")
    label.setVisible(False)
    return label


def say(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setVisible(bool(text))


def refusal(error: Exception) -> str:
    """The words for a change the desk will not queue (a ``ValueError`` here is a field
    that did not parse, and says which)."""
    return str(error) if type(error) is ValueError else words(error)


def qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def qtime(clock: time) -> QTime:
    return QTime(clock.hour, clock.minute)


def clock(edit: QTimeEdit) -> time:
    value = edit.time()
    return time(value.hour(), value.minute())


def day_of(edit: QDateEdit) -> date:
    value = edit.date()
    return date(value.year(), value.month(), value.day())


def time_edit(value: time) -> QTimeEdit:
    edit = QTimeEdit(qtime(value))
    edit.setDisplayFormat("HH:mm")
    return edit


def date_edit(value: date) -> QDateEdit:
    edit = QDateEdit(qdate(value))
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("ddd d MMM yyyy")
    return edit


class _Editor(QDialog):
    """OK checks the change and keeps the dialog open, with the reason, if it is wrong."""

    def __init__(self, title: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.command: SettingsCommand | None = None
        self.problem = problem_label()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.form = QFormLayout(self)

    def finish_form(self) -> None:
        self.form.addRow(self.problem)
        self.form.addRow(self.buttons)

    def build(self) -> SettingsCommand:
        raise NotImplementedError

    def accept(self) -> None:
        try:
            command = self.build()
            check_setting(command)
        except (DomainError, ValidationError, ValueError) as error:
            say(self.problem, refusal(error))
            return
        self.command = command
        say(self.problem, "")
        super().accept()


class ExceptionDialog(_Editor):
    """Time off or extra hours for one provider, or a closure of the whole clinic."""

    def __init__(
        self,
        providers: list[ProviderWeek],
        zone: ZoneInfo,
        existing: ExceptionRow | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            "Edit time off or closure" if existing else "Add time off or closure", parent
        )
        self.existing = existing
        today = datetime.now(zone).date()
        item = existing.exception if existing else None
        self.kind = QComboBox()
        for kind in ExceptionKind:
            self.kind.addItem(kind.label, kind)
        self.provider = QComboBox()
        self.provider.addItem(WHOLE_CLINIC, None)
        for provider in providers:
            self.provider.addItem(provider.display_name, provider.id)
        self.first_day = date_edit(item.first_day if item else today)
        self.last_day = date_edit(item.last_day if item else today)
        self.all_day = QCheckBox("All day")
        self.start = time_edit(item.start if item and item.start else time(9))
        self.end = time_edit(item.end if item and item.end else time(17))
        self.note = QLineEdit(item.note if item else "")
        self.note.setMaxLength(200)
        self.note.setPlaceholderText("e.g. Conference, Bank holiday")

        choose(self.kind, item.kind if item else ExceptionKind.TIME_OFF)
        if item is not None:
            choose(self.provider, item.provider_id)
        else:
            self.provider.setCurrentIndex(min(1, len(providers)))
        self.all_day.setChecked(item.all_day if item else True)
        self.kind.currentIndexChanged.connect(self._kind_chosen)
        self.all_day.toggled.connect(self._all_day_toggled)
        self.first_day.dateChanged.connect(self._first_day_moved)

        hours = QHBoxLayout()
        hours.addWidget(self.all_day)
        hours.addWidget(QLabel("from"))
        hours.addWidget(self.start)
        hours.addWidget(QLabel("to"))
        hours.addWidget(self.end)
        self.form.addRow("What", self.kind)
        self.form.addRow("Who", self.provider)
        self.form.addRow("First day", self.first_day)
        self.form.addRow("Last day", self.last_day)
        self.form.addRow("Hours", hours)
        self.form.addRow("Note", self.note)
        self.finish_form()
        self._kind_chosen()
        self._all_day_toggled(self.all_day.isChecked())

    def chosen_kind(self) -> ExceptionKind:
        return ExceptionKind(self.kind.currentData())  # Qt hands a StrEnum back as a str

    def _kind_chosen(self) -> None:
        kind = self.chosen_kind()
        closure = kind is ExceptionKind.CLOSURE
        if closure:
            self.provider.setCurrentIndex(0)  # a closure is for everyone
        elif self.provider.currentData() is None and self.provider.count() > 1:
            self.provider.setCurrentIndex(1)
        self.provider.setEnabled(not closure)
        if kind is ExceptionKind.EXTRA_HOURS:
            self.all_day.setChecked(False)  # extra hours are always from–to

    def _all_day_toggled(self, checked: bool) -> None:
        self.start.setEnabled(not checked)
        self.end.setEnabled(not checked)

    def _first_day_moved(self, moved: QDate) -> None:
        if self.last_day.date() < moved:
            self.last_day.setDate(moved)

    def build(self) -> SaveScheduleException:
        all_day = self.all_day.isChecked()
        return SaveScheduleException(
            exception_id=self.existing.exception.id if self.existing else uuid.uuid4(),
            base_version=None,  # the store fills in the version this desk has
            provider_id=self.provider.currentData(),
            exception_kind=self.chosen_kind(),
            first_day=day_of(self.first_day),
            last_day=day_of(self.last_day),
            start_time=None if all_day else clock(self.start),
            end_time=None if all_day else clock(self.end),
            note=self.note.text().strip(),
        )


class AppointmentTypeDialog(_Editor):
    """Name, colour, length and buffers, who offers it, and how patients may book it."""

    def __init__(
        self,
        providers: list[ProviderWeek],
        existing: AppointmentTypeRow | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Edit appointment type" if existing else "Add appointment type", parent)
        self.existing = existing
        self.name = QLineEdit(existing.name if existing else "")
        self.name.setMaxLength(NAME_LENGTH)
        self.colour = QLineEdit(existing.colour if existing else DEFAULT_COLOUR)
        self.colour.setMaxLength(7)
        self.swatch = QLabel()
        self.swatch.setFixedSize(22, 22)
        self.pick_colour = QPushButton("Choose…")
        self.pick_colour.clicked.connect(self._choose_colour)
        self.colour.textChanged.connect(self._show_swatch)
        self.duration = self._minutes(
            5, MAX_DURATION_MINUTES, existing.duration_minutes if existing else 30
        )
        self.buffer_before = self._minutes(
            0, MAX_BUFFER_MINUTES, existing.buffer_before_minutes if existing else 0
        )
        self.buffer_after = self._minutes(
            0, MAX_BUFFER_MINUTES, existing.buffer_after_minutes if existing else 0
        )
        self.providers = QListWidget()
        offered = existing.provider_ids if existing else frozenset()
        for provider in providers:
            item = QListWidgetItem(provider.display_name)
            item.setData(Qt.ItemDataRole.UserRole, provider.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if provider.id in offered else Qt.CheckState.Unchecked
            )
            self.providers.addItem(item)
        self.providers.setMaximumHeight(120)
        self.bookable_online = QCheckBox("Patients may book it online")
        self.bookable_online.setChecked(existing.bookable_online if existing else True)
        self.requires_confirmation = QCheckBox("Online bookings wait for staff to confirm")
        self.requires_confirmation.setChecked(existing.requires_confirmation if existing else False)
        self.video = QCheckBox("Video consultation (each booking gets a video room link)")
        self.video.setChecked(existing.video if existing else False)
        self.active = QCheckBox("In use (offered when booking)")
        self.active.setChecked(existing.active if existing else True)

        colour_row = QHBoxLayout()
        colour_row.addWidget(self.swatch)
        colour_row.addWidget(self.colour, 1)
        colour_row.addWidget(self.pick_colour)
        self.form.addRow("Name", self.name)
        self.form.addRow("Colour", colour_row)
        self.form.addRow("Length", self.duration)
        self.form.addRow("Buffer before", self.buffer_before)
        self.form.addRow("Buffer after", self.buffer_after)
        self.form.addRow("Offered by", self.providers)
        self.form.addRow("", QLabel("None ticked: every provider offers it."))
        self.form.addRow(self.bookable_online)
        self.form.addRow(self.requires_confirmation)
        self.form.addRow(self.video)
        self.form.addRow(self.active)
        self.finish_form()
        self._show_swatch(self.colour.text())

    @staticmethod
    def _minutes(low: int, high: int, value: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSingleStep(5)
        spin.setSuffix(" min")
        spin.setValue(value)
        return spin

    def _show_swatch(self, text: str) -> None:
        fill = text if HEX_COLOUR.match(text) else "transparent"
        self.swatch.setStyleSheet(f"background: {fill}; border: 1px solid #808080;")

    def _choose_colour(self) -> None:
        self.colour_dialog = QColorDialog(QColor(self.colour.text()), self)
        self.colour_dialog.colorSelected.connect(lambda c: self.colour.setText(c.name()))
        self.colour_dialog.open()

    def chosen_providers(self) -> list[uuid.UUID]:
        items = (self.providers.item(n) for n in range(self.providers.count()))
        return [
            item.data(Qt.ItemDataRole.UserRole)
            for item in items
            if item.checkState() == Qt.CheckState.Checked
        ]

    def build(self) -> SaveAppointmentType:
        colour = self.colour.text().strip()
        if not HEX_COLOUR.match(colour):
            raise ValueError(f"A colour is written like #3366cc; “{colour}” is not one.")
        return SaveAppointmentType(
            appointment_type_id=self.existing.id if self.existing else uuid.uuid4(),
            base_version=None,  # the store fills in the version this desk has
            name=self.name.text().strip(),
            colour=colour.lower(),
            duration_minutes=self.duration.value(),
            buffer_before_minutes=self.buffer_before.value(),
            buffer_after_minutes=self.buffer_after.value(),
            provider_ids=self.chosen_providers(),
            bookable_online=self.bookable_online.isChecked(),
            requires_confirmation=self.requires_confirmation.isChecked(),
            active=self.active.isChecked(),
            video=self.video.isChecked(),
        )
