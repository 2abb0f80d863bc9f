"""The one table model the desk's lists share: rows are plain values, columns are
declared as data (a title each), and a subclass says only what a cell shows.

Row and column counts, bounds checks and headers are written once here, so each list
(Needs attention, the waiting room, the diary's rows, the settings tables) is its
columns and its ``cell``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtWidgets import QAbstractItemView

Index = QModelIndex | QPersistentModelIndex


class ColumnsModel(QAbstractTableModel):
    def __init__(self, titles: Sequence[str]) -> None:
        super().__init__()
        self.titles = tuple(titles)
        self.rows: list[Any] = []

    def set_rows(self, rows: Sequence[Any]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def row_at(self, row: int) -> Any:
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def cell(self, row: Any, column: int, role: int) -> Any:
        """What ``row`` shows in ``column`` for ``role`` (None: nothing)."""
        raise NotImplementedError

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt's API
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.titles)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        if not 0 <= index.column() < len(self.titles):
            return None
        return self.cell(self.rows[index.row()], index.column(), role)

    def headerData(  # noqa: N802 - Qt's name
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self.titles)
        ):
            return self.titles[section]
        return None


def own_selection(view: QAbstractItemView) -> QItemSelectionModel:
    """Give ``view`` a selection model made here, and return it to connect to.

    ``view.selectionModel()`` hands back a wrapper PySide looks up by address; when a
    Qt object freed earlier at the same address still has a live wrapper, the lookup
    returns that one (a ``QStandardItem``, say) and connecting fails. A model made in
    Python has its own wrapper, kept alive by the view's reference below.
    """
    selection = QItemSelectionModel(view.model(), view)
    view.setSelectionModel(selection)
    view.__dict__["_own_selection"] = selection  # the Python wrapper lives with the view's
    return selection
