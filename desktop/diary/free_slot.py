"""The free-slot finder: "next free 30 minutes with any provider". It asks how long and
with whom, finds the answer offline (``diary_changes.find_next_free`` on the db lane, from
the desk's copy), and offers it above the diary: the page jumps there, marks the slot,
and "Book this time…" opens the booking dialog on it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

from common.availability import OfferedSlot
from desktop.diary.changes import FINDER_DAYS, find_next_free
from desktop.kit.errors import words
from desktop.kit.tasks import TaskRunner
from sync.store import ProviderRow, Store


class NextFreeDialog(QDialog):
    def __init__(
        self, providers: list[ProviderRow], minutes: int = 30, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Next free time")
        self.length = QSpinBox()
        self.length.setRange(5, 12 * 60)
        self.length.setSingleStep(5)
        self.length.setSuffix(" min")
        self.length.setValue(minutes)
        self.provider = QComboBox()
        self.provider.addItem("Any provider shown", None)
        for provider in providers:
            self.provider.addItem(provider.display_name, provider.id)
        self.providers = providers
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Find")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Length", self.length)
        form.addRow("With", self.provider)
        form.addRow(buttons)

    def provider_ids(self) -> list[uuid.UUID]:
        chosen = self.provider.currentData()
        return [chosen] if chosen is not None else [p.id for p in self.providers]


class FreeSlotFinder(QWidget):
    """The bar above the diary that shows what the finder found."""

    found = Signal(object)  # OfferedSlot: show it
    book_requested = Signal(object)  # OfferedSlot
    dismissed = Signal()
    said = Signal(str)  # a word for the page's notice line ("" to clear it)

    def __init__(
        self, runner: TaskRunner, store: Store, zone: ZoneInfo, clock: Callable[[], datetime]
    ) -> None:
        super().__init__()
        self.runner, self.store, self.zone, self.clock = runner, store, zone, clock
        self.offered: OfferedSlot | None = None
        self.dialog: NextFreeDialog | None = None
        self.label = QLabel()
        self.book_button = QPushButton("Book this time…")
        self.book_button.clicked.connect(self.book)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.clicked.connect(self.dismiss)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.book_button)
        row.addWidget(self.dismiss_button)
        self.setVisible(False)

    def ask(self, providers: list[ProviderRow], parent: QWidget) -> NextFreeDialog:
        """How long, with whom: then look."""
        self.dialog = dialog = NextFreeDialog(providers, parent=parent)
        names = {p.id: p.display_name for p in providers}
        dialog.accepted.connect(
            lambda: self.look_for(
                timedelta(minutes=dialog.length.value()), dialog.provider_ids(), names
            )
        )
        dialog.open()
        return dialog

    def look_for(
        self, length: timedelta, provider_ids: list[uuid.UUID], names: dict[uuid.UUID, str]
    ) -> None:
        store, zone, now = self.store, self.zone, self.clock()
        self.said.emit("Looking for free time…")
        self.runner.run(
            "db",
            lambda: find_next_free(store, zone, length, provider_ids, now),
            lambda slot: self._found(slot, length, names),
            self._failed,
        )

    def _failed(self, error: BaseException) -> None:
        self.said.emit(words(error))

    def _found(
        self, slot: OfferedSlot | None, length: timedelta, names: dict[uuid.UUID, str]
    ) -> None:
        minutes = int(length.total_seconds() // 60)
        if slot is None:
            self.said.emit(
                f"No free {minutes} minutes in the next {FINDER_DAYS} days with the providers "
                "asked for."
            )
            return
        self.said.emit("")
        self.offered = slot
        start = slot.starts_at.astimezone(self.zone)
        who = names.get(slot.provider_id, "a provider")
        self.label.setText(f"Next free {minutes} min: <b>{start:%a %d %b %H:%M}</b> with {who}")
        self.setVisible(True)
        self.found.emit(slot)

    def book(self) -> None:
        if self.offered is not None:
            self.book_requested.emit(self.offered)

    def dismiss(self) -> None:
        self.offered = None
        self.setVisible(False)
        self.dismissed.emit()
