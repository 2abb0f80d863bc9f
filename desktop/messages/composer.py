"""Writing to a patient: the channels they can be reached on, a subject for e-mail, the
text with what it costs in texts as it is typed, and Send (Ctrl+Enter).

A channel the patient cannot be reached on (no number or address on file, or they asked
not to get messages that way) is greyed with the reason beside it, so staff know before
sending rather than after. Send hands over a draft and empties the box at once, so a
second press cannot send the same words twice; if the draft is not taken, it is put back.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from common.messaging import Channel, Purpose
from common.sms import segments
from sync.messages import Consents
from sync.patients import PatientFile
from sync.protocol import BODY_LENGTH, SUBJECT_LENGTH

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


def cost(body: str, by_sms: bool) -> str:
    """What the text costs, said plainly: "1 text · 120 characters left"."""
    if len(body) > BODY_LENGTH:
        return f"Too long: at most {BODY_LENGTH} characters ({len(body)} now)"
    if not by_sms:
        return f"{len(body)} characters" if body else ""
    size = segments(body)
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
        self.boxes = {channel: QCheckBox(channel.label) for channel in Channel}
        for box in self.boxes.values():
            box.toggled.connect(lambda _on: self._update())
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
        bottom = QHBoxLayout()
        bottom.addWidget(self.counter, 1)
        bottom.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(channels)
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
        self._update()

    def channels(self) -> tuple[Channel, ...]:
        return tuple(c for c, box in self.boxes.items() if box.isChecked() and box.isEnabled())

    def _update(self) -> None:
        chosen = self.channels()
        text = self.body.toPlainText()
        self.subject.setVisible(Channel.EMAIL in chosen)
        self.counter.setText(cost(text, Channel.SMS in chosen))
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
