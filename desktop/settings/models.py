"""The settings page's tables: time off and closures, appointment types, rooms.

Each is a ``ColumnsModel`` whose columns are declared as data (as the worklists
are): a title and how to say a row's value in words. Rows are the desk's own copy, read by
``Store.schedule()``; a row changed here and not yet acknowledged by the server says so.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from desktop.kit.table_model import ColumnsModel
from sync.scheduling import AppointmentTypeRow, ExceptionRow, LocationRow

NOT_YET_SENT = "Not yet sent"
WHOLE_CLINIC = "Whole clinic"


@dataclass(frozen=True)
class Names:
    """What a row's ids are called, for showing them."""

    providers: dict[uuid.UUID, str] = field(default_factory=dict)

    def provider(self, provider_id: uuid.UUID | None) -> str:
        if provider_id is None:
            return WHOLE_CLINIC
        return self.providers.get(provider_id, "A provider no longer listed")


@dataclass(frozen=True)
class Column:
    title: str
    value: Callable[[Any, Names], str]


def state(pending: bool) -> str:
    return NOT_YET_SENT if pending else ""


def days_text(first: date, last: date) -> str:
    if first == last:
        return f"{first:%a %d %b %Y}"
    if first.year == last.year:
        return f"{first:%a %d %b} – {last:%a %d %b %Y}"
    return f"{first:%a %d %b %Y} – {last:%a %d %b %Y}"


def hours_text(start: time | None, end: time | None) -> str:
    if start is None or end is None:
        return "All day"
    return f"{start:%H:%M}–{end:%H:%M}"


def minutes_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def yes_no(value: bool) -> str:
    return "Yes" if value else "No"


def offered_by(row: AppointmentTypeRow, names: Names) -> str:
    if not row.provider_ids:
        return "Every provider"
    return ", ".join(sorted(names.provider(p) for p in row.provider_ids))


EXCEPTION_COLUMNS = (
    Column("What", lambda r, _n: r.exception.kind.label),
    Column("Who", lambda r, n: n.provider(r.exception.provider_id)),
    Column("Days", lambda r, _n: days_text(r.exception.first_day, r.exception.last_day)),
    Column("Hours", lambda r, _n: hours_text(r.exception.start, r.exception.end)),
    Column("Note", lambda r, _n: r.exception.note),
    Column("State", lambda r, _n: state(r.pending)),
)
TYPE_COLUMNS = (
    Column("Name", lambda r, _n: r.name),
    Column("Colour", lambda r, _n: r.colour),
    Column("Length", lambda r, _n: minutes_text(r.duration_minutes)),
    Column(
        "Buffers",
        lambda r, _n: f"{r.buffer_before_minutes} min before, {r.buffer_after_minutes} min after",
    ),
    Column("Offered by", offered_by),
    Column("Online", lambda r, _n: yes_no(r.bookable_online)),
    Column("Staff confirm", lambda r, _n: yes_no(r.requires_confirmation)),
    Column("Active", lambda r, _n: yes_no(r.active)),
    Column("State", lambda r, _n: state(r.pending)),
)
ROOM_COLUMNS = (
    Column("Room", lambda r, _n: r.name),
    Column("In use", lambda r, _n: yes_no(r.active)),
    Column("State", lambda r, _n: state(r.pending)),
)


class RowsModel(ColumnsModel):
    """Rows of one kind; what each column shows is declared in ``columns``."""

    columns: Sequence[Column] = ()

    def __init__(self) -> None:
        super().__init__([c.title for c in self.columns])
        self.names = Names()

    def set_rows(self, rows: Sequence[Any], names: Names | None = None) -> None:
        self.names = names or self.names
        super().set_rows(rows)

    def cell(self, row: Any, column: int, role: int) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.columns[column].value(row, self.names)
        return None


class ExceptionModel(RowsModel):
    columns = EXCEPTION_COLUMNS

    def row_at(self, row: int) -> ExceptionRow | None:
        found: ExceptionRow | None = super().row_at(row)
        return found


class AppointmentTypeModel(RowsModel):
    columns = TYPE_COLUMNS

    def row_at(self, row: int) -> AppointmentTypeRow | None:
        found: AppointmentTypeRow | None = super().row_at(row)
        return found

    def cell(self, row: AppointmentTypeRow, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DecorationRole and self.titles[column] in ("Name", "Colour"):
            return QColor(row.colour)  # the colour the diary paints this type in
        return super().cell(row, column, role)


class RoomModel(RowsModel):
    columns = ROOM_COLUMNS

    def row_at(self, row: int) -> LocationRow | None:
        found: LocationRow | None = super().row_at(row)
        return found
