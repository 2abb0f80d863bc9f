"""Which providers the diary shows: a button with a tick per provider. With twenty
providers a receptionist usually works with a few; the choice is remembered on the
workstation by the page."""

from __future__ import annotations

import uuid

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QMouseEvent, QPixmap
from PySide6.QtWidgets import QMenu, QToolButton

from sync.store import ProviderRow


class StayOpenMenu(QMenu):
    """Ticking providers one after another should not need the menu opened each time."""

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        action = self.activeAction()
        if action is not None and action.isCheckable() and action.isEnabled():
            action.trigger()
            return
        super().mouseReleaseEvent(event)


class ProviderChooser(QToolButton):
    chosen = Signal(object)  # frozenset of the providers not to show

    def __init__(self, hidden: frozenset[uuid.UUID]) -> None:
        super().__init__()
        self.hidden = hidden
        self.providers: list[ProviderRow] = []  # everyone, set by the page as it loads
        self.setText("Providers")
        self.setToolTip("Choose which providers the diary shows")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu_ = StayOpenMenu(self)
        self.menu_.aboutToShow.connect(self.fill)
        self.setMenu(self.menu_)

    def fill(self) -> None:
        menu = self.menu_
        menu.clear()
        menu.addAction("Show all", lambda: self.choose(frozenset()))
        menu.addSeparator()
        for provider in self.providers:
            swatch = QPixmap(12, 12)
            swatch.fill(QColor(provider.colour))
            action = menu.addAction(swatch, provider.display_name)
            action.setCheckable(True)
            action.setChecked(provider.id not in self.hidden)
            action.toggled.connect(lambda on, p=provider.id: self._toggle(p, on))

    def _toggle(self, provider_id: uuid.UUID, shown: bool) -> None:
        self.choose(self.hidden - {provider_id} if shown else self.hidden | {provider_id})

    def choose(self, hidden: frozenset[uuid.UUID]) -> None:
        self.hidden = hidden
        self.chosen.emit(hidden)
