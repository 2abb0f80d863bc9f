"""What the diary paints around its appointment blocks: the grid, working hours greyed,
today tinted, the "now" line, and the hour labels and lane headings pinned to the
viewport's edges (painted over the scene, so they stay in sight while scrolling).

Planned once per layout (``plan_backdrop``), painted on every frame from the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from PySide6.QtCore import QLineF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPen

from desktop.diary.items import DAY_GAP, GUTTER, TEXT_FLAGS, Geometry, fonts

BACKGROUND = QColor("#fbfbfd")
CLOSED = QColor("#e6e8ee")  # outside working hours
TODAY = QColor("#f1f6ff")
HEADER_FILL = QColor("#f4f5f8")
NOW = QPen(QColor("#d93025"), 2)
LINES = (
    ("half", "#eef0f4", 1.0),
    ("hour", "#dfe2e8", 1.0),
    ("lane", "#e3e5ea", 1.0),
    ("day", "#9aa3b2", 1.5),
)
DAY_TITLE = 22  # week view: the day's name above its providers
TITLES = {"dr", "dr.", "mr", "mrs", "ms", "prof", "prof."}


def short_name(name: str, width: float, metrics: QFontMetricsF) -> str:
    """The provider's name as it fits: whole, without a title, elided, or initials."""
    if metrics.horizontalAdvance(name) <= width:
        return name
    words = [w.strip(",") for w in name.split()]
    plain = " ".join(w for w in words if w.lower() not in TITLES) or name
    if width >= 40:
        return metrics.elidedText(plain, Qt.TextElideMode.ElideRight, width)
    return "".join(w[0] for w in plain.split()[:2] if w).upper()


@dataclass
class Backdrop:
    closed: list[QRectF] = field(default_factory=list)  # outside working hours
    lines: dict[str, list[QLineF]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)  # each lane's heading


def plan_backdrop(grid: Geometry) -> Backdrop:
    shown = grid.shown
    first, last = grid.first_hour * 60, grid.last_hour * 60
    closed: list[QRectF] = []
    for lane in grid.lanes:
        windows = shown.working.get((lane.provider.id, lane.day))
        if windows is None:
            continue  # no hours set up: unknown, not closed
        at = first
        for start, end in [*windows, (last, last)]:
            if start > at:
                top, bottom = grid.y(at), grid.y(min(start, last))
                closed.append(QRectF(lane.left, top, lane.width, bottom - top))
            at = max(at, end)

    def across(minute: int) -> QLineF:
        return QLineF(GUTTER, grid.y(minute), grid.width, grid.y(minute))

    hours = range(first, last + 1, 60)
    between = [grid.day_left(d) - DAY_GAP / 2 for d in range(1, shown.days)]
    lines = {
        "hour": [across(m) for m in hours],
        "half": [across(m + 30) for m in hours[:-1]] if grid.px * 30 >= 14 else [],
        "lane": [QLineF(lane.left, grid.header, lane.left, grid.height) for lane in grid.lanes],
        "day": [QLineF(x, 0, x, grid.height) for x in between],
    }
    metrics = QFontMetricsF(fonts().header if shown.days == 1 else fonts().label)
    labels = [
        short_name(lane.provider.display_name, lane.width - 16, metrics) for lane in grid.lanes
    ]
    return Backdrop(closed, lines, labels)


def paint_backdrop(painter: QPainter, rect: QRectF | QRect, grid: Geometry, plan: Backdrop) -> None:
    painter.fillRect(rect, BACKGROUND)
    shown = grid.shown
    today = datetime.now(shown.zone).date()
    if shown.days > 1 and today in shown.dates:
        left = grid.day_left(shown.dates.index(today))
        painter.fillRect(QRectF(left, grid.header, grid.day_width, grid.height), TODAY)
    for closed in plan.closed:
        painter.fillRect(closed, CLOSED)
    for kind, colour, width in LINES:
        painter.setPen(QPen(QColor(colour), width))
        painter.drawLines(plan.lines.get(kind, []))


def paint_margins(painter: QPainter, seen: QRectF, grid: Geometry, labels: list[str]) -> None:
    """The "now" line, then the hour labels and headings pinned to the visible edges."""
    shown, shared = grid.shown, fonts()
    top, left = seen.top(), seen.left()
    now = datetime.now(shown.zone)
    if now.date() in shown.dates:
        x = grid.day_left(shown.dates.index(now.date()))
        y = grid.y(now.hour * 60 + now.minute)
        painter.setPen(NOW)
        painter.drawLine(QLineF(x, y, x + grid.day_width, y))
    painter.fillRect(QRectF(left, top, GUTTER, seen.height()), HEADER_FILL)
    painter.setFont(shared.label)
    painter.setPen(QPen(QColor("#4a5060")))
    for hour in range(grid.first_hour, grid.last_hour):
        box = QRectF(left + 6, grid.y(hour * 60) + 1, GUTTER - 8, 18)
        painter.drawText(box, TEXT_FLAGS, f"{hour:02d}:00")
    bottom = top + grid.header
    painter.fillRect(QRectF(left, top, seen.width(), grid.header), HEADER_FILL)
    painter.setPen(QPen(QColor("#c9cdd6")))
    painter.drawLine(QLineF(left, bottom, left + seen.width(), bottom))
    names_top = top
    if shown.days > 1:
        names_top = top + DAY_TITLE
        painter.setFont(shared.header)
        for d, day in enumerate(shown.dates):
            painter.setPen(QPen(QColor("#1a5fc8" if day == now.date() else "#1f2430")))
            box = QRectF(grid.day_left(d), top + 3, grid.day_width, 18)
            painter.drawText(box, int(Qt.AlignmentFlag.AlignHCenter), f"{day:%a %d %b}")
    painter.setFont(shared.header if shown.days == 1 else shared.label)
    height = bottom - names_top
    painter.setPen(QPen(QColor("#1f2430")))
    for lane, label in zip(grid.lanes, labels, strict=True):
        colour = QColor(lane.provider.colour)
        if lane.width >= 36:
            painter.fillRect(QRectF(lane.left + 4, names_top + height / 2 - 4, 8, 8), colour)
            box = QRectF(lane.left + 15, names_top, lane.width - 16, height)
            painter.drawText(box, int(Qt.AlignmentFlag.AlignVCenter), label)
            continue
        # Too narrow for a name: the provider's colour, and initials where they fit.
        painter.fillRect(QRectF(lane.left + 1, bottom - 4, lane.width - 2, 3), colour)
        if lane.width >= 14:
            box = QRectF(lane.left, names_top, lane.width, height - 4)
            painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), label)
    painter.fillRect(QRectF(left, top, GUTTER, grid.header), HEADER_FILL)
