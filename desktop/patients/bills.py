"""The "Bills" tab of a patient's file: their invoices with what is still to pay, the
balance, and what staff do at the desk: a new invoice typed line by line, an invoice for
a completed appointment at its type's price, a payment taken in cash or by card, voiding
an invoice with the reason, and the receipt or the statement saved as PDF.

Bills live on the server only (nothing of them is kept in the desk's copy), so every
read and action runs on the network lane with the signed-in person's session. Offline,
the tab says so calmly and the rest of the desk carries on. A dialog stays open until the
server has answered: what was typed is never lost, and a refusal (no price for the
appointment type, more than is due) is said in the server's words inside it. Each
dialog makes its record's id once, so sending it again after a lost answer makes nothing
twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from common import billing
from common.billing import DEFAULT_DUE_DAYS, DESK_METHODS, InvoiceStatus, PaymentMethod, shown
from common.errors import DomainError, InvalidInput
from common.roles import Permission, can
from desktop.kit import errors
from desktop.kit.table_model import ColumnsModel, own_selection
from desktop.kit.tasks import TaskRunner
from desktop.settings.online import SIGNED_IN_OFFLINE, on_server
from sync.account import Desk
from sync.client import ServerClient, ServerUnreachable
from sync.protocol import (
    InvoiceAppointmentBody,
    InvoiceLineBody,
    InvoiceRecord,
    NewInvoice,
    PatientBillsRecord,
    RecordPaymentBody,
    UninvoicedVisit,
)

OFFLINE = (
    "Bills are kept on the server, which this desk cannot reach just now. Everything else "
    "keeps working; the bills show again once the connection is back."
)


def balance_words(record: PatientBillsRecord) -> str:
    if record.balance_minor > 0:
        return f"Balance: {shown(record.balance_minor, record.currency)} to pay."
    if record.balance_minor < 0:
        return f"Balance: {shown(-record.balance_minor, record.currency)} in credit."
    return "Balance: nothing to pay."


def status_words(invoice: InvoiceRecord) -> str:
    if invoice.status is InvoiceStatus.OPEN and invoice.overdue:
        return "Overdue"
    if invoice.status is InvoiceStatus.VOID and invoice.void_reason:
        return f"Void: {invoice.void_reason}"
    return invoice.status.label


class InvoicesModel(ColumnsModel):
    """Newest first, as the server lists them."""

    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(["Number", "Issued", "Due by", "Total", "Still to pay", "Status"])
        self.zone = zone

    def cell(self, row: InvoiceRecord, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                row.number,
                f"{row.issued_at.astimezone(self.zone):%d %b %Y}",
                f"{row.due_on:%d %b %Y}" if row.status is InvoiceStatus.OPEN else "",
                shown(row.total_minor, row.currency),
                shown(row.due_minor, row.currency) if row.due_minor else "",
                status_words(row),
            )[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join(
                f"{line.description}: {shown(line.amount_minor, row.currency)}"
                for line in row.lines
            )
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (3, 4):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _day(edit: QDateEdit) -> date:
    value = edit.date()
    return date(value.year(), value.month(), value.day())


def _due_edit(zone: ZoneInfo) -> QDateEdit:
    edit = QDateEdit(_qdate(datetime.now(zone).date() + timedelta(days=DEFAULT_DUE_DAYS)))
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("ddd d MMM yyyy")
    edit.setObjectName("billDueOn")
    return edit


class _Asking(QDialog):
    """A dialog whose OK sends to the server: it stays open (OK disabled) until the
    answer, and says a refusal inside itself, with everything typed still there."""

    def __init__(self, title: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.send: Callable[[_Asking], None] | None = None  # set by the tab
        self.problem = QLabel()
        self.problem.setObjectName("problem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b00020;")
        self.problem.setVisible(False)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._ok)
        self.buttons.rejected.connect(self.reject)
        self.layout_ = QVBoxLayout(self)

    def finish_layout(self) -> None:
        self.layout_.addWidget(self.problem)
        self.layout_.addWidget(self.buttons)

    @property
    def ok_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok)

    def say(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(bool(text))

    def waiting(self, busy: bool) -> None:
        self.ok_button.setEnabled(not busy)

    def check(self) -> None:
        """Read what was typed; raise ``DomainError`` (in words) when it will not do."""
        raise NotImplementedError

    def _ok(self) -> None:
        try:
            self.check()
        except DomainError as refused:
            self.say(refused.message)
            return
        self.say("")
        if self.send is not None:
            self.waiting(True)
            self.send(self)

    def refused(self, error: BaseException) -> None:
        self.waiting(False)
        self.say(OFFLINE if isinstance(error, ServerUnreachable) else errors.words(error))


class NewInvoiceDialog(_Asking):
    """Lines (description and amount, as typed: "45", "£45.50"), the due date."""

    def __init__(self, currency: str, zone: ZoneInfo, parent: QWidget | None = None) -> None:
        super().__init__("New invoice", parent)
        self.currency = currency
        self.body: NewInvoice | None = None
        self.invoice_id = uuid.uuid4()
        self.lines = QTableWidget(0, 2)
        self.lines.setObjectName("invoiceLines")
        self.lines.setHorizontalHeaderLabels(["Description", f"Amount ({currency})"])
        self.lines.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.lines.verticalHeader().setVisible(False)
        self.lines.cellChanged.connect(lambda *_: self._total())
        add = QPushButton("Add line")
        add.clicked.connect(lambda: self.add_line())
        remove = QPushButton("Remove line")
        remove.clicked.connect(self._remove)
        self.due_on = _due_edit(zone)
        self.total = QLabel()
        self.total.setObjectName("invoiceTotal")
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        row.addWidget(self.total)
        form = QFormLayout()
        form.addRow("Due by", self.due_on)
        self.layout_.addWidget(self.lines, 1)
        self.layout_.addLayout(row)
        self.layout_.addLayout(form)
        self.finish_layout()
        self.add_line()
        self.resize(560, 360)

    def add_line(self, description: str = "", amount: str = "") -> None:
        row = self.lines.rowCount()
        self.lines.insertRow(row)
        self.lines.setItem(row, 0, QTableWidgetItem(description))
        self.lines.setItem(row, 1, QTableWidgetItem(amount))
        self._total()

    def _remove(self) -> None:
        row = self.lines.currentRow()
        if row >= 0:
            self.lines.removeRow(row)
            self._total()

    def _typed(self) -> list[tuple[int, str, str]]:
        found = []
        for row in range(self.lines.rowCount()):
            cells = [self.lines.item(row, column) for column in (0, 1)]
            description, amount = (cell.text().strip() if cell else "" for cell in cells)
            if description or amount:
                found.append((row + 1, description, amount))
        return found

    def _total(self) -> None:
        amounts = []
        for _row, _description, amount in self._typed():
            try:
                amounts.append(billing.parse_amount(amount, self.currency))
            except InvalidInput:
                continue
        self.total.setText(f"Total: {shown(sum(amounts), self.currency)}")

    def check(self) -> None:
        lines = []
        for row, description, amount in self._typed():
            minor = billing.parse_amount(amount, self.currency, what=f"Line {row}'s amount")
            lines.append({"description": description, "amount_minor": minor})
        checked = billing.check_lines(lines, self.currency)
        self.body = NewInvoice(
            id=self.invoice_id,
            lines=[InvoiceLineBody(**line.to_json()) for line in checked],
            due_on=_day(self.due_on),
        )


def visit_words(visit: UninvoicedVisit, currency: str, zone: ZoneInfo) -> str:
    price = shown(visit.price_minor, currency) if visit.price_minor is not None else "no price set"
    when = f"{visit.starts_at.astimezone(zone):%a %d %b %Y %H:%M}"
    return f"{when} — {visit.type_name or 'no appointment type'} — {price}"


class InvoiceAppointmentDialog(_Asking):
    """A completed appointment not invoiced yet, invoiced at its type's price."""

    def __init__(
        self,
        visits: list[UninvoicedVisit],
        currency: str,
        zone: ZoneInfo,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Invoice appointment", parent)
        self.visits = visits
        self.body: InvoiceAppointmentBody | None = None
        self.appointment_id: uuid.UUID | None = None
        self.invoice_id = uuid.uuid4()
        self.choice = QComboBox()
        self.choice.setObjectName("invoiceVisit")
        for visit in visits:
            self.choice.addItem(visit_words(visit, currency, zone))
        self.due_on = _due_edit(zone)
        form = QFormLayout()
        form.addRow("Appointment", self.choice)
        form.addRow("Due by", self.due_on)
        self.layout_.addWidget(
            QLabel("Completed appointments of this patient with no invoice yet:")
        )
        self.layout_.addLayout(form)
        self.finish_layout()

    def check(self) -> None:
        index = self.choice.currentIndex()
        if not 0 <= index < len(self.visits):
            raise InvalidInput("Choose the appointment to invoice.")
        self.appointment_id = self.visits[index].appointment_id
        self.body = InvoiceAppointmentBody(id=self.invoice_id, due_on=_day(self.due_on))


class RecordPaymentDialog(_Asking):
    """Money taken at the desk against one invoice: how much, and how."""

    def __init__(self, invoice: InvoiceRecord, parent: QWidget | None = None) -> None:
        super().__init__(f"Record payment on {invoice.number}", parent)
        self.invoice = invoice
        self.body: RecordPaymentBody | None = None
        self.payment_id = uuid.uuid4()
        self.amount = QLineEdit(billing.as_typed(invoice.due_minor, invoice.currency))
        self.amount.setObjectName("paymentAmount")
        self.method = QComboBox()
        self.method.setObjectName("paymentMethod")
        for method in DESK_METHODS:
            self.method.addItem(method.label, method.value)
        form = QFormLayout()
        form.addRow("Amount", self.amount)
        form.addRow("Paid by", self.method)
        self.layout_.addWidget(
            QLabel(
                f"{shown(invoice.due_minor, invoice.currency)} still to pay on {invoice.number}."
            )
        )
        self.layout_.addLayout(form)
        self.finish_layout()

    def check(self) -> None:
        minor = billing.parse_amount(self.amount.text(), self.invoice.currency, what="The payment")
        if minor > self.invoice.due_minor:
            raise InvalidInput(
                f"Only {shown(self.invoice.due_minor, self.invoice.currency)} is still due on "
                f"{self.invoice.number}: take at most that."
            )
        self.body = RecordPaymentBody(
            id=self.payment_id,
            amount_minor=minor,
            method=PaymentMethod(str(self.method.currentData())),
        )


class VoidDialog(_Asking):
    """Void an invoice, with the reason (it stays on the patient's file)."""

    def __init__(self, invoice: InvoiceRecord, parent: QWidget | None = None) -> None:
        super().__init__(f"Void {invoice.number}", parent)
        self.invoice = invoice
        self.reason_text = ""
        self.reason = QLineEdit()
        self.reason.setObjectName("voidReason")
        self.reason.setMaxLength(billing.VOID_REASON_LENGTH)
        self.reason.setPlaceholderText("Issued twice, wrong patient, …")
        self.layout_.addWidget(
            QLabel(
                f"{invoice.number} for {shown(invoice.total_minor, invoice.currency)} will be "
                "void. It keeps its number; the reason stays on the patient's file."
            )
        )
        form = QFormLayout()
        form.addRow("Reason", self.reason)
        self.layout_.addLayout(form)
        self.finish_layout()

    def check(self) -> None:
        self.reason_text = billing.check_void_reason(self.reason.text())


def issued_words(made: InvoiceRecord) -> str:
    return (
        f"Invoice {made.number} issued for {shown(made.total_minor, made.currency)}; the "
        "patient is e-mailed that payment is due."
    )


def _table(model: ColumnsModel) -> QTableView:
    table = QTableView()
    table.setObjectName("billsInvoices")
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


def ask_where(parent: QWidget, suggested: str) -> str | None:
    """Where to save a PDF (the system's save dialog); None when cancelled."""
    path, _filter = QFileDialog.getSaveFileName(
        parent, "Save as PDF", str(Path.home() / suggested), "PDF files (*.pdf)"
    )
    return path or None


class BillsTab(QWidget):
    """The tab. ``set_desk`` gives it who is signed in (None: nobody) and so what their
    role may do; ``show_patient`` the file open. It asks the server whenever it is
    shown."""

    def __init__(self, runner: TaskRunner, zone: ZoneInfo) -> None:
        super().__init__()
        self.runner, self.zone = runner, zone
        self.desk: Desk | None = None
        self.patient_id: uuid.UUID | None = None
        self.record: PatientBillsRecord | None = None
        self.busy = False
        self.dialog: _Asking | None = None  # the dialog open (tests fill it in)
        # Where a PDF is saved (the save dialog; tests answer it themselves).
        self.choose_file: Callable[[str], str | None] = lambda name: ask_where(self, name)

        self.balance = QLabel()
        self.balance.setObjectName("billsBalance")
        self.balance.setStyleSheet("font-weight: bold;")
        self.message = QLabel()
        self.message.setObjectName("billsMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        # Money taken online that no bill could take: staff refund it by hand.
        self.refunds = QLabel()
        self.refunds.setObjectName("billsRefunds")
        self.refunds.setWordWrap(True)
        self.refunds.setTextFormat(Qt.TextFormat.PlainText)
        self.refunds.setStyleSheet("color: #a61b1b;")
        self.invoices = InvoicesModel(zone)
        self.table = _table(self.invoices)
        own_selection(self.table).selectionChanged.connect(lambda *_: self._enable())

        self.new_button = QPushButton("New invoice…")
        self.new_button.setObjectName("billsNew")
        self.new_button.clicked.connect(lambda: self.new_invoice())
        self.visit_button = QPushButton("Invoice appointment…")
        self.visit_button.setObjectName("billsVisit")
        self.visit_button.clicked.connect(lambda: self.invoice_appointment())
        self.pay_button = QPushButton("Record payment…")
        self.pay_button.setObjectName("billsPay")
        self.pay_button.clicked.connect(lambda: self.record_payment())
        self.void_button = QPushButton("Void…")
        self.void_button.setObjectName("billsVoid")
        self.void_button.clicked.connect(lambda: self.void())
        self.receipt_button = QPushButton("Receipt (PDF)…")
        self.receipt_button.setToolTip("The receipt of the chosen invoice's latest payment")
        self.receipt_button.clicked.connect(lambda: self.save_receipt())
        self.statement_button = QPushButton("Statement (PDF)…")
        self.statement_button.setObjectName("billsStatement")
        self.statement_button.clicked.connect(lambda: self.save_statement())
        self.manage_buttons = (
            self.new_button,
            self.visit_button,
            self.pay_button,
            self.void_button,
        )

        actions = QHBoxLayout()
        for button in (*self.manage_buttons, self.receipt_button, self.statement_button):
            actions.addWidget(button)
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.balance)
        layout.addWidget(self.message)
        layout.addWidget(self.refunds)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        self._show(None)

    # --- who and whom --------------------------------------------------------------------

    def set_desk(self, desk: Desk | None) -> None:
        """Billing, the front desk and admins may bill and take payments; everyone who
        reads patients' files sees the bills and the papers."""
        self.desk = desk
        role = desk.staff.role if desk else None
        manage = role is not None and can(role, Permission.BILLING_MANAGE)
        for button in self.manage_buttons:
            button.setVisible(manage)
        self._enable()

    def show_patient(self, patient_id: uuid.UUID | None) -> None:
        if patient_id != self.patient_id:
            self._show(None)
            self._say("")
        self.patient_id = patient_id
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.refresh()  # a payment made in the portal since: read when looked at

    # --- talking to the server -------------------------------------------------------------

    def _online(
        self,
        work: Callable[[ServerClient], Any],
        then: Callable[[Any], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> bool:
        if self.desk is None:
            self._say("Sign in to see the patient's bills.")
            return False
        if not on_server(self.runner, self.desk, work, then, failed or self._failed):
            self._say(SIGNED_IN_OFFLINE)
            return False
        return True

    def _failed(self, error: BaseException) -> None:
        self.busy = False
        self._enable()
        self._say(OFFLINE if isinstance(error, ServerUnreachable) else errors.words(error))

    def refresh(self) -> None:
        patient_id = self.patient_id
        if patient_id is None or self.desk is None:
            return
        self._online(
            lambda c: c.patient_bills(patient_id), lambda found: self._read(patient_id, found)
        )

    def _read(self, patient_id: uuid.UUID, record: PatientBillsRecord) -> None:
        if patient_id == self.patient_id:
            self._show(record)
            if self.message.text() == OFFLINE:
                self._say("")

    def _ask(
        self,
        dialog: _Asking,
        work: Callable[[_Asking], Callable[[ServerClient], Any]],
        done: Callable[[Any], str],
    ) -> _Asking:
        """Open ``dialog``; its OK sends ``work(dialog)`` to the server; the answer
        closes it (``done`` says what happened on the tab), a refusal stays in it."""

        def send(asked: _Asking) -> None:
            def answered(result: Any) -> None:
                asked.accept()
                self._say(done(result))
                self.refresh()

            if not self._online(work(asked), answered, asked.refused):
                asked.refused(InvalidInput(SIGNED_IN_OFFLINE))

        dialog.send = send
        self.dialog = dialog
        dialog.open()
        return dialog

    # --- actions -----------------------------------------------------------------------------

    def chosen(self) -> InvoiceRecord | None:
        rows = self.table.selectionModel().selectedRows()
        found: InvoiceRecord | None = self.invoices.row_at(rows[0].row()) if rows else None
        return found

    def new_invoice(self) -> NewInvoiceDialog | None:
        record, patient_id = self.record, self.patient_id
        if record is None or patient_id is None:
            return None
        dialog = NewInvoiceDialog(record.currency, self.zone, self)

        def work(asked: _Asking) -> Callable[[ServerClient], Any]:
            assert isinstance(asked, NewInvoiceDialog)
            body = asked.body
            assert body is not None  # checked
            return lambda c: c.create_invoice(patient_id, body)

        self._ask(dialog, work, issued_words)
        return dialog

    def invoice_appointment(self) -> InvoiceAppointmentDialog | None:
        record = self.record
        if record is None:
            return None
        if not record.uninvoiced:
            self._say("This patient has no completed appointment waiting for an invoice.")
            return None
        dialog = InvoiceAppointmentDialog(record.uninvoiced, record.currency, self.zone, self)

        def work(asked: _Asking) -> Callable[[ServerClient], Any]:
            assert isinstance(asked, InvoiceAppointmentDialog)
            body, appointment_id = asked.body, asked.appointment_id
            assert body is not None  # checked
            assert appointment_id is not None
            return lambda c: c.invoice_appointment(appointment_id, body)

        self._ask(dialog, work, issued_words)
        return dialog

    def record_payment(self) -> RecordPaymentDialog | None:
        invoice = self.chosen()
        if invoice is None or invoice.status is not InvoiceStatus.OPEN:
            self._say("Choose an invoice that is still to pay.")
            return None
        dialog = RecordPaymentDialog(invoice, self)

        def work(asked: _Asking) -> Callable[[ServerClient], Any]:
            assert isinstance(asked, RecordPaymentDialog)
            body = asked.body
            assert body is not None  # checked
            return lambda c: c.record_payment(invoice.id, body)

        def done(after: InvoiceRecord) -> str:
            standing = (
                "paid in full"
                if after.status is InvoiceStatus.PAID
                else (f"{shown(after.due_minor, after.currency)} still to pay")
            )
            return f"Payment recorded on {after.number}: {standing}."

        self._ask(dialog, work, done)
        return dialog

    def void(self) -> VoidDialog | None:
        invoice = self.chosen()
        if invoice is None or invoice.status is not InvoiceStatus.OPEN:
            self._say("Choose an invoice that is still to pay to void it.")
            return None
        dialog = VoidDialog(invoice, self)

        def work(asked: _Asking) -> Callable[[ServerClient], Any]:
            assert isinstance(asked, VoidDialog)
            reason = asked.reason_text
            return lambda c: c.void_invoice(invoice.id, reason)

        self._ask(dialog, work, lambda after: f"{after.number} is void.")
        return dialog

    def _save(self, suggested: str, fetch: Callable[[ServerClient], bytes]) -> None:
        path = self.choose_file(suggested)
        if not path:
            return
        target = Path(path)

        def work(client: ServerClient) -> Path:
            target.write_bytes(fetch(client))  # on the network lane, never the UI thread
            return target

        self._say("Asking the server for the PDF…")
        self._online(work, lambda saved: self._say(f"Saved to {saved}."))

    def save_statement(self) -> None:
        patient_id = self.patient_id
        if patient_id is not None:
            self._save("statement.pdf", lambda c: c.statement_pdf(patient_id))

    def save_receipt(self) -> None:
        invoice = self.chosen()
        counted = [p for p in invoice.payments if not p.to_refund] if invoice else []
        if invoice is None or not counted:
            self._say("Choose an invoice with a payment to save its receipt.")
            return
        payment_id = counted[-1].id
        self._save(f"receipt-{invoice.number}.pdf", lambda c: c.receipt_pdf(payment_id))

    # --- showing -------------------------------------------------------------------------------

    def _show(self, record: PatientBillsRecord | None) -> None:
        self.record = record
        if record is None:
            self.balance.setText("Asking the server…" if self.patient_id else "No patient open")
            self.invoices.set_rows([])
            self.refunds.setText("")
        else:
            self.balance.setText(balance_words(record))
            self.invoices.set_rows(record.invoices)
            self.refunds.setText(
                "\n".join(p.to_refund for i in record.invoices for p in i.payments if p.to_refund)
            )
        self.refunds.setVisible(bool(self.refunds.text()))
        self._enable()

    def _enable(self) -> None:
        ready = self.desk is not None and self.record is not None and not self.busy
        chosen = self.chosen()
        payable = chosen is not None and chosen.status is InvoiceStatus.OPEN
        self.new_button.setEnabled(ready)
        self.visit_button.setEnabled(ready)
        self.pay_button.setEnabled(ready and payable)
        self.void_button.setEnabled(ready and payable)
        self.receipt_button.setEnabled(ready and chosen is not None and bool(chosen.payments))
        self.statement_button.setEnabled(ready)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
