"""Bills at the desk, against a real server (the demo clinic, served): the Bills tab of a
patient's file issues an invoice typed line by line, takes payments in cash and by card,
voids with a reason, invoices a completed appointment at its type's price (refused in the
server's words, inside the dialog, while the type has no price), saves the receipt and
the statement as PDF; says so calmly when the server is out of reach; shows read-only
staff the bills without the buttons; and Settings → Prices sets a price for admins."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.appointments import AppointmentStatus
from common.billing import InvoiceStatus, PaymentMethod
from common.roles import Role
from desktop.kit.ops import ChangeHub
from desktop.kit.tasks import TaskRunner
from desktop.patients.bills import OFFLINE, BillsTab
from desktop.patients.page import PatientsPage
from desktop.settings.page import SettingsPage
from server.billing.models import Invoice, Payment, TypePrice
from server.clinics.models import Clinic
from server.db import transaction
from server.demo import ADMIN, DEMO_TIME_ZONE, FRONT_DESK, DemoLogin
from server.patients.models import Patient
from server.scheduling.models import Appointment, AppointmentType
from server.staff.models import StaffUser
from sync import account
from sync.account import Desk
from tests.support.live_server import LiveServer
from tests.support.passwords import cheap_password_hash

pytestmark = pytest.mark.qt
WAIT_MS = 20_000  # a deadline for what must happen, with room for a loaded CI worker
LEFT = Qt.MouseButton.LeftButton
ZONE = ZoneInfo(DEMO_TIME_ZONE)
READER = DemoLogin("reader@demo.clinic", "reader-demo-1", Role.READ_ONLY, "Riley Reader")


def signed_in(server: LiveServer, folder: Path, who: DemoLogin) -> Desk:
    return account.sign_in(folder, server.url, "demo", who.email, who.password)


@pytest.fixture
def reception(live_server: LiveServer, tmp_path: Path) -> Iterator[Desk]:
    desk = signed_in(live_server, tmp_path / "reception", FRONT_DESK)
    yield desk
    desk.store.close()


def bills_tab(qtbot: QtBot, runner: TaskRunner, desk: Desk, patient_id: uuid.UUID) -> BillsTab:
    page = PatientsPage(ChangeHub(runner), desk.store, ZONE, author=desk.author, country="GB")
    qtbot.addWidget(page)
    page.bills.set_desk(desk)
    page.show()
    page.file.tabs.setCurrentWidget(page.bills)
    page.open_patient(patient_id)
    tab = page.bills
    qtbot.waitUntil(lambda: tab.record is not None, timeout=WAIT_MS)
    return tab


def a_patient(server: LiveServer) -> uuid.UUID:
    with server.sessionmaker() as session:
        return session.scalars(select(Patient.id).order_by(Patient.id).limit(1)).one()


def invoices_of(server: LiveServer, patient_id: uuid.UUID) -> list[Invoice]:
    with server.sessionmaker() as session:
        rows = list(
            session.scalars(
                select(Invoice).where(Invoice.patient_id == patient_id).order_by(Invoice.sequence)
            )
        )
        for row in rows:
            session.expunge(row)
        return rows


def ok(qtbot: QtBot, tab: BillsTab) -> None:
    """Press OK in the dialog open, and wait for the server's answer to close it."""
    dialog = tab.dialog
    assert dialog is not None
    qtbot.mouseClick(dialog.ok_button, LEFT)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)


def test_an_invoice_typed_paid_in_two_parts_and_its_papers(
    qtbot: QtBot, live_server: LiveServer, reception: Desk, runner: TaskRunner, tmp_path: Path
) -> None:
    patient_id = a_patient(live_server)
    tab = bills_tab(qtbot, runner, reception, patient_id)
    assert tab.balance.text() == "Balance: nothing to pay."
    assert tab.invoices.rowCount() == 0

    # A line that is not an amount is refused in the dialog, which stays open.
    dialog = tab.new_invoice()
    assert dialog is not None
    dialog.lines.item(0, 0).setText("Physiotherapy, 60 minutes")
    dialog.lines.item(0, 1).setText("sixty")
    qtbot.mouseClick(dialog.ok_button, LEFT)
    assert dialog.isVisible()
    assert "“sixty” is not an amount" in dialog.problem.text()
    dialog.lines.item(0, 1).setText("£45.50")
    dialog.add_line("Exercise band", "12")
    assert dialog.total.text() == "Total: £57.50"
    ok(qtbot, tab)
    qtbot.waitUntil(lambda: tab.invoices.rowCount() == 1, timeout=WAIT_MS)
    [made] = invoices_of(live_server, patient_id)
    assert (made.number, made.total_minor) == ("INV-00001", 5750)
    assert tab.invoices.index(0, 3).data() == "£57.50"
    assert tab.balance.text() == "Balance: £57.50 to pay."
    assert "Invoice INV-00001 issued for £57.50" in tab.message.text()

    # More than is due is refused in the dialog; then £20 cash, then the rest by card.
    tab.table.selectRow(0)
    paying = tab.record_payment()
    assert paying is not None
    assert paying.amount.text() == "57.50"
    paying.amount.setText("100")
    qtbot.mouseClick(paying.ok_button, LEFT)
    assert "Only £57.50 is still due on INV-00001" in paying.problem.text()
    paying.amount.setText("20")
    ok(qtbot, tab)
    qtbot.waitUntil(lambda: tab.invoices.index(0, 4).data() == "£37.50", timeout=WAIT_MS)
    tab.table.selectRow(0)
    rest = tab.record_payment()
    assert rest is not None
    rest.method.setCurrentIndex(rest.method.findData(PaymentMethod.CARD_DESK.value))
    ok(qtbot, tab)
    qtbot.waitUntil(lambda: tab.invoices.index(0, 5).data() == "Paid", timeout=WAIT_MS)
    assert tab.balance.text() == "Balance: nothing to pay."
    with live_server.sessionmaker() as session:
        methods = sorted(p.method for p in session.scalars(select(Payment)))
    assert methods == sorted([PaymentMethod.CASH, PaymentMethod.CARD_DESK])

    # The papers, saved where staff choose.
    tab.table.selectRow(0)
    receipt = tmp_path / "receipt.pdf"
    tab.choose_file = lambda suggested: (
        str(receipt) if suggested == "receipt-INV-00001.pdf" else None
    )
    qtbot.mouseClick(tab.receipt_button, LEFT)
    qtbot.waitUntil(lambda: tab.message.text() == f"Saved to {receipt}.", timeout=WAIT_MS)
    text = PdfReader(io.BytesIO(receipt.read_bytes())).pages[0].extract_text()
    assert "Demo Clinic" in text
    assert "£37.50" in text
    assert "Card at the desk" in text
    statement = tmp_path / "statement.pdf"
    tab.choose_file = lambda _suggested: str(statement)
    qtbot.mouseClick(tab.statement_button, LEFT)
    qtbot.waitUntil(lambda: tab.message.text() == f"Saved to {statement}.", timeout=WAIT_MS)
    text = PdfReader(io.BytesIO(statement.read_bytes())).pages[0].extract_text()
    assert "Statement" in text
    assert "Balance to pay £0.00" in text


def test_voiding_asks_for_the_reason(
    qtbot: QtBot, live_server: LiveServer, reception: Desk, runner: TaskRunner
) -> None:
    patient_id = a_patient(live_server)
    tab = bills_tab(qtbot, runner, reception, patient_id)
    dialog = tab.new_invoice()
    assert dialog is not None
    dialog.lines.item(0, 0).setText("Consultation")
    dialog.lines.item(0, 1).setText("45")
    ok(qtbot, tab)
    qtbot.waitUntil(lambda: tab.invoices.rowCount() == 1, timeout=WAIT_MS)
    tab.table.selectRow(0)
    voiding = tab.void()
    assert voiding is not None
    qtbot.mouseClick(voiding.ok_button, LEFT)
    assert "Say why" in voiding.problem.text()
    voiding.reason.setText("Issued to the wrong patient")
    ok(qtbot, tab)
    qtbot.waitUntil(
        lambda: tab.invoices.index(0, 5).data() == "Void: Issued to the wrong patient",
        timeout=WAIT_MS,
    )
    [void] = invoices_of(live_server, patient_id)
    assert void.status is InvoiceStatus.VOID


def test_a_completed_appointment_is_invoiced_once_its_type_has_a_price(
    qtbot: QtBot, live_server: LiveServer, reception: Desk, runner: TaskRunner
) -> None:
    with live_server.sessionmaker() as session:
        visit, kind = session.execute(
            select(Appointment, AppointmentType)
            .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
            .where(Appointment.status == AppointmentStatus.COMPLETED)
            .order_by(Appointment.starts_at.desc())
            .limit(1)
        ).one()
        patient_id, kind_id, kind_name = visit.patient_id, kind.id, kind.name
    tab = bills_tab(qtbot, runner, reception, patient_id)
    assert tab.record is not None
    offered = [v for v in tab.record.uninvoiced if v.appointment_id == visit.id]
    assert offered
    assert offered[0].price_minor is None

    dialog = tab.invoice_appointment()
    assert dialog is not None
    dialog.choice.setCurrentIndex(tab.record.uninvoiced.index(offered[0]))
    assert dialog.choice.currentText().endswith(f"{kind_name} — no price set")
    qtbot.mouseClick(dialog.ok_button, LEFT)
    qtbot.waitUntil(lambda: "has no price yet" in dialog.problem.text(), timeout=WAIT_MS)
    assert dialog.isVisible()
    assert "Settings → Prices" in dialog.problem.text()

    with transaction(live_server.sessionmaker) as session:
        clinic_id = session.scalars(select(Clinic.id)).one()
        session.add(
            TypePrice(
                clinic_id=clinic_id, appointment_type_id=kind_id, amount_minor=6000, currency="GBP"
            )
        )
    ok(qtbot, tab)

    def invoiced() -> bool:
        record = tab.record
        return record is not None and any(i.appointment_id == visit.id for i in record.invoices)

    qtbot.waitUntil(invoiced, timeout=WAIT_MS)
    [made] = invoices_of(live_server, patient_id)
    assert made.appointment_id == visit.id
    assert made.total_minor == 6000


def test_the_tab_says_so_calmly_when_the_server_is_out_of_reach(
    qtbot: QtBot, live_server: LiveServer, reception: Desk, runner: TaskRunner
) -> None:
    patient_id = a_patient(live_server)
    tab = bills_tab(qtbot, runner, reception, patient_id)
    live_server.stop()
    try:
        tab.refresh()
        qtbot.waitUntil(lambda: tab.message.text() == OFFLINE, timeout=WAIT_MS)
        dialog = tab.new_invoice()
        assert dialog is not None
        dialog.lines.item(0, 0).setText("Consultation")
        dialog.lines.item(0, 1).setText("45")
        qtbot.mouseClick(dialog.ok_button, LEFT)
        qtbot.waitUntil(lambda: dialog.problem.text() == OFFLINE, timeout=WAIT_MS)
        assert dialog.isVisible()
        assert dialog.ok_button.isEnabled(), "OK again once the line is back"
    finally:
        live_server.start_again()
    # The same dialog, sent again: one invoice, not two.
    ok(qtbot, tab)
    qtbot.waitUntil(lambda: tab.invoices.rowCount() == 1, timeout=WAIT_MS)
    assert tab.message.text() != OFFLINE
    assert len(invoices_of(live_server, patient_id)) == 1


def test_read_only_staff_see_bills_without_the_buttons(
    qtbot: QtBot, live_server: LiveServer, runner: TaskRunner, tmp_path: Path
) -> None:
    with transaction(live_server.sessionmaker) as session:
        clinic = session.scalars(select(Clinic)).one()
        session.add(
            StaffUser(
                clinic_id=clinic.id,
                email=READER.email,
                display_name=READER.display_name,
                password_hash=cheap_password_hash(READER.password),
                role=READER.role,
            )
        )
    reader = signed_in(live_server, tmp_path / "reader", READER)
    try:
        tab = bills_tab(qtbot, runner, reader, a_patient(live_server))
        for button in tab.manage_buttons:
            assert button.isHidden()
        assert not tab.statement_button.isHidden()
        assert tab.statement_button.isEnabled()
    finally:
        reader.store.close()


def test_money_taken_online_that_no_bill_could_take_is_told_to_refund(
    qtbot: QtBot, live_server: LiveServer, runner: TaskRunner, reception: Desk
) -> None:
    patient_id = a_patient(live_server)
    now = datetime.now(UTC)
    with transaction(live_server.sessionmaker) as session:
        clinic = session.scalars(select(Clinic)).one()
        invoice = Invoice(
            clinic_id=clinic.id,
            sequence=1,
            number="INV-00001",
            patient_id=patient_id,
            lines=[{"description": "Visit", "amount_minor": 4500}],
            total_minor=4500,
            currency="GBP",
            issued_at=now,
            due_on=now.date(),
            status=InvoiceStatus.PAID,
            paid_at=now,
        )
        session.add(invoice)
        session.flush()
        for method, reason, reference in (
            (PaymentMethod.CASH, "", None),
            (
                PaymentMethod.CARD_ONLINE,
                "paid online after the bill was settled",
                "cs_test_late",
            ),
        ):
            session.add(
                Payment(
                    clinic_id=clinic.id,
                    invoice_id=invoice.id,
                    patient_id=patient_id,
                    amount_minor=4500,
                    currency="GBP",
                    method=method,
                    provider_reference=reference,
                    received_at=now,
                    refund_reason=reason,
                )
            )
    tab = bills_tab(qtbot, runner, reception, patient_id)
    qtbot.waitUntil(lambda: tab.invoices.rowCount() == 1, timeout=WAIT_MS)
    assert tab.balance.text() == "Balance: nothing to pay."
    assert tab.refunds.isVisibleTo(tab)
    assert tab.refunds.text() == (
        "£45.00 paid online after the bill was settled (INV-00001): refund it in Stripe."
    )


def test_admins_set_prices_in_settings(
    qtbot: QtBot, live_server: LiveServer, runner: TaskRunner, tmp_path: Path, reception: Desk
) -> None:
    front = SettingsPage(ChangeHub(runner), reception, ZONE)
    qtbot.addWidget(front)
    assert not front.tabs.isTabVisible(front.tabs.indexOf(front.prices))

    admin = signed_in(live_server, tmp_path / "admin", ADMIN)
    try:
        settings = SettingsPage(ChangeHub(runner), admin, ZONE)
        qtbot.addWidget(settings)
        settings.show()
        tab = settings.prices
        assert settings.tabs.isTabVisible(settings.tabs.indexOf(tab))
        settings.tabs.setCurrentWidget(tab)
        qtbot.waitUntil(lambda: tab.table.rowCount() > 0, timeout=WAIT_MS)
        names = [tab.table.item(r, 0).text() for r in range(tab.table.rowCount())]
        row = names.index("Consultation")
        assert tab.table.item(row, 1).text() == ""

        tab.table.item(row, 1).setText("€45")
        qtbot.mouseClick(tab.save_button, LEFT)
        assert "this clinic bills in GBP" in tab.message.text()
        tab.table.item(row, 1).setText("45")
        qtbot.mouseClick(tab.save_button, LEFT)
        qtbot.waitUntil(lambda: tab.message.text() == "Prices saved.", timeout=WAIT_MS)
        assert tab.table.item(row, 1).text() == "£45.00"
        with live_server.sessionmaker() as session:
            [price] = session.scalars(select(TypePrice)).all()
            kind = session.get_one(AppointmentType, price.appointment_type_id)
        assert (kind.name, price.amount_minor) == ("Consultation", 4500)

        qtbot.mouseClick(tab.save_button, LEFT)
        assert tab.message.text() == "Nothing changed: there is nothing to save."

        # Another admin prices another type meanwhile; this table still shows it empty.
        other = next(r for r in range(len(names)) if r != row)
        with transaction(live_server.sessionmaker) as session:
            kind = session.get_one(AppointmentType, tab.records[other].appointment_type_id)
            session.add(
                TypePrice(
                    clinic_id=kind.clinic_id,
                    appointment_type_id=kind.id,
                    amount_minor=3000,
                    currency="GBP",
                )
            )
        tab.table.item(row, 1).setText("50")
        qtbot.mouseClick(tab.save_button, LEFT)
        qtbot.waitUntil(lambda: tab.message.text() == "Prices saved.", timeout=WAIT_MS)
        with live_server.sessionmaker() as session:
            amounts = sorted(session.scalars(select(TypePrice.amount_minor)))
        assert amounts == [3000, 5000]  # the other admin's price is kept
    finally:
        admin.store.close()
