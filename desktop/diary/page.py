"""The diary page: navigation and choices above the diary view, the waiting room beside it.

The page reads a day or a week from the store on the ``db`` lane, hands it to the model
and the view, and turns what the view asks for (book here, move this, check in) into
store writes on the ``db`` lane. Every write is a local row and an outbox entry, so it
shows at once and works offline; ``changed`` tells the window to send it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from common.appointments import CancelledBy
from common.availability import OfferedSlot
from desktop.diary.arrivals import ArrivalsPanel
from desktop.diary.booking_dialog import AppointmentDialog, CancelQuestion
from desktop.diary.changes import find_next_free, move_checked
from desktop.diary.day_list import DayListDialog
from desktop.diary.free_slot import FreeSlotFinder, NextFreeDialog
from desktop.diary.items import PX_PER_MINUTE
from desktop.diary.model import (
    DiaryModel,
    DiaryRange,
    FetchRange,
    Mode,
    fetch_range,
    first_day_shown,
    load_range,
    range_bounds,
    summary,
)
from desktop.diary.provider_chooser import ProviderChooser
from desktop.diary.running_late import RunningLateDialog, patients
from desktop.diary.view import DiaryView
from desktop.kit import state
from desktop.kit.combo import choose
from desktop.kit.errors import words
from desktop.kit.ops import ChangeHub, Changes, Topic
from sync.signing import Author
from sync.store import DiaryEntry, StatusChange, Store

__all__ = ["PX_PER_MINUTE", "DiaryPage", "summary"]
# Remembered on this workstation.
MODE = state.choice("diary/mode", Mode.DAY)
HIDDEN = state.ids("diary/hidden_providers")
SNAP = state.number("diary/snap_minutes", 5, frozenset({5, 15}))
SHOWN_TOPICS = (Topic.APPOINTMENTS, Topic.PATIENTS, Topic.SCHEDULE, Topic.FORMS)
NEW_MINUTES = 30  # a new appointment's length until a type says otherwise


class TitleLabel(QLabel):
    """The range and its count, cut short with "…" when the bar is narrow: a long
    heading must not force the window wider (or keep it from shrinking back)."""

    def __init__(self) -> None:
        super().__init__()
        self.full_text = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(0)

    def show_text(self, text: str) -> None:
        self.full_text = text
        self.setToolTip(text)
        self._elide()

    def text(self) -> str:
        """The whole heading, however much of it fits."""
        return self.full_text

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        elided = self.fontMetrics().elidedText(
            self.full_text, Qt.TextElideMode.ElideRight, self.width()
        )
        super().setText(elided)


class DiaryPage(QWidget):
    day_shown = Signal(object)  # DiaryRange, after it is drawn
    open_patient_requested = Signal(object)  # patient id

    def __init__(
        self,
        hub: ChangeHub,
        store: Store,
        zone: ZoneInfo,
        parent: QWidget | None = None,
        fetch: FetchRange | None = None,
        *,
        author: Author | None = None,
        clinic: str = "",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(parent)
        self.hub, self.runner = hub, hub.runner
        self.store, self.zone, self.fetch = store, zone, fetch
        self.author, self.clinic = author, clinic
        self.clock = clock or (lambda: datetime.now(UTC))
        self.current = self.clock().astimezone(zone).date()
        self.mode, self.hidden = MODE.get(), HIDDEN.get()
        self.model = DiaryModel(zone)
        self.view = DiaryView()
        self.view.editable = author is not None
        self.view.clock = self.clock
        self.view.snap_minutes = SNAP.get()
        self.arrivals = ArrivalsPanel(self.runner, store, zone, self.clock)
        self.dialog: AppointmentDialog | None = None
        self.late_dialog: RunningLateDialog | None = None
        # Telling patients the clinic runs late sends messages (set by the main window).
        self.may_send_messages = True
        self.question: CancelQuestion | None = None
        self.no_show_question: QMessageBox | None = None
        self._select_after_load: uuid.UUID | None = None

        self.actions_by_name: dict[str, QAction] = {}
        self.previous_button = self._button(
            "previous", "◀ Previous", ["PgUp", "Alt+Left"], self.go_previous
        )
        self.today_button = self._button("today", "Today", ["T", "Alt+Home"], self.go_to_today)
        self.next_button = self._button("next", "Next ▶", ["PgDown", "Alt+Right"], self.go_next)
        self.day_button = self._button("day", "Day", ["D"], lambda: self.set_mode(Mode.DAY))
        self.week_button = self._button("week", "Week", ["W"], lambda: self.set_mode(Mode.WEEK))
        self.new_button = self._button("new", "New…", ["Ctrl+N"], self.new_at_selected_time)
        self.free_button = self._button("free", "Next free…", ["Ctrl+F"], self.ask_next_free)
        self.print_button = self._button("print", "Day list…", ["Ctrl+P"], self.open_day_list)
        self.late_button = self._button(
            "late", "Running late…", ["Ctrl+L"], lambda: self.ask_running_late()
        )
        for name in ("day", "week"):
            self.actions_by_name[name].setCheckable(True)
        self.providers_button = ProviderChooser(self.hidden)
        self.providers_button.chosen.connect(self.set_hidden)
        self.snap = QComboBox()
        self.snap.addItem("Snap 5 min", 5)
        self.snap.addItem("Snap 15 min", 15)
        self.snap.setToolTip("Dragged appointments land on this grid")
        choose(self.snap, self.view.snap_minutes)
        self.snap.currentIndexChanged.connect(self._snap_chosen)
        self.date_edit = QDateEdit()
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("ddd d MMM yyyy")
        self.date_edit.dateChanged.connect(self._date_picked)
        self.title = TitleLabel()
        self.title.setObjectName("diaryTitle")
        self.notice = QLabel()
        self.notice.setObjectName("diaryNotice")
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        self.finder = FreeSlotFinder(self.runner, store, zone, self.clock)
        self.finder.found.connect(self._offer)
        self.finder.book_requested.connect(
            lambda slot: self.new_appointment(slot.provider_id, slot.starts_at, slot.ends_at)
        )
        self.finder.dismissed.connect(self.view.clear_offer)
        self.finder.said.connect(self.say)
        hub.changed.connect(self._changes_heard)

        bar = QHBoxLayout()
        groups: list[list[QWidget]] = [
            [self.previous_button, self.today_button, self.next_button, self.date_edit],
            [self.day_button, self.week_button, self.providers_button, self.snap],
            [self.new_button, self.free_button, self.print_button, self.late_button],
        ]
        for group in groups:
            for widget in group:
                bar.addWidget(widget)
            bar.addSpacing(12)
        bar.addWidget(self.title, 1)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.arrivals)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setCollapsible(1, False)  # the waiting room keeps its columns readable
        self.splitter.setSizes([900, 280])
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.notice)
        layout.addWidget(self.finder)
        layout.addWidget(self.splitter, 1)

        self.view.status_change_requested.connect(self.request_status)
        self.view.create_requested.connect(self.new_appointment)
        self.view.move_requested.connect(self.move_appointment)
        self.view.open_requested.connect(self.open_appointment)
        self.view.open_patient_requested.connect(self.open_patient_requested)
        self.view.command.connect(self._command)
        self.view.day_chosen.connect(self.open_day)
        self.view.running_late_requested.connect(self.ask_running_late)
        self.arrivals.status_change_requested.connect(self.request_status)
        self.minute = QTimer(self)
        self.minute.setInterval(60_000)
        self.minute.timeout.connect(self.view.viewport().update)  # the "now" line
        self.minute.start()
        self._show_mode()
        self.go_to(self.current)

    def _button(
        self, name: str, text: str, keys: list[str], slot: Callable[[], object]
    ) -> QToolButton:
        """A toolbar button over an action whose shortcuts work anywhere on the page and
        show in its tooltip."""
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(f"{text.strip('◀▶ …')} ({', '.join(keys)})")
        action.triggered.connect(lambda _=False: slot())
        self.addAction(action)
        self.actions_by_name[name] = action
        button = QToolButton()
        button.setDefaultAction(action)
        return button

    # --- where and what ---------------------------------------------------------------

    def go_to_today(self) -> None:
        self.go_to(self.clock().astimezone(self.zone).date())

    def go_previous(self) -> None:
        self.go_to(self.current - timedelta(days=self.mode.days))

    def go_next(self) -> None:
        self.go_to(self.current + timedelta(days=self.mode.days))

    def go_to(self, day: date) -> None:
        self._set_current(day)
        self.reload()

    def _set_current(self, day: date) -> None:
        self.current = day
        self.date_edit.blockSignals(True)
        self.date_edit.setDate(QDate(day.year, day.month, day.day))
        self.date_edit.blockSignals(False)

    def _wanted_days(self) -> tuple[date, date]:
        """The first day shown and the day after the last."""
        first, days = self._wanted()
        return first, first + timedelta(days=days)

    def show_appointment(self, appointment_id: uuid.UUID, starts_at: datetime | None) -> None:
        """Go to the appointment's day and select it once the day is drawn (another page
        asked: a booking link's appointment, from the patient's file)."""
        self._select_after_load = appointment_id
        self.go_to(starts_at.astimezone(self.zone).date() if starts_at else self.current)

    def open_day(self, day: date) -> None:
        """A day of the week view, on its own."""
        self._remember_mode(Mode.DAY)
        self.go_to(day)

    def set_mode(self, mode: Mode) -> None:
        self._remember_mode(mode)
        self.reload()

    def _remember_mode(self, mode: Mode) -> None:
        self.mode = mode
        MODE.set(mode)
        self._show_mode()

    def _show_mode(self) -> None:
        self.actions_by_name["day"].setChecked(self.mode is Mode.DAY)
        self.actions_by_name["week"].setChecked(self.mode is Mode.WEEK)
        unit = "day" if self.mode is Mode.DAY else "week"
        self.actions_by_name["previous"].setToolTip(f"Previous {unit} (PgUp, Alt+Left)")
        self.actions_by_name["next"].setToolTip(f"Next {unit} (PgDown, Alt+Right)")

    def _command(self, name: str) -> None:
        self.actions_by_name[name].trigger()

    def _date_picked(self, picked: QDate) -> None:
        self.go_to(date(picked.year(), picked.month(), picked.day()))

    def _snap_chosen(self) -> None:
        self.view.snap_minutes = int(self.snap.currentData())
        SNAP.set(self.view.snap_minutes)

    def set_hidden(self, hidden: frozenset[uuid.UUID]) -> None:
        """Which providers not to show; remembered on this workstation."""
        self.hidden = self.providers_button.hidden = hidden
        HIDDEN.set(hidden)
        self.reload()

    # --- loading -------------------------------------------------------------------------

    def reload(self) -> None:
        first = first_day_shown(self.current, self.mode)
        days, store, zone, fetch, hidden = (
            self.mode.days,
            self.store,
            self.zone,
            self.fetch,
            self.hidden,
        )

        def from_store() -> DiaryRange | None:
            # Before the first sync there is no window yet: show the (empty) local copy,
            # which the first sync fills and redraws.
            bounds = range_bounds(first, days, zone)
            if fetch is None or store.kept_window() is None or store.covers(*bounds):
                return load_range(store, first, days, zone, hidden)
            return None  # outside the window this desk keeps

        self.runner.run("db", from_store, lambda found: self._loaded_or_fetch(first, days, found))
        self.arrivals.reload()

    def _loaded_or_fetch(self, first: date, days: int, found: DiaryRange | None) -> None:
        if found is not None:
            self._loaded(found)
            return
        if self.fetch is None or (first, days) != self._wanted():
            return
        store, zone, fetch, hidden = self.store, self.zone, self.fetch, self.hidden
        self.title.show_text(f"{self._range_words(first, days)} · fetching from the server…")
        self.runner.run(
            "net",
            lambda: fetch_range(store, fetch, first, days, zone, hidden),
            self._loaded,
            lambda error: self._not_fetched(first, days, error),
        )

    def _wanted(self) -> tuple[date, int]:
        return first_day_shown(self.current, self.mode), self.mode.days

    def _range_words(self, first: date, days: int) -> str:
        if days == 1:
            return f"{first:%A %d %B %Y}"
        last = first + timedelta(days=days - 1)
        return f"Week of {first:%d %b} – {last:%d %b %Y}"

    def _not_fetched(self, first: date, days: int, error: BaseException) -> None:
        if (first, days) != self._wanted():
            return  # the user has moved on: this failure is not about what is shown
        reason = words(error)
        self.title.show_text(
            f"{self._range_words(first, days)} is outside this desk's copy and could not be "
            f"fetched: {reason}"
        )
        empty = DiaryRange(first, days, self.zone, [], [])
        self.model.set_range(empty)
        self.view.show_range(empty)

    def _loaded(self, shown: DiaryRange) -> None:
        if (shown.day, shown.days) != self._wanted():
            return  # the user has moved on; a newer load is on its way
        active = sum(1 for e in shown.entries if e.status.occupies_time)
        fetched = " · fetched from the server" if shown.fetched else ""
        self.title.show_text(
            f"{self._range_words(shown.day, shown.days)} · {active} appointments{fetched}"
        )
        self.model.set_range(shown)
        self.view.show_range(shown)
        self.providers_button.providers = shown.all_providers
        if self._select_after_load is not None:
            self.view.select(self._select_after_load)
            self._select_after_load = None
        self.day_shown.emit(shown)

    # --- changes -------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """A message above the diary that needs no click to go away."""
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def write(
        self, work: Callable[[], object], done: Callable[[object], None] | None = None
    ) -> None:
        """A store write on the db lane; every page hears of it (this one redraws)."""
        if self.author is None:
            self.say("Sign in to make changes.")
            return

        def written(result: object) -> None:
            self.say("")
            if done is not None:
                done(result)

        self.hub.change(self, work, {Topic.APPOINTMENTS}, then=written, failed=self._not_written)

    def _not_written(self, error: BaseException) -> None:
        self.say(f"Not changed: {words(error)}")

    def _changes_heard(self, changes: Changes) -> None:
        if changes.touch(*SHOWN_TOPICS):
            self.reload()

    def request_status(self, appointment_id: uuid.UUID, kind: StatusChange) -> None:
        """A status change from the menu, the keyboard or the waiting room, if the rule
        allows it now (``common.appointments.status_change_allowed``; otherwise it says
        why). A cancellation first asks who called it off, a no-show whether it is meant:
        it counts against the patient and cannot be undone at the desk."""
        entry = self._entry(appointment_id)
        if entry is not None:
            verdict = self.view.allows(kind, entry)
            if not verdict.allowed:
                self.say(f"Not changed: {verdict.reason}")
                return
        if kind == "cancel":
            if entry is not None:
                self.ask_cancel(entry)
            return
        if kind == "no_show" and entry is not None:
            self.ask_no_show(entry)
            return
        self._set_status(appointment_id, kind)

    def _entry(self, appointment_id: uuid.UUID) -> DiaryEntry | None:
        """The appointment as shown in the diary or the waiting room."""
        shown = (e for e in self.model.rows if e.id == appointment_id)
        waiting = (a.entry for a in self.arrivals.model.rows if a.entry.id == appointment_id)
        return next(shown, None) or next(waiting, None)

    def _set_status(self, appointment_id: uuid.UUID, kind: StatusChange) -> None:
        store, staff = self.store, self.author
        if staff is None:
            self.say("Sign in to make changes.")
            return
        self.write(lambda: store.set_status(staff, appointment_id, kind))

    def ask_no_show(self, entry: DiaryEntry) -> QMessageBox:
        start = entry.starts_at.astimezone(self.zone)
        self.no_show_question = question = QMessageBox(self)
        question.setIcon(QMessageBox.Icon.Question)
        question.setWindowTitle("Mark no-show")
        question.setText(f"Mark {entry.patient_name} as no-show for {start:%a %d %b at %H:%M}?")
        question.setInformativeText(
            "It is recorded as a missed appointment of the patient's, and cannot be undone."
        )
        question.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        question.setDefaultButton(QMessageBox.StandardButton.No)
        question.buttonClicked.connect(lambda button: self._no_show_answered(entry, button))
        question.open()
        return question

    def _no_show_answered(self, entry: DiaryEntry, button: object) -> None:
        question = self.no_show_question
        if question is not None and button is question.button(QMessageBox.StandardButton.Yes):
            self._set_status(entry.id, "no_show")

    def ask_cancel(self, entry: DiaryEntry) -> CancelQuestion:
        self.question = question = CancelQuestion(entry, self.zone, self)
        question.buttonClicked.connect(lambda button: self._cancel_answered(entry, button))
        question.open()
        return question

    def _cancel_answered(self, entry: DiaryEntry, button: object) -> None:
        question = self.question
        if question is None or button is question.keep_button:
            return
        who = CancelledBy.PATIENT if button is question.patient_button else CancelledBy.STAFF
        store, staff = self.store, self.author
        if staff is not None:
            self.write(lambda: store.set_status(staff, entry.id, "cancel", cancelled_by=who))

    def move_appointment(
        self, entry: DiaryEntry, provider_id: uuid.UUID, starts_at: datetime, ends_at: datetime
    ) -> None:
        """A drag (move or resize), checked against this desk's copy first."""
        store, staff, zone = self.store, self.author, self.zone
        provider = self.model.shown.provider(provider_id)
        name = provider.display_name if provider else "The provider"
        if staff is None:
            self.say("Sign in to make changes.")
            return
        self._select_after_load = entry.id
        self.write(
            lambda: move_checked(
                store,
                staff,
                entry.id,
                provider_id=provider_id,
                provider_name=name,
                starts_at=starts_at,
                ends_at=ends_at,
                zone=zone,
            )
        )

    def new_appointment(
        self,
        provider_id: uuid.UUID | None = None,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> AppointmentDialog | None:
        """The booking dialog at the time given; with none (Ctrl+N with nothing selected,
        "Book for this patient…"), it opens at the next hour and moves, once the db lane
        has looked, to the default provider's first free time from now: the same search
        as "Next free…", so it never starts on a clash."""
        if self.author is None:
            self.say("Sign in to make changes.")
            return None
        proposing = starts_at is None
        if starts_at is None:
            hour = self.clock().astimezone(self.zone).replace(minute=0, second=0, microsecond=0)
            starts_at = hour.astimezone(UTC) + timedelta(hours=1)  # in UTC: DST-safe
        ends_at = ends_at or starts_at + timedelta(minutes=NEW_MINUTES)
        shown = self.model.shown
        providers = shown.all_providers or shown.providers
        if provider_id is None:
            default = shown.providers or providers
            provider_id = default[0].id if default else None
        dialog = self._open(
            AppointmentDialog(
                self.runner,
                self.store,
                self.author,
                self.zone,
                providers,
                shown.appointment_types,
                provider_id=provider_id,
                starts_at=starts_at,
                ends_at=ends_at,
                parent=self,
                hub=self.hub,
            )
        )
        # The selected time it may have opened at is spent once it closes, either way.
        dialog.finished.connect(lambda _result: self.view.set_chosen_time(None))
        if proposing and provider_id is not None:
            self._propose_first_free(dialog, provider_id, ends_at - starts_at)
        return dialog

    def _propose_first_free(
        self, dialog: AppointmentDialog, provider_id: uuid.UUID, length: timedelta
    ) -> None:
        store, zone, now = self.store, self.zone, self.clock()

        def found(slot: OfferedSlot | None) -> None:
            if slot is not None:
                dialog.propose(slot)

        self.runner.run(
            "db",
            lambda: find_next_free(store, zone, length, [provider_id], now),
            found,
            lambda _error: None,  # no hours set up: the next hour stays, as before
        )

    def new_at_selected_time(self) -> None:
        chosen = self.view.selected_time()
        if chosen is None:
            self.new_appointment()
        else:
            self.new_appointment(chosen[0], chosen[1])

    def open_appointment(self, entry: DiaryEntry) -> AppointmentDialog | None:
        if self.author is None:
            return None
        shown = self.model.shown
        return self._open(
            AppointmentDialog(
                self.runner,
                self.store,
                self.author,
                self.zone,
                shown.all_providers or shown.providers,
                shown.appointment_types,
                provider_id=entry.provider_id,
                starts_at=entry.starts_at,
                ends_at=entry.ends_at,
                entry=entry,
                parent=self,
            )
        )

    def _open(self, dialog: AppointmentDialog) -> AppointmentDialog:
        self.dialog = dialog
        dialog.saved.connect(lambda appointment_id: self._saved(dialog, appointment_id))
        dialog.open()
        return dialog

    def _saved(self, dialog: AppointmentDialog, appointment_id: uuid.UUID) -> None:
        """Show where it went: its day (booked from the patient file, it may be another
        one), selected, and say what was booked."""
        self._select_after_load = appointment_id
        self.finder.dismiss()
        _provider, starts, _ends = dialog.slot()
        local = starts.astimezone(self.zone)
        first, after = self._wanted_days()
        if not first <= local.date() < after:
            self._set_current(local.date())  # the reload the announcement brings shows it
        if dialog.entry is None and dialog.patient is not None:
            self.say(f"Booked {dialog.patient.name} for {local:%a %d %b %H:%M}")
        self.hub.announce({Topic.APPOINTMENTS, Topic.OUTBOX}, origin=self)

    # --- the free-slot finder, the day list ---------------------------------------------

    def ask_next_free(self) -> NextFreeDialog:
        return self.finder.ask(self.model.shown.providers, self)

    def _offer(self, slot: OfferedSlot) -> None:
        self.view.offer = (slot.provider_id, slot.starts_at, slot.ends_at)
        self.go_to(slot.starts_at.astimezone(self.zone).date())

    def ask_running_late(self, provider_id: uuid.UUID | None = None) -> RunningLateDialog | None:
        """Tell a provider's later patients today that the clinic runs late: from their
        column's heading, or for the selected appointment's provider (Ctrl+L)."""
        if self.author is None:
            self.say("Sign in to make changes.")
            return None
        if not self.may_send_messages:
            self.say("Your role does not send messages to patients.")
            return None
        shown = self.model.shown
        providers = shown.all_providers or shown.providers
        if provider_id is None:
            selected = self.view.selected_entry()
            provider_id = selected.provider_id if selected else None
        dialog = RunningLateDialog(
            self.runner, self.store, self.zone, providers, provider_id, self.clock(), self
        )
        dialog.accepted.connect(lambda: self._tell_running_late(dialog))
        self.late_dialog = dialog
        dialog.open()
        return dialog

    def _tell_running_late(self, dialog: RunningLateDialog) -> None:
        provider_id, minutes, author = dialog.provider_id(), dialog.minutes.value(), self.author
        name, store = dialog.provider.currentText(), self.store
        if provider_id is None or author is None:
            return
        told = patients(dialog.count.texted if dialog.count else 0)
        self.hub.change(
            self,
            lambda: store.tell_running_late(author, provider_id, minutes, dialog.now),
            {Topic.MESSAGES},
            then=lambda _queued: self.say(
                f"{name} is running about {minutes} minutes late: {told} will be told."
            ),
            failed=self._not_written,
        )

    def open_day_list(self) -> DayListDialog:
        self.day_list = DayListDialog(self.runner, self.model, self.clinic, self, day=self.current)
        self.day_list.open()
        return self.day_list
