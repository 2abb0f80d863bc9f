"""The booking widget over TestClient (both backends): each step, the request it makes
(and never an appointment), its refusals in words, its limits, and what staff then do
with a request from someone who is not a patient yet."""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session, sessionmaker

from common.appointments import AppointmentSource
from common.booking_requests import BookingRequestStatus
from common.messaging import Channel
from common.roles import Role
from server.audit.models import AuditEvent
from server.auth.context import AuthContext
from server.booking_requests.models import BookingRequest
from server.db import Database, transaction, utcnow
from server.messaging.dispatcher import Dispatcher
from server.messaging.models import DevOutboxEntry, Message
from server.patients.models import Patient
from server.scheduling import service as scheduling
from server.scheduling.models import Appointment
from server.web.models import PracticeProfile, RateCounter
from sync.protocol import API_PREFIX
from tests.server.conftest import Factory, MadeClinic
from tests.server.web.conftest import csrf_of
from tests.support.diary import appointment_type, booking_rules, days_ahead, local, working_week

SLUG = "alder-physio"
BOOK = f"/book/{SLUG}"
REQUESTS = f"{API_PREFIX}/booking-requests"
SAME_ORIGIN = {"sec-fetch-site": "same-origin", "origin": "https://testserver"}
DEV_OUTBOX = {Channel.SMS: None, Channel.EMAIL: None}
START = re.compile(r'name="start" value="([^"]+)"')
DAY = days_ahead(5)
APPLICANT = {
    "first_name": "Robin",
    "last_name": "Ash",
    "date_of_birth": "17/05/1980",
    "phone": "07400 912345",
    "email": "robin@example.org",
    "insurance": "Bupa 1234",
    "note": "Sore knee since Sunday",
}


@dataclass
class Widget:
    clinic: MadeClinic
    type_id: uuid.UUID
    providers: list[uuid.UUID]


def _profile(db: sessionmaker[Session], clinic_id: uuid.UUID, slug: str, **fields: Any) -> None:
    values = {"published": True, "booking_enabled": True, **fields}
    with transaction(db) as session:
        session.add(
            PracticeProfile(clinic_id=clinic_id, slug=slug, display_name=slug.title(), **values)
        )


@pytest.fixture
def widget(factory: Factory, db: sessionmaker[Session]) -> Widget:
    clinic = factory.clinic("alder", roles=(Role.FRONT_DESK,), providers=2, patients=1)
    for provider_id in clinic.records.provider_ids:
        working_week(db, provider_id)
    booking_rules(db, clinic.id)
    kind = appointment_type(db, clinic.id, name="Assessment", minutes=30)
    _profile(db, clinic.id, SLUG, phone="020 7946 0000", insurances=["Bupa", "AXA"])
    return Widget(clinic, kind, list(clinic.records.provider_ids))


def _times_url(w: Widget, provider: str | uuid.UUID = "any", week: str | None = None) -> str:
    url = f"{BOOK}/times?type={w.type_id}&provider={provider}"
    return url + (f"&week={week}" if week else "")


def _details_url(w: Widget, start: datetime, provider: str | uuid.UUID = "any") -> str:
    stamp = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    return f"{BOOK}/details?type={w.type_id}&provider={provider}&start={stamp}"


def _post(web: TestClient, page_url: str, **fields: str) -> Any:
    """Open the details page and send its form, its hidden fields as they are."""
    page = web.get(page_url)
    assert page.status_code == 200, page.text
    hidden = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page.text))
    data = {**{k: html.unescape(v) for k, v in hidden.items()}, **APPLICANT, **fields}
    return web.post(f"{BOOK}/details", data=data, headers=SAME_ORIGIN, follow_redirects=False)


def _requests(db: sessionmaker[Session]) -> list[BookingRequest]:
    with db() as session:
        return list(session.scalars(select(BookingRequest).order_by(BookingRequest.created_at)))


def _count(db: sessionmaker[Session], model: Any) -> int:
    with db() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _ctx(clinic: MadeClinic) -> AuthContext:
    login = clinic.front_desk
    return AuthContext(
        clinic_id=clinic.id, device_id=None, staff_id=login.staff_id, role=login.role
    )


def _book(db: sessionmaker[Session], w: Widget, provider: uuid.UUID, start: datetime) -> None:
    with transaction(db) as session:
        scheduling.book(
            session,
            _ctx(w.clinic),
            appointment_id=uuid.uuid4(),
            provider_id=provider,
            patient_id=w.clinic.records.patient_ids[0],
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            source=AppointmentSource.DESK,
        )


# --- the steps ----------------------------------------------------------------------------


def test_each_step_renders_and_the_flow_makes_one_pending_request_and_no_appointment(
    web: TestClient, widget: Widget, db: sessionmaker[Session]
) -> None:
    first = web.get(BOOK)
    assert first.status_code == 200
    assert "Assessment" in first.text
    assert "No preference" in first.text
    assert "frame-ancestors *" in first.headers["content-security-policy"]
    assert "x-frame-options" not in first.headers

    times = web.get(_times_url(widget, widget.providers[0]))
    assert times.status_code == 200
    starts = START.findall(times.text)
    assert starts, "a working week offers times"
    assert "Later week" in times.text

    details = web.get(
        f"{BOOK}/details?type={widget.type_id}&provider={widget.providers[0]}&start={starts[0]}"
    )
    assert details.status_code == 200
    assert details.headers["cache-control"] == "no-store"
    assert "Accepted: Bupa, AXA" in details.text

    sent = _post(
        web,
        f"{BOOK}/details?type={widget.type_id}&provider={widget.providers[0]}&start={starts[0]}",
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"{BOOK}/sent"
    done = web.get(sent.headers["location"])
    assert done.status_code == 200
    assert "Request sent" in done.text
    assert "text or an e-mail" in done.text
    assert "Robin" not in done.text
    assert "Ash" not in done.text

    [made] = _requests(db)
    assert made.status is BookingRequestStatus.PENDING
    assert made.patient_id is None
    assert (made.first_name, made.last_name) == ("Robin", "Ash")
    assert made.date_of_birth is not None
    assert made.date_of_birth.isoformat() == "1980-05-17"
    assert made.phone == "+447400912345"  # E.164, read in the clinic's country
    assert made.email == "robin@example.org"
    assert made.insurance == "Bupa 1234"
    assert made.note == "Sore knee since Sunday"
    assert made.provider_id == widget.providers[0]
    assert made.ip_hash
    assert "testclient" not in made.ip_hash
    assert _count(db, Appointment) == 0
    with db() as session:  # the phone is sealed in the database
        raw = session.execute(
            select(literal_column("phone"))
            .select_from(BookingRequest.__table__)
            .where(BookingRequest.id == made.id)
        ).scalar_one()
    assert "7400912345" not in raw


def test_an_empty_week_says_so_and_offers_the_next_week_with_times(
    web: TestClient, widget: Widget, db: sessionmaker[Session]
) -> None:
    for provider_id in widget.providers:
        working_week(db, provider_id, weekdays=range(0))  # nobody works …
    working_week(db, widget.providers[1], weekdays=range(7))
    # … in the week from DAY + 14 only provider 1 works; provider 0 never.
    page = web.get(_times_url(widget, widget.providers[0]))
    assert page.status_code == 200
    assert "no times offered online this week" in page.text
    assert not START.findall(page.text)
    later = web.get(_times_url(widget, widget.providers[1], week=days_ahead(20).isoformat()))
    assert START.findall(later.text)
    assert "Earlier week" in later.text


def test_validation_keeps_what_was_typed_and_escapes_it(
    web: TestClient, widget: Widget, db: sessionmaker[Session]
) -> None:
    script = "<script>alert(1)</script>"
    page = _post(
        web,
        _details_url(widget, local(DAY, 10)),
        first_name=script,
        last_name=script,
        date_of_birth="31/02/1980",
        phone="12" + script,
        email="not-an-address" + script,
        insurance=script,
        note=script,
    )
    assert page.status_code == 422
    assert "<script>alert" not in page.text
    assert page.text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6
    assert 'class="problems"' in page.text
    assert "Write the date of birth like 17/05/1980." in page.text
    assert "not a valid UK number" in page.text
    assert "That e-mail address is not valid" in page.text
    assert _requests(db) == []
    # Neither contact given: said, and nothing made.
    none = _post(web, _details_url(widget, local(DAY, 10)), phone="", email="")
    assert none.status_code == 422
    assert "Give a mobile number or an e-mail address" in none.text
    assert 'value="Robin"' in none.text
    assert _requests(db) == []


def test_script_in_every_field_is_plain_text_on_the_desk_api(
    web: TestClient, widget: Widget, client: TestClient, factory: Factory
) -> None:
    script = "<script>alert(1)</script>"
    # Names refuse markup outright (they reach every desk's labels), in words.
    refused = _post(web, _details_url(widget, local(DAY, 10)), first_name=script, last_name=script)
    assert refused.status_code == 422
    assert "cannot contain &lt; or &gt;" in refused.text
    sent = _post(
        web,
        _details_url(widget, local(DAY, 10)),
        insurance=script,
        note=script,
    )
    assert sent.status_code == 303
    answer = client.get(REQUESTS, headers=factory.staff_headers(widget.clinic.front_desk))
    assert answer.headers["content-type"].startswith("application/json")
    [record] = answer.json()
    assert record["insurance"] == record["note"] == script
    assert record["patient_id"] is None


def test_a_double_submit_makes_one_request(
    web: TestClient, widget: Widget, db: sessionmaker[Session]
) -> None:
    url = _details_url(widget, local(DAY, 10))
    page = web.get(url)
    key = re.search(r'name="form_key" value="([^"]+)"', page.text)
    assert key
    data = {
        "csrf_token": csrf_of(page),
        "type": str(widget.type_id),
        "provider": "any",
        "start": local(DAY, 10).astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "form_key": key.group(1),
        **APPLICANT,
    }
    for _ in range(2):
        answer = web.post(f"{BOOK}/details", data=data, headers=SAME_ORIGIN, follow_redirects=False)
        assert answer.status_code == 303
    assert len(_requests(db)) == 1


def test_the_twenty_first_request_from_one_address_in_an_hour_is_refused(
    web: TestClient, widget: Widget, db: sessionmaker[Session]
) -> None:
    url = _details_url(widget, local(DAY, 10))
    page = web.get(url)
    data = {
        "csrf_token": csrf_of(page),
        "type": str(widget.type_id),
        "provider": "any",
        "start": local(DAY, 10).astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"),
        **APPLICANT,
    }
    for n in range(20):
        answer = web.post(
            f"{BOOK}/details",
            # Twenty people behind one address (a clinic's own Wi-Fi, say).
            data={
                **data,
                "last_name": f"Ashdown {chr(65 + n)}",
                "form_key": f"key-{n:02d}-abcdefghijklmnop",
            },
            headers=SAME_ORIGIN,
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
    refused = web.post(
        f"{BOOK}/details",
        data={**data, "form_key": "key-20-abcdefghijklmnop"},
        headers=SAME_ORIGIN,
        follow_redirects=False,
    )
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert "Too many booking requests" in refused.text
    assert int(refused.headers["retry-after"]) > 0
    assert len(_requests(db)) == 20


def test_a_time_taken_too_soon_or_too_far_goes_back_to_the_times_in_words(
    web: TestClient, widget: Widget, db: sessionmaker[Session]
) -> None:
    chosen = local(DAY, 10)
    url = _details_url(widget, chosen, widget.providers[0])
    page = web.get(url)
    assert page.status_code == 200
    _book(db, widget, widget.providers[0], chosen)  # someone else takes it meanwhile
    taken = _post(web, url)
    assert taken.status_code == 409
    assert "already has an appointment then" in taken.text
    assert 'name="start"' in taken.text  # the week again, to choose from
    assert 'type="hidden" name="first_name" value="Robin"' in taken.text  # nothing lost
    assert chosen.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ") not in START.findall(taken.text)
    # Choosing another time there sends the request with what was typed.
    again = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', taken.text))
    again["start"] = START.findall(taken.text)[0]
    sent = web.post(f"{BOOK}/details", data=again, headers=SAME_ORIGIN, follow_redirects=False)
    assert sent.status_code == 303
    [made] = _requests(db)
    assert made.first_name == "Robin"

    soon = utcnow() + timedelta(minutes=30)
    soon = soon.replace(minute=(soon.minute // 15) * 15, second=0, microsecond=0)
    too_soon = _post(web, _details_url(widget, soon, widget.providers[0]))
    assert too_soon.status_code == 422
    assert "too soon to book online" in too_soon.text
    far = local(days_ahead(90), 10)
    too_far = _post(web, _details_url(widget, far, widget.providers[0]))
    assert too_far.status_code == 422
    assert "up to 60 days ahead" in too_far.text
    assert len(_requests(db)) == 1


def test_no_preference_books_a_provider_free_then(
    web: TestClient, widget: Widget, db: sessionmaker[Session]
) -> None:
    chosen = local(DAY, 11)
    _book(db, widget, widget.providers[0], chosen)
    times = web.get(_times_url(widget, "any", week=DAY.isoformat()))
    stamp = chosen.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    assert START.findall(times.text).count(stamp) == 1  # each time once
    sent = _post(web, _details_url(widget, chosen, "any"))
    assert sent.status_code == 303
    [made] = _requests(db)
    assert made.provider_id == widget.providers[1]
    _book(db, widget, widget.providers[1], chosen)
    nobody = _post(web, _details_url(widget, chosen, "any"), last_name="Someone-Else")
    assert nobody.status_code == 409
    assert "no longer free" in nobody.text


def test_no_preference_is_not_offered_where_the_clinic_wants_a_choice(
    web: TestClient, factory: Factory, db: sessionmaker[Session]
) -> None:
    clinic = factory.clinic("cedar", providers=1)
    booking_rules(db, clinic.id, allow_any_provider=False)
    kind = appointment_type(db, clinic.id)
    _profile(db, clinic.id, "cedar")
    assert "No preference" not in web.get("/book/cedar").text
    assert web.get(f"/book/cedar/times?type={kind}&provider=any").status_code == 404


def test_what_is_not_there_is_the_same_404_page(
    web: TestClient, widget: Widget, factory: Factory, db: sessionmaker[Session]
) -> None:
    other = factory.clinic("birch", providers=1)
    other_type = appointment_type(db, other.id)
    _profile(db, other.id, "birch", booking_enabled=False)
    offline = appointment_type(db, widget.clinic.id, name="Surgery", bookable_online=False)
    answers = [
        web.get("/book/no-such-clinic"),
        web.get("/book/birch"),  # booking not enabled
        web.get("/book/birch/times?type=" + str(other_type) + "&provider=any"),
        web.get(_times_url(widget).replace(str(widget.type_id), str(other_type))),
        web.get(_times_url(widget, other.records.provider_ids[0])),
        web.get(_times_url(widget).replace(str(widget.type_id), str(offline))),
        web.get(_times_url(widget).replace(str(widget.type_id), str(uuid.uuid4()))),
    ]
    for answer in answers:
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")
        assert "There is nothing at this address" in answer.text
    assert "Surgery" not in web.get(BOOK).text


def test_garbage_in_the_address_is_a_400_page(web: TestClient, widget: Widget) -> None:
    for url in (
        f"{BOOK}/times?type=xyz&provider=any",
        f"{BOOK}/times?type={widget.type_id}&provider=nobody",
        f"{BOOK}/times?type={widget.type_id}&provider=any&week=soon",
        f"{BOOK}/details?type={widget.type_id}&provider=any&start=tomorrow",
        f"{BOOK}/details?type={widget.type_id}&provider=any&start=2030-01-01T10:00",
        f"{BOOK}/details?provider=any",
    ):
        answer = web.get(url)
        assert answer.status_code == 400, url
        assert answer.headers["content-type"].startswith("text/html")
        assert "Traceback" not in answer.text


def test_nothing_chosen_asks_again_in_words(web: TestClient, widget: Widget) -> None:
    answer = web.get(f"{BOOK}/times?provider=any")
    assert answer.status_code == 422
    assert "Choose the kind of appointment." in answer.text
    no_time = web.get(f"{BOOK}/details?type={widget.type_id}&provider=any")
    assert no_time.status_code == 422
    assert "Choose a time." in no_time.text


def test_a_post_from_another_site_is_refused(
    web: TestClient, widget: Widget, db: sessionmaker[Session]
) -> None:
    page = web.get(_details_url(widget, local(DAY, 10)))
    hidden = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page.text))
    answer = web.post(
        f"{BOOK}/details",
        data={**hidden, **APPLICANT},
        headers={"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "sent from another website" in answer.text
    for headers in ({"origin": "null"}, {"sec-fetch-site": "cross-site", "origin": "null"}):
        refused = web.post(
            f"{BOOK}/details", data={**hidden, **APPLICANT}, headers=headers, follow_redirects=False
        )
        assert refused.status_code == 403
    assert _requests(db) == []
    # A browser's own form under "no-referrer" sends Origin: null; its Sec-Fetch-Site vouches.
    own = web.post(
        f"{BOOK}/details",
        data={**hidden, **APPLICANT},
        headers={"sec-fetch-site": "same-origin", "origin": "null"},
        follow_redirects=False,
    )
    assert own.status_code == 303
    assert len(_requests(db)) == 1


def test_opening_every_page_changes_nothing(
    web: TestClient, widget: Widget, db: sessionmaker[Session]
) -> None:
    tables = (BookingRequest, Appointment, RateCounter, AuditEvent, Patient, Message)
    before = {model: _count(db, model) for model in tables}
    for url in (
        BOOK,
        _times_url(widget),
        _times_url(widget, widget.providers[0], week=days_ahead(7).isoformat()),
        _details_url(widget, local(DAY, 10)),
        f"{BOOK}/sent",
        "/book/nowhere",
    ):
        web.get(url)
        web.head(url)
    assert {model: _count(db, model) for model in tables} == before


# --- staff deciding a request from someone who is not a patient yet ----------------------


def _anonymous_request(web: TestClient, widget: Widget, db: sessionmaker[Session]) -> uuid.UUID:
    assert _post(web, _details_url(widget, local(DAY, 10), widget.providers[0])).status_code == 303
    return _requests(db)[-1].id


def _patient(db: sessionmaker[Session], clinic: MadeClinic, **fields: Any) -> uuid.UUID:
    with transaction(db) as session:
        patient = Patient(clinic_id=clinic.id, **fields)
        session.add(patient)
        session.flush()
        return patient.id


def test_matches_then_confirm_for_the_patient_on_file(
    web: TestClient, widget: Widget, db: sessionmaker[Session], client: TestClient, factory: Factory
) -> None:
    same = _patient(db, widget.clinic, first_name="robin", last_name="ASH", phone="+447400912345")
    _patient(db, widget.clinic, first_name="Someone", last_name="Else")
    request_id = _anonymous_request(web, widget, db)
    headers = factory.staff_headers(widget.clinic.front_desk)
    audits = _count(db, AuditEvent)
    found = client.get(f"{REQUESTS}/{request_id}/matches", headers=headers)
    assert found.status_code == 200
    [match] = found.json()
    assert match["patient_id"] == str(same)
    assert "same phone" in match["reasons"]
    assert _count(db, AuditEvent) == audits + 1  # a read of patient data

    neither = client.post(f"{REQUESTS}/{request_id}/confirm", headers=headers)
    assert neither.status_code == 422
    assert "not linked to a patient yet" in neither.json()["message"]
    assert _count(db, Appointment) == 0

    done = client.post(
        f"{REQUESTS}/{request_id}/confirm", json={"patient_id": str(same)}, headers=headers
    )
    assert done.status_code == 200, done.text
    assert done.json()["request"]["patient_id"] == str(same)
    with db() as session:
        [appointment] = session.scalars(select(Appointment)).all()
        assert appointment.patient_id == same
        assert session.scalar(
            select(Message).where(Message.patient_id == same, Message.kind == "request_confirmed")
        )


def test_confirm_registers_a_new_patient_in_the_same_transaction(
    web: TestClient, widget: Widget, db: sessionmaker[Session], client: TestClient, factory: Factory
) -> None:
    request_id = _anonymous_request(web, widget, db)
    headers = factory.staff_headers(widget.clinic.front_desk)
    bad = client.post(
        f"{REQUESTS}/{request_id}/confirm",
        json={"new_patient": {"first_name": "Robin", "last_name": "Ash", "phone": "12"}},
        headers=headers,
    )
    assert bad.status_code == 422
    assert "not a valid UK number" in bad.json()["message"]
    patients = _count(db, Patient)
    new = {
        "first_name": "Robin",
        "last_name": "Ash",
        "date_of_birth": "1980-05-17",
        "phone": "+447400912345",
        "email": "robin@example.org",
    }
    done = client.post(
        f"{REQUESTS}/{request_id}/confirm", json={"new_patient": new}, headers=headers
    )
    assert done.status_code == 200, done.text
    assert _count(db, Patient) == patients + 1
    with db() as session:
        request = session.get(BookingRequest, request_id)
        assert request is not None
        assert request.patient_id is not None
        patient = session.get(Patient, request.patient_id)
        assert patient is not None
        assert (patient.first_name, patient.phone) == ("Robin", "+447400912345")


def test_rejecting_an_anonymous_request_tells_the_applicant_at_their_contacts(
    web: TestClient,
    widget: Widget,
    db: sessionmaker[Session],
    client: TestClient,
    factory: Factory,
    app: Any,
) -> None:
    request_id = _anonymous_request(web, widget, db)
    headers = factory.staff_headers(widget.clinic.front_desk)
    answer = client.post(
        f"{REQUESTS}/{request_id}/reject",
        json={"reason": "The clinic is closed that morning."},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    database: Database = app.state.database
    Dispatcher(database, DEV_OUTBOX).drain()
    with db() as session:
        sent = {e.channel: e for e in session.scalars(select(DevOutboxEntry))}
        [message] = session.scalars(select(Message)).all()
    assert message.patient_id is None
    assert {d["status"] for d in message.deliveries} == {"delivered"}, message.deliveries
    assert sent[Channel.SMS].to_address == "+447400912345"
    assert sent[Channel.EMAIL].to_address == "robin@example.org"
    assert "closed that morning" in sent[Channel.SMS].text


def test_an_opted_out_number_stays_held_for_an_applicant(
    web: TestClient,
    widget: Widget,
    db: sessionmaker[Session],
    client: TestClient,
    factory: Factory,
) -> None:
    from server.crypto import phone_index
    from server.messaging.models import PhoneOptOut

    with transaction(db) as session:
        session.add(
            PhoneOptOut(clinic_id=widget.clinic.id, phone_index=phone_index("+447400912345"))
        )
    request_id = _anonymous_request(web, widget, db)
    answer = client.post(
        f"{REQUESTS}/{request_id}/reject",
        json={"reason": "Closed."},
        headers=factory.staff_headers(widget.clinic.front_desk),
    )
    assert answer.status_code == 200, answer.text
    with db() as session:
        message = session.scalars(select(Message)).one()
    by_channel = {d["channel"]: d for d in message.deliveries}
    assert by_channel["sms"]["status"] == "held"
    assert "STOP" in by_channel["sms"]["error"]
    assert by_channel["email"]["status"] == "queued"


def test_the_form_sent_again_after_back_makes_no_second_request(
    web: TestClient, widget: Widget, db: sessionmaker[Session]
) -> None:
    """ "Back" from "Request sent" reloads the form with a fresh key: the same person
    asking for the same time again is the request already waiting."""
    for _ in range(2):
        assert _post(web, _details_url(widget, local(DAY, 10))).status_code == 303
    assert len(_requests(db)) == 1
    other_time = _post(web, _details_url(widget, local(DAY, 11)))
    assert other_time.status_code == 303
    assert len(_requests(db)) == 2


def test_a_time_booked_meanwhile_leaves_the_week_at_once(
    web: TestClient, widget: Widget, db: sessionmaker[Session]
) -> None:
    """The week is worked out once and kept, but never past a change at the clinic."""
    provider = widget.providers[0]
    url = _times_url(widget, str(provider), week=DAY.isoformat())
    chosen = local(DAY, 11)
    stamp = chosen.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    assert stamp in START.findall(web.get(url).text)
    _book(db, widget, provider, chosen)
    assert stamp not in START.findall(web.get(url).text)
