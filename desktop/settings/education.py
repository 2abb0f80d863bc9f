"""Settings → "Education library", for staff with ``content:manage``: the articles, PDFs
and video links patients are given as their treatment moves into a phase, each tagged
with the phases it suits and its language, and browsed by every patient in the portal's
help centre.

The library lives on the server only, so this tab works online only and says so in
words otherwise. The editor checks an item with the server's own rules
(``common.content``) before it is sent; a PDF is read from disk and sent on the network
lane, never on the window's thread, after the item's fields (the file is a request of
its own). The server has the last word: its refusal is shown in the dialog, which stays
open with everything typed; so is anything unexpected, in calm words (and logged).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from common.content import TITLE_LENGTH, ContentKind, check_item, check_pdf, shown_tags
from common.errors import InvalidInput
from common.roles import Permission, can
from desktop.kit.errors import words
from desktop.kit.table_model import ColumnsModel, own_selection
from desktop.kit.tasks import TaskRunner
from desktop.settings.dialogs import problem_label, say
from desktop.settings.online import SIGNED_IN_OFFLINE, on_server
from sync.account import Desk
from sync.client import ServerClient
from sync.protocol import ContentItemRecord, SaveContentItem

EMPTY = "The library is empty: add the first item below."
NOT_YOURS = "Only staff who keep the education library (clinic admins, doctors) can change it."
# A save: the item's fields, and the PDF to read and send with it (None: keep the file).
Save = Callable[[SaveContentItem, str | None, Callable[[], None], Callable[[str], None]], None]


def tags_of(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def read_pdf(path: str) -> bytes:
    """The chosen PDF's bytes, checked (on the network lane: it may be megabytes)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"The file {Path(path).name} could not be read ({exc.strerror or exc}). Choose it "
            "again."
        ) from exc
    check_pdf(data)
    return data


def _choose_pdf(parent: QWidget) -> str:
    path, _filter = QFileDialog.getOpenFileName(parent, "Choose a PDF", "", "PDF (*.pdf *.PDF)")
    return path


class ItemsModel(ColumnsModel):
    def __init__(self) -> None:
        super().__init__(["Title", "Kind", "Phases", "Language", "Published"])

    def cell(self, row: ContentItemRecord, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                row.title,
                row.kind.label,
                shown_tags(row.phases),
                row.language,
                published(row),
            )[column]
        return None


def published(row: ContentItemRecord) -> str:
    if row.kind is ContentKind.PDF and row.file_size is None:
        return "No file yet (hidden from patients): edit it to add the PDF"
    return "Yes" if row.published else "No (hidden from patients)"


class ItemDialog(QDialog):
    """One item's fields, by its kind. OK checks, then asks the server (``save``); the
    dialog closes only once the server kept it."""

    def __init__(
        self,
        kind: ContentKind,
        item: ContentItemRecord | None,
        save: Save,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.kind, self.item, self.save = kind, item, save
        self.setWindowTitle(f"{'Edit' if item else 'New'} {kind.label.lower()}")
        self.choose_pdf: Callable[[QWidget], str] = _choose_pdf
        self.pdf_path: str | None = None
        self.title = QLineEdit(item.title if item else "")
        self.title.setObjectName("itemTitle")
        self.title.setMaxLength(TITLE_LENGTH)
        self.phases = QLineEdit(", ".join(item.phases) if item else "")
        self.phases.setObjectName("itemPhases")
        self.phases.setPlaceholderText("Fitting, Adjustment (empty: help centre only)")
        self.language = QLineEdit(item.language if item else "en")
        self.language.setObjectName("itemLanguage")
        self.language.setMaxLength(16)
        self.body = QPlainTextEdit(item.body if item else "")
        self.body.setObjectName("itemBody")
        self.body.setPlaceholderText(
            "The article's text" if kind is ContentKind.ARTICLE else "A line about it (optional)"
        )
        self.url = QLineEdit(item.url if item else "")
        self.url.setObjectName("itemUrl")
        self.url.setPlaceholderText("https://…")
        self.file_button = QPushButton("Choose PDF…" if item is None else "Replace PDF…")
        self.file_button.setObjectName("itemChoosePdf")
        self.file_button.clicked.connect(self._choose)
        self.file_label = QLabel(
            f"Kept: {round(item.file_size / 1024)} KB"
            if item and item.file_size is not None
            else "No file chosen"
        )
        self.file_label.setObjectName("itemPdf")
        self.published = QCheckBox("Published: patients may be given it and find it")
        self.published.setObjectName("itemPublished")
        self.published.setChecked(item.published if item else True)
        self.problem = problem_label()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Save")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Title", self.title)
        if kind is ContentKind.VIDEO:
            form.addRow("Video link", self.url)
        if kind is ContentKind.PDF:
            file_row = QHBoxLayout()
            file_row.addWidget(self.file_label, 1)
            file_row.addWidget(self.file_button)
            form.addRow("PDF", file_row)
        form.addRow("Text" if kind is ContentKind.ARTICLE else "About it", self.body)
        form.addRow("Phases", self.phases)
        form.addRow("Language", self.language)
        form.addRow(self.published)
        form.addRow(self.problem)
        form.addRow(buttons)

    def _choose(self) -> None:
        path = self.choose_pdf(self)
        if path:
            self.pdf_path = path
            self.file_label.setText(Path(path).name)

    def fields(self) -> SaveContentItem:
        return SaveContentItem(
            kind=self.kind,
            title=self.title.text(),
            body=self.body.toPlainText(),
            url=self.url.text() if self.kind is ContentKind.VIDEO else "",
            phases=tags_of(self.phases.text()),
            language=self.language.text(),
            published=self.published.isChecked(),
        )

    def submit(self) -> None:
        """Check, then save. Whatever goes wrong here is said in the dialog: a refusal in
        the rules' words, anything unexpected calmly (``words`` logs it)."""
        try:
            body = self.fields()
            check_item(body.kind, body.title, body.body, body.url, body.phases, body.language)
            has_file = self.item is not None and self.item.file_size is not None
            if self.kind is ContentKind.PDF and not has_file and not self.pdf_path:
                raise InvalidInput("Choose the PDF file to add to the library.")
        except Exception as error:  # the dialog stays usable whatever it was
            say(self.problem, words(error))
            return
        say(self.problem, "Saving…")
        self.ok_button.setEnabled(False)
        self.save(body, self.pdf_path, self.accept, self._refused)

    def _refused(self, reason: str) -> None:
        self.ok_button.setEnabled(True)
        say(self.problem, reason)


class EducationTab(QWidget):
    """The library, with Add article / PDF / video link, Edit and Remove."""

    def __init__(self, runner: TaskRunner, desk: Desk) -> None:
        super().__init__()
        self.runner, self.desk = runner, desk
        self.dialog: ItemDialog | None = None
        self.confirm: QMessageBox | None = None
        self.model = ItemsModel()
        self.table = QTableView()
        self.table.setObjectName("educationItems")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda _index: self.edit())
        own_selection(self.table)
        self.message = QLabel()
        self.message.setObjectName("educationMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.add_buttons = {
            ContentKind.ARTICLE: QPushButton("Add article…"),
            ContentKind.PDF: QPushButton("Add PDF…"),
            ContentKind.VIDEO: QPushButton("Add video link…"),
        }
        for kind, button in self.add_buttons.items():
            button.setObjectName(f"educationAdd_{kind.value}")
            button.clicked.connect(lambda _checked=False, k=kind: self.add(k))
        self.edit_button = QPushButton("Edit…")
        self.edit_button.clicked.connect(self.edit)
        self.remove_button = QPushButton("Remove…")
        self.remove_button.clicked.connect(self.remove)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        buttons = QHBoxLayout()
        for button in (*self.add_buttons.values(), self.edit_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                "What patients are given to read as their treatment reaches a phase (the "
                "items tagged with it, in their language), and what they find in the "
                "portal's help centre."
            )
        )
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def set_desk(self, desk: Desk) -> None:
        self.desk = desk
        editable = can(desk.staff.role, Permission.CONTENT_MANAGE)
        for button in (*self.add_buttons.values(), self.edit_button, self.remove_button):
            button.setEnabled(editable)

    # --- the server --------------------------------------------------------------------

    def _online(
        self,
        work: Callable[[ServerClient], Any],
        then: Callable[[Any], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> bool:
        if not can(self.desk.staff.role, Permission.CONTENT_MANAGE):
            self._say(NOT_YOURS)
            return False
        if not on_server(self.runner, self.desk, work, then, failed or self._failed):
            self._say(SIGNED_IN_OFFLINE)
            return False
        return True

    def _failed(self, error: BaseException) -> None:
        self._say(words(error))

    def _say(self, text: str) -> None:
        self.message.setText(text)

    def refresh(self) -> None:
        self._online(lambda c: c.content_items(), self._show)

    def _show(self, items: list[ContentItemRecord]) -> None:
        chosen = self.chosen()
        self.model.set_rows(items)
        if chosen is not None:
            row = next((n for n, i in enumerate(items) if i.id == chosen.id), None)
            if row is not None:
                self.table.selectRow(row)
        if not items:
            self._say(EMPTY)
        elif self.message.text() in (EMPTY, SIGNED_IN_OFFLINE):
            self._say("")  # what was said of a save or a removal stays

    def chosen(self) -> ContentItemRecord | None:
        rows = self.table.selectionModel().selectedRows()
        found: ContentItemRecord | None = self.model.row_at(rows[0].row()) if rows else None
        return found

    # --- the buttons -------------------------------------------------------------------

    def add(self, kind: ContentKind) -> ItemDialog:
        return self._open(kind, None)

    def edit(self) -> ItemDialog | None:
        item = self.chosen()
        if item is None:
            self._say("Choose an item in the list first.")
            return None
        return self._open(item.kind, item)

    def _open(self, kind: ContentKind, item: ContentItemRecord | None) -> ItemDialog:
        # The item's id once the server has it: a new PDF item whose file was refused
        # after its fields were kept is saved again as that item, not added twice.
        kept: list[uuid.UUID] = [item.id] if item else []

        def save(
            body: SaveContentItem,
            pdf: str | None,
            done: Callable[[], None],
            refused: Callable[[str], None],
        ) -> None:
            def send(client: ServerClient) -> ContentItemRecord:
                data = read_pdf(pdf) if pdf else None  # checked before anything is kept
                record = client.save_content_item(body, kept[0] if kept else None)
                kept[:] = [record.id]
                return client.put_content_file(record.id, data) if data is not None else record

            def saved(record: ContentItemRecord) -> None:
                done()
                self._say(f"“{record.title}” saved.")
                self.refresh()

            def failed(error: BaseException) -> None:
                if kept and item is None:
                    reason = (
                        f"“{body.title}” was added, but not its file: {words(error)} Save "
                        "again to send it; until it is there, patients are not shown the item."
                    )
                    refused(reason)
                    self.refresh()
                else:
                    refused(words(error))

            if not self._online(send, saved, failed):
                refused(self.message.text())

        dialog = ItemDialog(kind, item, save, self)
        self.dialog = dialog
        dialog.open()
        return dialog

    def remove(self) -> QMessageBox | None:
        item = self.chosen()
        if item is None:
            self._say("Choose an item in the list first.")
            return None
        item_id: uuid.UUID = item.id
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Remove from the library?",
            f"Remove “{item.title}” from the library? Patients no longer find it in the help "
            "centre or are given it; what they were given before stays on their record.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("educationConfirmRemove")
        box.button(QMessageBox.StandardButton.Yes).setText("Remove")
        box.button(QMessageBox.StandardButton.Yes).clicked.connect(
            lambda: self._online(lambda c: c.remove_content_item(item_id), self._removed)
        )
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.open()
        self.confirm = box
        return box

    def _removed(self, removed: ContentItemRecord) -> None:
        self._say(f"“{removed.title}” removed from the library.")
        self.refresh()
