"""The patient form: register a new patient, or edit one's details.

The dialog stays open until the change is written: a refusal is said beside the field it
is about, in the rules' own words (``common.patients``), and nothing typed is lost. Before
a registration is written, the desk's copy is asked who on file may be the same person;
staff see them and choose to open that patient instead, or to go on.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from common.errors import InvalidInput
from common.patients import (
    ALERTS_MAX,
    PatientDetails,
    PatientInvalid,
    Sex,
    parse_birth_date,
    show_phone,
)
from desktop.kit.combo import choose
from desktop.kit.errors import words
from desktop.kit.ops import ChangeHub, Topic
from sync.patients import PatientFile
from sync.scheduling import PatientMatch
from sync.signing import Author
from sync.store import Store

RED, GREY = "color: #b3261e;", "color: #4a5060;"
DATE_WORD = re.compile(r"^\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}$")


def guess_from_search(text: str) -> PatientDetails:
    """What was typed in a search, as the start of a new patient's form: a date is the
    birth date, digits a phone, an ``@`` an e-mail, the words the names (the last word
    the last name)."""
    names: list[str] = []
    born = phone = email = None
    for word in text.split():
        if DATE_WORD.match(word):
            try:
                born = parse_birth_date(word)
                continue
            except InvalidInput:
                pass
        if "@" in word:
            email = word
        elif any(ch.isdigit() for ch in word):
            phone = f"{phone} {word}" if phone else word
        else:
            names.append(word)
    first = " ".join(names[:-1]) if len(names) > 1 else ""
    last = names[-1] if names else ""
    if len(names) == 1:
        first, last = names[0], ""
    return PatientDetails(first, last, date_of_birth=born, phone=phone, email=email)


def as_match(patient_id: uuid.UUID, details: PatientDetails) -> PatientMatch:
    return PatientMatch(
        patient_id,
        details.first_name,
        details.last_name,
        details.date_of_birth,
        details.phone,
        details.email,
    )


def describe_file(found: PatientFile, country: str | None) -> str:
    parts = [f"{found.last_name}, {found.first_name}"]
    if found.date_of_birth:
        parts.append(f"born {found.date_of_birth:%d/%m/%Y}")
    if found.phone:
        parts.append(show_phone(found.phone, country))
    if found.email:
        parts.append(found.email)
    return " · ".join(parts)


class PatientForm(QDialog):
    """A new patient (``existing`` None, perhaps ``prefill``ed) or an existing one's
    details. ``saved`` carries the patient, once the change is in the desk's copy (or,
    for an edit that changed nothing, at once: nothing is queued)."""

    saved = Signal(object)  # PatientMatch
    open_requested = Signal(object)  # the id of a patient already on file

    def __init__(
        self,
        hub: ChangeHub,
        store: Store,
        author: Author,
        country: str | None,
        *,
        existing: PatientFile | None = None,
        prefill: PatientDetails | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.hub, self.runner, self.store, self.author = hub, hub.runner, store, author
        self.country = country
        self.existing = existing
        self.patient_id = existing.id if existing else uuid.uuid4()
        self.duplicates: list[PatientFile] = []
        self._go_on = False  # staff saw the possible duplicates and chose to go on
        self.setWindowTitle("New patient" if existing is None else f"{existing.name}: details")
        self.setMinimumWidth(480)

        self.first_name = QLineEdit()
        self.last_name = QLineEdit()
        self.date_of_birth = QLineEdit()
        self.date_of_birth.setPlaceholderText("17/05/1980")
        self.sex = QComboBox()
        for sex in (Sex.UNKNOWN, Sex.FEMALE, Sex.MALE, Sex.OTHER):
            self.sex.addItem(sex.label, sex.value)
        self.address_line1 = QLineEdit()
        self.address_line2 = QLineEdit()
        self.city = QLineEdit()
        self.postcode = QLineEdit()
        self.phone = QLineEdit()
        self.phone.setPlaceholderText("07400 912345, or +353 … abroad")
        self.email = QLineEdit()
        self.alerts = QPlainTextEdit()
        self.alerts.setPlaceholderText("One a line, e.g. Needs wheelchair access")
        self.alerts.setFixedHeight(70)
        self.alerts.setToolTip(f"Shown to staff on the diary's hover card; at most {ALERTS_MAX}")

        self.problems: dict[str, QLabel] = {}
        form = QFormLayout()
        rows: list[tuple[str, str, QWidget]] = [
            ("first_name", "First name", self.first_name),
            ("last_name", "Last name", self.last_name),
            ("date_of_birth", "Date of birth", self.date_of_birth),
            ("sex", "Sex", self.sex),
            ("address_line1", "Address", self.address_line1),
            ("address_line2", "", self.address_line2),
            ("city", "Town or city", self.city),
            ("postcode", "Postcode", self.postcode),
            ("phone", "Phone", self.phone),
            ("email", "E-mail", self.email),
            ("alerts", "Staff alerts", self.alerts),
        ]
        for name, title, widget in rows:
            widget.setObjectName(name)
            form.addRow(title, widget)
            problem = QLabel()
            problem.setObjectName(f"{name}Problem")
            problem.setWordWrap(True)
            problem.setStyleSheet(RED)
            problem.setVisible(False)
            form.addRow("", problem)
            self.problems[name] = problem

        self.message = QLabel()
        self.message.setObjectName("dialogMessage")
        self.message.setWordWrap(True)
        self.message.setVisible(False)

        self.duplicate_box = QWidget()
        self.duplicate_box.setObjectName("duplicateWarning")
        self.duplicate_text = QLabel()
        self.duplicate_text.setWordWrap(True)
        self.duplicate_list = QListWidget()
        self.duplicate_list.setMaximumHeight(100)
        self.open_existing_button = QPushButton("Open this patient instead")
        self.go_on_button = QPushButton("Save as a new patient anyway")
        self.open_existing_button.clicked.connect(self._open_existing)
        self.go_on_button.clicked.connect(self._go_on_anyway)
        self.duplicate_list.itemActivated.connect(lambda _item: self._open_existing())
        box = QVBoxLayout(self.duplicate_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.duplicate_text)
        box.addWidget(self.duplicate_list)
        buttons_row = QDialogButtonBox()
        buttons_row.addButton(self.open_existing_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons_row.addButton(self.go_on_button, QDialogButtonBox.ButtonRole.ActionRole)
        box.addWidget(buttons_row)
        self.duplicate_box.setVisible(False)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button: QPushButton = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setText("Register" if existing is None else "Save")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.duplicate_box)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

        shown = existing.details if existing else prefill
        if shown is not None:
            self._fill(shown)
        for edit in (self.first_name, self.last_name, self.date_of_birth, self.phone, self.email):
            edit.textEdited.connect(self._identity_edited)
        self.first_name.setFocus()

    def _fill(self, details: PatientDetails) -> None:
        self.first_name.setText(details.first_name)
        self.last_name.setText(details.last_name)
        born = details.date_of_birth
        self.date_of_birth.setText(f"{born:%d/%m/%Y}" if born else "")
        choose(self.sex, Sex(details.sex).value)
        self.address_line1.setText(details.address_line1)
        self.address_line2.setText(details.address_line2)
        self.city.setText(details.city)
        self.postcode.setText(details.postcode)
        # Shown as staff read it (national here); saved unchanged it is kept as stored.
        self.phone.setText(show_phone(details.phone, self.country))
        self.email.setText(details.email or "")
        self.alerts.setPlainText("\n".join(details.alerts))

    # --- saving ----------------------------------------------------------------------

    def typed(self) -> PatientDetails:
        """What the form says, before the rules; ``PatientInvalid`` for a date of birth
        that is not one."""
        sex = str(self.sex.currentData())
        return PatientDetails(
            first_name=self.first_name.text(),
            last_name=self.last_name.text(),
            date_of_birth=parse_birth_date(self.date_of_birth.text()),
            sex=Sex(sex) if sex in set(Sex) else Sex.UNKNOWN,
            address_line1=self.address_line1.text(),
            address_line2=self.address_line2.text(),
            city=self.city.text(),
            postcode=self.postcode.text(),
            phone=self.phone.text(),
            email=self.email.text(),
            alerts=tuple(self.alerts.toPlainText().splitlines()),
        )

    def submit(self) -> None:
        """Check with the rules and look for possible duplicates (db lane); then write."""
        self._clear_problems()
        try:
            details = self.typed()
        except PatientInvalid as problem:
            self._refused(problem)
            return
        store = self.store
        editing = self.existing.id if self.existing else None
        self._busy("Checking…")
        self.runner.run(
            "db", lambda: store.check_patient(details, editing), self._checked, self._refused
        )

    def _checked(self, checked: tuple[PatientDetails, list[PatientFile]]) -> None:
        cleaned, found = checked
        existing = self.existing
        if existing is not None and cleaned == existing.details:
            self.message.setVisible(False)
            self.saved.emit(as_match(existing.id, existing.details))
            self.accept()  # nothing changed: nothing to queue
            return
        identity_changed = existing is None or _identity(cleaned) != _identity(existing.details)
        if found and identity_changed and not self._go_on:
            self._warn(found)
            return
        self._write(cleaned)

    def _write(self, cleaned: PatientDetails) -> None:
        store, author, patient_id = self.store, self.author, self.patient_id
        work: Callable[[], object]
        if self.existing is None:
            work = lambda: store.register_patient(author, cleaned, patient_id)  # noqa: E731
        else:
            work = lambda: store.update_patient(author, patient_id, cleaned)  # noqa: E731
        self._busy("Saving…")
        self.hub.change(
            self,
            work,
            {Topic.PATIENTS},
            then=lambda _result: self._written(cleaned),
            failed=self._refused,
        )

    def _written(self, cleaned: PatientDetails) -> None:
        self.message.setVisible(False)
        self.saved.emit(as_match(self.patient_id, cleaned))
        self.accept()

    def _busy(self, text: str) -> None:
        self.save_button.setEnabled(False)
        self.message.setStyleSheet(GREY)
        self.message.setText(text)
        self.message.setVisible(True)

    def _refused(self, error: BaseException) -> None:
        self.save_button.setEnabled(True)
        if isinstance(error, PatientInvalid) and error.field in self.problems:
            self.message.setVisible(False)
            for problem in (error, *error.also):  # every refused field, beside it
                label = self.problems.get(problem.field)
                if label is not None:
                    label.setText(problem.message)
                    label.setVisible(True)
            field = self.findChild(QWidget, error.field)
            if field is not None:
                field.setFocus()  # the first one
            return
        self.message.setStyleSheet(RED)
        self.message.setText(words(error))
        self.message.setVisible(True)

    def _clear_problems(self) -> None:
        for label in self.problems.values():
            label.setVisible(False)

    # --- possible duplicates ---------------------------------------------------------------

    def _warn(self, found: list[PatientFile]) -> None:
        self.duplicates = found
        self.save_button.setEnabled(True)
        self.message.setVisible(False)
        some = "this patient" if len(found) == 1 else "these patients"
        self.duplicate_text.setText(
            f"<b>Already on file?</b> The clinic has {some} with the same name and date of "
            "birth, phone or e-mail. Open the one that is this person, or save anyway."
        )
        self.duplicate_text.setStyleSheet(RED)
        self.duplicate_list.clear()
        for patient in found:
            item = QListWidgetItem(describe_file(patient, self.country))
            item.setData(Qt.ItemDataRole.UserRole, patient.id)
            self.duplicate_list.addItem(item)
        self.duplicate_list.setCurrentRow(0)
        self.duplicate_box.setVisible(True)

    def _identity_edited(self) -> None:
        """The names, birth, phone or e-mail changed: any earlier warning no longer
        holds, and is asked again."""
        self._go_on = False
        self.duplicate_box.setVisible(False)

    def _go_on_anyway(self) -> None:
        self._go_on = True
        self.duplicate_box.setVisible(False)
        self.submit()

    def _open_existing(self) -> None:
        item = self.duplicate_list.currentItem()
        if item is None:
            return
        self.open_requested.emit(item.data(Qt.ItemDataRole.UserRole))
        self.reject()


def _identity(details: PatientDetails) -> tuple[object, ...]:
    return (
        details.first_name.casefold(),
        details.last_name.casefold(),
        details.date_of_birth,
        details.phone,
        (details.email or "").casefold(),
    )
