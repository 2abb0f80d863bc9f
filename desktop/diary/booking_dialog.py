"""The appointment dialog: book a new appointment (find the patient by name, phone or date
of birth; type; start and length; provider), or change the time of an existing one.

The dialog stays open until the change is written: a missing patient or a clash in the
desk's copy is said in the dialog, and nothing typed is lost.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, QDateTime, QEvent, QObject, Qt, QTime, QTimer, Signal
from PySide6.QtGui import QColor, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from common.appointments import MOVABLE
from common.availability import OfferedSlot, within_working_time
from common.patients import show_phone
from common.scheduling import ProviderSchedule
from desktop.diary.changes import BookingRequest, book_checked, move_checked
from desktop.kit.combo import choose
from desktop.kit.errors import words
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from desktop.patients.alerts import alert_lines
from desktop.patients.form import PatientForm, guess_from_search
from sync.patients import PatientFile
from sync.scheduling import AppointmentTypeRow, ClinicSchedule, PatientMatch
from sync.signing import Author
from sync.store import DiaryEntry, ProviderRow, Store

SEARCH_DELAY_MS = 150
NO_PATIENT = (
    "Choose a patient: type a name, phone number or date of birth (17/05/1980), then pick "
    "one from the list."
)
ERROR_INK = "#b3261e"
BUSY_INK = "#4a5060"


def local_datetime(moment: datetime, zone: ZoneInfo) -> QDateTime:
    local = moment.astimezone(zone)
    return QDateTime(QDate(local.year, local.month, local.day), QTime(local.hour, local.minute))


def from_local(value: QDateTime, zone: ZoneInfo) -> datetime:
    day, clock = value.date(), value.time()
    local = datetime(day.year(), day.month(), day.day(), clock.hour(), clock.minute(), tzinfo=zone)
    return local.astimezone(UTC)


def _details(match: PatientMatch) -> str:
    born = f" · born {match.date_of_birth:%d/%m/%Y}" if match.date_of_birth else ""
    phone = f" · {show_phone(match.phone, None)}" if match.phone else ""
    return born + phone


def describe_patient(match: PatientMatch) -> str:
    """A search result: who, then the alerts on their file, so they are seen before the
    patient is even chosen."""
    found = f"{match.last_name}, {match.first_name}{_details(match)}"
    return "\n".join([found, alert_lines(match.alerts)]) if match.alerts else found


def _swatch(colour: str) -> QPixmap:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(colour))
    return pixmap


class AppointmentDialog(QDialog):
    """New (``entry`` None) or an existing appointment's time, length and provider."""

    saved = Signal(object)  # the appointment's id, once the change is written

    def __init__(
        self,
        runner: TaskRunner,
        store: Store,
        author: Author,
        zone: ZoneInfo,
        providers: list[ProviderRow],
        appointment_types: list[AppointmentTypeRow],
        *,
        provider_id: uuid.UUID | None,
        starts_at: datetime,
        ends_at: datetime,
        entry: DiaryEntry | None = None,
        parent: QWidget | None = None,
        hub: ChangeHub | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner, self.store, self.author, self.zone = runner, store, author, zone
        self.hub = hub  # registers a new patient ("New patient…"); none: the button is hidden
        self.patient_form: PatientForm | None = None
        self.entry = entry
        self.types = appointment_types
        # The type staff chose: a provider who does not give it drops it from the list,
        # and one who does gets it back.
        self.wanted_type = entry.appointment_type_id if entry else None
        self.patient: PatientMatch | None = None
        self.appointment_id: uuid.UUID | None = None
        self.setWindowTitle("New appointment" if entry is None else "Appointment")
        self.setMinimumWidth(460)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Name, phone or date of birth (17/05/1980)")
        self.search.setClearButtonEnabled(True)
        self.results = QListWidget()
        self.results.setMaximumHeight(150)
        self.chosen = QLabel("No patient chosen yet")
        self.chosen.setObjectName("chosenPatient")
        self.alerts = QLabel()
        self.alerts.setObjectName("patientAlerts")
        self.alerts.setWordWrap(True)
        self.alerts.setStyleSheet("color: #9a3412; font-weight: bold;")
        self.alerts.setVisible(False)
        self.type = QComboBox()
        self.schedules: dict[uuid.UUID, ProviderSchedule] | None = None  # read on the db lane
        self.start = QDateTimeEdit(local_datetime(starts_at, zone))
        # The field shows the clock, which cannot tell the two 01:30s of a fall-back
        # night apart: while it is left as it was, the time stays the instant given.
        self._given = (self.start.dateTime(), starts_at)
        self.start.setCalendarPopup(True)
        self.start.setDisplayFormat("ddd d MMM yyyy HH:mm")
        self.length = QSpinBox()
        self.length.setRange(5, 12 * 60)
        self.length.setSingleStep(5)
        self.length.setSuffix(" min")
        self.length.setValue(max(5, int((ends_at - starts_at).total_seconds() // 60)))
        self.provider = QComboBox()
        for provider in providers:
            self.provider.addItem(_swatch(provider.colour), provider.display_name, provider.id)
        choose(self.provider, provider_id)
        self._fill_types(entry.appointment_type_id if entry else None)
        self.hours_warning = QLabel()
        self.hours_warning.setObjectName("hoursWarning")
        self.hours_warning.setWordWrap(True)
        self.hours_warning.setStyleSheet("color: #8a5300;")
        self.hours_warning.setVisible(False)
        self.message = QLabel()
        self.message.setObjectName("dialogMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {ERROR_INK};")
        self.message.setVisible(False)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button: QPushButton = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Book" if entry is None else "Save")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        self.new_patient_button = QPushButton("New patient…")
        self.new_patient_button.setToolTip("Register a patient who is not on file yet")
        self.new_patient_button.clicked.connect(lambda: self.new_patient())
        self.new_patient_button.setVisible(hub is not None)
        finding = QHBoxLayout()
        finding.setContentsMargins(0, 0, 0, 0)
        finding.addWidget(self.search, 1)
        finding.addWidget(self.new_patient_button)

        form = QFormLayout()
        if entry is None:
            form.addRow("Find patient", finding)
            form.addRow("", self.results)
            form.addRow("Patient", self.chosen)
            form.addRow("", self.alerts)
        else:
            self.chosen.setText(f"<b>{entry.patient_name}</b> · {entry.status.label}")
            form.addRow("Patient", self.chosen)
            form.addRow("", self.alerts)
            self._show_alerts(entry.patient_alerts)
            self.type.setEnabled(False)
            if entry.status not in MOVABLE:
                for widget in (self.start, self.length, self.provider, self.ok_button):
                    widget.setEnabled(False)
                self.say(f"A {entry.status.label.lower()} appointment cannot be moved.")
        form.addRow("Type", self.type)
        form.addRow("Starts", self.start)
        form.addRow("Length", self.length)
        form.addRow("Provider", self.provider)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.hours_warning)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.run_search)
        self.search.textEdited.connect(lambda _text: self._timer.start())
        self.search.installEventFilter(self)
        self.results.currentItemChanged.connect(lambda item, _old: self._pick(item))
        self.results.itemActivated.connect(self._activated)
        self.type.currentIndexChanged.connect(self._type_chosen)
        self.provider.currentIndexChanged.connect(self._provider_chosen)
        self.start.dateTimeChanged.connect(self._time_changed)
        self.length.valueChanged.connect(self._time_changed)
        (self.search if entry is None else self.start).setFocus()
        runner.run("db", store.schedule, self._schedule_read, lambda _error: None)

    # --- what the chosen provider offers, and when they work --------------------------

    def _fill_types(self, keep: uuid.UUID | None) -> None:
        """The types the chosen provider gives (an existing appointment keeps its own),
        keeping ``keep`` chosen when it is among them."""
        provider_id = self.provider.currentData()
        offered = [
            kind
            for kind in self.types
            if (kind.id == keep and self.entry is not None)
            or provider_id is None
            or kind.rules.offered_by(provider_id)
        ]
        self.type.blockSignals(True)
        self.type.clear()
        self.type.addItem("No particular type", None)
        for kind in offered:
            self.type.addItem(
                _swatch(kind.colour), f"{kind.name} ({kind.duration_minutes} min)", kind.id
            )
        choose(self.type, keep)
        self.type.blockSignals(False)

    def _provider_chosen(self) -> None:
        """Keep the type staff chose if this provider gives it; if not, say so rather than
        quietly booking no particular type (it comes back with a provider who does)."""
        self.hush()
        self._fill_types(self.wanted_type)
        wanted = next((t for t in self.types if t.id == self.wanted_type), None)
        if wanted is not None and self.type.currentData() != wanted.id:
            who = self.provider.currentText()
            self.say(f"{who} does not give {wanted.name}; choose another type.")
        self._check_hours()

    def _time_changed(self) -> None:
        """A clash or refusal said was about the old time: it no longer holds."""
        self.hush()
        self._check_hours()

    def _schedule_read(self, schedule: ClinicSchedule) -> None:
        self.schedules = {s.provider_id: s for s in schedule.schedules()}
        self._check_hours()

    def _check_hours(self) -> None:
        """Say so, without refusing, when the time is outside the provider's working
        hours (their week, time off, closures): staff may book then, but should know."""
        provider_id, starts, ends = self.slot()
        schedule = (self.schedules or {}).get(provider_id) if provider_id else None
        outside = schedule is not None and not within_working_time(
            schedule, self.zone, starts, ends
        )
        local = starts.astimezone(self.zone)
        warnings = []
        if outside:
            warnings.append(
                f"⚠ {self.provider.currentText()} does not work all of "
                f"{local:%a %d %b} {local:%H:%M}–{ends.astimezone(self.zone):%H:%M} "
                "(outside working hours, time off or a closure). You can still book it."
            )
        if self.entry is None and starts < datetime.now(UTC):
            warnings.append(
                f"⚠ {local:%a %d %b %H:%M} has already passed. You can still book it "
                "(to record a visit that happened)."
            )
        self.hours_warning.setText("\n".join(warnings))
        self.hours_warning.setVisible(bool(warnings))

    # --- finding the patient --------------------------------------------------------

    def run_search(self) -> None:
        text = self.search.text()
        store = self.store
        self.runner.run(
            "db", lambda: store.search_patients(text), lambda found: self._found(text, found)
        )

    def _found(self, text: str, found: list[PatientMatch]) -> None:
        if text != self.search.text():
            return  # typed on meanwhile: a newer search is coming
        self.results.clear()
        for match in found:
            item = QListWidgetItem(describe_patient(match))
            item.setData(Qt.ItemDataRole.UserRole, match)
            if match.alerts:
                item.setForeground(QColor("#9a3412"))
                item.setToolTip(alert_lines(match.alerts))
            self.results.addItem(item)
        if not found and text.strip():
            self.results.addItem(QListWidgetItem("No patient matches that"))
            self.results.item(0).setFlags(Qt.ItemFlag.NoItemFlags)

    def _pick(self, item: QListWidgetItem | None) -> None:
        match = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if isinstance(match, PatientMatch):
            self._show_patient(match)

    def choose_patient(self, match: PatientMatch) -> None:
        """Book for ``match`` (a patient just registered, or the one whose file asked).
        What the search said ("No patient matches that") is no longer so; the alerts are
        read from the file, as whoever handed ``match`` over may not have had them."""
        self._show_patient(match)
        self.results.clear()
        store, patient_id = self.store, match.id
        self.runner.run(
            "db",
            lambda: store.patient(patient_id),
            lambda found: self._file_read(patient_id, found),
            lambda _error: None,
        )
        self.type.setFocus()

    def _show_patient(self, match: PatientMatch) -> None:
        self.patient = match
        self.chosen.setText(f"<b>{match.name}</b>{_details(match)}")
        self._show_alerts(match.alerts)
        self.hush()

    def _file_read(self, patient_id: uuid.UUID, found: PatientFile | None) -> None:
        if found is not None and self.patient is not None and self.patient.id == patient_id:
            self._show_alerts(found.details.alerts)

    def _show_alerts(self, alerts: tuple[str, ...]) -> None:
        self.alerts.setText(alert_lines(alerts))
        self.alerts.setVisible(bool(alerts))

    def new_patient(self) -> PatientForm | None:
        """The patient form, started from what was typed in the search; once the new
        patient is registered (queued before the booking), they are the one booked for."""
        if self.hub is None:
            return None
        form = PatientForm(
            self.hub,
            self.store,
            self.author,
            None,
            prefill=guess_from_search(self.search.text()),
            parent=self,
        )
        form.saved.connect(self.choose_patient)
        self.patient_form = form
        form.open()
        return form

    def _activated(self, item: QListWidgetItem) -> None:
        self._pick(item)
        self.type.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """In the search box: arrows walk the results, Enter takes the highlighted one."""
        if watched is self.search and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            count = self.results.count()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up) and count:
                step = 1 if key == Qt.Key.Key_Down else -1
                row = min(max(self.results.currentRow() + step, 0), count - 1)
                self.results.setCurrentRow(row)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                if self._timer.isActive():
                    self._timer.stop()
                    self.run_search()
                    return True
                item = self.results.currentItem() or (self.results.item(0) if count == 1 else None)
                if item is not None and isinstance(
                    item.data(Qt.ItemDataRole.UserRole), PatientMatch
                ):
                    self._activated(item)
                    return True
        return super().eventFilter(watched, event)

    def _type_chosen(self) -> None:
        self.wanted_type = self.type.currentData()
        self.hush()
        kind = next((t for t in self.types if t.id == self.wanted_type), None)
        if kind is not None:
            self.length.setValue(kind.duration_minutes)

    # --- saving ----------------------------------------------------------------------

    def say(self, text: str, ink: str = ERROR_INK) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {ink};")
        self.message.setVisible(True)

    def hush(self) -> None:
        """Clear the message line: what it said was about what has just been changed."""
        self.message.clear()
        self.message.setVisible(False)

    def propose(self, slot: OfferedSlot) -> None:
        """Start at ``slot`` (the first free time, found on the db lane after opening),
        unless staff have already chosen another time or provider meanwhile."""
        untouched = self.start.dateTime() == self._given[0]
        if not untouched or self.provider.currentData() != slot.provider_id:
            return
        shown = local_datetime(slot.starts_at, self.zone)
        self._given = (shown, slot.starts_at)
        self.start.setDateTime(shown)
        self.length.setValue(int((slot.ends_at - slot.starts_at).total_seconds() // 60))

    def slot(self) -> tuple[uuid.UUID, datetime, datetime]:
        shown, given = self._given
        chosen = self.start.dateTime()
        starts = given.astimezone(UTC) if chosen == shown else from_local(chosen, self.zone)
        return self.provider.currentData(), starts, starts + timedelta(minutes=self.length.value())

    def submit(self) -> None:
        """Check what can be checked here, then write on the db lane; the dialog closes
        only once the change is in the desk's copy."""
        provider_id, starts, ends = self.slot()
        if provider_id is None:
            self.say("Choose a provider.")
            return
        kind = next((t for t in self.types if t.id == self.type.currentData()), None)
        if kind is not None and not kind.rules.offered_by(provider_id):
            self.say(f"{self.provider.currentText()} does not offer {kind.name}.")
            return
        store, staff, zone, name = self.store, self.author, self.zone, self.provider.currentText()
        if self.entry is None:
            if self.patient is None:
                self.say(NO_PATIENT)
                self.search.setFocus()
                return
            request = BookingRequest(
                provider_id, name, self.patient.id, starts, ends, kind.id if kind else None
            )
            work = lambda: book_checked(store, staff, request, zone)  # noqa: E731
        else:
            entry = self.entry
            if (provider_id, starts, ends) == (entry.provider_id, entry.starts_at, entry.ends_at):
                self.accept()
                return
            work = lambda: move_checked(  # noqa: E731
                store,
                staff,
                entry.id,
                provider_id=provider_id,
                provider_name=name,
                starts_at=starts,
                ends_at=ends,
                zone=zone,
            )
        self.ok_button.setEnabled(False)
        self.say("Saving…", BUSY_INK)
        self.runner.run("db", work, self._saved, self._refused)

    def _saved(self, _mutation_or_id: uuid.UUID) -> None:
        self.appointment_id = self.entry.id if self.entry else _mutation_or_id
        self.hush()
        self.saved.emit(self.appointment_id)
        self.accept()

    def _refused(self, error: BaseException) -> None:
        self.ok_button.setEnabled(True)
        self.say(words(error))


class CancelQuestion(QMessageBox):
    """Who called it off: it decides whether it counts as a late cancellation."""

    def __init__(self, entry: DiaryEntry, zone: ZoneInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        start = entry.starts_at.astimezone(zone)
        self.setWindowTitle("Cancel appointment")
        self.setText(f"Cancel {entry.patient_name}'s appointment on {start:%a %d %b at %H:%M}?")
        self.setInformativeText("Was it cancelled by the patient or by the clinic?")
        self.patient_button = self.addButton(
            "Cancelled by the patient", QMessageBox.ButtonRole.AcceptRole
        )
        self.clinic_button = self.addButton(
            "Cancelled by the clinic", QMessageBox.ButtonRole.AcceptRole
        )
        self.keep_button = self.addButton("Keep it", QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.keep_button)
