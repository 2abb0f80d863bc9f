"""Choosing an item of a combo box by its data.

Qt's own ``QComboBox.findData`` compares Python objects by identity, so an id equal to an
item's (a UUID read from the store, say) is not found, and code that falls back to the
first item then silently picks the wrong provider or type. Compare by value here.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox


def find(combo: QComboBox, value: object) -> int:
    """The index of the item whose data equals ``value`` (-1: none)."""
    return next((n for n in range(combo.count()) if combo.itemData(n) == value), -1)


def choose(combo: QComboBox, value: object) -> None:
    """Select the item whose data equals ``value``, else the first."""
    combo.setCurrentIndex(max(find(combo, value), 0))
