"""Attaching a text from an unknown number to a patient: find them as you type (the same
search as the Patients page, in this desk's copy), choose, attach."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from common.patients import show_phone
from desktop.kit.tasks import TaskRunner
from sync.messages import MessageView, mask_number
from sync.scheduling import PatientMatch
from sync.store import Store

SEARCH_DELAY_MS = 150


def match_line(match: PatientMatch, country: str | None) -> str:
    born = f" · born {match.date_of_birth:%d/%m/%Y}" if match.date_of_birth else ""
    phone = show_phone(match.phone, country)
    return f"{match.name}{born}" + (f" · {phone}" if phone else "")


class AttachDialog(QDialog):
    def __init__(
        self,
        runner: TaskRunner,
        store: Store,
        message: MessageView,
        country: str | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Attach to patient")
        self.setMinimumWidth(520)  # room for a name, a birth date and a phone number
        self.runner, self.store, self.message, self.country = runner, store, message, country
        self.search = QLineEdit()
        self.search.setObjectName("attachSearch")
        self.search.setPlaceholderText("Name, date of birth, phone or e-mail")
        self.results = QListWidget()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Attach")
        self.ok_button.setEnabled(False)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.results.currentItemChanged.connect(
            lambda item, _old: self.ok_button.setEnabled(item is not None)
        )
        self.results.itemDoubleClicked.connect(lambda _item: self.accept())
        layout = QVBoxLayout(self)
        # The whole number here: staff compare it with the patient's before attaching.
        number = show_phone(message.counterpart, country) or mask_number(message.counterpart)
        said = QLabel(
            f"A text from {number}: “{message.body}”\n"
            "Whose conversation does it belong in? Replies in that conversation go to the "
            "number on the patient's file: if this is their new number, change it there."
        )
        said.setTextFormat(Qt.TextFormat.PlainText)
        said.setWordWrap(True)
        layout.addWidget(said)
        layout.addWidget(self.search)
        layout.addWidget(self.results)
        layout.addWidget(buttons)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.run_search)
        self.search.textChanged.connect(lambda _text: self._timer.start())

    def run_search(self) -> None:
        text, store = self.search.text(), self.store
        self.runner.run(
            "db", lambda: store.search_patients(text, 50), lambda found: self._found(text, found)
        )

    def _found(self, text: str, found: list[PatientMatch]) -> None:
        if text != self.search.text():
            return  # typed on meanwhile
        self.results.clear()
        for match in found:
            item = QListWidgetItem(match_line(match, self.country))
            item.setData(Qt.ItemDataRole.UserRole, match)
            self.results.addItem(item)
        # Nothing chosen for the receptionist: Enter must not attach to whoever came first.
        self.results.setCurrentRow(-1)

    def chosen(self) -> PatientMatch | None:
        item = self.results.currentItem()
        found = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return found if isinstance(found, PatientMatch) else None
