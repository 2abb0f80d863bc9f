"""The portal's appointment pages: the list, one appointment (with its .ics, cancel and
reschedule), and booking, for the account holder and their dependants at one clinic.

Every step of booking is a GET (who, what, with whom, which week, review), so the back
button and a phone without JavaScript work; only the review page's "Confirm" and the
cancel and reschedule buttons POST. A GET or HEAD changes nothing. Each POST carries the
appointment's version as the patient saw it: a change made at the desk meanwhile
answers with the appointment as it stands now, and nothing done.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.exc import IntegrityError

from common.errors import Conflict, InvalidInput, SlotTaken
from server.audit import service as audit
from server.booking_links.patient import TAKEN, describe, offering, parse_slot, week_of
from server.db import utcnow
from server.deps import DatabaseDep, SettingsDep
from server.portal import appointments as service
from server.portal.viewer import PortalViewer, Viewer, see_other
from server.scheduling.service import clinic_zone
from server.scheduling.settings import booking_rules_of
from server.web import limits, tokens
from server.web.pages import READ, WebRoute, render
from server.web.security import CheckedForm

BOOKINGS_PER_HOUR = 10  # per account, for all its people
router = APIRouter(route_class=WebRoute, include_in_schema=False)
PAST_SHOWN = 20
NO_TIME = "Please choose a time first."


def _week(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _version(form: CheckedForm) -> int:
    text = _text(form.get("version"))
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise InvalidInput("This form is incomplete. Open the appointment again and retry.")
    return int(text)


# --- the list ---------------------------------------------------------------------------


@router.api_route("/portal/{slug}/appointments", methods=READ, response_class=HTMLResponse)
def listing(
    slug: str,
    request: Request,
    db: DatabaseDep,
    viewer: PortalViewer,
    requested: str | None = None,
) -> Response:
    now = utcnow()
    with db.reading() as session:
        upcoming = service.visits(session, viewer, now)
        past = service.visits(session, viewer, now, upcoming=False, limit=PAST_SHOWN)
        asked = service.waiting(session, viewer, now)
    audit.read(
        db,
        viewer.ctx(),
        entity="appointments",
        record_count=len(upcoming) + len(past),
        reason=f"appointments of the account's people, read by {viewer.actor()}",
    )
    return render(
        request,
        "portal/appointments.html",
        {
            "viewer": viewer,
            "section": "appointments",
            "upcoming": upcoming,
            "past": past,
            "asked": asked,
            "requested": requested == "1",
        },
        brand=viewer.brand,
        private=True,
    )


# --- one appointment --------------------------------------------------------------------


def _detail_page(
    request: Request,
    db: DatabaseDep,
    viewer: Viewer,
    appointment_id: str,
    *,
    template: str = "portal/appointment.html",
    notice: str = "",
    problem: str = "",
    status: int = 200,
) -> Response:
    wanted = service.appointment_id_of(appointment_id)
    now = utcnow()
    with db.reading() as session:
        row = service.mine(session, viewer, wanted)
        shown = service.detail(session, viewer, row, now)
    audit.read(
        db,
        viewer.ctx(shown.visit.person.patient_id),
        entity="appointments",
        entity_id=wanted,
        reason=f"one appointment, read by {viewer.actor()}",
    )
    if shown.forms:
        audit.read(
            db,
            viewer.ctx(shown.visit.person.patient_id),
            entity="form_requests",
            record_count=len(shown.forms),
            reason=f"the forms of one appointment, read by {viewer.actor()}",
        )
    return render(
        request,
        template,
        {
            "viewer": viewer,
            "section": "appointments",
            "detail": shown,
            "visit": shown.visit,
            "notice": notice,
            "problem": problem,
        },
        brand=viewer.brand,
        private=True,
        status=status,
    )


@router.api_route(
    "/portal/{slug}/appointments/{appointment_id}.ics", methods=READ, response_class=Response
)
def calendar(
    slug: str, appointment_id: str, request: Request, db: DatabaseDep, viewer: PortalViewer
) -> Response:
    wanted = service.appointment_id_of(appointment_id)
    with db.reading() as session:
        row = service.mine(session, viewer, wanted)
        patient_id = row.patient_id
        body = service.calendar_file(session, viewer, row)
    audit.read(
        db,
        viewer.ctx(patient_id),
        entity="appointments",
        entity_id=wanted,
        reason=f"appointment saved to a calendar by {viewer.actor()}",
    )
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "cache-control": "no-store",
            "content-disposition": 'attachment; filename="appointment.ics"',
            "x-content-type-options": "nosniff",
        },
    )


@router.api_route(
    "/portal/{slug}/appointments/{appointment_id}", methods=READ, response_class=HTMLResponse
)
def appointment(
    slug: str,
    appointment_id: str,
    request: Request,
    db: DatabaseDep,
    viewer: PortalViewer,
    booked: str | None = None,
    moved: str | None = None,
    cancelled: str | None = None,
) -> Response:
    notice = ""
    if booked == "1":
        notice = "Your appointment is booked."
    elif moved == "1":
        notice = "Your appointment has been moved. This is your new time."
    elif cancelled == "1":
        notice = "Your appointment has been cancelled."
    return _detail_page(request, db, viewer, appointment_id, notice=notice)


@router.api_route(
    "/portal/{slug}/appointments/{appointment_id}/cancel",
    methods=READ,
    response_class=HTMLResponse,
)
def cancel_page(
    slug: str, appointment_id: str, request: Request, db: DatabaseDep, viewer: PortalViewer
) -> Response:
    """ "Cancel this appointment?": the question first, so a stray tap cancels nothing."""
    return _detail_page(
        request, db, viewer, appointment_id, template="portal/appointment_cancel.html"
    )


@router.post("/portal/{slug}/appointments/{appointment_id}/cancel", response_class=HTMLResponse)
def cancel(
    slug: str,
    appointment_id: str,
    request: Request,
    db: DatabaseDep,
    viewer: PortalViewer,
    form: CheckedForm,
) -> Response:
    wanted = service.appointment_id_of(appointment_id)
    version = _version(form)
    try:
        with db.writing() as session:
            service.cancel(session, viewer, wanted, version, utcnow())
    except service.Stale:
        return _detail_page(
            request, db, viewer, appointment_id, problem=service.CHANGED, status=409
        )
    except (Conflict, InvalidInput) as refused:
        return _detail_page(
            request, db, viewer, appointment_id, problem=refused.message, status=409
        )
    return see_other(f"/portal/{viewer.slug}/appointments/{wanted}?cancelled=1")


# --- reschedule -------------------------------------------------------------------------


def _reschedule_page(
    request: Request,
    db: DatabaseDep,
    viewer: Viewer,
    appointment_id: str,
    *,
    week: date | None,
    problem: str = "",
    status: int = 200,
) -> Response:
    wanted = service.appointment_id_of(appointment_id)
    now = utcnow()
    with db.reading() as session:
        row = service.mine(session, viewer, wanted)
        shown = service.detail(session, viewer, row, now)
        if not shown.may_reschedule:
            page = None
        else:
            offer = service.reschedule_offer(session, viewer, row, now)
            page = week_of(session, offer, week, now)
    if page is None:  # inside the cut-off, or not movable: the page says why
        return _detail_page(request, db, viewer, appointment_id, status=status)
    audit.read(
        db,
        viewer.ctx(shown.visit.person.patient_id),
        entity="appointments",
        entity_id=wanted,
        reason=f"times to move an appointment to, read by {viewer.actor()}",
    )
    base = f"/portal/{viewer.slug}/appointments/{wanted}"
    return render(
        request,
        "portal/appointment_times.html",
        {
            "viewer": viewer,
            "section": "appointments",
            "visit": shown.visit,
            "week": page,
            "problem": problem,
            "page_url": f"{base}/reschedule",
            "back": base,
        },
        brand=viewer.brand,
        private=True,
        status=status,
    )


@router.api_route(
    "/portal/{slug}/appointments/{appointment_id}/reschedule",
    methods=READ,
    response_class=HTMLResponse,
)
def reschedule_page(
    slug: str,
    appointment_id: str,
    request: Request,
    db: DatabaseDep,
    viewer: PortalViewer,
    week: str | None = None,
) -> Response:
    return _reschedule_page(request, db, viewer, appointment_id, week=_week(week))


@router.post("/portal/{slug}/appointments/{appointment_id}/reschedule", response_class=HTMLResponse)
def reschedule(
    slug: str,
    appointment_id: str,
    request: Request,
    db: DatabaseDep,
    viewer: PortalViewer,
    form: CheckedForm,
) -> Response:
    wanted = service.appointment_id_of(appointment_id)
    version = _version(form)
    chosen = parse_slot(_text(form.get("slot")))
    if chosen is None:
        return _reschedule_page(
            request, db, viewer, appointment_id, week=None, problem=NO_TIME, status=422
        )
    try:
        with db.writing() as session:
            service.move(
                session,
                viewer,
                wanted,
                version,
                provider_id=chosen[0],
                starts_at=chosen[1],
                now=utcnow(),
            )
    except service.Stale:
        return _detail_page(
            request, db, viewer, appointment_id, problem=service.CHANGED, status=409
        )
    except SlotTaken as taken:
        return _reschedule_page(
            request,
            db,
            viewer,
            appointment_id,
            week=_local_day(db, viewer, chosen[1]),
            problem=taken.message,
            status=409,
        )
    except (Conflict, InvalidInput) as refused:
        return _detail_page(
            request, db, viewer, appointment_id, problem=refused.message, status=409
        )
    return see_other(f"/portal/{viewer.slug}/appointments/{wanted}?moved=1")


def _local_day(db: DatabaseDep, viewer: Viewer, moment: datetime) -> date:
    with db.reading() as session:
        return moment.astimezone(clinic_zone(session, viewer.clinic_id)).date()


# --- booking ----------------------------------------------------------------------------


def _book_base(viewer: Viewer) -> str:
    return f"/portal/{viewer.slug}/book"


@router.api_route("/portal/{slug}/book", methods=READ, response_class=HTMLResponse)
def book_start(
    slug: str,
    request: Request,
    db: DatabaseDep,
    viewer: PortalViewer,
    person: str | None = None,
    type: str | None = None,
    provider: str | None = None,
    week: str | None = None,
) -> Response:
    """Each step is the same address with one more choice: who and what, then with
    whom, then the week's times."""
    who = viewer.person(person)
    now = utcnow()
    with db.reading() as session:
        kinds = service.bookable_types(session, viewer.clinic_id)
        if not type:
            return _page(
                request,
                viewer,
                "portal/book_start.html",
                {"kinds": kinds, "who": who},
            )
        kind = service.bookable_type(session, viewer.clinic_id, type)
        rules = booking_rules_of(session, viewer.clinic_id)
        if not provider:
            return _page(
                request,
                viewer,
                "portal/book_provider.html",
                {
                    "who": who,
                    "kind": kind,
                    "providers": offering(session, viewer.clinic_id, kind, []),
                    "any_allowed": rules.allow_any_provider,
                },
            )
        offer = service.booking_offer(session, viewer.clinic_id, kind, provider, now)
        page = week_of(session, offer, _week(week), now)
    return _times(request, viewer, who.patient_id, kind.id, provider, page)


def _page(
    request: Request, viewer: Viewer, template: str, context: dict[str, object], status: int = 200
) -> Response:
    return render(
        request,
        template,
        {"viewer": viewer, "section": "book", **context},
        brand=viewer.brand,
        private=True,
        status=status,
    )


def _times(
    request: Request,
    viewer: Viewer,
    patient_id: uuid.UUID,
    type_id: uuid.UUID,
    provider: str,
    page: object,
    *,
    problem: str = "",
    status: int = 200,
) -> Response:
    return _page(
        request,
        viewer,
        "portal/book_times.html",
        {
            "person": str(patient_id),
            "type_id": str(type_id),
            "provider": provider,
            "week": page,
            "problem": problem,
            "page_url": _book_base(viewer),
        },
        status,
    )


def _times_again(
    request: Request,
    db: DatabaseDep,
    viewer: Viewer,
    patient_id: uuid.UUID,
    type_id: str,
    provider: str,
    moment: datetime | None,
    problem: str,
    status: int,
) -> Response:
    now = utcnow()
    with db.reading() as session:
        kind = service.bookable_type(session, viewer.clinic_id, type_id)
        offer = service.booking_offer(session, viewer.clinic_id, kind, provider, now)
        wanted = (
            moment.astimezone(clinic_zone(session, viewer.clinic_id)).date() if moment else None
        )
        page = week_of(session, offer, wanted, now)
    return _times(
        request, viewer, patient_id, kind.id, provider, page, problem=problem, status=status
    )


@router.api_route("/portal/{slug}/book/review", methods=READ, response_class=HTMLResponse)
def book_review(
    slug: str,
    request: Request,
    db: DatabaseDep,
    viewer: PortalViewer,
    person: str = "",
    type: str = "",
    provider: str = "",
    slot: str = "",
) -> Response:
    who = viewer.person(person)
    chosen = parse_slot(slot)
    if not type or not provider:
        raise InvalidInput("Start again from Book an appointment.")
    if chosen is None:
        return _times_again(request, db, viewer, who.patient_id, type, provider, None, NO_TIME, 422)
    now = utcnow()
    with db.reading() as session:
        kind = service.bookable_type(session, viewer.clinic_id, type)
        offer = service.booking_offer(session, viewer.clinic_id, kind, provider, now)
        visit = describe(session, offer, chosen[0], chosen[1], now)
        kind_name, asks = kind.name, kind.requires_confirmation
        afterwards = service.change_window(session, viewer, chosen[1], now)
        theirs = (
            service.already_booked(
                session,
                viewer,
                "",
                patient_id=who.patient_id,
                provider_id=chosen[0],
                starts_at=chosen[1],
            )
            if visit is None
            else None
        )
    if theirs is not None and theirs.appointment_id is not None:
        # Back to this page after booking it: the time is theirs, not someone else's.
        return see_other(f"{viewer.base()}/appointments/{theirs.appointment_id}?booked=1")
    if visit is None:
        return _times_again(
            request, db, viewer, who.patient_id, type, provider, chosen[1], TAKEN, 409
        )
    return _page(
        request,
        viewer,
        "portal/book_review.html",
        {
            "who": who,
            "visit": visit,
            "kind_name": kind_name,
            "asks": asks,
            "afterwards": afterwards,
            "values": {
                "person": str(who.patient_id),
                "type": type,
                "provider": provider,
                "slot": slot,
                "form_key": tokens.new_token(),
            },
        },
    )


@router.post("/portal/{slug}/book", response_class=HTMLResponse)
def book(
    slug: str,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    viewer: PortalViewer,
    form: CheckedForm,
) -> Response:
    who = viewer.person(_text(form.get("person")))
    type_id, provider = _text(form.get("type")), _text(form.get("provider"))
    form_key = _text(form.get("form_key"))
    chosen = parse_slot(_text(form.get("slot")))
    if not type_id or not provider or not tokens.plausible(form_key):
        raise InvalidInput("This form is incomplete. Start again from Book an appointment.")
    if chosen is None:
        return _times_again(
            request, db, viewer, who.patient_id, type_id, provider, None, NO_TIME, 422
        )
    # An account books for a family at most, not a diary: a handful an hour.
    limits.hit(
        db,
        "portal-book",
        limits.keyed(settings, "portal-account", str(viewer.account_id)),
        limit=BOOKINGS_PER_HOUR,
        window=timedelta(hours=1),
        what="bookings",
    )
    now = utcnow()
    try:
        with db.writing() as session:
            kind = service.bookable_type(session, viewer.clinic_id, type_id)
            offer = service.booking_offer(session, viewer.clinic_id, kind, provider, now)
            made = service.book(
                session,
                viewer,
                patient_id=who.patient_id,
                kind=kind,
                offer=offer,
                provider_id=chosen[0],
                starts_at=chosen[1],
                form_key=form_key,
                now=now,
            )
    except (SlotTaken, InvalidInput, IntegrityError) as taken:
        # Sent twice at once: the other submission booked it (or asked for it).
        with db.reading() as session:
            done = service.already_booked(
                session,
                viewer,
                form_key,
                patient_id=who.patient_id,
                provider_id=chosen[0],
                starts_at=chosen[1],
            )
        if done is None:
            if isinstance(taken, IntegrityError):
                raise
            status = 409 if isinstance(taken, SlotTaken) else 422
            return _times_again(
                request,
                db,
                viewer,
                who.patient_id,
                type_id,
                provider,
                chosen[1],
                taken.message,
                status,
            )
        made = done
    if made.appointment_id is not None:
        return see_other(f"/portal/{viewer.slug}/appointments/{made.appointment_id}?booked=1")
    return see_other(f"/portal/{viewer.slug}/appointments?requested=1")
