"""Settings → "Prices", for clinic admins: what each appointment type costs, the line an
appointment's invoice gets ("Invoice appointment…" on a patient's file).

Prices live on the server only: read and saved on the network lane with the signed-in
person's session, whenever the tab is opened or refreshed. A price is typed as staff
type any amount ("45", "£45.50"); an empty cell means no price, and such a type cannot be
invoiced from an appointment until it has one. Invoices already issued keep their price.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from common import billing
from common.errors import DomainError
from desktop.kit import errors
from desktop.kit.tasks import TaskRunner
from desktop.settings.online import SIGNED_IN_OFFLINE, on_server
from sync.account import Desk
from sync.client import ServerClient
from sync.protocol import SavePrices, TypePriceBody, TypePriceRecord

HINT = (
    "What each kind of appointment costs: the line of the invoice made from a completed "
    "appointment. Leave a price empty for a type that is not charged for."
)


def type_label(record: TypePriceRecord) -> str:
    return record.type_name + ("" if record.active else " (not in use)")


class PricesTab(QWidget):
    """The tab: one row per appointment type, its price editable in place."""

    def __init__(self, runner: TaskRunner, desk: Desk) -> None:
        super().__init__()
        self.runner, self.desk = runner, desk
        self.records: list[TypePriceRecord] = []
        self.busy = False
        self.table = QTableWidget(0, 2)
        self.table.setObjectName("prices")
        self.table.setHorizontalHeaderLabels(["Appointment type", "Price"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.save_button = QPushButton("Save prices")
        self.save_button.setObjectName("pricesSave")
        self.save_button.clicked.connect(self.save)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.message = QLabel()
        self.message.setObjectName("pricesMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        hint = QLabel(HINT)
        hint.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self._enable()

    def set_desk(self, desk: Desk) -> None:
        self.desk = desk

    def _call(
        self,
        work: Callable[[ServerClient], Any],
        then: Callable[[Any], None],
        failed: Callable[[BaseException], None],
    ) -> None:
        self.busy = True
        self._enable()
        if not on_server(self.runner, self.desk, work, then, failed):
            self.busy = False
            self._enable()
            self._say(SIGNED_IN_OFFLINE)

    def refresh(self) -> None:
        if self.busy:
            return
        self._say("Asking the server…")
        self._call(lambda c: c.prices(), lambda found: self._read(found, ""), self._failed)

    def _read(self, records: list[TypePriceRecord], said: str) -> None:
        self.busy = False
        self.records = records
        self.table.setRowCount(len(records))
        for row, record in enumerate(records):
            name = QTableWidgetItem(type_label(record))
            name.setFlags(name.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(row, 0, name)
            amount = record.amount_minor
            self.table.setItem(
                row,
                1,
                QTableWidgetItem("" if amount is None else billing.shown(amount, record.currency)),
            )
        self._say(said if records else "There are no appointment types yet: add them first.")
        self._enable()

    def _failed(self, error: BaseException) -> None:
        self.busy = False
        self._enable()
        self._say(f"The prices could not be read or saved: {errors.words(error)}")

    def typed(self) -> list[TypePriceBody]:
        """The prices the admin changed, checked; ``DomainError`` naming the first wrong
        one. Only the changed rows are sent: a row left alone (empty here, perhaps set
        meanwhile by another admin) is not removed by saving another."""
        wanted = []
        for row, record in enumerate(self.records):
            cell = self.table.item(row, 1)
            text = cell.text().strip() if cell else ""
            amount = (
                billing.parse_amount(
                    text, record.currency, what=f"The price of “{record.type_name}”"
                )
                if text
                else None
            )
            if amount == record.amount_minor:
                continue
            wanted.append(
                TypePriceBody(appointment_type_id=record.appointment_type_id, amount_minor=amount)
            )
        return wanted

    def save(self) -> None:
        if self.busy or not self.records:
            return
        try:
            wanted = self.typed()
        except DomainError as refused:
            self._say(refused.message)
            return
        if not wanted:
            self._say("Nothing changed: there is nothing to save.")
            return
        body = SavePrices(prices=wanted)
        self._say("Saving…")
        self._call(
            lambda c: c.save_prices(body),
            lambda saved: self._read(saved, "Prices saved."),
            self._failed,
        )

    def _enable(self) -> None:
        self.save_button.setEnabled(not self.busy and bool(self.records))
        self.refresh_button.setEnabled(not self.busy)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
