"""The booking widget, ``/book/{slug}``: anyone may ask the clinic for a time.

Three steps, each a page that works without JavaScript and may be shown in an iframe on
the clinic's own website: the kind of appointment and the provider (or "no preference",
when the clinic allows it), then a week of the times patients are offered, then who is
asking. Between steps everything travels in the query string (type, provider, week,
start); nothing is stored until the last step's POST, which makes a *request*
(``booking_requests.service.create_request``) for staff to confirm or reject. No
appointment is ever written here: the desk confirms, through the booking guarantee.

A form carries its own random key, so sending it twice makes one request; requests are
limited per address (a keyed hash of it) and hour.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.availability import OfferedSlot
from common.booking_requests import (
    INSURANCE_LENGTH,
    NOTE_LENGTH,
    Applicant,
    BookingRequestStatus,
    clean_applicant,
)
from common.errors import DomainError, InvalidInput, NotFound, SlotTaken
from common.patients import EMAIL_MAX, NAME_MAX, PHONE_MAX, PatientInvalid, parse_birth_date
from common.scheduling import AppointmentTypeRules, BookingRules
from server.booking_requests import service as requests
from server.booking_requests.models import BookingRequest
from server.clinics.models import Clinic
from server.db import utcnow
from server.deps import DatabaseDep
from server.scheduling import service as scheduling
from server.scheduling.models import AppointmentType, Provider
from server.scheduling.settings import booking_rules_of, type_rules
from server.web import limits
from server.web.models import PracticeProfile
from server.web.pages import NOT_FOUND, READ, Brand, WebRoute, brand_of, render
from server.web.security import CheckedEmbeddedForm
from server.web.tokens import new_token, plausible

router = APIRouter(route_class=WebRoute, include_in_schema=False)

ANY = "any"  # the provider choice "no preference"
RATE_LIMIT = 20  # requests made per address and hour
RATE_WINDOW = timedelta(hours=1)
WEEK = timedelta(days=7)
FIELDS = ("first_name", "last_name", "date_of_birth", "phone", "email", "insurance", "note")
# The patient's words for a refusal the desk words for staff.
YOUR_WORDS = {
    "Type the patient's first name.": "Type your first name.",
    "Type the patient's last name.": "Type your last name.",
}


class BadAddress(DomainError):
    """A step's address that cannot be read (a hand-edited or cut-off link)."""

    status = 400
    code = "bad_request"


def _bad() -> BadAddress:
    return BadAddress(
        "Part of this address is missing or mistyped. Go back and choose again, or start "
        "from the clinic's booking page."
    )


def _nothing() -> NotFound:
    return NotFound(NOT_FOUND)


# --- what the clinic offers ------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """The clinic as the widget sees it, read in one transaction."""

    clinic: Clinic
    profile: PracticeProfile
    brand: Brand
    zone: ZoneInfo
    rules: BookingRules
    types: list[AppointmentType]
    providers: list[Provider]

    def kind(self, type_id: uuid.UUID) -> AppointmentType:
        for kind in self.types:
            if kind.id == type_id:
                return kind
        raise _nothing()  # another clinic's, withdrawn or not booked online: as missing

    def provider(self, choice: str, kind: AppointmentType) -> Provider | None:
        """The chosen provider, or None for "no preference" (where allowed)."""
        if choice == ANY:
            if not self.rules.allow_any_provider:
                raise _nothing()
            return None
        wanted = _uuid(choice)
        for provider in self.providers:
            if provider.id == wanted:
                if not type_rules(kind).offered_by(provider.id):
                    raise InvalidInput(
                        f"{provider.display_name} does not offer {kind.name}. Go back and "
                        "choose another provider, or no preference."
                    )
                return provider
        raise _nothing()


def _offer(session: Session, slug: str) -> Offer:
    """The clinic at ``slug`` if it takes bookings on the web; otherwise the same 404 as
    an address that does not exist."""
    profile = session.scalar(select(PracticeProfile).where(PracticeProfile.slug == slug.lower()))
    if profile is None or not profile.booking_enabled or len(slug) > 64:
        raise _nothing()
    clinic = session.get(Clinic, profile.clinic_id)
    if clinic is None:
        raise _nothing()
    providers = list(
        session.scalars(
            select(Provider)
            .where(
                Provider.clinic_id == clinic.id,
                Provider.active.is_(True),
                Provider.deleted_at.is_(None),
            )
            .order_by(Provider.display_name, Provider.id)
        )
    )
    kinds = session.scalars(
        select(AppointmentType)
        .where(
            AppointmentType.clinic_id == clinic.id,
            AppointmentType.active.is_(True),
            AppointmentType.bookable_online.is_(True),
            AppointmentType.deleted_at.is_(None),
        )
        .order_by(AppointmentType.name, AppointmentType.id)
    )
    types = [k for k in kinds if any(type_rules(k).offered_by(p.id) for p in providers)]
    return Offer(
        clinic=clinic,
        profile=profile,
        brand=brand_of(clinic, profile),
        zone=ZoneInfo(clinic.time_zone),
        rules=booking_rules_of(session, clinic.id),
        types=types,
        providers=providers,
    )


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise _bad() from None


def _start(text: str | None) -> datetime | None:
    if text is None or text == "":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _bad() from None
    if moment.tzinfo is None or len(text) > 40:
        raise _bad()
    return moment.astimezone(UTC)


def _stamp(moment: datetime) -> str:
    """A start as it travels between steps: UTC, to the minute."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


# --- the week of times -------------------------------------------------------------------


def _slots(
    session: Session,
    offer: Offer,
    kind: AppointmentTypeRules,
    provider: Provider | None,
    first: date,
    last: date,
    now: datetime,
    limit: int | None = None,
) -> list[OfferedSlot]:
    return scheduling.offered_slots(
        session,
        offer.clinic.id,
        kind,
        first_day=first,
        last_day=last,
        now=now,
        provider_id=provider.id if provider else None,
        limit=limit,
    )


# Weeks of times already worked out, by what they depend on: the clinic's change counter
# (any booking, cancellation, working week, exception or rule bumps it), the choice, and
# the minute (notice runs on the clock). Most visitors look at the same few weeks; a time
# shown from here is checked again when the request is sent, like any other.
_WEEKS: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
_WEEKS_KEPT = 512
_WEEKS_LOCK = threading.Lock()


def _week(
    session: Session,
    offer: Offer,
    kind: AppointmentType,
    provider: Provider | None,
    week: date | None,
    now: datetime,
) -> dict[str, Any]:
    """What step 2 shows (worked out once a minute per week and choice, or at once
    after any change at the clinic)."""
    key = (
        offer.clinic.id,
        offer.clinic.sync_version,
        kind.id,
        provider.id if provider else None,
        week,
        now.replace(second=0, microsecond=0),
    )
    with _WEEKS_LOCK:
        found = _WEEKS.get(key)
        if found is not None:
            _WEEKS.move_to_end(key)
            return found
    made = _work_out_week(session, offer, kind, provider, week, now)
    with _WEEKS_LOCK:
        _WEEKS[key] = made
        while len(_WEEKS) > _WEEKS_KEPT:
            _WEEKS.popitem(last=False)
    return made


def _work_out_week(
    session: Session,
    offer: Offer,
    kind: AppointmentType,
    provider: Provider | None,
    week: date | None,
    now: datetime,
) -> dict[str, Any]:
    """What step 2 shows: the week's offered times grouped by local day, the links to
    the weeks either side, and for an empty week the next one with times."""
    today = now.astimezone(offer.zone).date()
    last_bookable = today + timedelta(days=offer.rules.horizon_days)
    first = today if week is None or week < today else week
    if first > last_bookable:
        first = last_bookable
    last = first + timedelta(days=6)
    rules = type_rules(kind)
    slots = _slots(session, offer, rules, provider, first, last, now)
    days: dict[date, list[dict[str, str]]] = {}
    for slot in slots:
        local = slot.starts_at.astimezone(offer.zone)
        days.setdefault(local.date(), []).append(
            {"value": _stamp(slot.starts_at), "label": f"{local:%H:%M}"}
        )
    next_with_times = None
    if not slots and last < last_bookable:
        found = _slots(
            session, offer, rules, provider, last + timedelta(days=1), last_bookable, now, 1
        )
        if found:
            next_with_times = found[0].starts_at.astimezone(offer.zone).date()
    return {
        "days": [
            {"label": f"{day:%A %d %B}", "id": f"{day:%Y%m%d}", "times": times}
            for day, times in sorted(days.items())
        ],
        "first": first,
        "last": last,
        "earlier": (max(today, first - WEEK)).isoformat() if first > today else None,
        "later": (last + timedelta(days=1)).isoformat() if last < last_bookable else None,
        "next_with_times": next_with_times.isoformat() if next_with_times else None,
        "next_with_times_label": f"{next_with_times:%A %d %B}" if next_with_times else None,
    }


def _choice(
    offer: Offer, kind: AppointmentType, provider: Provider | None, start: datetime | None
) -> dict[str, Any]:
    """What was chosen so far, as the pages show it and pass it on."""
    local = start.astimezone(offer.zone) if start else None
    return {
        "type_id": str(kind.id),
        "type_name": kind.name,
        "duration": kind.duration_minutes,
        "provider": str(provider.id) if provider else ANY,
        "provider_name": provider.display_name if provider else None,
        "start": _stamp(start) if start else "",
        "when": f"{local:%A %d %B at %H:%M}" if local else "",
    }


def _page(
    request: Request,
    offer: Offer,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    private: bool = False,
) -> HTMLResponse:
    return render(
        request,
        template,
        {"slug": offer.profile.slug, "clinic_name": offer.brand.name, **context},
        brand=offer.brand,
        status=status,
        private=private,
        frameable=True,
    )


# --- the steps --------------------------------------------------------------------------


@router.api_route("/book/{slug}", methods=READ, response_class=HTMLResponse)
def choose_type(request: Request, slug: str, db: DatabaseDep) -> Response:
    """Step 1: what kind of appointment, with whom."""
    with db.reading() as session:
        offer = _offer(session, slug)
        return _step_one(request, offer, {})


def _step_one(
    request: Request,
    offer: Offer,
    errors: dict[str, str],
    chosen_type: str = "",
    chosen_provider: str = "",
) -> HTMLResponse:
    return _page(
        request,
        offer,
        "widget_start.html",
        {
            "types": [
                {"id": str(k.id), "name": k.name, "minutes": k.duration_minutes}
                for k in offer.types
            ],
            "providers": [{"id": str(p.id), "name": p.display_name} for p in offer.providers],
            "any_allowed": offer.rules.allow_any_provider,
            "errors": errors,
            "chosen_type": chosen_type,
            "chosen_provider": chosen_provider or (ANY if offer.rules.allow_any_provider else ""),
        },
        status=422 if errors else 200,
    )


@router.api_route("/book/{slug}/times", methods=READ, response_class=HTMLResponse)
def choose_time(
    request: Request,
    slug: str,
    db: DatabaseDep,
    type: str | None = None,
    provider: str | None = None,
    week: date | None = None,
) -> Response:
    """Step 2: a week of the times patients are offered."""
    with db.reading() as session:
        offer = _offer(session, slug)
        if not type or not provider:
            errors = {}
            if not type:
                errors["type"] = "Choose the kind of appointment."
            if not provider:
                errors["provider"] = "Choose a provider, or no preference."
            return _step_one(request, offer, errors, type or "", provider or "")
        kind = offer.kind(_uuid(type))
        try:
            chosen = offer.provider(provider, kind)
        except InvalidInput as error:
            return _step_one(request, offer, {"provider": error.message}, type, provider)
        now = utcnow()
        return _times(request, session, offer, kind, chosen, week, now, {})


def _times(
    request: Request,
    session: Session,
    offer: Offer,
    kind: AppointmentType,
    provider: Provider | None,
    week: date | None,
    now: datetime,
    errors: dict[str, str],
    *,
    kept: Mapping[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """Step 2. With ``kept`` (the details of a request whose time was refused), the
    times are a form that sends the request again with the new time, so nothing typed
    is lost."""
    return _page(
        request,
        offer,
        "widget_times.html",
        {
            "choice": _choice(offer, kind, provider, None),
            "week": _week(session, offer, kind, provider, week, now),
            "errors": errors,
            "kept": kept,
        },
        status=status,
        private=kept is not None,
    )


@router.api_route("/book/{slug}/details", methods=READ, response_class=HTMLResponse)
def your_details(
    request: Request,
    slug: str,
    db: DatabaseDep,
    type: str,
    provider: str,
    start: str | None = None,
) -> Response:
    """Step 3: who is asking, and why."""
    with db.reading() as session:
        offer = _offer(session, slug)
        kind = offer.kind(_uuid(type))
        chosen = offer.provider(provider, kind)
        when = _start(start)
        now = utcnow()
        if when is None:
            errors = {"start": "Choose a time."}
            return _times(request, session, offer, kind, chosen, None, now, errors, status=422)
        return _details(request, offer, kind, chosen, when, {}, {"form_key": new_token()})


def _details(
    request: Request,
    offer: Offer,
    kind: AppointmentType,
    provider: Provider | None,
    start: datetime,
    errors: dict[str, str],
    values: Mapping[str, str],
) -> HTMLResponse:
    return _page(
        request,
        offer,
        "widget_details.html",
        {
            "choice": _choice(offer, kind, provider, start),
            "errors": errors,
            "values": values,
            "insurances": list(offer.profile.insurances or []),
            "limits": {
                "name": NAME_MAX,
                "phone": PHONE_MAX,
                "email": EMAIL_MAX,
                "insurance": INSURANCE_LENGTH,
                "note": NOTE_LENGTH,
            },
        },
        status=422 if errors else 200,
        private=True,
    )


@router.post("/book/{slug}/details", response_class=HTMLResponse)
def send_request(
    request: Request, slug: str, form: CheckedEmbeddedForm, db: DatabaseDep
) -> Response:
    """The request itself: checked, counted against the address's hourly limit, and
    made through the booking requests service (which checks the time again). A time no
    longer offered shows the week again, with the details kept."""
    values = {name: _text(form.get(name)) for name in (*FIELDS, "form_key")}
    type_text, provider_text = _text(form.get("type")), _text(form.get("provider"))
    if not type_text or not provider_text or not plausible(values["form_key"]):
        raise _bad()
    start = _start(_text(form.get("start")))
    sent = RedirectResponse(f"/book/{slug.lower()}/sent", status_code=303)
    settings = request.app.state.settings
    with db.reading() as session:
        offer = _offer(session, slug)
        kind_id = _uuid(type_text)
        kind = offer.kind(kind_id)
        provider = offer.provider(provider_text, kind)
        now = utcnow()
        if start is None:
            errors = {"start": "Choose a time."}
            return _times(
                request, session, offer, kind, provider, None, now, errors, kept=values, status=422
            )
        try:
            applicant = _applicant(values, offer.clinic, now)
        except _Problems as problems:
            return _details(request, offer, kind, provider, start, problems.errors, values)
        clinic_id = offer.clinic.id
        if _already_made(session, clinic_id, values["form_key"]):
            return sent
    limits.hit(
        db,
        "booking-widget",
        limits.address_hash(request, settings),
        limit=RATE_LIMIT,
        window=RATE_WINDOW,
        what="booking requests",
    )
    try:
        with db.writing() as session:
            # Read again in this transaction: what the read above loaded is not used
            # across transactions.
            offer = _offer(session, slug)
            if _asked_already(session, clinic_id, applicant, start):
                return sent
            kind = offer.kind(kind_id)
            provider = offer.provider(provider_text, kind)
            try:
                with session.begin_nested():
                    requests.create_request(
                        session,
                        offer.clinic.id,
                        provider_id=_provider_then(session, offer, kind, provider, start, now),
                        starts_at=start,
                        applicant=applicant,
                        appointment_type_id=kind.id,
                        note=values["note"],
                        ip_hash=limits.address_hash(request, settings),
                        form_key=values["form_key"],
                        now=now,
                    )
            except (SlotTaken, InvalidInput) as refused:
                if isinstance(refused, PatientInvalid):
                    return _details(request, offer, kind, provider, start, _errors(refused), values)
                week = start.astimezone(offer.zone).date()
                return _times(
                    request,
                    session,
                    offer,
                    kind,
                    provider,
                    week,
                    now,
                    {"start": refused.message},
                    kept=values,
                    status=409 if isinstance(refused, SlotTaken) else 422,
                )
    except IntegrityError:
        # The same form sent twice at the same moment: the other send made it.
        with db.reading() as session:
            if not _already_made(session, clinic_id, values["form_key"]):
                raise
    return sent


def _provider_then(
    session: Session,
    offer: Offer,
    kind: AppointmentType,
    provider: Provider | None,
    start: datetime,
    now: datetime,
) -> uuid.UUID:
    """The provider asked for, or for "no preference" one free at ``start`` (the
    engine spreads patients fairly among those free); refused in words when none is."""
    if provider is not None:
        return provider.id
    day = start.astimezone(offer.zone).date()
    for slot in _slots(session, offer, type_rules(kind), None, day, day, now):
        if slot.starts_at == start:
            return slot.provider_id
    requests.check_timing(session, offer.clinic.id, start, now)
    raise SlotTaken("That time is no longer free. Choose another of the times offered.")


def _already_made(session: Session, clinic_id: uuid.UUID, form_key: str) -> bool:
    return (
        session.scalar(
            select(BookingRequest.id).where(
                BookingRequest.clinic_id == clinic_id, BookingRequest.form_key == form_key
            )
        )
        is not None
    )


def _asked_already(
    session: Session, clinic_id: uuid.UUID, applicant: Applicant, start: datetime
) -> bool:
    """The same person already waits for an answer about the same time: the form sent
    again after "Back" (a fresh form key), which must not make a second request."""
    waiting = session.scalars(
        select(BookingRequest).where(
            BookingRequest.clinic_id == clinic_id,
            BookingRequest.starts_at == start,
            BookingRequest.status == BookingRequestStatus.PENDING,
            BookingRequest.date_of_birth == applicant.date_of_birth,
        )
    )
    same = (applicant.first_name.casefold(), applicant.last_name.casefold())
    return any(
        ((r.first_name or "").casefold(), (r.last_name or "").casefold()) == same for r in waiting
    )


@router.api_route("/book/{slug}/sent", methods=READ, response_class=HTMLResponse)
def request_sent(request: Request, slug: str, db: DatabaseDep) -> Response:
    """The end: nothing personal on it (it may be reloaded, or seen by the next person
    at a shared screen)."""
    with db.reading() as session:
        offer = _offer(session, slug)
        return _page(request, offer, "widget_sent.html", {})


# --- the details form ----------------------------------------------------------------------


class _Problems(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("problems")
        self.errors = errors


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _errors(problem: PatientInvalid) -> dict[str, str]:
    errors: dict[str, str] = {}
    for each in (problem, *problem.also):
        errors.setdefault(each.field, YOUR_WORDS.get(each.message, each.message))
    return errors


def _applicant(values: Mapping[str, str], clinic: Clinic, now: datetime) -> Applicant:
    """The applicant from the form, by the rules reception's patient form follows; every
    problem at once, each against its field."""
    errors: dict[str, str] = {}
    born: date | None = None
    try:
        born = parse_birth_date(values["date_of_birth"])
    except PatientInvalid as problem:
        errors["date_of_birth"] = "Write the date of birth like 17/05/1980."
        del problem
    note = values["note"].strip()
    if len(note) > NOTE_LENGTH:
        errors["note"] = f"The reason is at most {NOTE_LENGTH} characters."
    elif any(ord(ch) < 32 and ch not in "\t\n\r" for ch in note):
        errors["note"] = "The reason must not contain control characters."
    typed = Applicant(
        first_name=values["first_name"],
        last_name=values["last_name"],
        date_of_birth=born,
        phone=values["phone"],
        email=values["email"],
        insurance=values["insurance"],
    )
    zone = ZoneInfo(clinic.time_zone)
    today = max(now.astimezone(zone).date(), now.astimezone(UTC).date())
    try:
        cleaned = clean_applicant(typed, country=clinic.country, today=today)
    except PatientInvalid as problem:
        for name, text in _errors(problem).items():
            if not (name == "date_of_birth" and name in errors):
                errors.setdefault(name, text)
        raise _Problems(_ordered(errors)) from None
    if errors:
        raise _Problems(_ordered(errors))
    return cleaned


def _ordered(errors: dict[str, str]) -> dict[str, str]:
    """In the form's order, so the list at the top reads as the form does."""
    return {name: errors[name] for name in FIELDS if name in errors}
