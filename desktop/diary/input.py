"""What the mouse and the keyboard mean on the diary, as plain functions of the layout:
where a drag would put an appointment, and which appointment an arrow key goes to. The
view turns events into these calls and their answers into signals."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from math import ceil, floor

from PySide6.QtCore import QPointF, Qt

from desktop.diary.items import AppointmentItem, Geometry, Lane
from desktop.diary.model import DAY_MINUTES
from sync.store import DiaryEntry

EDGE = 6  # px above a block's bottom edge where dragging resizes it
PAGE_KEYS = {
    Qt.Key.Key_PageUp: "previous",
    Qt.Key.Key_PageDown: "next",
    Qt.Key.Key_T: "today",
    Qt.Key.Key_D: "day",
    Qt.Key.Key_W: "week",
}
Proposal = tuple[Lane, int, int]  # lane, start and end minute by the clock


def clock_text(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass
class Drag:
    kind: str  # "move" | "resize" | "create"
    pressed: QPointF  # in the scene
    lane: Lane
    minute: int  # where it started (create) or the block's start (move, resize)
    entry: DiaryEntry | None = None
    moved: bool = False
    proposal: Proposal | None = None


def propose(drag: Drag, scene: QPointF, grid: Geometry, step: int) -> Proposal | None:
    """Where the appointment would go if dropped at ``scene``, on a ``step``-minute grid.

    A move keeps the block's length by the clock and the offset at which it was grabbed,
    and may change lanes; a resize moves only the end; a new stretch covers the minutes
    the pointer went over."""
    at = grid.minute_at(scene.y())
    if drag.kind == "create":
        low, high = min(at, drag.minute), max(at, drag.minute + step)
        start = floor(low / step) * step
        end = max(ceil(high / step) * step, start + step)
        return drag.lane, max(start, 0), min(end, DAY_MINUTES)
    assert drag.entry is not None
    found = grid.span(drag.entry)
    if found is None:
        return None
    _, start, end = found
    if drag.kind == "resize":
        new_end = round(at / step) * step
        return drag.lane, start, min(max(new_end, start + step), DAY_MINUTES)
    lane = grid.lane_at(scene.x()) or drag.lane
    moved = start + (scene.y() - drag.pressed.y()) / grid.px
    new_start = max(0, min(round(moved / step) * step, DAY_MINUTES - (end - start)))
    return lane, new_start, new_start + (end - start)


def lanes_with_items(
    grid: Geometry, items: list[AppointmentItem]
) -> dict[int, list[AppointmentItem]]:
    """Each lane's blocks, top to bottom."""
    by_lane: dict[int, list[AppointmentItem]] = {}
    for item in items:
        found = grid.span(item.entry)
        if found is not None:
            by_lane.setdefault(found[0].index, []).append(item)
    for column in by_lane.values():
        column.sort(key=lambda i: (i.entry.starts_at, i.rect().left()))
    return by_lane


def lane_and_y(
    grid: Geometry, entry: DiaryEntry | None, chosen: tuple[uuid.UUID, date, int] | None
) -> tuple[int, float] | None:
    """Where the keyboard is: the selected block's lane and top, else the selected time's."""
    if entry is not None:
        found = grid.span(entry)
        if found is not None:
            return found[0].index, grid.y(found[1])
    if chosen is not None:
        lane = grid.lane_of(chosen[0], chosen[1])
        if lane is not None:
            return lane.index, grid.y(chosen[2])
    return None


def step_in_lane(
    by_lane: dict[int, list[AppointmentItem]],
    here: tuple[int, float] | None,
    selected: uuid.UUID | None,
    step: int,
) -> uuid.UUID | None:
    """Up or down from the selected block (or from the selected time, ``here``: a lane and
    a y); with neither, the first block shown."""
    if not by_lane:
        return None
    if here is None:
        return by_lane[min(by_lane)][0].entry.id
    column = by_lane.get(here[0], [])
    if selected is not None:
        ids = [i.entry.id for i in column]
        n = ids.index(selected) + step if selected in ids else -1
        return column[n].entry.id if 0 <= n < len(column) else None
    beyond = [i for i in column if (i.rect().top() >= here[1]) == (step > 0)]
    if not beyond:
        return None
    return (beyond[0] if step > 0 else beyond[-1]).entry.id


def step_across(
    by_lane: dict[int, list[AppointmentItem]], here: tuple[int, float] | None, step: int
) -> uuid.UUID | str | None:
    """To the nearest block in the next lane that has any; past the last lane, "next"
    (or "previous"): the page turns to the next day or week."""
    if here is None:
        return by_lane[min(by_lane)][0].entry.id if by_lane else None
    lane, y = here
    lanes = sorted(n for n in by_lane if (n > lane if step > 0 else n < lane))
    if not lanes:
        return "next" if step > 0 else "previous"
    column = by_lane[lanes[0] if step > 0 else lanes[-1]]
    return min(column, key=lambda i: abs(i.rect().top() - y)).entry.id
