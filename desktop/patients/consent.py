"""A patient's consent in their file: what holds on each channel for each purpose, when
and how it was decided, and recording what the patient says ("no more marketing e-mails").

What holds is the latest decision, or the default where the patient never said: care and
reminders yes (they gave the clinic their number for that), marketing, surveys and review
requests no. Every decision stays in the history, as a regulator would ask for it.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QRadioButton,
    QWidget,
)

from common.messaging import Channel, Purpose
from desktop.kit.table_model import ColumnsModel
from sync.messages import ConsentDecision, ConsentState

NOTE_LENGTH = 200


def decided_words(decision: ConsentDecision, zone: ZoneInfo) -> str:
    """ "12 Mar 2026 10:31, recorded at the desk by Alex Reed"."""
    at = f"{decision.decided_at.astimezone(zone):%d %b %Y %H:%M}"
    by = f" by {decision.staff_name}" if decision.staff_name else ""
    sent = " · not yet sent" if decision.pending else ""
    return f"{at}, {decision.source.label}{by}{sent}"


def state_words(state: ConsentState) -> str:
    said = "Yes" if state.granted else "No"
    if state.decision is None:
        return f"{said} (never asked)"
    return said


class ConsentModel(ColumnsModel):
    """One row per channel and purpose: what holds now, and when and how it was decided."""

    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(["Channel", "Purpose", "Consent", "Decided", "Note"])
        self.zone = zone
        self.rows: list[ConsentState] = []

    def cell(self, row: ConsentState, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            decision = row.decision
            return (
                row.channel.label,
                row.purpose.label,
                state_words(row),
                decided_words(decision, self.zone) if decision else "—",
                decision.note if decision else "",
            )[column]
        if role == Qt.ItemDataRole.ForegroundRole and column == 2 and not row.granted:
            return QColor("#b3261e")
        return None


class HistoryModel(ColumnsModel):
    """Every decision, newest first."""

    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(["When and how", "Channel", "Purpose", "Decision", "Note"])
        self.zone = zone
        self.rows: list[ConsentDecision] = []

    def cell(self, row: ConsentDecision, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                decided_words(row, self.zone),
                row.channel.label,
                row.purpose.label,
                "Given" if row.granted else "Withdrawn",
                row.note,
            )[column]
        return None


class RecordConsentDialog(QDialog):
    """What the patient said: a channel, a purpose, yes or no, and a note."""

    def __init__(
        self,
        patient_name: str,
        parent: QWidget | None = None,
        *,
        channel: Channel | None = None,
        purpose: Purpose | None = None,
        granted_now: bool = True,
    ) -> None:
        """``granted_now``: what holds today for the chosen channel and purpose; the
        dialog offers the change (a "no" where it is "yes", and the other way round)."""
        super().__init__(parent)
        self.setWindowTitle(f"Record consent — {patient_name}")
        self.channel = QComboBox()
        for each in Channel:
            self.channel.addItem(each.label, each)
        self.purpose = QComboBox()
        for kind in Purpose:
            self.purpose.addItem(kind.label, kind)
        if channel is not None:
            self.channel.setCurrentIndex(list(Channel).index(channel))
        if purpose is not None:
            self.purpose.setCurrentIndex(list(Purpose).index(purpose))
        self.given = QRadioButton("Given")
        self.withdrawn = QRadioButton("Withdrawn")
        (self.withdrawn if granted_now else self.given).setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.given)
        group.addButton(self.withdrawn)
        answer = QHBoxLayout()
        answer.addWidget(self.given)
        answer.addWidget(self.withdrawn)
        answer.addStretch(1)
        self.note = QLineEdit()
        self.note.setMaxLength(NOTE_LENGTH)
        self.note.setPlaceholderText("For example: asked on the phone")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Record")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Channel", self.channel)
        form.addRow("Purpose", self.purpose)
        form.addRow("The patient", answer)
        form.addRow("Note", self.note)
        form.addRow(buttons)

    def decision(self) -> tuple[Channel, Purpose, bool, str]:
        return (
            Channel(self.channel.currentData()),
            Purpose(self.purpose.currentData()),
            self.given.isChecked(),
            self.note.text().strip(),
        )
