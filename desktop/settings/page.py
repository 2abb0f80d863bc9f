"""Clinic settings on the desk: working hours, time off and closures, appointment types,
rooms and online booking rules.

Every change is a command queued through the outbox like any other desk change
(``Store.change_settings``): on screen at once, marked "not yet sent" until the server
has it, and sent whenever the line allows. Only clinic admins may change settings (the
server refuses anyone else); others see them read-only. Nothing here touches the store on
the UI thread: reads and writes go through the ``db`` lane.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from zoneinfo import ZoneInfo

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from common.errors import DomainError
from common.roles import Permission, can
from common.scheduling import NAME_LENGTH
from desktop.kit.errors import words
from desktop.kit.ops import ChangeHub, Changes, Topic
from desktop.kit.table_model import own_selection
from desktop.settings.booking_links import BookingLinksTab
from desktop.settings.dialogs import (
    AppointmentTypeDialog,
    ExceptionDialog,
    problem_label,
    say,
)
from desktop.settings.education import EducationTab
from desktop.settings.forms import FormsTab
from desktop.settings.messaging import MessagesTab
from desktop.settings.models import (
    AppointmentTypeModel,
    ExceptionModel,
    Names,
    RoomModel,
    RowsModel,
    days_text,
)
from desktop.settings.portal import PortalSettingsTab
from desktop.settings.practice import PracticePageTab
from desktop.settings.prices import PricesTab
from desktop.settings.rules import BookingRulesTab
from desktop.settings.templates import SaveTemplate, TemplatesSource, no_templates
from desktop.settings.week import Submit, WorkingHoursTab
from desktop.settings.workstations import WorkstationsTab
from sync.account import Desk
from sync.protocol import (
    RemoveScheduleException,
    SaveLocation,
    SettingsCommand,
)
from sync.scheduling import (
    AppointmentTypeRow,
    ClinicSchedule,
    ExceptionRow,
    changes_nothing,
    check_setting,
)

READ_ONLY_NOTE = "Only clinic admins can change these settings; you can look at them here."


def _nothing() -> None:
    return None


def _table(model: RowsModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(True)
    view.verticalHeader().setVisible(False)
    return view


def _selected_row(view: QTableView) -> int:
    rows = view.selectionModel().selectedRows()
    return rows[0].row() if rows else -1


class _TableTab(QWidget):
    """A table of one kind of setting with its buttons underneath."""

    def __init__(self, model: RowsModel, hint: str) -> None:
        super().__init__()
        self.model = model
        self.table = _table(model)
        self.buttons = QHBoxLayout()
        self.editing: list[QWidget] = []
        self.editable = True
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(hint))
        layout.addWidget(self.table, 1)
        layout.addLayout(self.buttons)

    def button(self, text: str, action: Callable[[], object]) -> QPushButton:
        made = QPushButton(text)
        made.clicked.connect(action)
        self.buttons.addWidget(made)
        self.editing.append(made)
        return made

    def set_editable(self, editable: bool) -> None:
        self.editable = editable
        for widget in self.editing:
            widget.setEnabled(editable)


class ExceptionsTab(_TableTab):
    model: ExceptionModel

    def __init__(self, submit: Submit, zone: ZoneInfo) -> None:
        super().__init__(
            ExceptionModel(),
            "Time off and extra hours of one provider; closures of the whole clinic.",
        )
        self.submit = submit
        self.zone = zone
        self.schedule: ClinicSchedule | None = None
        self.dialog: ExceptionDialog | None = None
        self.confirmation: QMessageBox | None = None
        self.add_button = self.button("Add…", self.add)
        self.edit_button = self.button("Edit…", self.edit)
        self.remove_button = self.button("Remove…", self.remove)
        self.buttons.addStretch(1)
        self.table.doubleClicked.connect(lambda _index: self.edit())

    def show_schedule(self, schedule: ClinicSchedule, names: Names) -> None:
        self.schedule = schedule
        self.model.set_rows(schedule.exceptions, names)

    def add(self) -> ExceptionDialog:
        return self._open(None)

    def edit(self) -> ExceptionDialog | None:
        row = self.model.row_at(_selected_row(self.table))
        return self._open(row) if row is not None and self.editable else None

    def _open(self, row: ExceptionRow | None) -> ExceptionDialog:
        providers = self.schedule.providers if self.schedule else []
        dialog = ExceptionDialog(providers, self.zone, row, self)
        dialog.accepted.connect(lambda: self._save(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _save(self, dialog: ExceptionDialog) -> None:
        if dialog.command is not None:
            self.submit(dialog.command, _nothing)

    def remove(self) -> QMessageBox | None:
        row = self.model.row_at(_selected_row(self.table))
        if row is None:
            return None
        item = row.exception
        what = (
            "the clinic closure"
            if item.provider_id is None
            else f"{item.kind.label.lower()} for {self.model.names.provider(item.provider_id)}"
        )
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Remove?",
            f"Remove {what}, {days_text(item.first_day, item.last_day)}? Every desk will drop it.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.accepted.connect(
            lambda: self.submit(
                RemoveScheduleException(exception_id=item.id, base_version=row.version), _nothing
            )
        )
        self.confirmation = box
        box.open()
        return box


class AppointmentTypesTab(_TableTab):
    model: AppointmentTypeModel

    def __init__(self, submit: Submit) -> None:
        super().__init__(
            AppointmentTypeModel(),
            "What can be booked, for how long, by whom, and whether patients may book it online.",
        )
        self.submit = submit
        self.schedule: ClinicSchedule | None = None
        self.dialog: AppointmentTypeDialog | None = None
        self.add_button = self.button("Add…", self.add)
        self.edit_button = self.button("Edit…", self.edit)
        self.buttons.addStretch(1)
        self.table.doubleClicked.connect(lambda _index: self.edit())

    def show_schedule(self, schedule: ClinicSchedule, names: Names) -> None:
        self.schedule = schedule
        self.model.set_rows(schedule.appointment_types, names)

    def add(self) -> AppointmentTypeDialog:
        return self._open(None)

    def edit(self) -> AppointmentTypeDialog | None:
        row = self.model.row_at(_selected_row(self.table))
        return self._open(row) if row is not None and self.editable else None

    def _open(self, row: AppointmentTypeRow | None) -> AppointmentTypeDialog:
        providers = self.schedule.providers if self.schedule else []
        dialog = AppointmentTypeDialog(providers, row, self)
        dialog.accepted.connect(
            lambda: self.submit(dialog.command, _nothing) if dialog.command else None
        )
        self.dialog = dialog
        dialog.open()
        return dialog


class RoomsTab(_TableTab):
    model: RoomModel

    def __init__(self, submit: Submit) -> None:
        super().__init__(RoomModel(), "Rooms appointments and working hours can be placed in.")
        self.submit = submit
        self.name = QLineEdit()
        self.name.setPlaceholderText("Room name")
        self.name.setMaxLength(NAME_LENGTH)
        self.buttons.addWidget(self.name, 1)
        self.editing.append(self.name)
        self.add_button = self.button("Add room", self.add)
        self.rename_button = self.button("Rename", self.rename)
        self.active_button = self.button("Take out of use", self.toggle_active)
        own_selection(self.table).selectionChanged.connect(self._selected)

    def show_schedule(self, schedule: ClinicSchedule, names: Names) -> None:
        self.model.set_rows(schedule.locations, names)
        self._selected()

    def _selected(self) -> None:
        row = self.model.row_at(_selected_row(self.table))
        if row is not None:
            self.name.setText(row.name)
        self.active_button.setText(
            "Put back in use" if row is not None and not row.active else "Take out of use"
        )

    def add(self) -> None:
        self.submit(
            SaveLocation(location_id=uuid.uuid4(), base_version=None, name=self.name.text()),
            self.name.clear,
        )

    def rename(self) -> None:
        row = self.model.row_at(_selected_row(self.table))
        if row is not None:
            self.submit(
                SaveLocation(
                    location_id=row.id,
                    base_version=row.version,
                    name=self.name.text(),
                    active=row.active,
                ),
                _nothing,
            )

    def toggle_active(self) -> None:
        row = self.model.row_at(_selected_row(self.table))
        if row is not None:
            self.submit(
                SaveLocation(
                    location_id=row.id,
                    base_version=row.version,
                    name=row.name,
                    active=not row.active,
                ),
                _nothing,
            )


class SettingsPage(QWidget):
    """The settings tabs, one problem line, and for non-admins a read-only note. The
    last tabs, messages, forms and workstations and staff, are for clinic admins; the
    messaging settings, the forms and the workstations work online only.

    ``templates`` reads the clinic's message templates from the desk (on the db lane) and
    ``save_template(command, done)`` queues one; without them the standard wording shows
    and cannot be saved."""

    shown = Signal()  # the desk's copy was read and shown (after each reload)
    open_patient_requested = Signal(object)  # patient id: their file (Patient portal's report)

    def __init__(
        self,
        hub: ChangeHub,
        desk: Desk,
        zone: ZoneInfo,
        *,
        templates: TemplatesSource = no_templates,
        save_template: SaveTemplate | None = None,
    ) -> None:
        super().__init__()
        self.hub, self.runner = hub, hub.runner
        self.desk = desk
        self.zone = zone
        self.schedule: ClinicSchedule | None = None
        self.can_edit = False
        self.notice = QLabel(READ_ONLY_NOTE)
        self.notice.setObjectName("readOnlyNote")
        self.notice.setWordWrap(True)
        self.problem = problem_label()
        self.hours = WorkingHoursTab(self.submit)
        self.exceptions = ExceptionsTab(self.submit, zone)
        self.types = AppointmentTypesTab(self.submit)
        self.rooms = RoomsTab(self.submit)
        self.rules = BookingRulesTab(self.submit)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.hours, "Working hours")
        self.tabs.addTab(self.exceptions, "Time off && closures")
        self.tabs.addTab(self.types, "Appointment types")
        self.tabs.addTab(self.rooms, "Rooms")
        self.tabs.addTab(self.rules, "Booking rules")
        self.workstations = WorkstationsTab(self.runner, desk, zone)
        self.messages = MessagesTab(self.runner, desk, templates=templates, save=save_template)
        self.tabs.addTab(self.messages, "Messages")
        self.practice = PracticePageTab(self.runner, desk)
        self.tabs.addTab(self.practice, "Practice page")
        self.booking_links = BookingLinksTab(self.runner, desk)  # clinic admins, online
        self.tabs.addTab(self.booking_links, "Booking links")
        self.portal = PortalSettingsTab(self.runner, desk)  # clinic admins, online
        self.portal.open_patient.connect(self.open_patient_requested)
        self.tabs.addTab(self.portal, "Patient portal")
        self.forms = FormsTab(self.runner, desk, zone)  # clinic admins, online
        self.tabs.addTab(self.forms, "Forms")
        self.education = EducationTab(self.runner, desk)  # content:manage, online
        self.tabs.addTab(self.education, "Education library")
        self.prices = PricesTab(self.runner, desk)  # clinic admins, online
        self.tabs.addTab(self.prices, "Prices")
        self.tabs.addTab(self.workstations, "Workstations && staff")
        self.tabs.currentChanged.connect(self._tab_opened)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Clinic settings</b>"))
        layout.addWidget(self.notice)
        layout.addWidget(self.problem)
        layout.addWidget(self.tabs, 1)
        self.set_desk(desk)
        hub.changed.connect(self._changes_heard)
        self.reload()

    def set_desk(self, desk: Desk) -> None:
        """Whoever is signed in now (after "Sign in again" it may be someone else): their
        role decides whether the settings can be changed here."""
        self.desk = desk
        self.can_edit = can(desk.staff.role, Permission.SETTINGS_MANAGE)
        self.notice.setVisible(not self.can_edit)
        for tab in (self.hours, self.exceptions, self.types, self.rooms, self.rules):
            tab.set_editable(self.can_edit)
        self.workstations.set_desk(desk)
        self.messages.set_desk(desk)
        self.practice.set_desk(desk)
        self.booking_links.set_desk(desk)
        self.tabs.setTabVisible(self.tabs.indexOf(self.booking_links), self.can_edit)
        self.portal.set_desk(desk)
        self.tabs.setTabVisible(
            self.tabs.indexOf(self.portal), can(desk.staff.role, Permission.PORTAL_ADMIN)
        )
        self.forms.set_desk(desk)
        self.tabs.setTabVisible(self.tabs.indexOf(self.forms), self.can_edit)
        self.education.set_desk(desk)
        self.tabs.setTabVisible(
            self.tabs.indexOf(self.education), can(desk.staff.role, Permission.CONTENT_MANAGE)
        )
        self.prices.set_desk(desk)
        self.tabs.setTabVisible(self.tabs.indexOf(self.prices), self.can_edit)

    def _tab_opened(self, index: int) -> None:
        if self.tabs.widget(index) is self.workstations:
            self.workstations.refresh()
        elif self.tabs.widget(index) is self.messages:
            self.messages.refresh()
        elif self.tabs.widget(index) is self.practice:
            self.practice.refresh()
        elif self.tabs.widget(index) is self.booking_links:
            self.booking_links.refresh()
        elif self.tabs.widget(index) is self.portal:
            self.portal.refresh()
        elif self.tabs.widget(index) is self.education:
            self.education.refresh()
        elif self.tabs.widget(index) is self.prices:
            self.prices.refresh()

    # --- reading -----------------------------------------------------------------------

    def reload(self) -> None:
        """Read the desk's copy again (on the db lane): after a sync, or a change here."""
        self.runner.run("db", self.desk.store.schedule, self._show, self._unreadable)

    def _changes_heard(self, changes: Changes) -> None:
        if changes.touch(Topic.SCHEDULE, Topic.STAFF):
            self.reload()
        if changes.touch(Topic.FORMS):
            self.forms.forms_sent()  # read afresh from the server, if on screen
        if self.tabs.currentWidget() is self.messages:
            self.messages.editor.reload()  # a template saved here or brought by a sync

    def _show(self, schedule: ClinicSchedule) -> None:
        self.schedule = schedule
        names = Names({p.id: p.display_name for p in schedule.providers})
        self.hours.show_schedule(schedule)
        self.exceptions.show_schedule(schedule, names)
        self.types.show_schedule(schedule, names)
        self.rooms.show_schedule(schedule, names)
        self.rules.show_schedule(schedule)
        self.booking_links.show_schedule(schedule)
        self.forms.show_schedule(schedule)
        self.shown.emit()

    def _unreadable(self, error: BaseException) -> None:
        say(self.problem, f"The settings could not be read from this desk's copy: {words(error)}")

    # --- changing ------------------------------------------------------------------------

    def submit(self, command: SettingsCommand, done: Callable[[], None]) -> None:
        """Check ``command`` and queue it (with its local effect) on the db lane; say why
        not, in words, if it cannot be made. What was typed stays where it was."""
        if not self.can_edit:
            say(self.problem, READ_ONLY_NOTE)
            return
        try:
            check_setting(command)
        except DomainError as error:
            say(self.problem, error.message)
            return
        if self.schedule is not None and changes_nothing(self.schedule, command):
            say(self.problem, "")
            done()  # saved as it was: nothing to queue, nothing to send
            return
        store, staff = self.desk.store, self.desk.author
        self.hub.change(
            self,
            lambda: store.change_settings(staff, command),
            {Topic.SCHEDULE},  # working hours also shade the diary
            then=lambda _id: self._queued(done),
            failed=self._refused,
        )

    def _queued(self, done: Callable[[], None]) -> None:
        say(self.problem, "")
        done()

    def _refused(self, error: BaseException) -> None:
        say(self.problem, words(error))
