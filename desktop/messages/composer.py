"""Writing to a patient: the channels they can be reached on, a wording of the clinic's
to start from, a subject for e-mail, the text with what it costs in texts as it is typed,
and Send (Ctrl+Enter).

A channel the patient cannot be reached on (no number or address on file, or they asked
not to get messages that way) is greyed with the reason beside it, so staff know before
sending rather than after. Send hands over a draft and empties the box at once, so a
second press cannot send the same words twice; if the draft is not taken, it is put back.

A wording fills the box with the clinic's words for this patient, to edit before sending:
what goes is whatever is in the box. One that cannot be filled in for them is greyed in
the list with the reason, and never fills the box with a blank. Choosing a wording over
something typed asks first, so nobody loses what they wrote by a slip of the mouse.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QStandardItemModel, QTextCursor
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from common.message_templates import CommunicationType
from common.messaging import Channel, Purpose
from common.sms import segments, signed
from desktop.messages.wordings import Filled, WordingFacts, fill
from sync.messages import Consents
from sync.patients import PatientFile
from sync.protocol import BODY_LENGTH, SUBJECT_LENGTH

CHOOSE_WORDING = "Use a wording…"
READING = "The patient's appointments are still being read."
NO_ADDRESS = {
    Channel.SMS: "no mobile number on the patient's file",
    Channel.EMAIL: "no e-mail address on the patient's file",
}


@dataclass(frozen=True)
class Draft:
    channels: tuple[Channel, ...]
    subject: str
    body: str


def closed_channels(patient: PatientFile | None, consents: Consents | None) -> dict[Channel, str]:
    """Channels a message about the patient's care cannot go on, and why."""
    closed: dict[Channel, str] = {}
    for channel in Channel:
        address = None
        if patient is not None:
            address = patient.phone if channel is Channel.SMS else patient.email
        if not address:
            closed[channel] = NO_ADDRESS[channel]
        elif consents is not None and not consents.allows(channel, Purpose.CARE):
            closed[channel] = f"the patient asked not to get messages by {channel.label}"
    return closed


def cost(body: str, by_sms: bool, sender: str = "") -> str:
    """What the text costs, said plainly: "1 text · 120 characters left", counted as it
    goes out (with the clinic's name in front, see ``common.sms.signed``)."""
    if len(body) > BODY_LENGTH:
        return f"Too long: at most {BODY_LENGTH} characters ({len(body)} now)"
    if not by_sms:
        return f"{len(body)} characters" if body else ""
    size = segments(signed(body, sender)) if body.strip() else segments("")
    if not size.segments:
        return ""
    texts = "1 text" if size.segments == 1 else f"{size.segments} texts"
    special = " · special characters make each text shorter" if size.encoding == "UCS-2" else ""
    return f"{texts} · {size.remaining} characters left{special}"


class Composer(QWidget):
    send_requested = Signal(object)  # Draft

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.allowed = False
        self.closed: dict[Channel, str] = {}
        # The name a text is signed with on its way out (the clinic's), counted in its cost.
        self.signature = ""
        # What the wordings are filled with (None while the patient's facts are read), and
        # what the last wording put in the box: text still equal to it was not typed.
        self.facts: WordingFacts | None = None
        self.placed = Filled("", "")
        self.replace_question: QMessageBox | None = None
        self.boxes = {channel: QCheckBox(channel.label) for channel in Channel}
        for box in self.boxes.values():
            box.toggled.connect(lambda _on: self._channels_changed())
        self.wording = QComboBox()
        # The combo's items live in a model made here: ``QComboBox.model()`` hands back a
        # wrapper PySide finds by address, which can be a stale one of another type
        # (see ``desktop.kit.table_model.own_selection``).
        self.wording_items = QStandardItemModel(self.wording)
        self.wording.setModel(self.wording_items)
        self.wording.setObjectName("wordingChoice")
        self.wording.setToolTip(
            "Start from one of the clinic's wordings, filled in for the patient"
        )
        self.wording.addItem(CHOOSE_WORDING)
        for kind in CommunicationType:
            self.wording.addItem(kind.label, kind.value)  # Qt keeps a StrEnum as a plain str
        self.wording.activated.connect(self._wording_chosen)
        self.wording_note = QLabel()
        self.wording_note.setObjectName("wordingNote")
        self.wording_note.setStyleSheet("color: #555;")
        self.wording_note.setWordWrap(True)  # never widens the page
        self.subject = QLineEdit()
        self.subject.setPlaceholderText("Subject of the e-mail (optional)")
        self.subject.setMaxLength(SUBJECT_LENGTH)
        self.body = QPlainTextEdit()
        self.body.setObjectName("composerBody")
        self.body.setPlaceholderText("Write to the patient… (Ctrl+Enter sends)")
        self.body.setMaximumHeight(120)
        self.body.textChanged.connect(self._update)
        self.counter = QLabel()
        self.counter.setObjectName("smsCounter")
        self.reason = QLabel()
        self.reason.setObjectName("composerReason")
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet("color: #555;")
        self.send_button = QPushButton("Send")
        self.send_button.setToolTip("Send the message (Ctrl+Enter)")
        self.send_button.clicked.connect(lambda: self.send())
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self, lambda: self.send())
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

        channels = QHBoxLayout()
        channels.addWidget(QLabel("Send by"))
        for box in self.boxes.values():
            channels.addWidget(box)
        channels.addWidget(self.reason, 1)
        wordings = QHBoxLayout()
        wordings.addWidget(self.wording)
        wordings.addWidget(self.wording_note, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.counter, 1)
        bottom.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(channels)
        layout.addLayout(wordings)
        layout.addWidget(self.subject)
        layout.addWidget(self.body)
        layout.addLayout(bottom)
        self.set_target(False, "", dict.fromkeys(Channel, ""))

    def set_target(self, allowed: bool, why_not: str, closed: dict[Channel, str]) -> None:
        """Who may write (``why_not`` says why nobody can) and where the patient can be
        reached; the channels open to them stay as chosen, the first is chosen if none."""
        self.allowed, self.closed = allowed, closed
        for channel, box in self.boxes.items():
            shut = channel in closed
            box.setEnabled(allowed and not shut)
            box.setToolTip(closed.get(channel, "").capitalize())
            if shut:
                box.setChecked(False)
        if allowed and not self.channels():
            open_ = [c for c in Channel if c not in closed]
            if open_:
                self.boxes[open_[0]].setChecked(True)
        self.body.setReadOnly(not allowed)
        self.subject.setReadOnly(not allowed)
        notes = [f"{c.label}: {why}." for c, why in closed.items() if why]
        self.reason.setText(why_not if not allowed else " ".join(notes))
        self._channels_changed()

    def choose_default_channels(self) -> None:
        """A new conversation starts by text (else e-mail): never on the channel chosen for
        the last patient."""
        for box in self.boxes.values():
            box.setChecked(False)
        open_ = [c for c in Channel if c not in self.closed]
        if self.allowed and open_:
            self.boxes[open_[0]].setChecked(True)
        self._channels_changed()

    def set_facts(self, facts: WordingFacts | None) -> None:
        """What the wordings are filled with: this patient's (None while they are read).
        Another patient's box holds nothing a wording put there for this one."""
        if facts is None or self.facts is None or facts.patient_id != self.facts.patient_id:
            self.placed = Filled("", "")
            self.wording_note.clear()
        self.facts = facts
        self._offer_wordings()

    def channels(self) -> tuple[Channel, ...]:
        return tuple(c for c, box in self.boxes.items() if box.isChecked() and box.isEnabled())

    def _channels_changed(self) -> None:
        self._update()
        self._offer_wordings()

    def _offer_wordings(self) -> None:
        """Each wording enabled if it can be filled in for this patient on the channels
        chosen, with what it would say as its tooltip; else greyed with the reason."""
        facts = self.facts
        self.wording.setEnabled(self.allowed and facts is not None)
        model = self.wording_items
        channels = self.channels()
        for row in range(1, self.wording.count()):
            item = model.item(row)
            if facts is None:
                item.setEnabled(False)
                item.setToolTip(READING)
                continue
            outcome = fill(CommunicationType(self.wording.itemData(row)), channels, facts)
            if isinstance(outcome, Filled):
                item.setEnabled(True)
                item.setToolTip(outcome.body)
            else:
                item.setEnabled(False)
                item.setToolTip(outcome.reason)

    def _wording_chosen(self, row: int) -> None:
        value = self.wording.itemData(row)
        self.wording.setCurrentIndex(0)  # a choice, not a state: the same one may come again
        if value is not None:
            self.use_wording(CommunicationType(value))

    def use_wording(self, kind: CommunicationType) -> None:
        """Fill the box from ``kind`` for this patient; if it cannot be, say why in one
        line and leave the box as it is. Over typed text, ask first."""
        if not self.allowed or self.facts is None:
            return
        outcome = fill(kind, self.channels(), self.facts)
        if not isinstance(outcome, Filled):
            reason = outcome.reason
            self.wording_note.setText(
                f"“{kind.label}” cannot be used for this patient: {reason[:1].lower()}{reason[1:]}"
            )
            return
        self.wording_note.clear()
        if self._typed(outcome):
            self._ask_replace(kind, outcome)
        else:
            self._place(outcome)

    def _typed(self, filled: Filled) -> bool:
        """Whether the box holds words someone typed, which ``filled`` would replace."""
        body = self.body.toPlainText()
        if body.strip() and body != self.placed.body:
            return True
        subject = self.subject.text()
        replaced = filled.subject is not None and subject != filled.subject
        return replaced and bool(subject.strip()) and subject != self.placed.subject

    def _ask_replace(self, kind: CommunicationType, filled: Filled) -> None:
        question = QMessageBox(self)
        question.setIcon(QMessageBox.Icon.Question)
        question.setWindowTitle("Replace what you wrote?")
        question.setText(f"Replace what you wrote with the “{kind.label}” wording?")
        question.setInformativeText("What you wrote is not kept if you replace it.")
        replace = question.addButton("Replace", QMessageBox.ButtonRole.AcceptRole)
        keep = question.addButton("Keep what I wrote", QMessageBox.ButtonRole.RejectRole)
        question.setDefaultButton(keep)
        question.setEscapeButton(keep)
        facts = self.facts
        patient = facts.patient_id if facts is not None else None

        def answered(button: QAbstractButton) -> None:
            # Only for the patient it was filled in for.
            current = self.facts.patient_id if self.facts is not None else None
            if button is replace and current == patient:
                self._place(filled)

        question.buttonClicked.connect(answered)
        self.replace_question = question
        question.open()

    def _place(self, filled: Filled) -> None:
        self.body.setPlainText(filled.body)
        if filled.subject is not None:
            self.subject.setText(filled.subject)
        self.placed = Filled(
            filled.subject if filled.subject is not None else self.placed.subject, filled.body
        )
        self.body.setFocus()
        self.body.moveCursor(QTextCursor.MoveOperation.End)

    def _update(self) -> None:
        chosen = self.channels()
        text = self.body.toPlainText()
        self.subject.setVisible(Channel.EMAIL in chosen)
        self.counter.setText(cost(text, Channel.SMS in chosen, self.signature))
        self.send_button.setEnabled(self.ready())

    def ready(self) -> bool:
        text = self.body.toPlainText()
        return (
            self.allowed
            and bool(self.channels())
            and bool(text.strip())
            and len(text) <= BODY_LENGTH
        )

    def send(self) -> Draft | None:
        """Hand the draft over and empty the box (None, sending nothing, if not ready)."""
        if not self.ready():
            return None
        chosen = self.channels()
        draft = Draft(
            chosen,
            self.subject.text() if Channel.EMAIL in chosen else "",
            self.body.toPlainText(),
        )
        self.body.clear()
        self.subject.clear()
        self.send_requested.emit(draft)
        return draft

    def put_back(self, draft: Draft) -> None:
        """The draft was not taken: it goes back in the box, unless something new has
        been typed there meanwhile (then after it), so nothing written is lost."""
        typed = self.body.toPlainText()
        self.body.setPlainText(f"{typed}\n{draft.body}" if typed.strip() else draft.body)
        if draft.subject and not self.subject.text():
            self.subject.setText(draft.subject)
        self.placed = Filled("", "")  # words that did not go: a wording asks before replacing them
