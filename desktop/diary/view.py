"""The diary's drawing surface: lanes of providers per day, appointment blocks, working
hours shaded, and what the mouse and keyboard do on it.

The view only asks: it emits what the person wants (book here, move this, check in) and
the page decides and writes. Headers and hour labels are painted over the scene at the
viewport's edges (``diary_paint``), so they stay in sight while scrolling.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from math import floor
from zoneinfo import ZoneInfo

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QContextMenuEvent,
    QDesktopServices,
    QHelpEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QResizeEvent,
)
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView, QMenu, QToolTip, QWidget

from common.appointments import MOVABLE, Verdict
from desktop.diary.input import (
    EDGE,
    PAGE_KEYS,
    Drag,
    clock_text,
    lane_and_y,
    lanes_with_items,
    propose,
    step_across,
    step_in_lane,
)
from desktop.diary.items import (
    GUTTER,
    AppointmentItem,
    Geometry,
    Lane,
    SlotMark,
    instant_at,
    local_minute,
)
from desktop.diary.model import DAY_MINUTES, UNTYPED, DiaryRange, allowed
from desktop.diary.paint import DAY_TITLE, Backdrop, paint_backdrop, paint_margins, plan_backdrop
from sync.store import DiaryEntry, ProviderRow

STATUS_ACTIONS = (
    ("confirm", "Confirm"),
    ("check_in", "Check in"),
    ("start", "Start"),
    ("complete", "Complete"),
    ("no_show", "Mark no-show"),
    ("cancel", "Cancel appointment"),
)
Slot = tuple[uuid.UUID, date, int]  # provider, day, minute by the clock


class DiaryView(QGraphicsView):
    status_change_requested = Signal(object, str)  # appointment id, "check_in" | "cancel" | …
    create_requested = Signal(object, object, object)  # provider id, starts_at, ends_at
    move_requested = Signal(object, object, object, object)  # entry, provider id, start, end
    open_requested = Signal(object)  # DiaryEntry: Enter or double-click
    open_patient_requested = Signal(object)  # patient id
    selection_changed = Signal(object)  # DiaryEntry | None
    command = Signal(str)  # a page key: "previous" | "next" | "today" | "day" | "week" | "new"
    day_chosen = Signal(object)  # date: a day's heading clicked in the week view
    running_late_requested = Signal(object)  # provider id: tell their later patients

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        scene = QGraphicsScene(self)
        # Rebuilt on every load: an index would be rebuilt as often as it is used.
        scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setScene(scene)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setMouseTracking(True)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        # Every paint sets the pens, brushes and fonts it uses: no saving needed between.
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState)
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.valueChanged.connect(self.viewport().update)  # the pinned headers move
        self.shown: DiaryRange | None = None
        self.grid: Geometry | None = None
        self.items_by_id: dict[uuid.UUID, AppointmentItem] = {}
        self.selected_id: uuid.UUID | None = None
        self.chosen_time: Slot | None = None  # the selected time (a click on free time)
        self.offer: tuple[uuid.UUID, datetime, datetime] | None = None
        self.snap_minutes = 5
        self.editable = True
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # the page's
        # How a video consultation's room is opened (the system's browser; tests replace it).
        self.open_url: Callable[[QUrl], object] = QDesktopServices.openUrl
        self._drag: Drag | None = None
        self._marks: dict[str, SlotMark] = {}
        self.backdrop = Backdrop()
        self._drawn_size = (0, 0)
        self._pool: list[AppointmentItem] = []
        self._deferred: DiaryRange | None = None
        self._empty = scene.addSimpleText(
            "No providers to show. They appear here after the first sync, or choose some "
            "under Providers."
        )
        self._empty.setVisible(False)

    @property
    def day(self) -> DiaryRange | None:
        """What is shown (its ``day`` is the first day)."""
        return self.shown

    # --- showing ---------------------------------------------------------------------

    def show_range(self, shown: DiaryRange) -> None:
        if self._drag is not None:
            self._deferred = shown  # a sync arrived mid-drag: redraw after the drop
            return
        self.shown = shown
        self.redraw()

    def appointment_items(self) -> list[AppointmentItem]:
        return list(self.items_by_id.values())

    def entries_by_provider(self) -> dict[uuid.UUID, list[DiaryEntry]]:
        shown: dict[uuid.UUID, list[DiaryEntry]] = {}
        for item in sorted(self.items_by_id.values(), key=lambda i: i.entry.starts_at):
            shown.setdefault(item.entry.provider_id, []).append(item.entry)
        return shown

    def redraw(self) -> None:
        """Lay the range out at the viewport's size, reusing the blocks already made."""
        self._drag = None
        self.items_by_id = {}
        shown = self.shown
        if shown is None:
            for item in self._pool:
                item.setVisible(False)
            return
        size = (self.viewport().width(), self.viewport().height())
        self._drawn_size = size
        grid = self.grid = Geometry(shown, *size)
        placed = grid.place(shown.entries)
        while len(self._pool) < len(placed):
            item = AppointmentItem()
            self.scene().addItem(item)
            self._pool.append(item)
        for item, (entry, rect) in zip(self._pool, placed, strict=False):
            # Type colours only: a provider's colour (their lane's marker) on a block would
            # read as the type that has that colour.
            colour = entry.type_colour or UNTYPED
            item.assign(entry, rect, colour, grid.local[entry.id][0], shown.zone)
            if not item.isVisible():
                item.setVisible(True)
            self.items_by_id[entry.id] = item
        for item in self._pool[len(placed) :]:
            if item.isVisible():
                item.setVisible(False)
        self._empty.setVisible(not shown.providers)
        self._empty.setPos(GUTTER + 8, grid.header + 8)
        self.scene().setSceneRect(0, 0, grid.width, grid.height + 4)
        self.backdrop = plan_backdrop(grid)
        if self.selected_id in self.items_by_id:
            self.items_by_id[self.selected_id].set_marked(True)
        else:
            self.selected_id = None
        self._show_chosen_time()
        if self.offer is not None:
            self.show_offer(*self.offer, scroll=False)
        self.resetCachedContent()
        self.viewport().update()

    @property
    def closed(self) -> list[QRectF]:
        """The greyed areas: outside working hours."""
        return self.backdrop.closed

    def drawBackground(self, painter: QPainter, rect: QRectF | QRect) -> None:  # noqa: N802
        if self.grid is not None:
            paint_backdrop(painter, rect, self.grid, self.backdrop)

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:  # noqa: N802
        if self.grid is not None:
            seen = self.mapToScene(self.viewport().rect()).boundingRect()
            paint_margins(painter, seen, self.grid, self.backdrop.labels)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        size = (self.viewport().width(), self.viewport().height())
        week = self.shown is not None and self.shown.days > 1
        if size[0] != self._drawn_size[0] or (week and size[1] != self._drawn_size[1]):
            self.redraw()

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.ToolTip and self.grid is not None:
            assert isinstance(event, QHelpEvent)
            text = ""
            if event.pos().y() < self.grid.header:
                lane = self.grid.lane_at(self.mapToScene(event.pos()).x())
                if lane is not None:
                    text = f"{lane.provider.display_name}\n{lane.day:%A %d %B %Y}"
                    if self.grid.shown.days > 1:
                        text += "\nClick the day's name to open that day"
            else:
                item = self._item_at(QPointF(event.pos()))
                text = item.toolTip() if item is not None else ""
            if text:
                QToolTip.showText(event.globalPos(), text, self.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)

    # --- selection, the selected time, the offered slot ---------------------------------

    def selected_entry(self) -> DiaryEntry | None:
        item = self.items_by_id.get(self.selected_id) if self.selected_id else None
        return item.entry if item else None

    def select(self, appointment_id: uuid.UUID | None) -> None:
        old = self.items_by_id.get(self.selected_id) if self.selected_id else None
        if old is not None:
            old.set_marked(False)
        item = self.items_by_id.get(appointment_id) if appointment_id else None
        self.selected_id = appointment_id if item else None
        if item is not None:
            item.set_marked(True)
            self.ensureVisible(item, 20, 40)
        self.selection_changed.emit(item.entry if item else None)

    def set_chosen_time(self, slot: Slot | None) -> None:
        self.chosen_time = slot
        self._show_chosen_time()

    def selected_time(self) -> tuple[uuid.UUID, datetime] | None:
        """Where Ctrl+N books: the selected time, else the end of the selected
        appointment."""
        if self.shown is not None and self.chosen_time is not None:
            provider_id, day, minute = self.chosen_time
            return provider_id, instant_at(day, minute, self.shown.zone)
        entry = self.selected_entry()
        return (entry.provider_id, entry.ends_at) if entry else None

    def _show_chosen_time(self) -> None:
        mark = self._mark("cursor")
        grid, slot = self.grid, self.chosen_time
        lane = grid.lane_of(slot[0], slot[1]) if grid and slot else None
        if grid is None or slot is None or lane is None:
            mark.setVisible(False)
            return
        minute = slot[2]
        rect = QRectF(lane.left + 1, grid.y(minute), lane.width - 2, 15 * grid.px)
        if any(item.rect().intersects(rect) for item in self.items_by_id.values()):
            mark.setVisible(False)  # booked meanwhile: the block says what is there now
            return
        mark.show_at(rect, clock_text(minute))

    def show_offer(
        self, provider_id: uuid.UUID, starts_at: datetime, ends_at: datetime, *, scroll: bool = True
    ) -> None:
        """Mark a free slot the finder offers (and make it the selected time)."""
        self.offer = (provider_id, starts_at, ends_at)
        grid, mark = self.grid, self._mark("offer")
        if grid is None:
            return
        day = starts_at.astimezone(grid.shown.zone).date()
        lane = grid.lane_of(provider_id, day)
        if lane is None:
            mark.setVisible(False)
            return
        start = local_minute(starts_at, day, grid.shown.zone)
        end = local_minute(ends_at, day, grid.shown.zone)
        rect = QRectF(lane.left + 2, grid.y(start), lane.width - 4, grid.y(end) - grid.y(start))
        mark.show_at(rect, "Free")
        self.chosen_time = (provider_id, day, start)
        self._mark("cursor").setVisible(False)
        if scroll:
            self.ensureVisible(mark, 20, 60)

    def clear_offer(self) -> None:
        self.offer = None
        if "offer" in self._marks:
            self._marks["offer"].setVisible(False)

    def mark_shown(self, kind: str) -> SlotMark | None:
        """The "cursor", "ghost" or "offer" mark, if it is showing."""
        mark = self._marks.get(kind)
        return mark if mark is not None and mark.isVisible() else None

    def _mark(self, kind: str) -> SlotMark:
        if kind not in self._marks:
            self._marks[kind] = SlotMark(kind)
            self._marks[kind].setVisible(False)
            self.scene().addItem(self._marks[kind])
        return self._marks[kind]

    # --- the mouse -----------------------------------------------------------------------

    def _item_at(self, pos: QPointF) -> AppointmentItem | None:
        for item in self.items(pos.toPoint()):
            if isinstance(item, AppointmentItem):
                return item
        return None

    def _in_margins(self, pos: QPointF) -> bool:
        return self.grid is None or pos.y() < self.grid.header or pos.x() < GUTTER

    def _free_slot_at(self, scene: QPointF) -> tuple[Lane, int] | None:
        grid = self.grid
        lane = grid.lane_at(scene.x()) if grid else None
        if grid is None or lane is None:
            return None
        minute = floor(grid.minute_at(scene.y()) / self.snap_minutes) * self.snap_minutes
        return lane, max(0, min(minute, DAY_MINUTES - self.snap_minutes))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        pos = event.position()
        grid = self.grid
        if grid is not None and grid.shown.days > 1 and pos.x() >= GUTTER and pos.y() < DAY_TITLE:
            lane = grid.lane_at(self.mapToScene(pos.toPoint()).x())
            if lane is not None:
                self.day_chosen.emit(lane.day)
                return
        if event.button() != Qt.MouseButton.LeftButton or self._in_margins(pos):
            super().mousePressEvent(event)
            return
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        scene = self.mapToScene(pos.toPoint())
        item = self._item_at(pos)
        self._drag = None
        if item is not None:
            self.select(item.entry.id)
            found = self.grid.span(item.entry) if self.grid else None
            if self.editable and item.entry.status in MOVABLE and found is not None:
                near_edge = scene.y() >= item.rect().bottom() - EDGE
                self._drag = Drag(
                    "resize" if near_edge else "move", scene, found[0], found[1], item.entry
                )
        else:
            slot = self._free_slot_at(scene)
            self.select(None)
            if slot is not None:
                lane, minute = slot
                self.set_chosen_time((lane.provider.id, lane.day, minute))
                if self.editable:
                    self._drag = Drag("create", scene, lane, minute)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        drag, grid = self._drag, self.grid
        pos = event.position()
        if drag is None or grid is None:
            item = self._item_at(pos)
            scene = self.mapToScene(pos.toPoint())
            edge = (
                item is not None
                and self.editable
                and item.entry.status in MOVABLE
                and scene.y() >= item.rect().bottom() - EDGE
            )
            self.viewport().setCursor(
                Qt.CursorShape.SizeVerCursor if edge else Qt.CursorShape.ArrowCursor
            )
            super().mouseMoveEvent(event)
            return
        scene = self.mapToScene(pos.toPoint())
        if not drag.moved and (scene - drag.pressed).manhattanLength() < 4:
            return
        drag.moved = True
        drag.proposal = propose(drag, scene, grid, self.snap_minutes)
        if drag.proposal is not None:
            lane, start, end = drag.proposal
            rect = QRectF(lane.left + 2, grid.y(start), lane.width - 4, grid.y(end) - grid.y(start))
            label = f"{clock_text(start)}–{clock_text(end)} {lane.provider.display_name}"
            self._mark("ghost").show_at(rect, label)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        drag, self._drag = self._drag, None
        if "ghost" in self._marks:
            self._marks["ghost"].setVisible(False)
        if self._deferred is not None:
            QTimer.singleShot(0, self._show_deferred)
        if drag is None or not drag.moved or drag.proposal is None or self.shown is None:
            super().mouseReleaseEvent(event)
            return
        zone = self.shown.zone
        lane, start, end = drag.proposal
        begins = instant_at(lane.day, start, zone)
        if drag.kind == "create":
            self.set_chosen_time((lane.provider.id, lane.day, start))
            self.create_requested.emit(lane.provider.id, begins, instant_at(lane.day, end, zone))
        elif drag.entry is not None:
            entry = drag.entry
            if drag.kind == "resize":
                ends = instant_at(lane.day, end, zone)
                if ends != entry.ends_at:
                    self.move_requested.emit(entry, entry.provider_id, entry.starts_at, ends)
            elif begins != entry.starts_at or lane.provider.id != entry.provider_id:
                ends = begins + (entry.ends_at - entry.starts_at)
                self.move_requested.emit(entry, lane.provider.id, begins, ends)
        event.accept()

    def _show_deferred(self) -> None:
        shown, self._deferred = self._deferred, None
        if shown is not None and self._drag is None:
            self.show_range(shown)
        elif shown is not None:
            self._deferred = shown

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        self._drag = None
        pos = event.position()
        if event.button() != Qt.MouseButton.LeftButton or self._in_margins(pos):
            return
        item = self._item_at(pos)
        if item is not None:
            self.open_requested.emit(item.entry)
            return
        slot = self._free_slot_at(self.mapToScene(pos.toPoint()))
        if slot is not None and self.shown is not None:
            lane, minute = slot
            self.set_chosen_time((lane.provider.id, lane.day, minute))
            self.create_requested.emit(
                lane.provider.id,
                instant_at(lane.day, minute, self.shown.zone),
                instant_at(lane.day, minute + 30, self.shown.zone),
            )

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 - Qt's name
        grid = self.grid
        if grid is not None and event.pos().y() < grid.header:
            lane = grid.lane_at(self.mapToScene(event.pos()).x())
            if lane is not None:
                menu = self.provider_menu(lane.provider)
                menu.exec(event.globalPos())
                menu.deleteLater()
            return
        item = self._item_at(QPointF(event.pos()))
        if item is not None:
            self.select(item.entry.id)
            menu = self.status_menu(item.entry)
            menu.exec(event.globalPos())
            menu.deleteLater()
            return
        slot = self._free_slot_at(self.mapToScene(event.pos()))
        if slot is not None and self.editable and not self._in_margins(QPointF(event.pos())):
            lane, minute = slot
            self.set_chosen_time((lane.provider.id, lane.day, minute))
            menu = QMenu(self)
            action = menu.addAction("New appointment here…")
            action.setShortcut(QKeySequence("Ctrl+N"))
            action.triggered.connect(lambda: self.command.emit("new"))
            menu.exec(event.globalPos())
            menu.deleteLater()

    def provider_menu(self, provider: ProviderRow) -> QMenu:
        """What can be done about a provider's day, from their column's heading."""
        menu = QMenu(self)
        late = menu.addAction(f"{provider.display_name} is running late…")
        late.setEnabled(self.editable)
        late.triggered.connect(lambda: self.running_late_requested.emit(provider.id))
        return menu

    def allows(self, kind: str, entry: DiaryEntry) -> Verdict:
        """The status change ``kind`` for ``entry`` by the rule, at this moment."""
        zone = self.shown.zone if self.shown is not None else ZoneInfo("UTC")
        return allowed(kind, entry, zone, self.clock())

    def status_menu(self, entry: DiaryEntry) -> QMenu:
        """The status changes this appointment allows now (the others greyed, saying why
        in their tooltip), then open it or its patient."""
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        for kind, label in STATUS_ACTIONS:
            action = menu.addAction(label)
            verdict = self.allows(kind, entry)
            action.setEnabled(verdict.allowed)
            action.setToolTip(verdict.reason)
            if kind == "cancel":
                action.setShortcut(QKeySequence(Qt.Key.Key_Delete))
            action.triggered.connect(
                lambda _=False, k=kind: self.status_change_requested.emit(entry.id, k)
            )
        menu.addSeparator()
        opened = menu.addAction("Open appointment")
        opened.setShortcut(QKeySequence(Qt.Key.Key_Return))
        opened.triggered.connect(lambda: self.open_requested.emit(entry))
        patient = menu.addAction("Open patient")
        patient.setEnabled(entry.patient_id is not None)
        patient.triggered.connect(lambda: self.open_patient_requested.emit(entry.patient_id))
        video_url = entry.video_url
        if video_url:
            video = menu.addAction("Open video room")
            video.setToolTip(video_url)
            video.triggered.connect(lambda: self.open_url(QUrl(video_url)))
        return menu

    # --- the keyboard --------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        key = Qt.Key(event.key())
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        entry = self.selected_entry()
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self._step_in_lane(-1 if key == Qt.Key.Key_Up else 1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self._step_across(-1 if key == Qt.Key.Key_Left else 1)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if entry is not None:
                self.open_requested.emit(entry)
            elif self.chosen_time is not None:
                self.command.emit("new")
        elif key == Qt.Key.Key_Delete and entry is not None and self.allows("cancel", entry):
            self.status_change_requested.emit(entry.id, "cancel")
        elif key == Qt.Key.Key_N and ctrl:
            self.command.emit("new")
        elif key in PAGE_KEYS and (not ctrl or key in (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)):
            self.command.emit(PAGE_KEYS[key])
        elif key == Qt.Key.Key_Escape:
            self.select(None)
            self.set_chosen_time(None)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def _current_lane(self) -> tuple[int, float] | None:
        if self.grid is None:
            return None
        return lane_and_y(self.grid, self.selected_entry(), self.chosen_time)

    def _step_in_lane(self, step: int) -> None:
        if self.grid is None:
            return
        by_lane = lanes_with_items(self.grid, self.appointment_items())
        found = step_in_lane(by_lane, self._current_lane(), self.selected_id, step)
        if found is not None:
            self.select(found)

    def _step_across(self, step: int) -> None:
        if self.grid is None:
            return
        by_lane = lanes_with_items(self.grid, self.appointment_items())
        found = step_across(by_lane, self._current_lane(), step)
        if isinstance(found, str):
            self.command.emit(found)  # past the last lane: the next day or week
        elif found is not None:
            self.select(found)
