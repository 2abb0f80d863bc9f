"""Booking links, as the patient opens them: ``/l/{token}``.

Welcome → "Continue to book appointment" (a POST: the link is now accessed) → a week of
free times → review → "Confirm appointment" (a POST: booked, once) → the same address
now shows the confirmation, and always will. An expired or removed link shows the
clinic's phone and lets the patient ask for a fresh one (a note in the desk's inbox).

Every page here is private (no-store) and sent with ``Referrer-Policy: no-referrer``
(``render``); a token that opens nothing gets the same 404 as any unknown address.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from common.errors import SlotTaken
from server.audit import service as audit
from server.auth.context import AuthContext
from server.booking_links import patient as links
from server.db import utcnow
from server.deps import DatabaseDep, SettingsDep
from server.scheduling.service import clinic_zone
from server.web import limits
from server.web.pages import READ, WebRoute, brand_for, not_found_page, render
from server.web.security import CheckedForm

router = APIRouter(route_class=WebRoute, include_in_schema=False)
# Asking for a fresh link: a note for the desk, so kept rare from any one address.
RENEW_PER_ADDRESS = 10
RENEW_WINDOW = timedelta(hours=1)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"cache-control": "no-store"})


def _week_param(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@router.api_route("/l/{token}", methods=READ, response_class=HTMLResponse)
def open_link(token: str, request: Request, db: DatabaseDep) -> Response:
    """What the link shows now: the welcome, the booking made with it, or why it no
    longer works. Changes nothing of the link (previews and scanners open links too);
    showing a booking writes its audit row, as every read of patient data does."""
    now = utcnow()
    with db.reading() as session:
        link = links.find_link(session, token)
        if link is None:
            return not_found_page(request)
        view = links.view_link(session, link, now)
        brand = brand_for(session, link.clinic_id)
        patient_id = link.patient_id
    if view.state is links.LinkState.BOOKED and view.visit is not None:
        audit.read(
            db,
            AuthContext.for_patient(view.clinic_id, patient_id),
            entity="appointments",
            entity_id=view.visit.appointment_id,
            reason="the patient opened their booking link (booked)",
        )
    template = {
        links.LinkState.OPEN: "link_welcome.html",
        links.LinkState.BOOKED: "link_booked.html",
    }.get(view.state, "link_closed.html")
    status = 410 if template == "link_closed.html" else 200
    return render(
        request, template, {"view": view, "token": token}, brand=brand, private=True, status=status
    )


@router.post("/l/{token}/start", response_class=HTMLResponse)
def start(token: str, request: Request, db: DatabaseDep, form: CheckedForm) -> Response:
    """ "Continue to book appointment": the link is accessed; on to the times."""
    with db.writing() as session:
        state = links.begin(session, token, utcnow())
    if state is None:
        return not_found_page(request)
    if state is links.LinkState.OPEN:
        return _see_other(f"/l/{token}/times")
    return _see_other(f"/l/{token}")


def _times_page(
    request: Request,
    db: DatabaseDep,
    token: str,
    *,
    week: date | None,
    problem: str = "",
    status: int = 200,
) -> Response:
    now = utcnow()
    with db.reading() as session:
        link = links.find_link(session, token)
        if link is None:
            return not_found_page(request)
        if links.state_of(link, now) is not links.LinkState.OPEN:
            return _see_other(f"/l/{token}")
        view = links.view_link(session, link, now)
        offer = links.link_offer(session, link, now)
        shown = links.week_of(session, offer, week, now)
        brand = brand_for(session, link.clinic_id)
    return render(
        request,
        "link_times.html",
        {
            "view": view,
            "week": shown,
            "problem": problem,
            "pick_action": f"/l/{token}/review",
            "pick_method": "get",
            "pick_button": "Review this time",
            "page_url": f"/l/{token}/times",
            "heading": f"Choose a time for your {view.type_name}",
        },
        brand=brand,
        private=True,
        status=status,
    )


@router.api_route("/l/{token}/times", methods=READ, response_class=HTMLResponse)
def times(token: str, request: Request, db: DatabaseDep, week: str | None = None) -> Response:
    return _times_page(request, db, token, week=_week_param(week))


def _chosen(
    slot: str | None, provider: str | None, start: str | None
) -> tuple[uuid.UUID, datetime] | None:
    if slot:
        return links.parse_slot(slot)
    if provider and start:
        return links.parse_start(provider, start)
    return None


@router.api_route("/l/{token}/review", methods=READ, response_class=HTMLResponse)
def review(
    token: str,
    request: Request,
    db: DatabaseDep,
    slot: str | None = None,
    provider: str | None = None,
    start: str | None = None,
) -> Response:
    """The chosen time, to confirm. A time no longer free goes back to the times."""
    chosen = _chosen(slot, provider, start)
    now = utcnow()
    with db.reading() as session:
        link = links.find_link(session, token)
        if link is None:
            return not_found_page(request)
        if links.state_of(link, now) is not links.LinkState.OPEN:
            return _see_other(f"/l/{token}")
        offer = links.link_offer(session, link, now)
        visit = None
        if chosen is not None and offer is not None:
            visit = links.describe(session, offer, chosen[0], chosen[1], now)
        view = links.view_link(session, link, now)
        brand = brand_for(session, link.clinic_id)
    if chosen is None:
        return _times_page(
            request, db, token, week=None, problem="Please choose a time first.", status=422
        )
    if visit is None:
        week = _week_of(db, token, chosen[1])
        return _times_page(request, db, token, week=week, problem=links.TAKEN, status=409)
    return render(
        request,
        "link_review.html",
        {"view": view, "visit": visit, "token": token, "slot": links.slot_value(*chosen)},
        brand=brand,
        private=True,
    )


@router.post("/l/{token}/confirm", response_class=HTMLResponse)
def confirm(
    token: str, request: Request, db: DatabaseDep, settings: SettingsDep, form: CheckedForm
) -> Response:
    """Book it, once: a second press (or a reload) finds the link booked and shows the
    confirmation. A time taken meanwhile goes back to the times, in words."""
    value = form.get("slot")
    chosen = links.parse_slot(value) if isinstance(value, str) else None
    if chosen is None:
        return _times_page(
            request, db, token, week=None, problem="Please choose a time first.", status=422
        )
    provider_id, starts_at = chosen
    try:
        with db.writing() as session:
            booked = links.confirm(
                session,
                token,
                provider_id=provider_id,
                starts_at=starts_at,
                now=utcnow(),
                public_base_url=settings.public_base_url,
            )
    except SlotTaken as taken:
        return _times_page(
            request,
            db,
            token,
            week=_week_of(db, token, starts_at),
            problem=taken.message,
            status=409,
        )
    if booked is None:
        return not_found_page(request)
    return _see_other(f"/l/{token}")


def _week_of(db: DatabaseDep, token: str, starts_at: datetime) -> date | None:
    """The local day the patient was looking at (the times page shows its week again)."""
    with db.reading() as session:
        link = links.find_link(session, token)
        if link is None:
            return None
        return starts_at.astimezone(clinic_zone(session, link.clinic_id)).date()


@router.post("/l/{token}/renew", response_class=HTMLResponse)
def renew(
    token: str, request: Request, db: DatabaseDep, settings: SettingsDep, form: CheckedForm
) -> Response:
    """The patient of an expired link asks for a fresh one (a note in the desk's inbox)."""
    limits.hit(
        db,
        "link-renew",
        limits.address_hash(request, settings),
        limit=RENEW_PER_ADDRESS,
        window=RENEW_WINDOW,
        what="requests for a new link",
    )
    now = utcnow()
    with db.writing() as session:
        state = links.ask_for_new_link(session, token, now)
    if state is None:
        return not_found_page(request)
    if state not in (links.LinkState.EXPIRED, links.LinkState.DELETED):
        return _see_other(f"/l/{token}")
    with db.reading() as session:
        link = links.find_link(session, token)
        assert link is not None
        brand = brand_for(session, link.clinic_id)
    return render(request, "link_renewed.html", {}, brand=brand, private=True)
