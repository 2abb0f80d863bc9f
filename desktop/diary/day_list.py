"""A day list to print or keep as PDF: one provider's day (or everyone's) as a table of
time, patient, type and status, read from the diary's model, so it lists exactly what
the diary shows (changes not yet sent included, and marked).
"""

from __future__ import annotations

import html
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from PySide6.QtCore import QMarginsF, Signal
from PySide6.QtGui import QPageLayout, QPageSize, QTextDocument
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from desktop.diary.model import COLUMNS, ENTRY_ROLE, DiaryModel, time_text
from desktop.kit.combo import choose
from desktop.kit.tasks import TaskRunner
from sync.store import DiaryEntry

PRINTED = ("Patient", "Type", "Status")
STYLE = """
h1 { font-size: 15pt; margin-bottom: 2px; }
h2 { font-size: 12pt; margin: 14px 0 4px 0; }
p.note { color: #555; font-size: 8pt; }
table { border-collapse: collapse; width: 100%; }
th { text-align: left; background: #e9ecf2; padding: 4px 8px; }
td { padding: 3px 8px; border-bottom: 1px solid #d6dae2; }
td.gone { color: #888; text-decoration: line-through; }
"""


def day_entries(model: DiaryModel, day: date, provider_id: uuid.UUID | None) -> list[int]:
    """The model's rows on ``day`` (local), for one provider or all."""
    zone = model.shown.zone
    rows = []
    for row in range(model.rowCount()):
        entry: DiaryEntry = model.index(row, 0).data(ENTRY_ROLE)
        if entry.starts_at.astimezone(zone).date() != day:
            continue
        if provider_id is None or entry.provider_id == provider_id:
            rows.append(row)
    return rows


def day_list_html(
    model: DiaryModel, day: date, provider_id: uuid.UUID | None, clinic: str = ""
) -> str:
    shown = model.shown
    columns = [n for n, c in enumerate(COLUMNS) if c.title in PRINTED]
    rows = day_entries(model, day, provider_id)
    providers = [p for p in shown.providers if provider_id in (None, p.id)]
    parts = [
        f"<style>{STYLE}</style>",
        f"<h1>{html.escape(clinic + ' · ' if clinic else '')}Day list · {day:%A %d %B %Y}</h1>",
    ]
    printed = datetime.now(UTC).astimezone(shown.zone)
    parts.append(
        f"<p class='note'>Printed {printed:%d %b %Y %H:%M}. Times are {shown.zone.key} time.</p>"
    )
    for provider in providers:
        mine = [r for r in rows if model.index(r, 0).data(ENTRY_ROLE).provider_id == provider.id]
        parts.append(f"<h2>{html.escape(provider.display_name)} · {len(mine)} appointments</h2>")
        if not mine:
            parts.append("<p>No appointments.</p>")
            continue
        head = "".join(f"<th>{COLUMNS[c].title}</th>" for c in columns)
        parts.append(f"<table><tr><th>Time</th>{head}</tr>")
        for row in mine:
            entry: DiaryEntry = model.index(row, 0).data(ENTRY_ROLE)
            gone = " class='gone'" if not entry.status.occupies_time else ""
            cells = [html.escape(str(model.index(row, c).data())) for c in columns]
            if entry.pending:
                cells[-1] += " (not yet sent)"
            tds = "".join(f"<td{gone}>{c}</td>" for c in [time_text(entry, shown.zone), *cells])
            parts.append(f"<tr>{tds}</tr>")
        parts.append("</table>")
    return "\n".join(parts)


def _printer(pdf: Path | None = None) -> QPrinter:
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(15, 15, 15, 15),
            QPageLayout.Unit.Millimeter,
        )
    )
    if pdf is not None:
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(pdf))
    return printer


def write_pdf(text: str, path: Path) -> Path:
    """Runs on the ``db`` lane (a file write; Qt paints to a ``QPrinter`` off the UI
    thread). Qt only logs a file it cannot open: say so, in words."""
    document = QTextDocument()
    document.setHtml(text)
    printer = _printer(path)
    document.print_(printer)
    if printer.printerState() == QPrinter.PrinterState.Error:
        raise OSError(f"{path} could not be written. Choose another folder.")
    return path


class DayListDialog(QDialog):
    """Which day and whose: then save as PDF or print."""

    written = Signal(object)  # the PDF's path, once it is on disk

    def __init__(
        self,
        runner: TaskRunner,
        model: DiaryModel,
        clinic: str = "",
        parent: QWidget | None = None,
        day: date | None = None,
    ) -> None:
        """``day``: the day to start on (the diary's current day, in a week view)."""
        super().__init__(parent)
        self.setWindowTitle("Day list")
        self.runner, self.model, self.clinic = runner, model, clinic
        shown = model.shown
        self.day = QComboBox()
        for shown_day in shown.dates:
            self.day.addItem(f"{shown_day:%A %d %B %Y}", shown_day)
        if day is not None:
            choose(self.day, day)
        self.provider = QComboBox()
        self.provider.addItem("All providers shown", None)
        for provider in shown.providers:
            self.provider.addItem(provider.display_name, provider.id)
        self.saved = QLabel()
        self.pdf_button = QPushButton("Save as PDF…")
        self.print_button = QPushButton("Print…")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.pdf_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.print_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.pdf_button.clicked.connect(lambda: self.save_pdf())
        self.print_button.clicked.connect(self.print_list)
        form = QFormLayout(self)
        form.addRow("Day", self.day)
        form.addRow("Provider", self.provider)
        form.addRow(self.saved)
        form.addRow(buttons)

    def html(self) -> str:
        return day_list_html(
            self.model, self.day.currentData(), self.provider.currentData(), self.clinic
        )

    def save_pdf(self, path: Path | None = None) -> Path | None:
        """The list as it is now, written on the ``db`` lane; ``written`` says when."""
        if path is None:
            name = f"day-list-{self.day.currentData():%Y-%m-%d}.pdf"
            chosen, _ = QFileDialog.getSaveFileName(self, "Save the day list", name, "PDF (*.pdf)")
            if not chosen:
                return None
            path = Path(chosen)
        text, target = self.html(), path
        self.saved.setText(f"Saving {path}…")
        self.pdf_button.setEnabled(False)
        self.runner.run("db", lambda: write_pdf(text, target), self._written, self._not_written)
        return path

    def _written(self, path: Path) -> None:
        self.pdf_button.setEnabled(True)
        self.saved.setText(f"Saved {path}")
        self.written.emit(path)

    def _not_written(self, error: BaseException) -> None:
        self.pdf_button.setEnabled(True)
        self.saved.setText(f"Not saved: {error}")

    def print_list(self) -> None:
        printer = _printer()
        if QPrintDialog(printer, self).exec() == QDialog.DialogCode.Accepted:
            document = QTextDocument()
            document.setHtml(self.html())
            document.print_(printer)
