"""A provider's usual week: several ranges a day, each with its times and, if wanted, a room.

The editor holds what is typed until Save; a reload after a sync does not overwrite an
unsaved week (it would lose what the admin was typing), and a week that cannot be saved
stays on screen with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from common.scheduling import WEEKDAY_NAMES, Weekday, WorkingRange
from desktop.kit.combo import choose
from desktop.settings.dialogs import clock, time_edit
from desktop.settings.models import NOT_YET_SENT
from sync.protocol import SettingsCommand, SetWorkingHours, WorkingHoursEntry
from sync.scheduling import ClinicSchedule, LocationRow, ProviderWeek

Submit = Callable[[SettingsCommand, Callable[[], None]], None]
NO_ROOM = "No room"


class RangeRow(QWidget):
    """One range of one day: from, to, room, and a button to take it out."""

    edited = Signal()
    removed = Signal(object)  # this row

    def __init__(self, start: time, end: time, rooms: list[LocationRow], room: uuid.UUID | None):
        super().__init__()
        self.start = time_edit(start)
        self.end = time_edit(end)
        self.room = QComboBox()
        self.room.addItem(NO_ROOM, None)
        for location in rooms:
            if location.active or location.id == room:
                label = location.name if location.active else f"{location.name} (not in use)"
                self.room.addItem(label, location.id)
        choose(self.room, room)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Take this range out of the day")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.start)
        layout.addWidget(QLabel("to"))
        layout.addWidget(self.end)
        layout.addWidget(self.room, 1)
        layout.addWidget(self.remove_button)
        self.start.timeChanged.connect(self.edited)
        self.end.timeChanged.connect(self.edited)
        self.room.currentIndexChanged.connect(self.edited)
        self.remove_button.clicked.connect(lambda: self.removed.emit(self))

    def set_editable(self, editable: bool) -> None:
        for widget in (self.start, self.end, self.room, self.remove_button):
            widget.setEnabled(editable)


class WeekEditor(QWidget):
    """Monday to Sunday, each with its ranges and an "Add range" button."""

    edited = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.rooms: list[LocationRow] = []
        self.days: dict[Weekday, list[RangeRow]] = {day: [] for day in Weekday}
        self.boxes: dict[Weekday, QVBoxLayout] = {}
        self.add_buttons: dict[Weekday, QPushButton] = {}
        self.editable = True
        grid = QGridLayout(self)
        for day in Weekday:
            name = QLabel(f"<b>{WEEKDAY_NAMES[day]}</b>")
            box = QVBoxLayout()
            add = QPushButton("Add range")
            add.clicked.connect(lambda _checked=False, d=day: self.add_range(d))
            self.boxes[day], self.add_buttons[day] = box, add
            grid.addWidget(name, day.value, 0)
            grid.addLayout(box, day.value, 1)
            grid.addWidget(add, day.value, 2)
        grid.setColumnStretch(1, 1)

    def set_week(self, week: tuple[WorkingRange, ...], rooms: list[LocationRow]) -> None:
        self.rooms = rooms
        for day in Weekday:
            for row in list(self.days[day]):
                self._drop(day, row)
        for item in sorted(week, key=lambda r: (r.weekday, r.start)):
            self._append(item.weekday, item.start, item.end, item.location_id)

    def add_range(self, day: Weekday) -> RangeRow:
        """A new range after the day's last one (9:00–17:00 on an empty day)."""
        last = self.days[day][-1] if self.days[day] else None
        start = min(clock(last.end), time(22)) if last else time(9)
        end = time(min(start.hour + 1, 23), start.minute) if last else time(17)
        row = self._append(day, start, end, None)
        self.edited.emit()
        return row

    def _append(self, day: Weekday, start: time, end: time, room: uuid.UUID | None) -> RangeRow:
        row = RangeRow(start, end, self.rooms, room)
        row.set_editable(self.editable)
        row.edited.connect(self.edited)
        row.removed.connect(lambda r, d=day: self._removed(d, r))
        self.days[day].append(row)
        self.boxes[day].addWidget(row)
        return row

    def _removed(self, day: Weekday, row: RangeRow) -> None:
        self._drop(day, row)
        self.edited.emit()

    def _drop(self, day: Weekday, row: RangeRow) -> None:
        self.days[day].remove(row)
        self.boxes[day].removeWidget(row)
        row.setParent(None)
        row.deleteLater()

    def hours(self) -> list[WorkingHoursEntry]:
        return [
            WorkingHoursEntry(
                weekday=day.value,
                start=clock(row.start),
                end=clock(row.end),
                location_id=row.room.currentData(),
            )
            for day in Weekday
            for row in self.days[day]
        ]

    def set_editable(self, editable: bool) -> None:
        self.editable = editable
        for day in Weekday:
            self.add_buttons[day].setEnabled(editable)
            for row in self.days[day]:
                row.set_editable(editable)


class WorkingHoursTab(QWidget):
    """Pick a provider, edit their usual week, Save."""

    def __init__(self, submit: Submit) -> None:
        super().__init__()
        self.submit = submit
        self.schedule: ClinicSchedule | None = None
        self.dirty = False
        self.provider = QComboBox()
        self.state = QLabel()
        self.editor = WeekEditor()
        self.save_button = QPushButton("Save working hours")
        self.undo_button = QPushButton("Undo changes")
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.editor)
        top = QHBoxLayout()
        top.addWidget(QLabel("Provider"))
        top.addWidget(self.provider, 1)
        top.addWidget(self.state)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(QLabel("Times are the clinic's local clock. A split day is two ranges."))
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        self.provider.currentIndexChanged.connect(self._provider_chosen)
        self.editor.edited.connect(self._edited)
        self.save_button.clicked.connect(self.save)
        self.undo_button.clicked.connect(self._undo)

    def current(self) -> ProviderWeek | None:
        chosen = self.provider.currentData()
        providers = self.schedule.providers if self.schedule else []
        return next((p for p in providers if p.id == chosen), None)

    def show_schedule(self, schedule: ClinicSchedule) -> None:
        """Fresh data: keep the chosen provider, and an unsaved week as typed."""
        chosen = self.provider.currentData()
        self.schedule = schedule
        self.provider.blockSignals(True)
        self.provider.clear()
        for p in schedule.providers:
            self.provider.addItem(p.display_name + (" · not yet sent" if p.pending else ""), p.id)
        choose(self.provider, chosen)
        self.provider.blockSignals(False)
        if not self.dirty or self.provider.currentData() != chosen:
            self._load()
        self._show_state()

    def _provider_chosen(self) -> None:
        self._load()
        self._show_state()

    def _load(self) -> None:
        provider = self.current()
        rooms = self.schedule.locations if self.schedule else []
        self.editor.set_week(provider.week if provider else (), rooms)
        self.dirty = False
        self._show_state()

    def _edited(self) -> None:
        self.dirty = True
        self._show_state()

    def _undo(self) -> None:
        self._load()

    def _show_state(self) -> None:
        provider = self.current()
        if self.dirty:
            text = "Unsaved changes"
        elif provider is not None and provider.pending:
            text = NOT_YET_SENT
        else:
            text = ""
        self.state.setText(text)
        self.undo_button.setEnabled(self.dirty and self.editor.editable)

    def save(self) -> None:
        provider = self.current()
        if provider is None:
            return
        command = SetWorkingHours(
            provider_id=provider.id, base_version=provider.version, hours=self.editor.hours()
        )
        self.submit(command, self._saved)

    def _saved(self) -> None:
        self.dirty = False
        self._show_state()

    def set_editable(self, editable: bool) -> None:
        self.editor.set_editable(editable)
        self.save_button.setEnabled(editable)
        self._show_state()
