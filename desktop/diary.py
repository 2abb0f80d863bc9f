"""The diary: one column per provider, appointments as blocks at their local times.

Read-only in this milestone. The page asks the store for a day on the ``db`` lane and
draws the answer; nothing touches the database on the UI thread.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QContextMenuEvent, QFont, QPen, QResizeEvent
from PySide6.QtWidgets import (
    QDateEdit,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from common.appointments import AppointmentSource, AppointmentStatus
from common.errors import DomainError
from desktop.tasks import TaskRunner
from sync.protocol import AppointmentRecord
from sync.store import DiaryEntry, ProviderRow, Store

GUTTER = 56  # hour labels
HEADER = 28  # provider names
PX_PER_MINUTE = 1.2
MIN_COLUMN = 170
DEFAULT_HOURS = (7, 20)
BOOKED = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED)
STATUS_ACTIONS = (
    ("check_in", "Check in", BOOKED),
    ("no_show", "Mark no-show", BOOKED),
    ("cancel", "Cancel appointment", (*BOOKED, AppointmentStatus.ARRIVED)),
)
ONLINE_SOURCES = {AppointmentSource.WIDGET, AppointmentSource.LINK, AppointmentSource.PORTAL}


@dataclass(frozen=True)
class DiaryDay:
    """What the view draws: the day, the providers in column order, their appointments."""

    day: date
    zone: ZoneInfo
    providers: list[ProviderRow]
    entries: list[DiaryEntry]
    fetched: bool = False  # outside the desk's window: fetched from the server just now


FetchRange = Callable[[datetime, datetime], list[AppointmentRecord]]


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def load_day(store: Store, day: date, zone: ZoneInfo) -> DiaryDay:
    """Runs on the ``db`` lane: the local day's bounds in UTC, then one range query."""
    start, end = day_bounds(day, zone)
    return DiaryDay(day, zone, store.providers(), store.diary(start, end))


def fetch_day(store: Store, fetch: FetchRange, day: date, zone: ZoneInfo) -> DiaryDay:
    """Runs on the ``net`` lane, for a day outside the window the desk keeps."""
    start, end = day_bounds(day, zone)
    entries = store.entries_for(fetch(start, end))
    return DiaryDay(day, zone, store.providers(), entries, fetched=True)


def summary(entry: DiaryEntry, zone: ZoneInfo) -> str:
    """The hover text: who, when, what state, and how it was booked."""
    start, end = entry.starts_at.astimezone(zone), entry.ends_at.astimezone(zone)
    booked = "Booked online" if entry.source in ONLINE_SOURCES else "Booked at the desk"
    return (
        f"{entry.patient_name}\n{start:%H:%M}–{end:%H:%M}\nStatus: {entry.status.label}\n{booked}"
    )


class AppointmentItem(QGraphicsRectItem):
    def __init__(self, entry: DiaryEntry, rect: QRectF, colour: str, zone: ZoneInfo) -> None:
        super().__init__(rect)
        self.entry = entry
        fill = QColor(colour)
        if entry.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
            fill.setAlpha(70)
        elif entry.status is AppointmentStatus.COMPLETED:
            fill = fill.lighter(135)
        self.setBrush(QBrush(fill))
        outline = QPen(QColor(colour).darker(130))
        if entry.pending:  # changed here, not yet acknowledged by the server
            outline = QPen(QColor("#202020"), 2, Qt.PenStyle.DashLine)
        self.setPen(outline)
        self.setToolTip(summary(entry, zone))
        ink = QBrush(QColor("white" if fill.alpha() == 255 and fill.lightness() < 150 else "black"))
        start = entry.starts_at.astimezone(zone)
        label = QGraphicsSimpleTextItem(f"{start:%H:%M} {entry.patient_name}", self)
        label.setBrush(ink)
        if entry.status is AppointmentStatus.CANCELLED:
            font = label.font()
            font.setStrikeOut(True)
            label.setFont(font)
        label.setPos(rect.left() + 4, rect.top() + 2)
        state = entry.status.label + (" · not yet sent" if entry.pending else "")
        status = QGraphicsSimpleTextItem(state, self)
        status.setBrush(ink)
        small = QFont(status.font())
        small.setPointSizeF(max(small.pointSizeF() - 1.5, 6))
        status.setFont(small)
        if rect.height() > 30:
            status.setPos(rect.left() + 4, rect.top() + 17)
        else:
            status.setVisible(False)
        self.setFlag(QGraphicsRectItem.GraphicsItemFlag.ItemClipsChildrenToShape)


class DiaryView(QGraphicsView):
    """Draws a ``DiaryDay``; redraws on resize so columns fill the width."""

    status_change_requested = Signal(object, str)  # appointment id, "check_in" | …

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setBackgroundBrush(QBrush(QColor("#fbfbfd")))
        self.day: DiaryDay | None = None

    def show_day(self, day: DiaryDay) -> None:
        self.day = day
        self._draw()

    def appointment_items(self) -> list[AppointmentItem]:
        return [i for i in self.scene().items() if isinstance(i, AppointmentItem)]

    def entries_by_provider(self) -> dict[uuid.UUID, list[DiaryEntry]]:
        shown: dict[uuid.UUID, list[DiaryEntry]] = {}
        for item in sorted(self.appointment_items(), key=lambda i: i.entry.starts_at):
            shown.setdefault(item.entry.provider_id, []).append(item.entry)
        return shown

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 - Qt's name
        item = self.itemAt(event.pos())
        while item is not None and not isinstance(item, AppointmentItem):
            item = item.parentItem()
        if item is None:
            return
        menu = self.status_menu(item.entry)
        menu.exec(event.globalPos())

    def status_menu(self, entry: DiaryEntry) -> QMenu:
        """Check in, no-show, cancel: offered only where the status allows it."""
        menu = QMenu(self)
        for kind, label, allowed in STATUS_ACTIONS:
            action = menu.addAction(label)
            action.setEnabled(entry.status in allowed)
            action.triggered.connect(
                lambda _=False, k=kind: self.status_change_requested.emit(entry.id, k)
            )
        return menu

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._draw()

    def _hours(self, day: DiaryDay) -> tuple[int, int]:
        first, last = DEFAULT_HOURS
        for entry in day.entries:
            first = min(first, entry.starts_at.astimezone(day.zone).hour)
            end = entry.ends_at.astimezone(day.zone)
            last = max(last, end.hour + (1 if end.minute else 0))
        return first, min(last, 24)

    def _draw(self) -> None:
        scene = self.scene()
        scene.clear()
        day = self.day
        if day is None:
            return
        columns = max(len(day.providers), 1)
        width = max(MIN_COLUMN, (self.viewport().width() - GUTTER - 2) / columns)
        first, last = self._hours(day)
        height = (last - first) * 60 * PX_PER_MINUTE
        grid = QPen(QColor("#e3e5ea"))

        for hour in range(first, last + 1):
            y = HEADER + (hour - first) * 60 * PX_PER_MINUTE
            scene.addLine(GUTTER, y, GUTTER + width * columns, y, grid)
            if hour < last:
                scene.addSimpleText(f"{hour:02d}:00").setPos(6, y - 2)
        x_of: dict[uuid.UUID, float] = {}
        for index, provider in enumerate(day.providers):
            x = GUTTER + index * width
            x_of[provider.id] = x
            scene.addLine(x, 0, x, HEADER + height, grid)
            name = scene.addSimpleText(provider.display_name)
            bold = QFont(name.font())
            bold.setBold(True)
            name.setFont(bold)
            name.setPos(x + 6, 6)
        if not day.providers:
            scene.addSimpleText("No providers yet. They appear here after the first sync.")

        colour_of = {p.id: p.colour for p in day.providers}
        for entry in day.entries:
            if entry.provider_id not in x_of:
                continue
            # Placed by wall-clock time, like the hour labels: on a daylight-saving day an
            # appointment at 9:00 sits on the 9:00 line, however many real hours precede it.
            top = (_minute_of_day(entry.starts_at, day) - first * 60) * PX_PER_MINUTE
            minutes = (entry.ends_at - entry.starts_at).total_seconds() / 60
            tall = max(minutes * PX_PER_MINUTE, 12)
            rect = QRectF(x_of[entry.provider_id] + 3, HEADER + top + 1, width - 6, tall - 2)
            scene.addItem(AppointmentItem(entry, rect, colour_of[entry.provider_id], day.zone))
        scene.setSceneRect(0, 0, GUTTER + width * columns, HEADER + height + 4)


def _minute_of_day(moment: datetime, day: DiaryDay) -> int:
    """Minutes since local midnight of the shown day (0 for anything starting before it)."""
    local = moment.astimezone(day.zone)
    if local.date() < day.day:
        return 0
    return local.hour * 60 + local.minute


class DiaryPage(QWidget):
    """Date navigation above the day view."""

    day_shown = Signal(object)  # DiaryDay, after it is drawn

    def __init__(
        self,
        runner: TaskRunner,
        store: Store,
        zone: ZoneInfo,
        parent: QWidget | None = None,
        fetch: FetchRange | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.store = store
        self.zone = zone
        self.fetch = fetch
        self.current = datetime.now(zone).date()

        self.previous_button = QPushButton("◀ Previous day")
        self.today_button = QPushButton("Today")
        self.next_button = QPushButton("Next day ▶")
        self.date_edit = QDateEdit()
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("ddd d MMM yyyy")
        self.title = QLabel()
        self.title.setObjectName("diaryTitle")
        self.view = DiaryView()

        self.previous_button.clicked.connect(lambda: self.go_to(self.current - timedelta(days=1)))
        self.next_button.clicked.connect(lambda: self.go_to(self.current + timedelta(days=1)))
        self.today_button.clicked.connect(self.go_to_today)
        self.previous_button.setShortcut("Alt+Left")
        self.next_button.setShortcut("Alt+Right")
        self.today_button.setShortcut("Alt+Home")
        self.date_edit.dateChanged.connect(self._date_picked)

        bar = QHBoxLayout()
        for widget in (self.previous_button, self.today_button, self.next_button, self.date_edit):
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(self.title)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        self.go_to(self.current)

    def go_to_today(self) -> None:
        self.go_to(datetime.now(self.zone).date())

    def go_to(self, day: date) -> None:
        self.current = day
        self.date_edit.blockSignals(True)
        self.date_edit.setDate(QDate(day.year, day.month, day.day))
        self.date_edit.blockSignals(False)
        self.reload()

    def reload(self) -> None:
        day, store, zone, fetch = self.current, self.store, self.zone, self.fetch

        def from_store() -> DiaryDay | None:
            # Before the first sync there is no window yet: show the (empty) local copy,
            # which the first sync fills and redraws.
            if fetch is None or store.kept_window() is None or store.covers(*day_bounds(day, zone)):
                return load_day(store, day, zone)
            return None  # outside the window this desk keeps

        self.runner.run("db", from_store, lambda found: self._loaded_or_fetch(day, found))

    def _loaded_or_fetch(self, day: date, found: DiaryDay | None) -> None:
        if found is not None:
            self._loaded(found)
            return
        if self.fetch is None or day != self.current:
            return
        store, zone, fetch = self.store, self.zone, self.fetch
        self.title.setText(f"{day:%A %d %B %Y} · fetching from the server…")
        self.runner.run(
            "net", lambda: fetch_day(store, fetch, day, zone), self._loaded, self._not_fetched
        )

    def _not_fetched(self, error: BaseException) -> None:
        reason = error.message if isinstance(error, DomainError) else str(error)
        self.title.setText(
            f"{self.current:%A %d %B %Y} is outside this desk's copy and could not be "
            f"fetched: {reason}"
        )
        self.view.show_day(DiaryDay(self.current, self.zone, [], []))

    def _date_picked(self, picked: QDate) -> None:
        self.go_to(date(picked.year(), picked.month(), picked.day()))

    def _loaded(self, day: DiaryDay) -> None:
        if day.day != self.current:
            return  # the user has moved on; a newer load is on its way
        active = sum(1 for e in day.entries if e.status.occupies_time)
        fetched = " · fetched from the server" if day.fetched else ""
        self.title.setText(f"{day.day:%A %d %B %Y} · {active} appointments{fetched}")
        self.view.show_day(day)
        self.day_shown.emit(day)
