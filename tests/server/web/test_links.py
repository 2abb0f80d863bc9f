"""Booking links and manage links as the patient opens them, over TestClient on both
databases: reading changes nothing, booking happens once, closed links are friendly,
verification is throttled, moves go through the booking guarantee."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.appointments import AppointmentSource, AppointmentStatus
from common.booking_links import BookingLinkStatus
from common.messaging import Channel, Direction
from server.booking_links import patient as links
from server.booking_links.models import BookingLink, BookingLinkEvent, ManageLink
from server.db import transaction
from server.messaging.dispatcher import Dispatcher
from server.messaging.models import Delivery, DevOutboxEntry, Message
from server.patients.models import Patient
from server.scheduling.models import Appointment
from server.web.models import PracticeProfile
from tests.server.conftest import Factory
from tests.server.web import linkmaker
from tests.server.web.conftest import csrf_of, submit

SLOT = re.compile(r'name="slot" value="([^"]+)"')
SAME_SITE = {"sec-fetch-site": "same-origin", "origin": "https://testserver"}


@pytest.fixture
def where(factory: Factory, db: sessionmaker[Session]) -> linkmaker.Practice:
    clinic = factory.clinic("north")
    with transaction(db) as session:
        return linkmaker.practice(session, clinic.id)


def make(db: sessionmaker[Session], maker: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    with transaction(db) as session:
        return maker(session, *args, **kw)


def rows(db: sessionmaker[Session]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a patient's page could change, as plain values."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with db() as session:
        for model in (BookingLink, BookingLinkEvent, ManageLink, Appointment):
            table = model.__table__  # type: ignore[attr-defined]
            found[table.name] = sorted(
                tuple(str(v) for v in row) for row in session.execute(select(table)).all()
            )
    return found


def first_slot(web: TestClient, url: str) -> str:
    page = web.get(url)
    assert page.status_code == 200, page.text
    found = SLOT.findall(page.text)
    assert found, "no free times offered"
    return found[0]


def post(web: TestClient, url: str, page: str, **fields: Any) -> Any:
    """POST to ``url`` with the CSRF token of ``page`` (any page with a form: the token
    goes with the browser's cookie, not with the form)."""
    token = csrf_of(web.get(page))
    return web.post(
        url, data={"csrf_token": token, **fields}, headers=SAME_SITE, follow_redirects=False
    )


def verify(web: TestClient, token: str, born: str = linkmaker.BORN.isoformat()) -> Any:
    return submit(web, f"/m/{token}", action=f"/m/{token}/verify", date_of_birth=born)


# --- reading changes nothing ----------------------------------------------------------


def test_get_and_head_of_every_token_page_change_nothing(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token, _ = make(db, linkmaker.booking_link, where)
    manage, _ = make(db, linkmaker.booked, where, starts_in=timedelta(days=3))
    slot = first_slot(web, f"/l/{token}/times")
    assert verify(web, manage).status_code == 303  # the cookie, so the manage pages show
    before = rows(db)
    urls = [
        f"/l/{token}",
        f"/l/{token}/times",
        f"/l/{token}/review?slot={slot}",
        f"/m/{manage}",
        f"/m/{manage}/appointment",
        f"/m/{manage}/times",
    ]
    for url in urls:
        for method in ("GET", "HEAD"):
            answer = web.request(method, url, follow_redirects=False)
            assert answer.status_code == 200, (method, url, answer.text)
            assert answer.headers["cache-control"] == "no-store"
            assert answer.headers["referrer-policy"] == "no-referrer"
    assert rows(db) == before
    link = make(db, linkmaker.link_of, _link_id(db, token))
    assert link.status is BookingLinkStatus.SENT
    assert link.accessed_at is None


def _link_id(db: sessionmaker[Session], token: str) -> uuid.UUID:
    with db() as session:
        found = links.find_link(session, token)
        assert found is not None
        return found.id


# --- booking ---------------------------------------------------------------------------


def test_book_through_a_link_once(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token, link_id = make(db, linkmaker.booking_link, where)
    welcome = web.get(f"/l/{token}")
    assert welcome.status_code == 200
    assert "We look forward to seeing you again." in welcome.text
    assert "Continue to book appointment" in welcome.text
    started = submit(web, f"/l/{token}", action=f"/l/{token}/start")
    assert started.status_code == 303
    assert started.headers["location"] == f"/l/{token}/times"
    link = make(db, linkmaker.link_of, link_id)
    assert link.status is BookingLinkStatus.ACCESSED
    assert link.accessed_at is not None

    slot = first_slot(web, f"/l/{token}/times")
    provider_id, starts_at = links.parse_slot(slot) or (None, None)
    review_url = f"/l/{token}/review?slot={slot}"
    review = web.get(review_url)
    assert review.status_code == 200
    assert "Confirm appointment" in review.text
    done = submit(web, review_url, action=f"/l/{token}/confirm", slot=slot)
    assert done.status_code == 303
    assert done.headers["location"] == f"/l/{token}"
    # A double click: the second press finds it booked, and books nothing more.
    again = web.post(
        f"/l/{token}/confirm",
        data={"csrf_token": csrf_of(review), "slot": slot},
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert again.status_code == 303

    confirmation = web.get(f"/l/{token}")
    assert confirmation.status_code == 200
    assert "Your appointment is booked" in confirmation.text
    assert "Please bring your exercise sheet." in confirmation.text
    assert "Tell us a day ahead." in confirmation.text
    assert linkmaker.CLINIC_PHONE in confirmation.text
    assert "Continue to book appointment" not in confirmation.text
    # Back to the times: the booking screen is not entered a second time.
    assert web.get(f"/l/{token}/times", follow_redirects=False).status_code == 303

    with db() as session:
        [appointment] = session.scalars(
            select(Appointment).where(Appointment.patient_id == where.patient_id)
        ).all()
        assert appointment.source is AppointmentSource.LINK
        assert appointment.status is AppointmentStatus.CONFIRMED
        assert (appointment.provider_id, appointment.starts_at) == (provider_id, starts_at)
        link = session.get(BookingLink, link_id)
        assert link is not None
        assert link.status is BookingLinkStatus.BOOKED
        assert link.appointment_id == appointment.id
        assert link.booked_at is not None
        events = session.scalars(
            select(BookingLinkEvent).where(BookingLinkEvent.link_id == link_id)
        ).all()
        assert [e.status for e in sorted(events, key=lambda e: e.at)] == [
            BookingLinkStatus.SENT,
            BookingLinkStatus.ACCESSED,
            BookingLinkStatus.BOOKED,
        ]
        booked_event = next(e for e in events if e.status is BookingLinkStatus.BOOKED)
        assert booked_event.starts_at == starts_at
        assert booked_event.provider_id == provider_id
        [manage] = session.scalars(select(ManageLink)).all()
        assert manage.appointment_id == appointment.id
        assert manage.expires_at == appointment.ends_at + timedelta(days=1)
        assert manage.allow_reschedule
        [message] = session.scalars(
            select(Message).where(Message.patient_id == where.patient_id)
        ).all()
        deliveries = session.scalars(
            select(Delivery).where(Delivery.message_id == message.id)
        ).all()
        sms = [d for d in deliveries if d.channel is Channel.SMS]
        assert len(sms) == 1  # one text for one booking
        assert {d.channel for d in deliveries} == {Channel.SMS, Channel.EMAIL}
        local = starts_at.astimezone(where.zone) if starts_at else None
        assert local is not None
        assert f"{local:%H:%M}" in sms[0].text
        assert "/m/" in sms[0].text
        manage_token = sms[0].text.rsplit("/m/", 1)[1]
        assert links.find_manage(session, manage_token) is not None


def test_a_time_taken_meanwhile_goes_back_to_the_times(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token, link_id = make(db, linkmaker.booking_link, where)
    submit(web, f"/l/{token}", action=f"/l/{token}/start")
    slot = first_slot(web, f"/l/{token}/times")
    parsed = links.parse_slot(slot)
    assert parsed is not None
    provider_id, starts_at = parsed
    review_url = f"/l/{token}/review?slot={slot}"
    assert web.get(review_url).status_code == 200
    with transaction(db) as session:  # someone else books it at the desk
        other = Patient(clinic_id=where.clinic_id, first_name="O", last_name="T")
        session.add(other)
        session.flush()
        session.add(
            Appointment(
                clinic_id=where.clinic_id,
                provider_id=provider_id,
                patient_id=other.id,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=30),
            )
        )
    refused = post(web, f"/l/{token}/confirm", f"/l/{token}", slot=slot)
    assert refused.status_code == 409
    assert "just been taken" in refused.text
    assert 'name="slot"' in refused.text  # the other times, to choose again
    assert slot not in refused.text
    link = make(db, linkmaker.link_of, link_id)
    assert link.status is BookingLinkStatus.ACCESSED  # still open
    with db() as session:
        mine = session.scalars(
            select(Appointment).where(Appointment.patient_id == where.patient_id)
        ).all()
        assert mine == []
    # The review of a time no longer free says so as well.
    assert web.get(review_url).status_code == 409


def test_bad_choices_are_pages_not_errors(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token, _ = make(db, linkmaker.booking_link, where)
    assert web.get(f"/l/{token}/review").status_code == 422
    assert web.get(f"/l/{token}/review?slot=nonsense").status_code == 422
    assert web.get(f"/l/{token}/review?slot={uuid.uuid4()}.99999999999999").status_code == 422
    assert web.get(f"/l/{token}/times?week=notaday").status_code == 200
    far = f"{where.provider_ids[0]}.{int(datetime(2031, 1, 1, tzinfo=UTC).timestamp())}"
    assert web.get(f"/l/{token}/review?slot={far}").status_code == 409
    iso = f"/l/{token}/review?provider={where.provider_ids[0]}&start=2031-01-01T10:00:00%2B00:00"
    assert web.get(iso).status_code == 409
    assert post(web, f"/l/{token}/confirm", f"/l/{token}", slot="x").status_code == 422


# --- closed and unknown links -----------------------------------------------------------


@pytest.mark.parametrize("how", ["time passed", "staff expired", "deleted"])
def test_closed_link_is_friendly_and_asks_for_a_new_one(
    how: str, web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    options: dict[str, Any] = {
        "time passed": {"expires_in": timedelta(minutes=-1)},
        "staff expired": {"status": BookingLinkStatus.EXPIRED},
        "deleted": {"status": BookingLinkStatus.DELETED},
    }[how]
    token, link_id = make(db, linkmaker.booking_link, where, **options)
    page = web.get(f"/l/{token}")
    assert page.status_code == 410
    assert linkmaker.CLINIC_PHONE in page.text
    assert "Ask for a new link" in page.text
    assert "Continue to book appointment" not in page.text
    assert web.get(f"/l/{token}/times", follow_redirects=False).status_code == 303
    assert post(web, f"/l/{token}/start", f"/l/{token}").status_code == 303  # back to this page
    asked = post(web, f"/l/{token}/renew", f"/l/{token}")
    assert asked.status_code == 200
    assert "We have told the clinic" in asked.text
    post(web, f"/l/{token}/renew", f"/l/{token}")  # pressed twice: one note
    with db() as session:
        [note] = session.scalars(
            select(Message).where(Message.patient_id == where.patient_id)
        ).all()
        assert note.direction is Direction.IN
        assert note.read_at is None
        assert note.kind == links.LINK_REQUEST_KIND
        assert "asked for a new booking link" in note.body
        link = session.get(BookingLink, link_id)
        assert link is not None
        assert link.appointment_id is None


def test_unknown_tokens_get_the_generic_page(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token, _ = make(db, linkmaker.booking_link, where)  # a page with a form, for its token
    for url in (
        "/l/not-a-real-token-at-all-000000",
        "/l/x",
        "/l/%3Cscript%3E",
        "/l/not-a-real-token-at-all-000000/times",
        "/m/not-a-real-token-at-all-000000",
        "/m/not-a-real-token-at-all-000000/appointment",
    ):
        page = web.get(url)
        assert page.status_code == 404, url
        assert "There is nothing at this address" in page.text
        assert linkmaker.CLINIC_PHONE not in page.text
    unknown = "/l/not-a-real-token-at-all-000000"
    assert post(web, f"{unknown}/renew", f"/l/{token}").status_code == 404
    assert post(web, f"{unknown}/confirm", f"/l/{token}", slot="x.1").status_code == 404
    verified = post(web, "/m/not-a-real-token-at-all-000000/verify", f"/l/{token}", code="1")
    assert verified.status_code == 404


def test_patient_and_clinic_texts_are_escaped(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    with transaction(db) as session:
        profile = session.scalar(select(PracticeProfile))
        assert profile is not None
        profile.display_name = "<script>alert('name')</script>"
    token, _ = make(
        db,
        linkmaker.booking_link,
        where,
        welcome_text="<script>alert('welcome')</script>",
        confirmation_text="<script>alert('thanks')</script>",
    )
    welcome = web.get(f"/l/{token}")
    assert "&lt;script&gt;alert(&#39;welcome&#39;)" in welcome.text
    assert "&lt;script&gt;alert(&#39;name&#39;)" in welcome.text
    assert "<script>" not in welcome.text
    submit(web, f"/l/{token}", action=f"/l/{token}/start")
    slot = first_slot(web, f"/l/{token}/times")
    submit(web, f"/l/{token}/review?slot={slot}", action=f"/l/{token}/confirm", slot=slot)
    booked = web.get(f"/l/{token}")
    assert "Your appointment is booked" in booked.text
    assert "&lt;script&gt;alert(&#39;thanks&#39;)" in booked.text
    assert "<script>" not in booked.text


# --- manage links: verifying ------------------------------------------------------------


def test_date_of_birth_opens_the_appointment(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token, _ = make(db, linkmaker.booked, where, starts_in=timedelta(days=3))
    assert web.get(f"/m/{token}/appointment", follow_redirects=False).headers["location"] == (
        f"/m/{token}"
    )
    wrong = verify(web, token, "1990-01-01")
    assert wrong.status_code == 422
    assert "does not match" in wrong.text
    assert 'value="1990-01-01"' in wrong.text  # what was typed is kept
    opened = verify(web, token, "17/05/1984")
    assert opened.status_code == 303
    assert opened.headers["location"] == f"/m/{token}/appointment"
    cookie = opened.headers["set-cookie"]
    assert cookie.startswith("__Host-clinicdesk-manage=")
    for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
        assert flag in cookie
    page = web.get(f"/m/{token}/appointment")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "Dr Ada Brook" in page.text
    assert "Please bring your exercise sheet." in page.text
    assert ">Reschedule<" in page.text


def test_too_many_wrong_dates_are_refused(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token, _ = make(db, linkmaker.booked, where, starts_in=timedelta(days=3))
    for _ in range(5):
        assert verify(web, token, "1990-01-01").status_code == 422
    refused = verify(web, token, linkmaker.BORN.isoformat())  # even the right one, now
    assert refused.status_code == 429
    assert "retry-after" in refused.headers
    assert "Too many tries" in refused.text


def test_a_code_by_text_opens_the_appointment(
    app: FastAPI, web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token, _ = make(db, linkmaker.booked, where, starts_in=timedelta(days=3))
    sent = submit(web, f"/m/{token}", action=f"/m/{token}/code")
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/m/{token}?code=sent"
    assert "Code from the text" in web.get(sent.headers["location"]).text
    Dispatcher(app.state.database, {}).drain()
    with db() as session:
        [entry] = session.scalars(select(DevOutboxEntry)).all()
        assert entry.to_address == "+447400900123"
        code = re.search(r"\b(\d{6})\b", entry.text)
        assert code is not None
        stored = session.scalar(select(ManageLink.code_hash))
        assert stored is not None
        assert code.group(1) not in stored
    wrong = submit(
        web,
        f"/m/{token}",
        action=f"/m/{token}/verify",
        code="000000" if code.group(1) != "000000" else "111111",
    )
    assert wrong.status_code == 422
    opened = submit(web, f"/m/{token}", action=f"/m/{token}/verify", code=code.group(1))
    assert opened.status_code == 303
    assert web.get(f"/m/{token}/appointment").status_code == 200
    # A code works once.
    web.cookies.clear()
    again = submit(web, f"/m/{token}", action=f"/m/{token}/verify", code=code.group(1))
    assert again.status_code == 422
    # At most three codes a link an hour.
    for _ in range(2):
        assert submit(web, f"/m/{token}", action=f"/m/{token}/code").status_code == 303
    assert submit(web, f"/m/{token}", action=f"/m/{token}/code").status_code == 429


def test_the_cookie_of_another_link_opens_nothing(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    first, _ = make(db, linkmaker.booked, where, starts_in=timedelta(days=3))
    second, _ = make(db, linkmaker.booked, where, starts_in=timedelta(days=4), provider=1)
    assert verify(web, first).status_code == 303
    assert web.get(f"/m/{first}/appointment").status_code == 200
    other = web.get(f"/m/{second}/appointment", follow_redirects=False)
    assert other.status_code == 303
    assert other.headers["location"] == f"/m/{second}"
    forged = web.cookies.get("__Host-clinicdesk-manage")
    assert forged is not None
    link_id, until, _mac = forged.split(".")
    web.cookies.set("__Host-clinicdesk-manage", f"{link_id}.{int(until) + 9999}.{'0' * 64}")
    assert web.get(f"/m/{first}/appointment", follow_redirects=False).status_code == 303


# --- manage links: moving ---------------------------------------------------------------


def test_reschedule_to_another_provider_tells_the_desk(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token, appointment_id = make(db, linkmaker.booked, where, starts_in=timedelta(days=3))
    verify(web, token)
    page = web.get(f"/m/{token}/times")
    assert page.status_code == 200
    other = str(where.provider_ids[1])
    choice = next(value for value in SLOT.findall(page.text) if value.startswith(other))
    moved = submit(web, f"/m/{token}/times", action=f"/m/{token}/reschedule", slot=choice)
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/m/{token}/appointment?moved=1"
    shown = web.get(moved.headers["location"])
    assert "Your appointment has been moved" in shown.text
    assert "Dr Ben Carr" in shown.text
    parsed = links.parse_slot(choice)
    assert parsed is not None
    with db() as session:
        appointment = session.get(Appointment, appointment_id)
        assert appointment is not None
        assert (appointment.provider_id, appointment.starts_at) == parsed
        assert f"{parsed[1].astimezone(where.zone):%H:%M}" in shown.text
        [note] = session.scalars(
            select(Message).where(Message.kind == links.STAFF_NOTICE_KIND)
        ).all()
        assert note.direction is Direction.IN
        assert note.read_at is None
        assert note.patient_id == where.patient_id
        assert "Dr Ben Carr" in note.body
        assert "moved from Dr Ada Brook" in note.body
        # The patient is told the new time (their text and calendar name the old one).
        confirmations = session.scalars(
            select(Message).where(
                Message.kind == "confirmation", Message.appointment_id == appointment.id
            )
        ).all()
        assert confirmations
        link = session.scalar(
            select(BookingLink).where(BookingLink.appointment_id == appointment_id)
        )
        assert link is not None
        assert link.status is BookingLinkStatus.RESCHEDULED
        manage = session.scalar(select(ManageLink))
        assert manage is not None
        assert manage.expires_at == appointment.ends_at + timedelta(days=1)


def test_no_reschedule_inside_the_cut_off(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token, appointment_id = make(db, linkmaker.booked, where, starts_in=timedelta(hours=3))
    verify(web, token)
    page = web.get(f"/m/{token}/appointment")
    assert page.status_code == 200
    assert "up to 24 hours before" in page.text
    assert linkmaker.CLINIC_PHONE in page.text
    assert ">Reschedule<" not in page.text
    assert web.get(f"/m/{token}/times", follow_redirects=False).status_code == 303
    slot = f"{where.provider_ids[1]}.{int((datetime.now(UTC) + timedelta(days=3)).timestamp())}"
    refused = post(web, f"/m/{token}/reschedule", f"/m/{token}", slot=slot)
    assert refused.status_code == 422
    with db() as session:
        appointment = session.get(Appointment, appointment_id)
        assert appointment is not None
        assert appointment.provider_id == where.provider_ids[0]


def test_a_cancelled_appointment_says_so(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token, appointment_id = make(db, linkmaker.booked, where, starts_in=timedelta(days=3))
    with transaction(db) as session:
        appointment = session.get(Appointment, appointment_id)
        assert appointment is not None
        appointment.status = AppointmentStatus.CANCELLED
    verify(web, token)
    page = web.get(f"/m/{token}/appointment")
    assert "This appointment was cancelled" in page.text
    assert ">Reschedule<" not in page.text
    assert linkmaker.CLINIC_PHONE in page.text


def test_forms_sent_under_no_referrer_are_accepted_from_this_site_only(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    """Pages here send ``Referrer-Policy: no-referrer``, under which Chromium posts a
    form with ``Origin: null``; Sec-Fetch-Site tells this site's own forms apart."""
    token, link_id = make(db, linkmaker.booking_link, where)
    csrf = csrf_of(web.get(f"/l/{token}"))
    foreign = web.post(
        f"/l/{token}/start",
        data={"csrf_token": csrf},
        headers={"origin": "null", "sec-fetch-site": "cross-site"},
        follow_redirects=False,
    )
    assert foreign.status_code == 403
    unknown = web.post(f"/l/{token}/start", data={"csrf_token": csrf}, headers={"origin": "null"})
    assert unknown.status_code == 403
    assert make(db, linkmaker.link_of, link_id).status is BookingLinkStatus.SENT
    own = web.post(
        f"/l/{token}/start",
        data={"csrf_token": csrf},
        headers={"origin": "null", "sec-fetch-site": "same-origin"},
        follow_redirects=False,
    )
    assert own.status_code == 303
    assert make(db, linkmaker.link_of, link_id).status is BookingLinkStatus.ACCESSED
