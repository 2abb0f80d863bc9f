"""Where things sit in the diary and how an appointment block looks.

``Geometry`` turns a ``DiaryRange`` into lanes (one per provider per day) and wall-clock
minutes into y positions. Everything is placed by the clinic's local clock, like the hour
labels: on a daylight-saving day an appointment at 9:00 sits on the 9:00 line however
many real hours precede it.

Blocks paint themselves from pens, brushes and fonts shared by every block of the same
look (made once), with no child items, so a busy week of 20 providers draws quickly.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QGuiApplication, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QStyleOptionGraphicsItem, QWidget

from common.appointments import AppointmentStatus
from desktop.diary.model import DAY_MINUTES, UNTYPED, DiaryRange, status_text, summary
from sync.store import DiaryEntry, ProviderRow

GUTTER = 56  # hour labels
HEADER = 28  # day view: provider names
WEEK_HEADER = 46  # week view: the day above its providers
DAY_GAP = 6  # week view: space between days
PX_PER_MINUTE = 1.2
MIN_WEEK_PX_PER_MINUTE = 0.6
MIN_COLUMN = 170  # day view: narrowest provider column (the view scrolls beyond)
MIN_WEEK_LANE = 10  # week view
DEFAULT_HOURS = (7, 20)
TEXT_FLAGS = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)


@dataclass(frozen=True)
class Lane:
    """One provider on one day: a column of the diary."""

    index: int
    day: date
    provider: ProviderRow
    left: float
    width: float

    @property
    def right(self) -> float:
        return self.left + self.width


def local_minute(moment: datetime, day: date, zone: ZoneInfo) -> int:
    """Minutes after local midnight of ``day`` by the clock: 0 for anything before the
    day, a full day for anything after it."""
    return clock_minute(moment.astimezone(zone), day)


def clock_minute(local: datetime, day: date) -> int:
    """``local_minute`` of a time already in the clinic's zone."""
    on = local.date()
    if on < day:
        return 0
    if on > day:
        return DAY_MINUTES
    return local.hour * 60 + local.minute


def instant_at(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The instant the clock on ``day`` shows ``minute`` (past midnight: the next day).
    An ambiguous time (after a fall-back) is its first occurrence; a time in a
    spring-forward gap becomes the real instant an hour on, as a clock set forward shows."""
    extra, rest = divmod(int(minute), DAY_MINUTES)
    local = datetime.combine(day + timedelta(days=extra), time(rest // 60, rest % 60), tzinfo=zone)
    return local.astimezone(UTC)


def shown_hours(
    shown: DiaryRange, local: dict[uuid.UUID, tuple[datetime, datetime]]
) -> tuple[int, int]:
    """7:00 to 20:00, widened to take in every appointment and working range shown."""
    first, last = DEFAULT_HOURS
    for begins, ends in local.values():
        day = max(begins.date(), shown.day)
        first = min(first, clock_minute(begins, day) // 60)
        last = max(last, -(-clock_minute(ends, day) // 60))
    for windows in shown.working.values():
        for start, end in windows:
            first, last = min(first, start // 60), max(last, -(-end // 60))
    return max(first, 0), min(last, 24)


class Geometry:
    """The diary's layout for a range at a viewport size."""

    def __init__(self, shown: DiaryRange, width: float, height: float) -> None:
        self.shown = shown
        week = shown.days > 1
        self.header = WEEK_HEADER if week else HEADER
        zone = shown.zone
        # Each entry's local times, once: zone conversions are the slow part of a layout.
        self.local = {
            e.id: (e.starts_at.astimezone(zone), e.ends_at.astimezone(zone)) for e in shown.entries
        }
        self.first_hour, self.last_hour = shown_hours(shown, self.local)
        minutes = max((self.last_hour - self.first_hour) * 60, 60)
        self.px = PX_PER_MINUTE
        if week:
            fit = (height - self.header - 6) / minutes
            self.px = min(PX_PER_MINUTE, max(MIN_WEEK_PX_PER_MINUTE, fit))
        per_day = max(len(shown.providers), 1)
        gaps = DAY_GAP * (shown.days - 1)
        least = MIN_WEEK_LANE if week else MIN_COLUMN
        self.lane_width = max(least, (width - GUTTER - 2 - gaps) / (shown.days * per_day))
        self.day_width = per_day * self.lane_width
        self.lanes: list[Lane] = []
        for d, day in enumerate(shown.dates):
            for p, provider in enumerate(shown.providers):
                left = GUTTER + d * (self.day_width + DAY_GAP) + p * self.lane_width
                self.lanes.append(Lane(len(self.lanes), day, provider, left, self.lane_width))
        self._lefts = [lane.left for lane in self.lanes]
        self._lane_of = {(lane.provider.id, lane.day): lane for lane in self.lanes}
        self.width = GUTTER + shown.days * self.day_width + gaps
        self.height = self.header + minutes * self.px

    def day_left(self, index: int) -> float:
        return GUTTER + index * (self.day_width + DAY_GAP)

    def y(self, minute: float) -> float:
        return self.header + (minute - self.first_hour * 60) * self.px

    def minute_at(self, y: float) -> float:
        return (y - self.header) / self.px + self.first_hour * 60

    def lane_at(self, x: float) -> Lane | None:
        n = bisect_right(self._lefts, x) - 1
        if n < 0 or x >= self.lanes[n].right:
            return None
        return self.lanes[n]

    def lane_of(self, provider_id: uuid.UUID, day: date) -> Lane | None:
        return self._lane_of.get((provider_id, day))

    def span(self, entry: DiaryEntry) -> tuple[Lane, int, int] | None:
        """The entry's lane and its start and end minute there (by the clock)."""
        local = self.local.get(entry.id)
        if local is None:
            zone = self.shown.zone
            local = (entry.starts_at.astimezone(zone), entry.ends_at.astimezone(zone))
        day = max(local[0].date(), self.shown.day)
        lane = self._lane_of.get((entry.provider_id, day))
        if lane is None:
            return None
        start, end = clock_minute(local[0], day), clock_minute(local[1], day)
        if end <= start:  # the repeated hour of a fall-back: use the real length
            end = start + int((entry.ends_at - entry.starts_at).total_seconds() // 60)
        return lane, start, min(end, DAY_MINUTES)

    def place(self, entries: list[DiaryEntry]) -> list[tuple[DiaryEntry, QRectF]]:
        """Each entry's block; appointments overlapping in one lane share it side by side
        (a cancelled one and the booking that took its time, say)."""
        by_lane: dict[int, list[tuple[DiaryEntry, int, int]]] = {}
        for entry in entries:
            found = self.span(entry)
            if found is not None:
                lane, start, end = found
                by_lane.setdefault(lane.index, []).append((entry, start, end))
        placed: list[tuple[DiaryEntry, QRectF]] = []
        for index, items in by_lane.items():
            lane = self.lanes[index]
            items.sort(key=lambda i: (i[1], not i[0].status.occupies_time))
            for cluster in _clusters(items):
                columns = _pack(cluster)
                count = max(columns.values()) + 1
                inset = 3.0 if lane.width >= 40 else 1.0
                width = (lane.width - 2 * inset) / count
                for entry, start, end in cluster:
                    top, bottom = self.y(start), self.y(end)
                    left = lane.left + inset + columns[entry.id] * width
                    tall = max(bottom - top, 12 if self.shown.days == 1 else 4)
                    placed.append((entry, QRectF(left, top + 1, width, tall - 2)))
        return placed


def _clusters(
    items: list[tuple[DiaryEntry, int, int]],
) -> list[list[tuple[DiaryEntry, int, int]]]:
    clusters: list[list[tuple[DiaryEntry, int, int]]] = []
    reach = -1
    for item in items:
        if not clusters or item[1] >= reach:
            clusters.append([])
            reach = item[2]
        else:
            reach = max(reach, item[2])
        clusters[-1].append(item)
    return clusters


def _pack(cluster: list[tuple[DiaryEntry, int, int]]) -> dict[uuid.UUID, int]:
    ends: list[int] = []
    out: dict[uuid.UUID, int] = {}
    for entry, start, end in cluster:
        column = next((n for n, e in enumerate(ends) if e <= start), len(ends))
        if column == len(ends):
            ends.append(end)
        else:
            ends[column] = end
        out[entry.id] = column
    return out


# --- the look of a block ---------------------------------------------------------------


@dataclass(frozen=True)
class Fonts:
    title: QFont
    detail: QFont
    title_struck: QFont
    detail_struck: QFont
    header: QFont
    label: QFont


@cache
def fonts() -> Fonts:
    """Made once (they need the application), shared by every block."""
    base = QFont(QGuiApplication.font())
    base.setPointSizeF(max(base.pointSizeF() - 0.5, 7))
    detail = QFont(base)
    detail.setPointSizeF(max(base.pointSizeF() - 1.5, 6))
    title_struck, detail_struck = QFont(base), QFont(detail)
    title_struck.setStrikeOut(True)
    detail_struck.setStrikeOut(True)
    header = QFont(QGuiApplication.font())
    header.setBold(True)
    return Fonts(base, detail, title_struck, detail_struck, header, QFont(QGuiApplication.font()))


@dataclass(frozen=True)
class Look:
    fill: QBrush
    outline: QPen
    ink: QPen
    marker: QColor | None  # a bar on the left: arrived, in progress
    struck: bool


FADED = (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)
MARKERS = {AppointmentStatus.ARRIVED: "#f2b705", AppointmentStatus.IN_PROGRESS: "#1b9e3e"}
SELECTED_PEN = QPen(QColor("#111111"), 2.5)


@cache
def look(colour: str, status: AppointmentStatus, pending: bool) -> Look:
    base = QColor(colour)
    if not base.isValid():
        base = QColor(UNTYPED)
    fill = QColor(base)
    if status in FADED:
        fill = QColor(base.lighter(170))
        fill.setAlpha(110)
    elif status is AppointmentStatus.COMPLETED:
        fill = base.lighter(140)
    outline = QPen(base.darker(130), 1)
    if pending:  # changed here, not yet acknowledged by the server
        outline = QPen(QColor("#1a1a1a"), 2, Qt.PenStyle.DashLine)
    dark = fill.alpha() == 255 and fill.lightness() < 150
    ink = QPen(QColor("white" if dark else "#1f2430"))
    if status in FADED:
        ink = QPen(QColor("#5b6270"))
    marker = MARKERS.get(status)
    return Look(
        QBrush(fill),
        outline,
        ink,
        QColor(marker) if marker else None,
        status is AppointmentStatus.CANCELLED,
    )


COMPACT_WIDTH = 110


def compact_name(name: str) -> str:
    """ "Olivia Taylor" as "O Taylor": the surname is what staff look for in a narrow block."""
    words = name.split()
    return f"{words[0][0]} {' '.join(words[1:])}" if len(words) > 1 else name


class AppointmentItem(QGraphicsRectItem):
    """One appointment block: time and patient, then type and status.

    Blocks are kept and reused from one load to the next (``assign``): making and
    deleting a few thousand Qt objects costs more than drawing them. The hover text is
    made when asked for, not for every block.
    """

    def __init__(self) -> None:
        super().__init__()
        self.marked = False  # selected
        self.entry: DiaryEntry
        self.zone: ZoneInfo
        self.look: Look
        self.title = self.detail = ""
        self.text_box = QRectF()
        self.marker_box = QRectF()

    def assign(
        self, entry: DiaryEntry, rect: QRectF, colour: str, start: datetime, zone: ZoneInfo
    ) -> None:
        self.entry, self.zone = entry, zone
        self.marked = False
        self.look = look(colour, entry.status, entry.pending)
        clock = f"{start.hour:02d}:{start.minute:02d}"
        # A patient with staff alerts is marked where staff look, not only on hover.
        flag = "⚠ " if entry.patient_alerts else ""
        if rect.width() < COMPACT_WIDTH:  # a week's narrow lane: who first, then when
            self.title = flag + compact_name(entry.patient_name)
            self.detail = clock
        else:
            self.title = f"{clock} {flag}{entry.patient_name}"
            self.detail = " · ".join(t for t in (entry.type_name, status_text(entry)) if t)
        indent = 4.0 if self.look.marker is None else 7.0
        self.text_box = rect.adjusted(indent, 0, -2, 0)
        self.marker_box = QRectF(rect.left(), rect.top(), 4, rect.height())
        self.setRect(rect)
        self.setZValue(2 if entry.status.occupies_time else 1)

    def toolTip(self) -> str:  # noqa: N802 - read by the view's tooltip handler
        return summary(self.entry, self.zone)

    def set_marked(self, marked: bool) -> None:
        if marked != self.marked:
            self.marked = marked
            self.setZValue(3 if marked else 2 if self.entry.status.occupies_time else 1)
            self.update()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        style, box = self.look, self.text_box
        painter.setPen(style.outline)
        painter.setBrush(style.fill)
        painter.drawRect(self.rect())
        if style.marker is not None:
            painter.fillRect(self.marker_box, style.marker)
        if self.marked:
            painter.setPen(SELECTED_PEN)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.rect().adjusted(1, 1, -1, -1))
        if box.width() < 16 or box.height() < 9:
            return  # too small for words: the hover text says it all
        shared = fonts()
        painter.setPen(style.ink)
        painter.setFont(shared.title_struck if style.struck else shared.title)
        painter.drawText(box, TEXT_FLAGS, self.title)
        if box.height() >= 28:
            painter.setFont(shared.detail_struck if style.struck else shared.detail)
            painter.drawText(box.adjusted(0, 15, 0, 0), TEXT_FLAGS, self.detail)


MARK_STYLES = {
    "cursor": ("#3d7dd8", 40, Qt.PenStyle.SolidLine),
    "ghost": ("#202020", 60, Qt.PenStyle.DashLine),
    "offer": ("#1b9e3e", 70, Qt.PenStyle.DashLine),
}


class SlotMark(QGraphicsRectItem):
    """A time on the diary that is not an appointment: the selected time, a drag in
    progress, or a free slot the finder offers. Its label says what and when."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        colour, alpha, line = MARK_STYLES[kind]
        fill = QColor(colour)
        fill.setAlpha(alpha)
        self.setBrush(QBrush(fill))
        self.setPen(QPen(QColor(colour), 2, line))
        self.setZValue(5 if kind == "ghost" else 0.5)
        self.label = ""
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresParentOpacity)

    def show_at(self, rect: QRectF, label: str) -> None:
        self.setRect(rect)
        self.label = label
        self.setToolTip(label)
        self.setVisible(True)
        self.update()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        super().paint(painter, option, widget)
        if self.label and self.rect().width() > 30:
            painter.setPen(QPen(QColor("#111111")))
            painter.setFont(fonts().detail)
            painter.drawText(self.rect().adjusted(4, 1, -2, 0), TEXT_FLAGS, self.label)
