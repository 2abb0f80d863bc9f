"""A patient's name and contact details, opened from the diary. The Patients page is still
to come; until then this small card answers "who is this, and how do I reach them"."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QWidget

from desktop.diary.changes import PatientCardData


class PatientCard(QDialog):
    def __init__(self, patient: PatientCardData | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Patient")
        form = QFormLayout(self)
        if patient is None:
            form.addRow(QLabel("This patient is not in this desk's copy yet; sync and try again."))
        else:
            self.setWindowTitle(patient.name)
            born = f"{patient.date_of_birth:%d %B %Y}" if patient.date_of_birth else "not recorded"
            form.addRow("Name", QLabel(f"<b>{html.escape(patient.name)}</b>"))
            form.addRow("Date of birth", QLabel(born))
            form.addRow("Phone", QLabel(html.escape(patient.phone or "not recorded")))
            form.addRow("E-mail", QLabel(html.escape(patient.email or "not recorded")))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
