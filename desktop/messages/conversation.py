"""One conversation as bubbles: the patient's texts on the left, the clinic's on the right,
each outgoing one with how it fares on each channel, in words (a failure says why on the
bubble itself, not only in a tooltip). Used by the Messages page and the patient file.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from common.messaging import Channel, DeliveryStatus, Direction
from sync.messages import MessageView

SHOWN_AT_MOST = 300  # the newest; a conversation that long is scrolled, not read whole
KINDS = {
    "confirmation": "Appointment confirmation",
    "reminder": "Reminder",
    "running_late": "Running late",
    "request_rejected": "Booking request answer",
    "opt_out_reply": "Automatic reply",
}
PROBLEM_COLOUR = "#b3261e"


def when(message: MessageView, zone: ZoneInfo) -> str:
    return f"{message.created_at.astimezone(zone):%a %d %b %H:%M}"


def meta_line(message: MessageView, zone: ZoneInfo) -> str:
    """When, and who wrote it: a person at the clinic, or the clinic's automatic
    messages (a confirmation, a reminder). The patient's own say when they came."""
    if message.direction is Direction.IN:
        return when(message, zone) + (" · unread" if message.unread else "")
    who = message.sent_by or KINDS.get(message.kind, "The clinic")
    return f"{when(message, zone)} · {who}"


def delivery_lines(message: MessageView, zone: ZoneInfo) -> list[tuple[str, bool]]:
    """How an outgoing message fares, one line per channel, and whether it went wrong:
    "SMS: Delivered 10:04", "Email: Failed — mailbox full", "SMS: Held — the patient
    asked not to get texts"."""
    if message.direction is Direction.IN:
        return []
    if message.refused is not None:
        return [
            (
                f"Not sent: {message.refused} The text waits under Worklists → Needs attention.",
                True,
            )
        ]
    lines = []
    for delivery in message.deliveries:
        text = f"{delivery.channel.label}: {delivery.status.label}"
        if delivery.status in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED) and delivery.at:
            text += f" {delivery.at.astimezone(zone):%H:%M}"
        if delivery.segments and delivery.segments > 1:
            text += f" · {delivery.segments} texts"
        if delivery.error and delivery.status.went_wrong:
            text += f" — {delivery.error}"
        lines.append((text, delivery.status.went_wrong))
    if message.pending:
        lines.append(("Not yet with the server: it goes when this desk is online.", False))
    return lines


def _plain(text: str) -> QLabel:
    """A label that shows what was written as written: a patient's text is never HTML."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class Bubble(QFrame):
    attach_requested = Signal(object)  # MessageView

    def __init__(self, message: MessageView, zone: ZoneInfo, *, can_attach: bool) -> None:
        super().__init__()
        self.message = message
        outgoing = message.direction is Direction.OUT
        self.setObjectName("bubbleOut" if outgoing else "bubbleIn")
        colour = "#dbeafe" if outgoing else "#ffffff"
        border = PROBLEM_COLOUR if message.refused else ("#bcd3f5" if outgoing else "#cccccc")
        self.setStyleSheet(
            f"QFrame#{self.objectName()} {{ background: {colour}; border: 1px solid {border}; "
            "border-radius: 8px; }"
        )
        layout = QVBoxLayout(self)
        if message.subject and Channel.EMAIL in message.channels:
            subject = _plain(message.subject)
            subject.setStyleSheet("font-weight: bold;")
            layout.addWidget(subject)
        self.body = _plain(message.body)
        self.body.setObjectName("messageBody")
        layout.addWidget(self.body)
        self.meta = QLabel(meta_line(message, zone))
        self.meta.setObjectName("messageMeta")
        self.meta.setStyleSheet("color: #555; font-size: 11px;")
        layout.addWidget(self.meta)
        self.states: list[QLabel] = []
        for text, wrong in delivery_lines(message, zone):
            state = _plain(text)
            state.setObjectName("deliveryState")
            state.setStyleSheet(
                f"color: {PROBLEM_COLOUR}; font-weight: bold;" if wrong else "color: #333;"
            )
            layout.addWidget(state)
            self.states.append(state)
        self.attach_button: QPushButton | None = None
        if message.patient_id is None and not outgoing:
            self.attach_button = QPushButton("Attach to patient…")
            self.attach_button.setToolTip("Put this text in a patient's conversation")
            self.attach_button.setEnabled(can_attach)
            self.attach_button.clicked.connect(lambda: self.attach_requested.emit(self.message))
            layout.addWidget(self.attach_button, 0, Qt.AlignmentFlag.AlignLeft)

    def state_texts(self) -> list[str]:
        return [label.text() for label in self.states]


class ConversationView(QScrollArea):
    """The messages of one conversation, oldest at the top, scrolled to the newest."""

    attach_requested = Signal(object)  # MessageView from an unknown number

    def __init__(self, zone: ZoneInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.zone = zone
        self.setWidgetResizable(True)
        self.bubbles: list[Bubble] = []
        self.empty = QLabel()
        self._drawn: tuple[list[MessageView], bool, str] | None = None
        self.show_messages([])

    def show_messages(
        self, found: list[MessageView], *, can_attach: bool = False, empty: str = ""
    ) -> None:
        """Draw ``found`` afresh (the scroll area drops the bubbles drawn before). What
        is drawn already is left alone: a sync that changed nothing here must not scroll
        away from the message someone is reading."""
        if self._drawn == (found, can_attach, empty):
            return
        self._drawn = (list(found), can_attach, empty)
        inner = QWidget()
        column = QVBoxLayout(inner)
        column.addStretch(1)
        shown = found[-SHOWN_AT_MOST:]
        older = len(found) - len(shown)
        self.empty = QLabel(
            f"{older} older messages are not shown." if older else ("" if shown else empty)
        )
        self.empty.setObjectName("conversationNote")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setVisible(bool(self.empty.text()))
        column.addWidget(self.empty)
        self.bubbles = []
        for message in shown:
            bubble = Bubble(message, self.zone, can_attach=can_attach)
            bubble.attach_requested.connect(self.attach_requested)
            row = QHBoxLayout()
            if message.direction is Direction.OUT:
                row.addStretch(1)
                row.addWidget(bubble, 3)
            else:
                row.addWidget(bubble, 3)
                row.addStretch(1)
            column.addLayout(row)
            self.bubbles.append(bubble)
        self.setWidget(inner)
        QTimer.singleShot(0, self, self._to_newest)

    def _to_newest(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())
