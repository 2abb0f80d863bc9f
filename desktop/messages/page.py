"""The Messages page: conversations on the left (unread first, in bold with their count),
the chosen one on the right with a composer below it.

Everything is read from the desk's copy on the ``db`` lane, so the inbox opens and a
message can be written offline: it shows at once as "Queued" and goes with the next
sync. Opening a conversation marks what the patient wrote as read (here at once, on the
server with the next sync). When a sync brings a text nobody had seen, the page says so
through ``notified`` (the main window turns it into a tray notification).

The composer can start from one of the clinic's wordings: the patient, their next
appointment (or today's visit) and the clinic's saved wordings are read with the
conversation, on the same lane, so filling one in is instant and never waits on the store.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from common.message_templates import ClinicFacts, PatientFacts
from common.patients import show_phone
from common.roles import Permission, Role, can
from desktop.kit import errors
from desktop.kit.ops import ChangeHub, Changes, Topic
from desktop.kit.table_model import ColumnsModel, own_selection
from desktop.messages.attach import AttachDialog
from desktop.messages.composer import Composer, Draft, closed_channels
from desktop.messages.conversation import ConversationView
from desktop.messages.wordings import WordingFacts, saved_wordings
from sync.messages import Consents, Conversation, MessageView, mask_number
from sync.patients import PatientFile
from sync.signing import Author
from sync.store import Store

SHOWN_TOPICS = (Topic.MESSAGES, Topic.PATIENTS, Topic.STAFF)
# What the wordings speak of besides: the patient's appointments, their providers and rooms.
WORDING_TOPICS = (Topic.APPOINTMENTS, Topic.SCHEDULE)
UNKNOWN = "Unknown number"
# A conversation: a patient's, or an unknown number's.
Key = tuple[uuid.UUID | None, str | None]


def key_of(conversation: Conversation) -> Key:
    return conversation.patient_id, conversation.number


def when(moment: datetime, zone: ZoneInfo, now: datetime) -> str:
    """The time for today's messages, the day for older ones."""
    local = moment.astimezone(zone)
    return f"{local:%H:%M}" if local.date() == now.astimezone(zone).date() else f"{local:%d %b}"


class ConversationsModel(ColumnsModel):
    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(["Conversation", "Last message", "When"])
        self.zone = zone
        self.rows: list[Conversation] = []

    def cell(self, row: Conversation, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            name = row.name if row.known else f"{row.name} · {UNKNOWN}"
            if row.unread:
                name += f" ({row.unread})"
            return (name, row.preview, when(row.last_at, self.zone, datetime.now(UTC)))[column]
        if role == Qt.ItemDataRole.FontRole and row.unread:
            bold = QFont()
            bold.setBold(True)
            return bold
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.preview
        return None


@dataclass(frozen=True)
class Opened:
    """A conversation as read on the db lane."""

    key: Key
    messages: list[MessageView]
    patient: PatientFile | None
    consents: Consents | None
    wording: WordingFacts | None = None  # what the clinic's wordings are filled with


def read_opened(store: Store, key: Key, clinic: ClinicFacts) -> Opened:
    patient_id, number = key
    if patient_id is None:
        return Opened(key, store.unattached(number), None, None)
    patient = store.patient(patient_id)
    return Opened(
        key,
        store.conversation(patient_id),
        patient,
        store.consents(patient_id),
        read_wording_facts(store, patient_id, patient, clinic),
    )


def read_wording_facts(
    store: Store, patient_id: uuid.UUID, patient: PatientFile | None, clinic: ClinicFacts
) -> WordingFacts:
    """The patient, their appointments to speak of (from the start of the clinic's today)
    and the clinic's own wordings."""
    now = datetime.now(UTC)
    zone = ZoneInfo(clinic.time_zone)
    day_start = datetime.combine(now.astimezone(zone).date(), time(), tzinfo=zone)
    return WordingFacts(
        patient_id=patient_id,
        patient=PatientFacts(patient.first_name, patient.last_name) if patient else None,
        appointments=store.appointments_to_mention(patient_id, now, day_start),
        saved=saved_wordings(store.templates()),
        clinic=clinic,
        now=now,
    )


class MessagesPage(QWidget):
    unread_changed = Signal(int)  # texts nobody here has read: the navigation's count
    notified = Signal(str, str)  # title, text: new texts a sync brought in

    def __init__(
        self,
        hub: ChangeHub,
        store: Store,
        zone: ZoneInfo,
        *,
        author: Author | None,
        role: Role,
        country: str | None = None,
        clinic: str = "",
        language: str = "en",
    ) -> None:
        """``clinic``: the name wordings sign with; ``language``: that of the clinic's
        standard wordings and dates (its messaging settings, which the desk does not keep)."""
        super().__init__()
        self.hub, self.runner, self.store = hub, hub.runner, store
        self.zone, self.country = zone, country
        # The desk does not keep the clinic's phone and e-mail for patients: wordings leave
        # them out where they may, and say so where they cannot.
        self.clinic = ClinicFacts(clinic, None, None, zone.key, language)
        self.fresh = False  # a conversation just opened: its channels start afresh
        self.author, self.role = author, role
        self.opened: Key | None = None
        self.shown: Opened | None = None
        self.unread = 0
        self._known_unread: set[uuid.UUID] | None = None  # None until the first read
        self._marking: set[uuid.UUID] = set()  # read marks queued, not yet seen back
        # What was being written in each conversation left: it waits there, and never
        # goes to another patient.
        self.drafts: dict[Key, str] = {}
        self.attach_dialog: AttachDialog | None = None

        self.model = ConversationsModel(zone)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        own_selection(self.table).currentRowChanged.connect(
            lambda current, _old: self._row_chosen(current.row())
        )
        self.empty = QLabel(
            "No messages yet. Texts and e-mails to and from patients appear here; write "
            "to a patient from their conversation or their file."
        )
        self.empty.setWordWrap(True)

        self.title = QLabel("Choose a conversation")
        self.title.setObjectName("conversationTitle")
        self.title.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.view = ConversationView(zone)
        self.view.attach_requested.connect(self.ask_attach)
        self.composer = Composer()
        self.composer.signature = clinic
        self.composer.send_requested.connect(self._send)
        self.notice = QLabel()
        self.notice.setObjectName("messagesNotice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #b3261e;")
        self.notice.setVisible(False)
        self.stranger_hint = QLabel(
            "Replies go to patients: attach the text to the patient it is from (the "
            "button under it) to answer them in their conversation."
        )
        self.stranger_hint.setObjectName("strangerHint")
        self.stranger_hint.setWordWrap(True)
        self.stranger_hint.setVisible(False)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("<b>Conversations</b>"))
        left_layout.addWidget(self.empty)
        left_layout.addWidget(self.table, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.title)
        right_layout.addWidget(self.view, 1)
        right_layout.addWidget(self.notice)
        right_layout.addWidget(self.stranger_hint)
        right_layout.addWidget(self.composer)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([420, 640])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        hub.changed.connect(self._changes_heard)
        self._show_opened(None)
        self.reload()

    # --- who is here -------------------------------------------------------------------

    def set_author(self, author: Author | None, role: Role | None = None) -> None:
        self.author = author
        self.role = role or self.role
        self._show_opened(self.shown)

    def can_send(self) -> bool:
        return self.author is not None and can(self.role, Permission.COMMS_SEND_MESSAGE)

    def why_not(self) -> str:
        if self.author is None:
            return "Sign in to send messages."
        return f"Your role ({self.role.label}) can read messages but not send them."

    # --- the list ----------------------------------------------------------------------

    def _changes_heard(self, changes: Changes) -> None:
        if changes.touch(*SHOWN_TOPICS):
            self.reload()
        elif changes.touch(*WORDING_TOPICS) and self.opened is not None:
            self.open_conversation(self.opened)

    def reload(self) -> None:
        store = self.store
        self.runner.run("db", lambda: (store.conversations(), store.unread_texts()), self._listed)
        if self.opened is not None:
            self.open_conversation(self.opened)

    def _listed(self, found: tuple[list[Conversation], list[MessageView]]) -> None:
        conversations, unread = found
        self.model.set_rows(conversations)
        self.empty.setVisible(not conversations)
        self._select_opened()
        self.unread = sum(c.unread for c in conversations)
        self.unread_changed.emit(self.unread)
        self._tell_new(unread, conversations)

    def _tell_new(self, unread: list[MessageView], conversations: list[Conversation]) -> None:
        """Texts nobody here had seen unread before: said once, through ``notified``.
        What was unread when the desk opened is not news."""
        ids = {m.id for m in unread}
        if self._known_unread is None:
            self._known_unread = ids
            return
        fresh = [m for m in unread if m.id not in self._known_unread]
        self._known_unread |= ids
        if not fresh:
            return
        names = {c.patient_id: c.name for c in conversations if c.known}

        def sender(message: MessageView) -> str:
            if message.patient_id is None:
                return f"{mask_number(message.counterpart)} ({UNKNOWN.lower()})"
            return names.get(message.patient_id, "a patient")

        if len(fresh) == 1:
            self.notified.emit(f"New message from {sender(fresh[0])}", fresh[0].body[:200])
        else:
            who = ", ".join(dict.fromkeys(sender(m) for m in fresh))
            self.notified.emit(f"{len(fresh)} new messages", f"From {who}")

    def _select_opened(self) -> None:
        """The open conversation's row selected in the list (none, if it has no row)."""
        keys = [key_of(c) for c in self.model.rows]
        selection = self.table.selectionModel()
        selection.blockSignals(True)
        if self.opened in keys:
            self.table.selectRow(keys.index(self.opened))
        else:
            self.table.clearSelection()
        selection.blockSignals(False)

    def _row_chosen(self, row: int) -> None:
        chosen = self.model.row_at(row)
        if isinstance(chosen, Conversation) and key_of(chosen) != self.opened:
            self.open_conversation(key_of(chosen))

    # --- one conversation ----------------------------------------------------------------

    def open_patient(self, patient_id: uuid.UUID) -> None:
        """The patient's conversation, even if nothing was written yet (to write first)."""
        self.open_conversation((patient_id, None))

    def open_conversation(self, key: Key) -> None:
        self.fresh = key != self.opened
        if key != self.opened:
            self.notice.setVisible(False)
            self.composer.set_facts(None)  # never another patient's facts in a wording
            self._switch_draft(key)
        self.opened = key
        self._select_opened()
        store, clinic = self.store, self.clinic
        self.runner.run("db", lambda: read_opened(store, key, clinic), self._read)

    def _switch_draft(self, key: Key) -> None:
        if self.opened is not None:
            self.drafts[self.opened] = self.composer.body.toPlainText()
        self.composer.body.setPlainText(self.drafts.pop(key, ""))

    def _read(self, opened: Opened) -> None:
        if opened.key != self.opened:
            return  # another conversation was chosen meanwhile
        self._show_opened(opened)
        self._mark_read()

    def _show_opened(self, opened: Opened | None) -> None:
        self.shown = opened
        if opened is None:
            self.title.setText("Choose a conversation")
            self.view.show_messages([], empty="Choose a conversation on the left.")
            self.composer.setVisible(False)
            self.stranger_hint.setVisible(False)
            return
        patient_id, number = opened.key
        known = patient_id is not None
        if known:
            patient = opened.patient
            self.title.setText(self._patient_title(patient))
        else:
            self.title.setText(f"{mask_number(number)} · {UNKNOWN}")
        self.view.show_messages(
            opened.messages,
            can_attach=self.can_send(),
            empty="Nothing written yet. Write the first message below.",
        )
        self.composer.setVisible(known)
        self.stranger_hint.setVisible(not known)
        if known:
            closed = closed_channels(opened.patient, opened.consents)
            self.composer.set_facts(opened.wording)
            self.composer.set_target(self.can_send(), self.why_not(), closed)
            if self.fresh:
                self.composer.choose_default_channels()
                self.fresh = False

    def _patient_title(self, patient: PatientFile | None) -> str:
        if patient is None:
            return "This patient is not in this desk's copy"
        contact = [show_phone(patient.phone, self.country), patient.email or ""]
        return " · ".join([patient.name, *(c for c in contact if c)])

    def _mark_read(self) -> None:
        """What the patient wrote counts as read once it is on screen: here at once, and
        on the server with the next sync (one change for the lot)."""
        shown, author = self.shown, self.author
        if shown is None or author is None or not self.isVisible():
            return
        ids = [m.id for m in shown.messages if m.unread and m.id not in self._marking]
        if not ids:
            return
        self._marking |= set(ids)
        store = self.store
        self.hub.change(
            self,
            lambda: store.mark_read(author, ids),
            {Topic.MESSAGES},
            then=lambda _queued: self._marking.difference_update(ids),
            failed=lambda _error: self._marking.difference_update(ids),
        )

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Coming back to the page: what arrived in the open conversation meanwhile is
        read now."""
        super().showEvent(event)
        if self.opened is not None:
            self.open_conversation(self.opened)

    # --- writing -----------------------------------------------------------------------

    def _send(self, draft: Draft) -> None:
        shown, author, store = self.shown, self.author, self.store
        patient_id = shown.key[0] if shown else None
        # Another conversation chosen, its patient still being read: never send these
        # words to the one shown before it.
        switching = shown is None or shown.key != self.opened
        if switching or patient_id is None or author is None or not self.can_send():
            self.composer.put_back(draft)
            return
        self.notice.setVisible(False)
        self.hub.change(
            self,
            lambda: store.send_message(
                author,
                patient_id,
                channels=list(draft.channels),
                subject=draft.subject,
                body=draft.body,
            ),
            {Topic.MESSAGES},
            failed=lambda error: self._not_sent(draft, error),
        )

    def _not_sent(self, draft: Draft, error: BaseException) -> None:
        self.composer.put_back(draft)
        self.notice.setText(f"Not sent: {errors.words(error)}")
        self.notice.setVisible(True)

    def ask_attach(self, message: MessageView) -> AttachDialog | None:
        if not self.can_send():
            return None
        dialog = AttachDialog(self.runner, self.store, message, self.country, self)
        dialog.accepted.connect(lambda: self._attach(message, dialog))
        self.attach_dialog = dialog
        dialog.open()
        return dialog

    def _attach(self, message: MessageView, dialog: AttachDialog) -> None:
        match, author, store = dialog.chosen(), self.author, self.store
        if match is None or author is None:
            return
        self.hub.change(
            self,
            lambda: store.attach_message(author, message.id, match.id),
            {Topic.MESSAGES},
            then=lambda _queued: self.open_patient(match.id),
            title="The text was not attached",
        )
