"""The "Treatment" tab of a patient's file: their treatment plans, each phase with its
notes and progress photos, the current phase, and what the clinic's library gave them
(and whether they opened it in the portal).

Plans live on the server only (nothing of them is kept in the desk's copy), so every
read and change runs on the network lane with the signed-in person's session, whenever
the tab is looked at; photos are fetched there too, a thumbnail each, and a file chosen
to add is read and sent there, so a slow line or a large photo never holds the window
up. Offline, the tab says so calmly and offers nothing it could not do. Moving a plan to
another phase asks first: it may send the patient the phase's reading, and an e-mail;
and it names the phase this desk saw the plan in, so a plan another desk has just moved
is not moved back over it (the server says so, in a dialog, and the tab reads it again).
Removing a note or a photo (one put on the wrong patient) asks first too.

A thumbnail is fetched once: a photo the desk cannot draw, or the server no longer has,
is remembered and says so in its place rather than being asked for on every refresh, and
one such photo never keeps the others from showing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from common.errors import DomainError, InvalidInput, NotAuthenticated
from common.roles import Permission, can
from common.treatment import DEFAULT_PHASES, NOTE_LENGTH, TITLE_LENGTH
from desktop.kit import errors
from desktop.kit.table_model import ColumnsModel, own_selection
from desktop.kit.tasks import TaskRunner
from desktop.settings.online import SIGNED_IN_OFFLINE, on_server
from sync.account import Desk
from sync.client import ServerClient, ServerUnreachable
from sync.protocol import (
    ContentDeliveryRecord,
    PatientTreatmentRecord,
    PhaseMoved,
    ProgressNoteRecord,
    ProgressPhotoRecord,
    TreatmentPhaseRecord,
    TreatmentPlanRecord,
)

THUMBNAIL = 160
ON_SERVER = "Treatment plans are kept on the server: they show here when it can be reached."
PHOTO_FILTER = "Photos (*.jpg *.jpeg *.png *.JPG *.JPEG *.PNG)"
UNDRAWABLE = (
    "This desk cannot draw this photo (its picture is damaged, or in a form it does not "
    "know). The patient's portal shows the file as it was sent."
)


def when(moment: datetime | None, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%d %b %Y %H:%M}" if moment else ""


def day(moment: datetime | None, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%d %b %Y}" if moment else ""


def plan_words(plan: TreatmentPlanRecord) -> str:
    current = next((p for p in plan.phases if p.current), None)
    where = (
        f"now in “{current.name}” (phase {current.position} of {len(plan.phases)})"
        if current
        else "not started"
    )
    return f"{plan.title}: {where}."


class PhasesModel(ColumnsModel):
    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(["#", "Phase", "Now", "Since", "Notes", "Photos"])
        self.zone = zone
        self.plan: TreatmentPlanRecord | None = None

    def show(self, plan: TreatmentPlanRecord | None) -> None:
        self.plan = plan
        self.set_rows(plan.phases if plan else [])

    def cell(self, row: TreatmentPhaseRecord, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            plan = self.plan
            notes = sum(1 for n in plan.notes if n.phase_id == row.id) if plan else 0
            photos = sum(1 for f in plan.photos if f.phase_id == row.id) if plan else 0
            return (
                str(row.position),
                row.name,
                "Current" if row.current else "",
                day(row.entered_at, self.zone),
                str(notes) if notes else "",
                str(photos) if photos else "",
            )[column]
        return None


class DeliveriesModel(ColumnsModel):
    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(["Given", "Title", "Kind", "For the phase", "Opened in the portal"])
        self.zone = zone

    def cell(self, row: ContentDeliveryRecord, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                when(row.delivered_at, self.zone),
                f"{row.title} (withdrawn from the library)" if row.withdrawn else row.title,
                row.kind.label,
                row.phase_name,
                when(row.opened_at, self.zone) if row.opened_at else "Not yet",
            )[column]
        if role == Qt.ItemDataRole.ToolTipRole and row.withdrawn:
            return "Removed from the library since: the patient can no longer open it."
        return None


def _table(model: ColumnsModel, name: str) -> QTableView:
    table = QTableView()
    table.setObjectName(name)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


class PlanDialog(QDialog):
    """A new plan: its title, its phases one per line, and the patient's language."""

    def __init__(self, patient_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"New treatment plan — {patient_name}")
        self.title = QLineEdit()
        self.title.setObjectName("planTitle")
        self.title.setMaxLength(TITLE_LENGTH)
        self.title.setPlaceholderText("For example: Braces, upper and lower")
        self.phases = QPlainTextEdit("\n".join(DEFAULT_PHASES))
        self.phases.setObjectName("planPhases")
        self.phases.setToolTip("One phase a line, in the order the treatment goes through them")
        self.language = QLineEdit("en")
        self.language.setObjectName("planLanguage")
        self.language.setMaxLength(16)
        self.language.setToolTip(
            "The language the patient reads: the library's items in it are the ones given"
        )
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Start the plan")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Title", self.title)
        form.addRow("Phases, in order", self.phases)
        form.addRow("Patient's language", self.language)
        form.addRow(
            QLabel("The plan starts in its first phase; the patient sees it in the portal.")
        )
        form.addRow(buttons)

    def values(self) -> tuple[str, list[str], str]:
        phases = [line for line in self.phases.toPlainText().splitlines() if line.strip()]
        return self.title.text(), phases, self.language.text()


class NoteDialog(QDialog):
    def __init__(self, phase: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Progress note — {phase}")
        self.text = QPlainTextEdit()
        self.text.setObjectName("noteText")
        self.text.setPlaceholderText("What was done at this visit, and what comes next")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Add note")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(
            QLabel(f"The patient reads the note in the portal. At most {NOTE_LENGTH} characters.")
        )
        layout.addWidget(buttons)


def read_photo(path: str) -> bytes:
    """The chosen file's bytes (on the network lane: a photo may be megabytes)."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"The file {Path(path).name} could not be read ({exc.strerror or exc}). Choose it "
            "again, or copy it to this computer first."
        ) from exc


def _choose_photo(parent: QWidget) -> str:
    path, _filter = QFileDialog.getOpenFileName(parent, "Add a progress photo", "", PHOTO_FILTER)
    return path


@dataclass
class Thumbnails:
    """What one fetch of thumbnails brought: the images made, the photos that cannot be
    shown (with why: not on the server, not drawable; not asked for again), and, if the
    server went out of reach on the way, what to say (the rest are asked for next time)."""

    made: list[tuple[uuid.UUID, QImage]] = field(default_factory=list)
    unshown: dict[uuid.UUID, str] = field(default_factory=dict)
    trouble: str = ""


def _thumbnails(
    client: ServerClient, patient_id: uuid.UUID, photo_ids: list[uuid.UUID]
) -> Thumbnails:
    """On the network lane: each photo's bytes, made a small image (QImage, which a
    worker thread may make; the window turns it into a pixmap). Each photo on its own:
    one the server refuses, or Qt cannot read, does not keep the others from showing."""
    found = Thumbnails()
    for photo_id in photo_ids:
        try:
            data = client.progress_photo(patient_id, photo_id)
        except (ServerUnreachable, NotAuthenticated) as error:
            found.trouble = errors.words(error)  # the others would fail alike: next time
            break
        except DomainError as error:
            found.unshown[photo_id] = error.message
            continue
        image = QImage.fromData(data)
        if image.isNull():
            found.unshown[photo_id] = UNDRAWABLE
            continue
        found.made.append(
            (
                photo_id,
                image.scaled(
                    THUMBNAIL,
                    THUMBNAIL,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                ),
            )
        )
    return found


def _chosen_id(widget: QListWidget) -> uuid.UUID | None:
    items = widget.selectedItems()
    found = items[0].data(Qt.ItemDataRole.UserRole) if items else None
    return found if isinstance(found, uuid.UUID) else None


class TreatmentTab(QWidget):
    """The tab. ``set_desk`` gives it who is signed in (None: nobody) and with it what
    their role may do; ``show_patient`` the file open. It asks the server whenever it
    is shown. ``choose_photo`` picks a file to add (a file dialog; tests give a path)."""

    def __init__(self, runner: TaskRunner, zone: ZoneInfo) -> None:
        super().__init__()
        self.runner, self.zone = runner, zone
        self.desk: Desk | None = None
        self.patient_id: uuid.UUID | None = None
        self.patient_name = ""
        self.record: PatientTreatmentRecord | None = None
        self.busy = False
        self.box: QMessageBox | None = None  # the last question or refusal (tests read it)
        self.dialog: QDialog | None = None
        self.choose_photo: Callable[[QWidget], str] = _choose_photo
        self.pixmaps: dict[uuid.UUID, QPixmap] = {}
        self.unshown: dict[uuid.UUID, str] = {}  # photos that cannot be shown, and why
        self.trouble = False  # the tab says the server could not be asked
        self.fetching: set[uuid.UUID] = set()  # photos asked for, not yet come

        self.state = QLabel()
        self.state.setObjectName("treatmentState")
        self.state.setWordWrap(True)
        self.state.setTextFormat(Qt.TextFormat.PlainText)
        self.message = QLabel()
        self.message.setObjectName("treatmentMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.plans = QComboBox()
        self.plans.setObjectName("treatmentPlans")
        self.plans.currentIndexChanged.connect(lambda _i: self._show_plan())
        self.new_button = QPushButton("New plan…")
        self.new_button.setObjectName("treatmentNewPlan")
        self.new_button.clicked.connect(self.new_plan)
        self.phases = PhasesModel(zone)
        self.phases_table = _table(self.phases, "treatmentPhases")
        own_selection(self.phases_table).selectionChanged.connect(lambda *_: self._show_phase())
        self.current_button = QPushButton("Make current phase…")
        self.current_button.setObjectName("treatmentMakeCurrent")
        self.current_button.clicked.connect(self.make_current)
        self.note_button = QPushButton("Add note…")
        self.note_button.setObjectName("treatmentAddNote")
        self.note_button.clicked.connect(self.add_note)
        self.photo_button = QPushButton("Add photo…")
        self.photo_button.setObjectName("treatmentAddPhoto")
        self.photo_button.clicked.connect(self.add_photo)
        self.remove_note_button = QPushButton("Remove note…")
        self.remove_note_button.setObjectName("treatmentRemoveNote")
        self.remove_note_button.clicked.connect(self.remove_note)
        self.remove_photo_button = QPushButton("Remove photo…")
        self.remove_photo_button.setObjectName("treatmentRemovePhoto")
        self.remove_photo_button.clicked.connect(self.remove_photo)
        self.notes = QListWidget()
        self.notes.setObjectName("treatmentNotes")
        self.notes.setWordWrap(True)
        self.notes.setAccessibleName("Notes in this phase")
        self.notes.itemSelectionChanged.connect(self._enable)
        self.photos = QListWidget()
        self.photos.setObjectName("treatmentPhotos")
        self.photos.setViewMode(QListWidget.ViewMode.IconMode)
        self.photos.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.photos.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.photos.setMinimumHeight(THUMBNAIL + 40)
        self.photos.setAccessibleName("Photos in this phase")
        self.photos.itemSelectionChanged.connect(self._enable)
        self.delivered = DeliveriesModel(zone)
        self.delivered_table = _table(self.delivered, "treatmentDelivered")

        head = QHBoxLayout()
        head.addWidget(QLabel("Plan"))
        head.addWidget(self.plans, 1)
        head.addWidget(self.new_button)
        actions = QHBoxLayout()
        actions.addWidget(self.current_button)
        actions.addWidget(self.note_button)
        actions.addWidget(self.photo_button)
        actions.addStretch(1)
        actions.addWidget(self.remove_note_button)
        actions.addWidget(self.remove_photo_button)
        chosen = QHBoxLayout()
        chosen.addWidget(self.notes, 1)
        chosen.addWidget(self.photos, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.state)
        layout.addWidget(self.message)
        layout.addWidget(self.phases_table, 2)
        layout.addLayout(actions)
        layout.addLayout(chosen, 2)
        layout.addWidget(QLabel("<b>Given from the library</b>, newest first"))
        layout.addWidget(self.delivered_table, 1)
        self._show(None)

    # --- who and whom --------------------------------------------------------------------

    def set_desk(self, desk: Desk | None) -> None:
        """Starting plans, moving them on and adding or removing notes and photos need
        patients:write; everyone else reads."""
        self.desk = desk
        role = desk.staff.role if desk else None
        writer = role is not None and can(role, Permission.PATIENTS_WRITE)
        for button in self._writers():
            button.setVisible(writer)
        self._enable()

    def _writers(self) -> tuple[QPushButton, ...]:
        return (
            self.new_button,
            self.current_button,
            self.note_button,
            self.photo_button,
            self.remove_note_button,
            self.remove_photo_button,
        )

    def show_patient(self, patient_id: uuid.UUID | None, name: str = "") -> None:
        if patient_id != self.patient_id:
            self.pixmaps.clear()
            self.unshown.clear()
            self.fetching.clear()
            self._show(None)
            self._say("")
        self.patient_id, self.patient_name = patient_id, name
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.refresh()

    # --- talking to the server -----------------------------------------------------------

    def _online(
        self,
        work: Callable[[ServerClient], Any],
        then: Callable[[Any], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> bool:
        if self.desk is None:
            self._say("Sign in to see treatment plans.")
            return False
        if not on_server(self.runner, self.desk, work, then, failed or self._failed):
            self.trouble = True
            if self.record is None and self.patient_id is not None:
                self.state.setText(ON_SERVER)
            self._say(SIGNED_IN_OFFLINE)
            return False
        return True

    def _failed(self, error: BaseException) -> None:
        self.busy = False
        self.trouble = True
        if self.record is None and self.patient_id is not None:
            self.state.setText(ON_SERVER)
        self._enable()
        self._say(errors.words(error))

    def _refused(self, title: str, error: BaseException) -> None:
        """The server's words in a dialog (and on the tab); out of reach, on the tab
        only: nothing was changed, and the tab says the desk carries on."""
        self.busy = False
        self._enable()
        self._say(errors.words(error))
        if not isinstance(error, ServerUnreachable | NotAuthenticated):
            self.box = errors.show(self, title, error)
        self.refresh()

    def refresh(self) -> None:
        patient_id = self.patient_id
        if patient_id is None or self.desk is None:
            return
        self._online(
            lambda c: c.patient_treatment(patient_id), lambda found: self._read(patient_id, found)
        )

    def _read(self, patient_id: uuid.UUID, record: PatientTreatmentRecord) -> None:
        if patient_id != self.patient_id:
            return
        if self.trouble:  # reached again: the earlier trouble is over
            self.trouble = False
            self._say("")
        self._show(record)

    def _act(
        self, work: Callable[[ServerClient], Any], then: Callable[[Any], None], title: str
    ) -> None:
        if self.busy or self.patient_id is None:
            return
        self.busy = True
        self._enable()
        if not self._online(work, then, lambda error: self._refused(title, error)):
            self.busy = False
            self._enable()

    def _fetch_thumbnails(self) -> None:
        plan, patient_id = self.plan(), self.patient_id
        if plan is None or patient_id is None:
            return
        missing = [
            f.id
            for f in plan.photos
            if f.id not in self.pixmaps and f.id not in self.fetching and f.id not in self.unshown
        ]
        if missing:
            self.fetching |= set(missing)

            def failed(error: BaseException) -> None:
                self.fetching -= set(missing)
                self._say(f"The photos could not be shown: {errors.words(error)}")

            if not self._online(
                lambda c: _thumbnails(c, patient_id, missing),
                lambda made: self._thumbnails_read(patient_id, missing, made),
                failed,
            ):
                self.fetching -= set(missing)

    def _thumbnails_read(
        self, patient_id: uuid.UUID, asked: list[uuid.UUID], found: Thumbnails
    ) -> None:
        self.fetching -= set(asked)
        if patient_id != self.patient_id:
            return
        for photo_id, image in found.made:
            self.pixmaps[photo_id] = QPixmap.fromImage(image)
        self.unshown.update(found.unshown)
        if found.trouble:
            self._say(f"Some photos could not be shown: {found.trouble}")
        self._show_phase()

    # --- what is shown -------------------------------------------------------------------

    def plan(self) -> TreatmentPlanRecord | None:
        record, index = self.record, self.plans.currentIndex()
        if record is None or not 0 <= index < len(record.plans):
            return None
        return record.plans[index]

    def chosen_phase(self) -> TreatmentPhaseRecord | None:
        rows = self.phases_table.selectionModel().selectedRows()
        found: TreatmentPhaseRecord | None = self.phases.row_at(rows[0].row()) if rows else None
        return found

    def _show(self, record: PatientTreatmentRecord | None) -> None:
        shown = self.plan()
        keep = shown.id if shown is not None else self.plans.currentData()
        self.record = record
        self.plans.blockSignals(True)
        self.plans.clear()
        for plan in record.plans if record else []:
            self.plans.addItem(f"{plan.title} (since {day(plan.started_at, self.zone)})", plan.id)
        if record is not None and keep is not None:
            index = next((n for n, p in enumerate(record.plans) if p.id == keep), 0)
            self.plans.setCurrentIndex(index)
        self.plans.blockSignals(False)
        self.delivered.set_rows(record.deliveries if record else [])
        self._show_plan()

    def _show_plan(self) -> None:
        plan, record = self.plan(), self.record
        if record is None:
            self.state.setText("Asking the server…" if self.patient_id else "No patient open")
        elif plan is None:
            self.state.setText("No treatment plan. Start one with “New plan…”.")
        else:
            self.state.setText(plan_words(plan))
        self.phases.show(plan)
        current = next((n for n, p in enumerate(plan.phases) if p.current), 0) if plan else -1
        if current >= 0:
            self.phases_table.selectRow(current)
        self._show_phase()
        self._fetch_thumbnails()

    def _show_phase(self) -> None:
        plan, phase = self.plan(), self.chosen_phase()
        notes = [n for n in plan.notes if phase and n.phase_id == phase.id] if plan else []
        self.notes.clear()
        for note in notes:
            by = f" · {note.written_by}" if note.written_by else ""
            item = QListWidgetItem(f"{when(note.written_at, self.zone)}{by}\n{note.text}")
            item.setData(Qt.ItemDataRole.UserRole, note.id)
            self.notes.addItem(item)
        if not notes:
            empty = QListWidgetItem("No notes in this phase")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.notes.addItem(empty)
        self.photos.clear()
        for photo in [f for f in plan.photos if phase and f.phase_id == phase.id] if plan else []:
            taken = day(photo.taken_at, self.zone)
            item = QListWidgetItem(taken)
            item.setData(Qt.ItemDataRole.UserRole, photo.id)
            pixmap = self.pixmaps.get(photo.id)
            words = f"Progress photo, {phase.name if phase else ''}, {taken}"
            if pixmap is not None:
                item.setIcon(QIcon(pixmap))
            elif photo.id in self.unshown:
                item.setText(f"{taken}\n(cannot be shown)")
                words = f"{words}. {self.unshown[photo.id]}"
            item.setToolTip(words)
            self.photos.addItem(item)
        self._enable()

    def notes_text(self) -> str:
        """The notes shown, as one text (what a screen reader or a test reads)."""
        return "\n\n".join(self.notes.item(n).text() for n in range(self.notes.count()))

    def chosen_note(self) -> ProgressNoteRecord | None:
        plan, wanted = self.plan(), _chosen_id(self.notes)
        return next((n for n in plan.notes if n.id == wanted), None) if plan else None

    def chosen_photo(self) -> ProgressPhotoRecord | None:
        plan, wanted = self.plan(), _chosen_id(self.photos)
        return next((f for f in plan.photos if f.id == wanted), None) if plan else None

    def _enable(self) -> None:
        ready = self.desk is not None and self.record is not None and not self.busy
        phase = self.chosen_phase()
        self.new_button.setEnabled(ready and self.patient_id is not None)
        self.current_button.setEnabled(ready and phase is not None and not phase.current)
        self.note_button.setEnabled(ready and phase is not None)
        self.photo_button.setEnabled(ready and phase is not None)
        self.remove_note_button.setEnabled(ready and self.chosen_note() is not None)
        self.remove_photo_button.setEnabled(ready and self.chosen_photo() is not None)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # --- actions -------------------------------------------------------------------------

    def new_plan(self) -> PlanDialog | None:
        if self.patient_id is None or self.busy:
            return None
        dialog = PlanDialog(self.patient_name or "patient", self)
        dialog.accepted.connect(lambda: self._start(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _start(self, dialog: PlanDialog) -> None:
        patient_id = self.patient_id
        if patient_id is None:
            return
        title, phases, language = dialog.values()
        self._say("Starting the plan…")
        self._act(
            lambda c: c.start_treatment_plan(patient_id, title, phases, language),
            self._moved,
            "The plan was not started",
        )

    def make_current(self) -> QMessageBox | None:
        """Ask first: the patient may be given the phase's reading, and an e-mail. The
        move names the phase the plan is in as shown here: if another desk has moved it
        since, the server refuses, the tab says so in a dialog and reads the plan again."""
        plan, phase, patient_id = self.plan(), self.chosen_phase(), self.patient_id
        if plan is None or phase is None or patient_id is None or phase.current or self.busy:
            return None
        seen = plan.current_phase_id
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Move to this phase?",
            f"Move “{plan.title}” to the phase “{phase.name}”? Anything in the library for "
            "this phase that the patient has not had yet is given to them in the portal, "
            "with an e-mail.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("treatmentConfirmPhase")
        box.button(QMessageBox.StandardButton.Yes).setText(f"Move to “{phase.name}”")
        box.button(QMessageBox.StandardButton.Yes).clicked.connect(
            lambda: self._act(
                lambda c: c.set_current_phase(patient_id, plan.id, phase.id, seen),
                self._moved,
                "The plan was not moved",
            )
        )
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.open()
        self.box = box
        return box

    def _moved(self, moved: PhaseMoved) -> None:
        self.busy = False
        current = next((p.name for p in moved.plan.phases if p.current), "")
        given = (
            f" {moved.delivered} item{'s' if moved.delivered != 1 else ''} from the library "
            "given to the patient."
            if moved.delivered
            else " Nothing new from the library for the patient."
        )
        self._say(f"“{moved.plan.title}” is now in “{current}”.{given}")
        record = self.record
        if record is not None and all(p.id != moved.plan.id for p in record.plans):
            self.plans.addItem(moved.plan.title, moved.plan.id)  # chosen when read again
            self.plans.setCurrentIndex(self.plans.count() - 1)
        self.refresh()

    def add_note(self) -> NoteDialog | None:
        plan, phase = self.plan(), self.chosen_phase()
        if plan is None or phase is None or self.busy:
            return None
        dialog = NoteDialog(phase.name, self)
        dialog.accepted.connect(lambda: self._note(plan.id, phase.id, dialog.text.toPlainText()))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _note(self, plan_id: uuid.UUID, phase_id: uuid.UUID, text: str) -> None:
        patient_id = self.patient_id
        if patient_id is None:
            return
        self._act(
            lambda c: c.add_progress_note(patient_id, plan_id, phase_id, text),
            lambda _note: self._done("Note added."),
            "The note was not added",
        )

    def add_photo(self) -> None:
        """Choose a file; it is read and sent on the network lane."""
        phase, patient_id = self.chosen_phase(), self.patient_id
        if phase is None or patient_id is None or self.busy:
            return
        path = self.choose_photo(self)
        if not path:
            return
        self._say("Sending the photo…")
        self._act(
            lambda c: c.add_progress_photo(patient_id, phase.id, read_photo(path)),
            lambda _photo: self._done(f"Photo added to “{phase.name}”."),
            "The photo was not added",
        )

    def remove_note(self) -> QMessageBox | None:
        """Ask first (Cancel is the default): the note goes from the plan, the desks and
        the patient's portal; the server keeps its record for the audit trail."""
        note, patient_id = self.chosen_note(), self.patient_id
        if note is None or patient_id is None or self.busy:
            return None
        first_line = note.text.splitlines()[0][:80]
        return self._ask_removal(
            "Remove this note?",
            f"Remove the note “{first_line}” from the plan? The patient no longer sees it "
            "in the portal, and nobody sees it here. The clinic's audit trail keeps that it "
            "was written and removed.",
            "Remove note",
            "treatmentConfirmRemoveNote",
            lambda: self._act(
                lambda c: c.remove_progress_note(patient_id, note.id),
                lambda _none: self._done("Note removed."),
                "The note was not removed",
            ),
        )

    def remove_photo(self) -> QMessageBox | None:
        """Ask first (Cancel is the default): the photo goes from the plan and the
        patient's portal, and its file from the server."""
        photo, patient_id = self.chosen_photo(), self.patient_id
        if photo is None or patient_id is None or self.busy:
            return None

        def removed(_none: None) -> None:
            self.pixmaps.pop(photo.id, None)
            self._done("Photo removed.")

        return self._ask_removal(
            "Remove this photo?",
            f"Remove the photo of {day(photo.taken_at, self.zone)} from the plan? The patient "
            "no longer sees it in the portal, and the server deletes the picture: it cannot "
            "be brought back. The clinic's audit trail keeps that it was added and removed.",
            "Remove photo",
            "treatmentConfirmRemovePhoto",
            lambda: self._act(
                lambda c: c.remove_progress_photo(patient_id, photo.id),
                removed,
                "The photo was not removed",
            ),
        )

    def _ask_removal(
        self, title: str, text: str, yes: str, name: str, then: Callable[[], None]
    ) -> QMessageBox:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName(name)
        box.button(QMessageBox.StandardButton.Yes).setText(yes)
        box.button(QMessageBox.StandardButton.Yes).clicked.connect(then)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.open()
        self.box = box
        return box

    def _done(self, words: str) -> None:
        self.busy = False
        self._say(words)
        self.refresh()
