"""The demo clinic: three providers with their weeks and rooms, four appointment types,
200 patients and four weeks of appointments around today.

Seeding is idempotent (a second run changes nothing) and deterministic apart from "today",
so screenshots and tests see the same clinic every time.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from common.appointments import AppointmentSource, AppointmentStatus
from common.roles import Role
from server.booking_requests import service as booking_requests
from server.clinics import repository as clinics
from server.clinics.models import Clinic
from server.clinics.service import create_clinic
from server.patients.models import Patient
from server.scheduling import service as scheduling
from server.scheduling.models import Appointment, AppointmentType, BookingRules, Location, Provider
from server.scheduling.settings import type_rules
from server.staff.service import create_staff_user
from server.web.models import PracticeProfile

DEMO_SLUG = "demo"
DEMO_TIME_ZONE = "Europe/London"
DEMO_COUNTRY = "GB"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    role: Role
    display_name: str


FRONT_DESK = DemoLogin(
    "frontdesk@demo.clinic", "frontdesk-demo-1", Role.FRONT_DESK, "Robin Reception"
)
ADMIN = DemoLogin("admin@demo.clinic", "admin-demo-1", Role.CLINIC_ADMIN, "Alex Admin")
DEMO_LOGINS = (FRONT_DESK, ADMIN)

PROVIDERS = (
    ("Dr Amara Okafor", "#3d7dd8"),
    ("Dr Lukas Brenner", "#2e9e6a"),
    ("Sam Ortiz, Physio", "#c9702b"),
)
FIRST_NAMES = (
    "Olivia Noah Amelia Leo Isla Oscar Ava Arthur Mia Muhammad Ivy Harry Freya George Lily Theo "
    "Grace Jack Sophia Charlie Rosie Finley Ella Freddie Evie Alfie Poppy Archie Aria Henry"
).split()
LAST_NAMES = (
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Patel Wright Robinson Thompson "
    "Evans Walker White Roberts Green Hall Wood Jackson Clarke Khan Lewis Hughes Edwards Nowak"
).split()
# Open every day, so the demo diary is never empty: long weekdays, short weekends.
WEEKDAY_HOURS = (time(9, 0), time(17, 0))
WEEKEND_HOURS = (time(10, 0), time(14, 0))
SLOT = timedelta(minutes=30)
ROOMS = ("Room 1", "Room 2", "Physio studio")
# name, colour, minutes, buffer after, bookable online, needs staff confirmation, offered by
# (indexes into PROVIDERS; empty: everyone).
APPOINTMENT_TYPES = (
    ("Consultation", "#3d7dd8", 30, 0, True, False, ()),
    ("Long consultation", "#7a4fc4", 60, 0, True, True, (0, 1)),
    ("Physiotherapy", "#2e9e6a", 60, 10, True, False, (2,)),
    ("Follow-up call", "#d08a2c", 30, 0, False, False, ()),
)


def seed_demo(
    session: Session, *, today: date | None = None, rng_seed: int = 7
) -> tuple[Clinic, bool]:
    """Create the demo clinic unless it exists. Returns the clinic and whether it was made.

    ``today`` defaults to today in the clinic's own time zone, which is the day its diary
    opens on.
    """
    today = today or datetime.now(ZoneInfo(DEMO_TIME_ZONE)).date()
    existing = clinics.by_slug(session, DEMO_SLUG)
    if existing is not None:
        return existing, False
    rng = random.Random(rng_seed)  # noqa: S311 - demo data, not security
    clinic = create_clinic(
        session,
        slug=DEMO_SLUG,
        name="Demo Clinic",
        time_zone=DEMO_TIME_ZONE,
        country=DEMO_COUNTRY,
    )
    for login in DEMO_LOGINS:
        create_staff_user(
            session,
            clinic,
            email=login.email,
            display_name=login.display_name,
            password=login.password,
            role=login.role,
        )
    rooms = [Location(clinic_id=clinic.id, name=name) for name in ROOMS]
    session.add_all(rooms)
    session.flush()
    providers = [
        Provider(
            clinic_id=clinic.id,
            display_name=name,
            colour=colour,
            working_hours=_week(rooms[index].id),
        )
        for index, (name, colour) in enumerate(PROVIDERS)
    ]
    patients = [_patient(clinic, rng, today) for _ in range(200)]
    session.add_all(providers)
    session.add_all(patients)
    session.flush()
    kinds = [
        AppointmentType(
            clinic_id=clinic.id,
            name=name,
            colour=colour,
            duration_minutes=minutes,
            buffer_after_minutes=after,
            bookable_online=online,
            requires_confirmation=confirm,
            provider_ids=[str(providers[i].id) for i in offered_by],
        )
        for name, colour, minutes, after, online, confirm, offered_by in APPOINTMENT_TYPES
    ]
    session.add_all(kinds)
    session.add(
        BookingRules(
            clinic_id=clinic.id,
            horizon_days=60,
            min_notice_minutes=120,
            slot_rounding=15,
            allow_any_provider=True,
            daily_cap=None,
            patient_cancel_cutoff_hours=24,
            patient_reschedule_cutoff_hours=24,
            patients_may_cancel=True,
        )
    )
    session.flush()
    appointments = _appointments(clinic, providers, patients, kinds, rooms, rng, today)
    session.add_all(appointments)
    session.flush()
    # Their own random stream, so the diary above stays the same whatever is added here.
    extras = random.Random(rng_seed + 1)  # noqa: S311 - demo data, not security
    _alerts(appointments, patients, today, ZoneInfo(clinic.time_zone))
    _web_requests(session, clinic, providers, patients, kinds[0], extras, today)
    session.add(_practice_profile(clinic))
    session.flush()
    return clinic, True


def _practice_profile(clinic: Clinic) -> PracticeProfile:
    """The demo's public page, with online booking and enquiries open."""
    return PracticeProfile(
        clinic_id=clinic.id,
        slug=DEMO_SLUG,
        display_name=clinic.name,
        specialty="Physiotherapy and sports medicine",
        address="12 High Street, Kendal LA9 4AB",
        phone="+44 1539 720000",
        email="hello@demo-clinic.example",
        about=(
            "A small team of physiotherapists and sports doctors. Evening appointments on "
            "weekdays; step-free access from the High Street."
        ),
        insurances=["Bupa", "AXA Health", "Vitality", "WPA"],
        cancellation_policy=(
            "Please tell us at least 24 hours before your appointment if you cannot come; "
            "later cancellations may be charged."
        ),
        brand_colour="#1f5f8b",
        published=True,
        booking_enabled=True,
        leads_enabled=True,
    )


def _week(room_id: object) -> list[dict[str, object]]:
    """The demo's opening hours as a provider's usual week, in their own room."""
    return [
        {
            "weekday": weekday,
            "start": f"{hours[0]:%H:%M}",
            "end": f"{hours[1]:%H:%M}",
            "location_id": str(room_id),
        }
        for weekday in range(7)
        for hours in [WEEKEND_HOURS if weekday >= 5 else WEEKDAY_HOURS]
    ]


def _patient(clinic: Clinic, rng: random.Random, today: date) -> Patient:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    born = today - timedelta(days=rng.randint(3 * 365, 90 * 365))
    return Patient(
        clinic_id=clinic.id,
        first_name=first,
        last_name=last,
        date_of_birth=born,
        phone=f"+447400{rng.randint(900000, 999999)}",  # numbers phonenumbers accepts
        email=f"{first}.{last}{rng.randint(1, 99)}@example.com".lower(),
    )


def _appointments(
    clinic: Clinic,
    providers: list[Provider],
    patients: list[Patient],
    kinds: list[AppointmentType],
    rooms: list[Location],
    rng: random.Random,
    today: date,
) -> list[Appointment]:
    """From two weeks back to two weeks ahead, about two thirds of slots filled, each of a
    type the provider offers, in the provider's room.

    Slots never overlap within a provider, so the demo honours the booking guarantee.
    """
    zone = ZoneInfo(clinic.time_zone)
    made: list[Appointment] = []
    for offset in range(-14, 14):
        day = today + timedelta(days=offset)
        opens, closes = WEEKEND_HOURS if day.weekday() >= 5 else WEEKDAY_HOURS
        for index, provider in enumerate(providers):
            offered = [k for k in kinds if not k.provider_ids or str(provider.id) in k.provider_ids]
            start = datetime.combine(day, opens, tzinfo=zone)
            end_of_day = datetime.combine(day, closes, tzinfo=zone)
            while start + SLOT <= end_of_day:
                kind = rng.choice(offered)
                length = timedelta(minutes=kind.duration_minutes)
                if start + length > end_of_day:
                    kind, length = offered[0], SLOT
                if rng.random() < 0.65:
                    made.append(
                        Appointment(
                            clinic_id=clinic.id,
                            provider_id=provider.id,
                            patient_id=rng.choice(patients).id,
                            appointment_type_id=kind.id,
                            location_id=rooms[index].id,
                            starts_at=start,
                            ends_at=start + length,
                            status=_status(day, today, rng),
                            source=rng.choice(
                                (AppointmentSource.DESK,) * 3 + (AppointmentSource.WIDGET,)
                            ),
                        )
                    )
                start += length
    return made


ALERTS = (
    "Needs wheelchair access",
    "Hard of hearing: face them when speaking",
    "Latex allergy",
)
REQUEST_NOTES = ("Back pain since Monday", "Repeat prescription review", "")


def _alerts(
    appointments: list[Appointment], patients: list[Patient], today: date, zone: ZoneInfo
) -> None:
    """Staff alerts on the files of three of today's patients, so the diary's hover card
    and the patient file show them."""
    todays = sorted(
        (a for a in appointments if a.starts_at.astimezone(zone).date() == today),
        key=lambda a: a.starts_at,
    )
    by_id = {p.id: p for p in patients}
    chosen = list(dict.fromkeys(a.patient_id for a in todays))[: len(ALERTS)]
    for patient_id, alert in zip(chosen, ALERTS, strict=False):
        by_id[patient_id].alerts = [alert]


def _web_requests(
    session: Session,
    clinic: Clinic,
    providers: list[Provider],
    patients: list[Patient],
    kind: AppointmentType,
    rng: random.Random,
    today: date,
) -> None:
    """A few booking requests from the web waiting for reception, for times the engine
    offers patients in the coming days."""
    zone = ZoneInfo(clinic.time_zone)
    now = datetime.combine(today, time(8, 0), tzinfo=zone)
    for offset, note in enumerate(REQUEST_NOTES):
        provider = providers[offset % len(providers)]
        first_day = today + timedelta(days=2 + offset)
        slots = scheduling.offered_slots(
            session,
            clinic.id,
            type_rules(kind),
            first_day=first_day,
            last_day=first_day + timedelta(days=7),
            now=now,
            provider_id=provider.id,
            limit=20,
        )
        if not slots:
            continue
        booking_requests.create_request(
            session,
            clinic.id,
            patient_id=rng.choice(patients).id,
            provider_id=provider.id,
            appointment_type_id=kind.id,
            starts_at=rng.choice(slots).starts_at,
            note=note,
            now=now,
        )


def _status(day: date, today: date, rng: random.Random) -> AppointmentStatus:
    if day < today:
        return rng.choice(
            (AppointmentStatus.COMPLETED,) * 8
            + (AppointmentStatus.NO_SHOW, AppointmentStatus.CANCELLED)
        )
    return rng.choice((AppointmentStatus.BOOKED,) * 3 + (AppointmentStatus.CONFIRMED,))


# --- conversations (``clinicdesk seed-demo`` only: the tests' demo clinic has none) -------

DEMO_TEXTS = (
    "Hi, can I move my appointment to Friday afternoon?",
    "Running 10 minutes late, sorry! Parking is a nightmare.",
)
STRANGER = "+447400123456"  # no demo patient has this number


def seed_demo_online(session: Session, clinic: Clinic) -> None:
    """What the patients' side brings the demo: a booking-link rule reception can send
    from a patient's file, and two enquiries from the web waiting in Worklists → Leads."""
    from sqlalchemy import select

    from common.leads import LeadChannel, PreferredContact
    from server.booking_links.models import BroadcastRule
    from server.leads.models import Lead

    kind = session.scalar(
        select(AppointmentType).where(
            AppointmentType.clinic_id == clinic.id, AppointmentType.name == "Consultation"
        )
    )
    if kind is not None:
        session.add(
            BroadcastRule(
                clinic_id=clinic.id,
                title="Review consultation",
                appointment_type_id=kind.id,
                earliest_days=1,
                latest_days=21,
                link_valid_days=14,
                welcome_text=(
                    "Your clinician would like to see you again. Choose a time that suits "
                    "you in the next three weeks."
                ),
                sms_text="{clinic}: hello {first_name}, please book your review here: {link}",
                confirmation_text="We look forward to seeing you. Bring your exercise diary.",
                allow_reschedule=True,
            )
        )
    enquiries = (
        (
            "Maya",
            "Okafor",
            "+447700900123",
            "maya.okafor@example.org",
            LeadChannel.SEARCH,
            "google",
            "Do you treat running injuries? Weekday evenings suit me best.",
        ),
        (
            "Tom",
            "Eriksen",
            "+447700900456",
            None,
            LeadChannel.REFERRAL,
            "ref=dr-patel",
            "My GP suggested you for my back. Please call after 5pm.",
        ),
    )
    for first, last, phone, email, channel, source, text in enquiries:
        session.add(
            Lead(
                clinic_id=clinic.id,
                first_name=first,
                last_name=last,
                phone=phone,
                email=email,
                message=text,
                preferred_contact=PreferredContact.PHONE,
                channel=channel,
                source_detail=source,
                ip_hash="demo",
                user_agent_hash="demo",
                user_agent_family="Chrome on Android",
                form_key=str(uuid.uuid4()),
            )
        )
    session.flush()


# The demo's portal account: a patient who has accepted their invitation, with a child
# they manage, and a password to sign in with (README: "The demo").
DEMO_PORTAL_EMAIL = "patient@demo.example"
DEMO_PORTAL_PASSWORD = "harbour violet lantern 7"  # noqa: S105 - published for the demo


def seed_demo_portal(session: Session, clinic: Clinic) -> str:
    """The portal in the demo: the first patient (by name) with an account, a password
    and a child on it; and two patients sharing one e-mail address, which the invitation
    report asks reception to fix. Returns the account's e-mail."""
    from sqlalchemy import select

    from common.portal import Relation
    from server.auth.security import hash_password
    from server.portal import accounts

    patients = list(
        session.scalars(
            select(Patient)
            .where(Patient.clinic_id == clinic.id, Patient.email.is_not(None))
            .order_by(Patient.last_name, Patient.first_name, Patient.id)
        )
    )
    holder, *others = patients
    holder.email = DEMO_PORTAL_EMAIL
    now = datetime.now(UTC)
    account = accounts.create_account(session, DEMO_PORTAL_EMAIL, now)
    account.password_hash = hash_password(DEMO_PORTAL_PASSWORD)
    account.password_set_at = now
    accounts.link_record(session, account, clinic.id, holder.id, Relation.SELF)
    child = Patient(
        clinic_id=clinic.id,
        first_name="Leo",
        last_name=holder.last_name,
        date_of_birth=date(now.year - 9, 3, 14),
    )
    session.add(child)
    session.flush()
    accounts.link_record(session, account, clinic.id, child.id, Relation.DEPENDANT)
    if len(others) >= 2:
        others[1].email = others[0].email  # a couple sharing an address
    session.flush()
    return account.email


def seed_demo_conversations(session: Session, clinic: Clinic) -> None:
    """An inbox to open: confirmations of the next few bookings (the server's dispatcher
    sends them to the development outbox once it runs), two unread texts from patients,
    one from an unknown number, a text that could not be delivered, and a patient who
    replied STOP."""
    from sqlalchemy import select

    from common.messaging import Channel, DeliveryStatus, Purpose
    from server.messaging import automated, inbound, service
    from server.messaging.models import Delivery
    from server.messaging.receipts import InboundSms

    now = datetime.now(ZoneInfo(clinic.time_zone))
    upcoming = session.scalars(
        select(Appointment)
        .where(Appointment.clinic_id == clinic.id, Appointment.starts_at > now)
        .order_by(Appointment.starts_at)
        .limit(3)
    ).all()
    for appointment in upcoming:
        automated.confirm_booking(session, clinic.id, appointment)
    patients = session.scalars(
        select(Patient).where(Patient.clinic_id == clinic.id).order_by(Patient.last_name).limit(4)
    ).all()
    texts = [(patients[0].phone, DEMO_TEXTS[0]), (patients[1].phone, DEMO_TEXTS[1])]
    texts += [
        (STRANGER, "Is this the clinic? I found this number on a leaflet."),
        (patients[3].phone, "STOP"),
    ]
    for n, (number, body) in enumerate(texts):
        assert number is not None
        sms = InboundSms(f"demo:{n}", f"SMdemo{n}", number, "+447700900000", body)
        inbound.receive_text(session, clinic.id, sms, now.astimezone(ZoneInfo("UTC")))
    reply = service.compose(
        session,
        clinic.id,
        patient=patients[2],
        purpose=Purpose.CARE,
        kind="reply",
        drafts=[service.Draft(Channel.SMS, "Demo Clinic: your results are ready.")],
    )
    failed = session.scalars(select(Delivery).where(Delivery.message_id == reply.id)).one()
    failed.status = DeliveryStatus.UNDELIVERED
    failed.error = "The phone could not be reached (switched off or out of coverage)."
    failed.failed_at = now
    service.refresh_summaries(session, [reply.id])


# The demo's forms: what a physiotherapy clinic asks a new patient before the first visit.
DEMO_INTAKE: list[dict[str, Any]] = [
    {"id": "reason", "kind": "text", "label": "What brings you to us?"},
    {
        "id": "where",
        "kind": "choice",
        "label": "Where is the problem?",
        "choices": ["Neck", "Back", "Shoulder", "Knee", "Elsewhere"],
        "multiple": True,
    },
    {"id": "pain", "kind": "scale", "label": "How bad is the pain today, 0 (none) to 10?"},
    {"id": "since", "kind": "date", "label": "When did it start?", "required": False},
    {
        "id": "medication",
        "kind": "text",
        "label": "Which medicines do you take?",
        "help": "Leave it empty if none.",
        "required": False,
    },
    {
        "id": "surgery",
        "kind": "choice",
        "label": "Have you had surgery in the last year?",
        "choices": ["Yes", "No"],
    },
    {
        "id": "signature",
        "kind": "signature",
        "label": "I confirm that my answers are true to the best of my knowledge.",
    },
]
DEMO_CONSENT: list[dict[str, Any]] = [
    {
        "id": "consent",
        "kind": "signature",
        "label": (
            "I agree to be examined and treated by the clinic's physiotherapists, and I know I "
            "can stop the treatment at any time."
        ),
    }
]


def seed_demo_forms(session: Session, clinic: Clinic) -> None:
    """Forms in the demo: an intake questionnaire and a consent sent with a patient's
    first booking, a video consultation type, and forms waiting for the portal's demo
    patient, their child and a few new patients with appointments this week."""
    from sqlalchemy import select

    from common.forms import FormKind
    from server.auth.context import AuthContext
    from server.forms import service as forms
    from server.forms.models import FormRequest
    from server.portal.models import PortalMember

    admin = AuthContext(clinic_id=clinic.id, device_id=None, staff_id=None, role=Role.CLINIC_ADMIN)
    forms.save_template(
        session,
        admin,
        forms.Draft("Health questionnaire", FormKind.INTAKE, [], True, DEMO_INTAKE),
    )
    forms.save_template(
        session,
        admin,
        forms.Draft("Consent to treatment", FormKind.CONSENT, [], True, DEMO_CONSENT),
    )
    session.add(
        AppointmentType(
            clinic_id=clinic.id,
            name="Video consultation",
            colour="#1f8a9e",
            duration_minutes=20,
            video=True,
        )
    )
    now = datetime.now(UTC)
    members = session.scalars(select(PortalMember).where(PortalMember.clinic_id == clinic.id))
    on_portal = {m.patient_id for m in members}
    upcoming = session.scalars(
        select(Appointment)
        .where(Appointment.clinic_id == clinic.id, Appointment.starts_at > now)
        .order_by(Appointment.starts_at)
        .limit(8)
    )
    for appointment in upcoming:
        forms.generate(session, appointment, now)
    intake = next(t for t in forms.templates_of(session, clinic.id) if t.kind is FormKind.INTAKE)
    sent = set(session.scalars(select(FormRequest.patient_id)))
    for patient_id in sorted(on_portal - sent):  # sent with an earlier booking, still waiting
        session.add(
            FormRequest(
                clinic_id=clinic.id,
                patient_id=patient_id,
                template_id=intake.id,
                title=intake.title,
                kind=intake.kind,
                sent_at=now,
            )
        )
    session.flush()


# The demo's care: a braces plan for the portal's patient, and the clinic's library.
DEMO_LIBRARY: list[dict[str, Any]] = [
    {
        "kind": "article",
        "title": "What happens at your first assessment",
        "phases": ["Assessment"],
        "body": (
            "At your first visit we look at your teeth and bite, take photos and, if needed, "
            "an X-ray.\n\nWe then talk through the options with you: how long treatment "
            "takes, what it involves and what it costs. Nothing is decided on the day."
        ),
    },
    {
        "kind": "article",
        "title": "Caring for your braces",
        "phases": ["Fitting", "Adjustment"],
        "body": (
            "Your teeth may feel sore for the first few days after your braces are fitted. "
            "Soft food and your usual painkiller help.\n\nBrush after every meal, around "
            "each bracket and along the gum line, and use the small interdental brushes we "
            "gave you once a day.\n\nIf a bracket comes loose or a wire pokes, cover it with "
            "the wax from your kit and call us: it is rarely urgent."
        ),
    },
    {
        "kind": "video",
        "title": "Brushing with braces (video)",
        "phases": ["Fitting"],
        "url": "https://www.youtube.com/watch?v=braces-brushing",
        "body": "Four minutes on brushing and cleaning between brackets.",
    },
    {
        "kind": "pdf",
        "title": "Foods to avoid with braces",
        "phases": ["Fitting", "Adjustment"],
        "body": "A one-page list to keep on the fridge.",
    },
]
DEMO_PLAN_PHASES = ["Assessment", "Fitting", "Adjustment"]


def demo_png(width: int = 48, height: int = 32) -> bytes:
    """A small PNG (a blue-to-green gradient), written byte by byte: the demo's progress
    photo, with no imaging library needed."""
    import struct
    import zlib

    rows = []
    for y in range(height):
        row = bytearray([0])  # no filter
        for x in range(width):
            row += bytes((40 + 150 * x // width, 90 + 120 * y // height, 200 - 100 * x // width))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


def demo_pdf(title: str, lines: list[str]) -> bytes:
    """A one-page PDF of ``lines`` under ``title``, written object by object."""

    def escaped(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = [f"BT /F1 20 Tf 72 770 Td ({escaped(title)}) Tj ET"]
    text += [
        f"BT /F1 13 Tf 72 {730 - 22 * n} Td ({escaped(line)}) Tj ET" for n, line in enumerate(lines)
    ]
    stream = "\n".join(text).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def seed_demo_care(session: Session, clinic: Clinic, media_dir: Path, public_base_url: str) -> None:
    """The clinic's education library (two articles, a video link and a PDF), and a
    braces plan for the portal's demo patient: begun at the assessment (with a note),
    now at the fitting (with a progress photo), so "For you" has the fitting's reading."""
    from sqlalchemy import select

    from common.content import ContentKind
    from common.treatment import PNG, SUFFIXES, image_size
    from server import media
    from server.auth.context import AuthContext
    from server.content import service as content
    from server.staff.models import StaffUser
    from server.treatment import service as treatment

    admin_id = session.scalar(
        select(StaffUser.id).where(StaffUser.clinic_id == clinic.id, StaffUser.email == ADMIN.email)
    )
    ctx = AuthContext(
        clinic_id=clinic.id, device_id=None, staff_id=admin_id, role=Role.CLINIC_ADMIN
    )
    for entry in DEMO_LIBRARY:
        kind = ContentKind(entry["kind"])
        stored = None
        if kind is ContentKind.PDF:
            leaflet = demo_pdf(
                entry["title"],
                [
                    "Hard: nuts, crusty bread, hard sweets, ice.",
                    "Sticky: toffee, caramel, chewing gum.",
                    "Cut up: apples, carrots, corn on the cob.",
                    "Fizzy and sugary drinks: keep them for treats, through a straw.",
                ],
            )
            stored = media.save(media_dir, media.DOCUMENTS, leaflet, ".pdf")
        draft = content.Draft(
            kind=kind,
            title=entry["title"],
            body=entry.get("body", ""),
            url=entry.get("url", ""),
            phases=entry["phases"],
            language="en",
            published=True,
        )
        content.save_item(session, ctx, draft, file=stored)

    holder = session.scalar(
        select(Patient).where(Patient.clinic_id == clinic.id, Patient.email == DEMO_PORTAL_EMAIL)
    )
    if holder is None:
        return
    now = datetime.now(UTC)
    began = now - timedelta(days=42)
    started = treatment.create_plan(
        session,
        ctx,
        holder.id,
        title="Braces, upper and lower",
        phases=DEMO_PLAN_PHASES,
        language="en",
        now=began,
        public_base_url=public_base_url,
    )
    plan = started.plan
    phases = treatment.views(session, clinic.id, [holder.id])[0].phases
    treatment.add_note(
        session,
        ctx,
        holder.id,
        plan.id,
        phases[0].id,
        "Crowding of the lower front teeth and a slight overbite. Fixed braces upper and "
        "lower agreed; about 18 months.",
        began + timedelta(hours=1),
    )
    fitted = now - timedelta(days=7)
    treatment.set_phase(
        session, ctx, holder.id, plan.id, phases[1].id, now=fitted, public_base_url=public_base_url
    )
    picture = demo_png()
    photo = media.save(media_dir, media.PHOTOS, picture, SUFFIXES[PNG])
    treatment.add_photo(
        session, ctx, holder.id, phases[1].id, photo, PNG, fitted, image_size(picture)
    )


# What the demo clinic charges, by appointment type (pence).
DEMO_PRICES = {
    "Consultation": 4500,
    "Long consultation": 8000,
    "Physiotherapy": 6000,
    "Follow-up call": 2500,
    "Video consultation": 4000,
}


def seed_demo_bills(session: Session, clinic: Clinic) -> None:
    """Bills in the demo: a price for each appointment type, and two bills for the
    portal's demo patient, one paid at the desk last month and one to pay."""
    from sqlalchemy import select

    from common.billing import PaymentMethod
    from common.portal import Relation
    from server.auth.context import AuthContext
    from server.billing import service as billing
    from server.portal.models import PortalMember

    admin = AuthContext(clinic_id=clinic.id, device_id=None, staff_id=None, role=Role.CLINIC_ADMIN)
    kinds = session.scalars(
        select(AppointmentType).where(AppointmentType.clinic_id == clinic.id)
    ).all()
    billing.save_prices(
        session,
        admin,
        [(kind.id, DEMO_PRICES[kind.name]) for kind in kinds if kind.name in DEMO_PRICES],
    )
    holder = session.scalar(
        select(PortalMember.patient_id).where(
            PortalMember.clinic_id == clinic.id, PortalMember.relation == Relation.SELF
        )
    )
    if holder is None:
        return
    now = datetime.now(UTC)
    paid = billing.issue(
        session,
        admin,
        billing.Issue(
            uuid.uuid4(),
            holder,
            [{"description": "Physiotherapy, first assessment", "amount_minor": 6000}],
        ),
        now=now - timedelta(days=30),
    )
    billing.record_payment(
        session,
        admin,
        paid.id,
        billing.TakePayment(uuid.uuid4(), 6000, PaymentMethod.CARD_DESK),
        now=now - timedelta(days=30),
    )
    billing.issue(
        session,
        admin,
        billing.Issue(
            uuid.uuid4(),
            holder,
            [
                {"description": "Physiotherapy, 60 minutes", "amount_minor": 6000},
                {"description": "Exercise band", "amount_minor": 850},
            ],
        ),
        now=now,
    )
