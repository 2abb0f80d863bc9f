"""Manage links, as the patient opens them: ``/m/{token}``.

The link came by SMS, and texts are read over shoulders and forwarded, so the link alone
shows nothing of the appointment: the patient first proves who they are, by their date
of birth or a code texted to their mobile. That sets a short-lived cookie (30 minutes;
HttpOnly, SameSite=Strict, ``__Host-`` and Secure where the browser keeps them) holding
the manage link's id and expiry, signed with the server's secret; it opens this link's
pages only. Tries are limited per link and per address (``limits.hit``).

Then: the appointment, the clinic's information and cancellation policy, and — if the
broadcast rule allowed it and the clinic's reschedule cut-off has not passed — the free
times to move it to (``scheduling.move``: the booking guarantee decides).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import date, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from common.errors import SlotTaken, TooManyAttempts
from server.audit import service as audit
from server.auth.context import AuthContext
from server.booking_links import patient as links
from server.config import Settings
from server.db import utcnow
from server.deps import DatabaseDep, SettingsDep
from server.scheduling.service import clinic_zone
from server.web import limits, tokens
from server.web.pages import READ, Brand, WebRoute, brand_for, not_found_page, render
from server.web.security import CheckedForm, same_text, secure_context

router = APIRouter(route_class=WebRoute, include_in_schema=False)
SECURE_COOKIE = "__Host-clinicdesk-manage"
PLAIN_COOKIE = "clinicdesk-manage"
SESSION = timedelta(minutes=30)
TRIES_PER_LINK, TRIES_LINK_WINDOW = 5, timedelta(minutes=15)
TRIES_PER_ADDRESS, TRIES_ADDRESS_WINDOW = 20, timedelta(hours=1)
# Dates of birth tried on one link in all (a link lives until its appointment): past this,
# only a code sent to the patient's own phone opens it. Guessing a date a few at a time
# from many addresses would otherwise get there in days.
DATES_PER_LINK, DATES_WINDOW = 12, timedelta(days=60)
TOO_MANY_DATES = (
    "This link has had too many dates of birth tried. Ask for a code by text instead, or "
    "call the clinic."
)
CODES_PER_LINK, CODES_WINDOW = 3, timedelta(hours=1)
WRONG_DATE = (
    "That date of birth does not match our records. Check it and try again, or ask for a "
    "code by text instead."
)
WRONG_CODE = "That code is not right, or it has expired. Check it, or ask for a new one."
NO_PHONE = (
    "We have no mobile number for you, so we cannot text a code. Use your date of birth, "
    "or call the clinic."
)
CODE_HELD = (
    "We cannot text your mobile number just now. Use your date of birth, or call the clinic."
)


# --- the verified cookie ----------------------------------------------------------------


def _cookie_name(request: Request) -> str:
    return SECURE_COOKIE if secure_context(request) else PLAIN_COOKIE


def _mac(settings: Settings, link_id: uuid.UUID, until: int) -> str:
    message = f"manage-session:{link_id}:{until}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()


def _set_cookie(
    response: Response, request: Request, settings: Settings, link_id: uuid.UUID
) -> None:
    until = int((utcnow() + SESSION).timestamp())
    value = f"{link_id}.{until}.{_mac(settings, link_id, until)}"
    name = _cookie_name(request)
    secure = "; Secure" if name == SECURE_COOKIE else ""
    response.headers.append(
        "set-cookie",
        f"{name}={value}; Path=/; Max-Age={int(SESSION.total_seconds())}; HttpOnly; "
        f"SameSite=Strict{secure}",
    )


def _verified(request: Request, settings: Settings, link_id: uuid.UUID) -> bool:
    """The patient proved who they are for THIS link, less than 30 minutes ago."""
    raw = request.cookies.get(_cookie_name(request), "")
    parts = raw.split(".")
    if len(parts) != 3 or parts[0] != str(link_id) or not _ascii_number(parts[1], 12):
        return False
    until = int(parts[1])
    if until <= utcnow().timestamp():
        return False
    return same_text(parts[2], _mac(settings, link_id, until))


def _ascii_number(text: str, longest: int) -> bool:
    """Digits 0-9 only, and not too many: ``str.isdigit`` also takes "²", which
    ``int`` refuses."""
    return 0 < len(text) <= longest and text.isascii() and text.isdigit()


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"cache-control": "no-store"})


def _closed(request: Request, brand: Brand) -> Response:
    return render(request, "manage_closed.html", {}, brand=brand, private=True, status=410)


# --- verifying --------------------------------------------------------------------------


def _verify_page(
    request: Request,
    db: DatabaseDep,
    token: str,
    *,
    errors: dict[str, str] | None = None,
    typed: str = "",
    code_sent: bool = False,
    status: int = 200,
) -> Response:
    now = utcnow()
    with db.reading() as session:
        link = links.find_manage(session, token)
        if link is None:
            return not_found_page(request)
        brand = brand_for(session, link.clinic_id)
        if links.manage_usable(session, link, now) is None:
            return _closed(request, brand)
        has_dob = links.has_date_of_birth(session, link)
        code_live = link.code_hash is not None and (
            link.code_expires_at is not None and link.code_expires_at > now
        )
    return render(
        request,
        "manage_verify.html",
        {
            "token": token,
            "errors": errors or {},
            "typed": typed,
            "has_dob": has_dob,
            "code_sent": code_sent or code_live,
        },
        brand=brand,
        private=True,
        status=status,
    )


@router.api_route("/m/{token}", methods=READ, response_class=HTMLResponse)
def open_manage(token: str, request: Request, db: DatabaseDep, code: str | None = None) -> Response:
    return _verify_page(request, db, token, code_sent=code == "sent")


def _parse_date(value: str) -> date | None:
    text = value.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    for separator in ("/", ".", "-", " "):
        parts = text.split(separator)
        if len(parts) == 3 and all(_ascii_number(p, 4) for p in parts):
            day, month, year = (int(p) for p in parts)
            try:
                return date(year, month, day)
            except ValueError:
                return None
    return None


def _count_try(request: Request, db: DatabaseDep, settings: Settings, token: str) -> None:
    """Every try counts, before it is checked: per link and per address."""
    limits.hit(
        db,
        "manage-verify",
        limits.keyed(settings, "manage-link", tokens.digest(token)),
        limit=TRIES_PER_LINK,
        window=TRIES_LINK_WINDOW,
        what="tries",
    )
    limits.hit(
        db,
        "manage-verify-address",
        limits.address_hash(request, settings),
        limit=TRIES_PER_ADDRESS,
        window=TRIES_ADDRESS_WINDOW,
        what="tries",
    )


@router.post("/m/{token}/verify", response_class=HTMLResponse)
def verify(
    token: str, request: Request, db: DatabaseDep, settings: SettingsDep, form: CheckedForm
) -> Response:
    born = form.get("date_of_birth")
    code = form.get("code")
    now = utcnow()
    with db.reading() as session:
        link = links.find_manage(session, token)
        if link is None:
            return not_found_page(request)
        if links.manage_usable(session, link, now) is None:
            return _closed(request, brand_for(session, link.clinic_id))
        link_id = link.id
    if isinstance(code, str) and code.strip():
        _count_try(request, db, settings, token)
        with db.writing() as session:
            right = links.code_matches(session, token, code, secret=settings.secret_key, now=now)
        if not right:
            return _verify_page(
                request, db, token, errors={"code": WRONG_CODE}, code_sent=True, status=422
            )
    else:
        typed = born.strip() if isinstance(born, str) else ""
        when = _parse_date(typed)
        if when is None:
            problem = "Enter your date of birth, for example 17/05/1980."
            return _verify_page(
                request, db, token, errors={"date_of_birth": problem}, typed=typed, status=422
            )
        _count_try(request, db, settings, token)
        try:
            limits.hit(
                db,
                "manage-dates",
                limits.keyed(settings, "manage-link", tokens.digest(token)),
                limit=DATES_PER_LINK,
                window=DATES_WINDOW,
            )
        except TooManyAttempts as refused:
            raise TooManyAttempts(TOO_MANY_DATES, retry_after=refused.retry_after) from None
        with db.reading() as session:
            found = links.find_manage(session, token)
            right = found is not None and links.date_of_birth_matches(session, found, when)
        if not right:
            return _verify_page(
                request, db, token, errors={"date_of_birth": WRONG_DATE}, typed=typed, status=422
            )
    response = _see_other(f"/m/{token}/appointment")
    _set_cookie(response, request, settings, link_id)
    return response


@router.post("/m/{token}/code", response_class=HTMLResponse)
def send_code(
    token: str, request: Request, db: DatabaseDep, settings: SettingsDep, form: CheckedForm
) -> Response:
    """ "Text me a code instead": at most three a link an hour."""
    limits.hit(
        db,
        "manage-code",
        limits.keyed(settings, "manage-link", tokens.digest(token)),
        limit=CODES_PER_LINK,
        window=CODES_WINDOW,
        what="codes",
    )
    limits.hit(
        db,
        "manage-code-address",
        limits.address_hash(request, settings),
        limit=TRIES_PER_ADDRESS,
        window=TRIES_ADDRESS_WINDOW,
        what="codes",
    )
    with db.writing() as session:
        sent = links.send_code(session, token, secret=settings.secret_key, now=utcnow())
    if sent is None:
        return _verify_page(request, db, token)  # gone: the 404 or closed page
    if sent is links.CodeSent.SENT:
        return _see_other(f"/m/{token}?code=sent")
    problem = NO_PHONE if sent is links.CodeSent.NO_PHONE else CODE_HELD
    return _verify_page(request, db, token, errors={"code_request": problem}, status=422)


# --- the appointment --------------------------------------------------------------------


@router.api_route("/m/{token}/appointment", methods=READ, response_class=HTMLResponse)
def appointment(
    token: str,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    moved: str | None = None,
) -> Response:
    now = utcnow()
    with db.reading() as session:
        link = links.find_manage(session, token)
        if link is None:
            return not_found_page(request)
        brand = brand_for(session, link.clinic_id)
        found = links.manage_usable(session, link, now)
        if found is None:
            return _closed(request, brand)
        if not _verified(request, settings, link.id):
            return _see_other(f"/m/{token}")
        view = links.view_manage(session, link, found, now)
        clinic_id, patient_id = link.clinic_id, link.patient_id
    audit.read(
        db,
        AuthContext.for_patient(clinic_id, patient_id),
        entity="appointments",
        entity_id=view.visit.appointment_id,
        reason="the patient viewed their appointment through its manage link",
    )
    return render(
        request,
        "manage_appointment.html",
        {"view": view, "token": token, "moved": moved == "1"},
        brand=brand,
        private=True,
    )


def _times_page(
    request: Request,
    db: DatabaseDep,
    settings: Settings,
    token: str,
    *,
    week: date | None,
    problem: str = "",
    status: int = 200,
) -> Response:
    now = utcnow()
    with db.reading() as session:
        link = links.find_manage(session, token)
        if link is None:
            return not_found_page(request)
        brand = brand_for(session, link.clinic_id)
        found = links.manage_usable(session, link, now)
        if found is None:
            return _closed(request, brand)
        if not _verified(request, settings, link.id):
            return _see_other(f"/m/{token}")
        view = links.view_manage(session, link, found, now)
        if not view.may_reschedule:
            return _see_other(f"/m/{token}/appointment")
        offer = links.manage_offer(session, link, found, now)
        shown = links.week_of(session, offer, week, now)
    return render(
        request,
        "link_times.html",
        {
            "view": view,
            "week": shown,
            "problem": problem,
            "pick_action": f"/m/{token}/reschedule",
            "pick_method": "post",
            "pick_button": "Move my appointment to this time",
            "page_url": f"/m/{token}/times",
            "heading": "Choose a new time",
            "now_booked": view.visit,
            "back": f"/m/{token}/appointment",
        },
        brand=brand,
        private=True,
        status=status,
    )


@router.api_route("/m/{token}/times", methods=READ, response_class=HTMLResponse)
def times(
    token: str, request: Request, db: DatabaseDep, settings: SettingsDep, week: str | None = None
) -> Response:
    wanted = None
    if week:
        try:
            wanted = date.fromisoformat(week)
        except ValueError:
            wanted = None
    return _times_page(request, db, settings, token, week=wanted)


@router.post("/m/{token}/reschedule", response_class=HTMLResponse)
def reschedule(
    token: str, request: Request, db: DatabaseDep, settings: SettingsDep, form: CheckedForm
) -> Response:
    now = utcnow()
    with db.reading() as session:
        link = links.find_manage(session, token)
        if link is None:
            return not_found_page(request)
        verified = _verified(request, settings, link.id)
    if not verified:
        return _see_other(f"/m/{token}")
    value = form.get("slot")
    chosen = links.parse_slot(value) if isinstance(value, str) else None
    if chosen is None:
        return _times_page(
            request,
            db,
            settings,
            token,
            week=None,
            problem="Please choose a time first.",
            status=422,
        )
    try:
        with db.writing() as session:
            moved = links.reschedule(
                session, token, provider_id=chosen[0], starts_at=chosen[1], now=now
            )
    except SlotTaken as taken:
        week = _local_day(db, token, chosen[1])
        return _times_page(
            request, db, settings, token, week=week, problem=taken.message, status=409
        )
    if moved is None:
        return _verify_page(request, db, token)
    return _see_other(f"/m/{token}/appointment?moved=1")


def _local_day(db: DatabaseDep, token: str, moment: datetime) -> date | None:
    with db.reading() as session:
        link = links.find_manage(session, token)
        return moment.astimezone(clinic_zone(session, link.clinic_id)).date() if link else None
