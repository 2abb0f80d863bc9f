"""Getting into the portal: invitations, sign-in by e-mailed link or password, and
signing out.

Every answer to "send me a sign-in link" is the same page whether or not the address has
an account (no one learns who is a patient where); a wrong password and an unknown
address get the same words too, after the same argon2 work. Requests are limited per
address and per e-mail (``server.web.limits``); links and invitations are opened by GET
without being spent, and spent only by the patient's POST.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from common.errors import InvalidInput
from common.messaging import Channel, Purpose
from server.audit import service as audit
from server.auth.context import AuthContext
from server.auth.security import hash_password, verify_password
from server.config import Settings
from server.db import Database, utcnow
from server.deps import DatabaseDep, SettingsDep
from server.messaging import service as messaging
from server.patients.models import Patient
from server.portal import accounts, invites, passwords
from server.portal.models import PortalAccount
from server.portal.security_web import refuse_while_viewing
from server.portal.viewer import (
    PortalViewer,
    clear_session_cookie,
    cookie_name,
    see_other,
    set_session_cookie,
)
from server.web import limits, tokens
from server.web.pages import (
    READ,
    WebRoute,
    brand_for,
    brand_of,
    by_slug,
    not_found_page,
    profile_of,
    render,
)
from server.web.security import CheckedForm

router = APIRouter(route_class=WebRoute, include_in_schema=False)

LINK_KIND = "portal_sign_in"
LINKS_PER_EMAIL, LINKS_PER_ADDRESS = 5, 20  # an hour
PASSWORDS_PER_EMAIL, PASSWORDS_PER_ADDRESS = 10, 50  # a quarter of an hour
HOUR, QUARTER_HOUR = timedelta(hours=1), timedelta(minutes=15)
NO_MATCH = (
    "That e-mail address and password do not match an account here. Check them, or ask "
    "for a sign-in link by e-mail instead."
)


def profile_slug(session: Session, clinic_id: uuid.UUID) -> str:
    profile = profile_of(session, clinic_id)
    return profile.slug if profile is not None else ""


def _signed_in(request: Request, started: accounts.Started, url: str) -> Response:
    """Where a new session lands, with its cookie."""
    response = see_other(url)
    set_session_cookie(response, request, started.token, started.max_age)
    return response


def _page(
    request: Request, db: DatabaseDep, slug: str, template: str, **context: object
) -> Response:
    with db.reading() as session:
        found = by_slug(session, slug)
        if found is None:
            return not_found_page(request)
        brand = brand_of(*found)
    status = int(context.pop("status", 200))  # type: ignore[call-overload]
    return render(
        request,
        template,
        {"slug": found[1].slug, **context},
        brand=brand,
        private=True,
        status=status,
    )


@router.api_route("/portal/{slug}", methods=READ, response_class=HTMLResponse)
def portal_root(slug: str) -> Response:
    return see_other(f"/portal/{slug.lower()}/home")


@router.api_route("/portal/{slug}/sign-in", methods=READ, response_class=HTMLResponse)
def sign_in_page(
    slug: str, request: Request, db: DatabaseDep, ended: str | None = None
) -> Response:
    return _page(request, db, slug, "portal/sign_in.html", errors={}, email="", ended=ended)


def _clinic_of(db: DatabaseDep, slug: str):  # type: ignore[no-untyped-def]
    with db.reading() as session:
        found = by_slug(session, slug)
        return (found[0].id, found[1].slug) if found else None


@router.post("/portal/{slug}/sign-in/link", response_class=HTMLResponse)
def ask_for_link(
    slug: str, request: Request, db: DatabaseDep, settings: SettingsDep, form: CheckedForm
) -> Response:
    """ "E-mail me a sign-in link": the same page whatever the address."""
    clinic = _clinic_of(db, slug)
    if clinic is None:
        return not_found_page(request)
    clinic_id, slug = clinic
    typed = str(form.get("email") or "").strip()
    if "@" not in typed or len(typed) > 254:
        return _page(
            request,
            db,
            slug,
            "portal/sign_in.html",
            errors={"email": "Enter your e-mail address, for example name@example.com."},
            email=typed[:254],
            status=422,
        )
    limits.hit(
        db,
        "portal-link-address",
        limits.address_hash(request, settings),
        limit=LINKS_PER_ADDRESS,
        window=HOUR,
        what="sign-in links",
    )
    limits.hit(
        db,
        "portal-link-email",
        limits.keyed(settings, "portal-email", accounts.normal_email(typed)),
        limit=LINKS_PER_EMAIL,
        window=HOUR,
        what="sign-in links",
    )
    # The same page at once, whatever the address: whether there is an account, and the
    # work of writing it a link, happen after the answer has gone.
    page = _page(request, db, slug, "portal/link_sent.html", email=typed)
    page.background = BackgroundTask(send_sign_in_link, db, settings, clinic_id, typed)
    return page


def send_sign_in_link(db: Database, settings: Settings, clinic_id: uuid.UUID, typed: str) -> None:
    """E-mail a sign-in link to the account of ``typed``, if it holds a record of its own
    at the clinic; nothing otherwise."""
    now = utcnow()
    with db.writing() as session:
        account = accounts.account_by_email(session, typed)
        holder = accounts.holder_at(session, account.id, clinic_id) if account else None
        patient = session.get(Patient, holder.patient_id) if holder is not None else None
        if account is None or patient is None:
            return
        token = accounts.issue_link(session, account, clinic_id, now)
        url = f"{settings.public_base_url.rstrip('/')}/portal/link/{token}"
        clinic_name = messaging.sender_name(session, clinic_id)
        text = (
            f"Here is your link to sign in to {clinic_name}'s patient portal. It works "
            f"once, for the next 15 minutes:\n{url}\n\n"
            "If you did not ask for it, ignore this e-mail: nobody can sign in without it."
        )
        messaging.compose(
            session,
            clinic_id,
            patient=patient,
            purpose=Purpose.CARE,
            kind=LINK_KIND,
            drafts=[messaging.Draft(Channel.EMAIL, text, subject=f"Sign in to {clinic_name}")],
            email=account.email,
            asked_for=True,
            urgent=True,
            conceal=[token],
        )


@router.post("/portal/{slug}/sign-in/password", response_class=HTMLResponse)
async def sign_in_with_password(
    slug: str, request: Request, db: DatabaseDep, settings: SettingsDep, form: CheckedForm
) -> Response:
    clinic = await run_in_threadpool(_clinic_of, db, slug)
    if clinic is None:
        return not_found_page(request)
    clinic_id, slug = clinic
    typed = str(form.get("email") or "").strip()[:254]
    password = str(form.get("password") or "")
    if not typed or not password:
        return await run_in_threadpool(
            _page,
            request,
            db,
            slug,
            "portal/sign_in.html",
            errors={"password": NO_MATCH},
            email=typed,
            status=422,
        )
    await run_in_threadpool(
        limits.hit,
        db,
        "portal-password-address",
        limits.address_hash(request, settings),
        limit=PASSWORDS_PER_ADDRESS,
        window=QUARTER_HOUR,
        what="tries",
    )
    await run_in_threadpool(
        limits.hit,
        db,
        "portal-password-email",
        limits.keyed(settings, "portal-email", accounts.normal_email(typed)),
        limit=PASSWORDS_PER_EMAIL,
        window=QUARTER_HOUR,
        what="tries",
    )

    def stored() -> PortalAccount | None:
        with db.reading() as session:
            return accounts.account_by_email(session, typed)

    account = await run_in_threadpool(stored)
    stored_hash = account.password_hash if account is not None else None
    ok = await run_in_threadpool(verify_password, stored_hash, password)
    if not ok or account is None:
        return await run_in_threadpool(
            _page,
            request,
            db,
            slug,
            "portal/sign_in.html",
            errors={"password": NO_MATCH},
            email=typed,
            status=422,
        )
    return await run_in_threadpool(
        _start, request, db, settings, account.id, clinic_id, slug, "password"
    )


def _start(
    request: Request,
    db: DatabaseDep,
    settings: Settings,
    account_id: uuid.UUID,
    clinic_id: uuid.UUID,
    slug: str,
    method: str,
) -> Response:
    now = utcnow()
    with db.writing() as session:
        account = session.get(PortalAccount, account_id)
        assert account is not None
        started = accounts.start_session(
            session,
            account,
            clinic_id,
            now,
            method=method,
            address_hash=limits.address_hash(request, settings),
            user_agent=request.headers.get("user-agent", ""),
        )
    return _signed_in(request, started, f"/portal/{slug}/home")


# --- magic links ------------------------------------------------------------------------------


def _closed(request: Request, db: DatabaseDep, clinic_id: uuid.UUID, template: str) -> Response:
    """A used or expired link or invitation: 410, in the clinic's colours, with the way
    back to its sign-in page."""
    with db.reading() as session:
        brand = brand_for(session, clinic_id)
        slug = profile_slug(session, clinic_id)
    return render(request, template, {"slug": slug}, brand=brand, private=True, status=410)


def _link_closed(request: Request, db: DatabaseDep, clinic_id: uuid.UUID) -> Response:
    return _closed(request, db, clinic_id, "portal/link_closed.html")


@router.api_route("/portal/link/{token}", methods=READ, response_class=HTMLResponse)
def open_link(token: str, request: Request, db: DatabaseDep) -> Response:
    """What the e-mail's link opens: a button. Nothing is spent until it is pressed."""
    now = utcnow()
    with db.reading() as session:
        link = accounts.find_link(session, token)
        if link is None:
            return not_found_page(request)
        brand = brand_for(session, link.clinic_id)
        usable = accounts.link_usable(link, now)
        clinic_id = link.clinic_id
        impersonating = link.staff_id is not None
    if not usable:
        return _link_closed(request, db, clinic_id)
    return render(
        request,
        "portal/link_open.html",
        {"token": token, "impersonating": impersonating},
        brand=brand,
        private=True,
    )


@router.post("/portal/link/{token}", response_class=HTMLResponse)
def use_link(
    token: str, request: Request, db: DatabaseDep, settings: SettingsDep, form: CheckedForm
) -> Response:
    now = utcnow()
    with db.writing() as session:
        link = accounts.spend_link(session, token, now)
        if link is None:
            found = accounts.find_link(session, token)
            clinic_id = found.clinic_id if found is not None else None
            started = None
        else:
            account = session.get(PortalAccount, link.account_id)
            assert account is not None
            clinic_id = link.clinic_id
            started = accounts.start_session(
                session,
                account,
                link.clinic_id,
                now,
                method="impersonation" if link.staff_id else "magic_link",
                address_hash=limits.address_hash(request, settings),
                user_agent=request.headers.get("user-agent", ""),
                impersonator=link.staff_id,
                patient_id=link.patient_id,
            )
            if link.staff_id is not None and link.patient_id is not None:
                audit.record(
                    session,
                    AuthContext.for_patient(
                        link.clinic_id, link.patient_id, impersonator=link.staff_id
                    ),
                    action="impersonate",
                    entity="portal_sessions",
                    entity_id=started.session_id,
                    reason="a clinic admin began viewing the portal as the patient",
                )
        slug = profile_slug(session, clinic_id) if clinic_id is not None else None
    if clinic_id is None:
        return not_found_page(request)
    if started is None:
        return _link_closed(request, db, clinic_id)
    return _signed_in(request, started, f"/portal/{slug}/home")


# --- invitations ------------------------------------------------------------------------------


def _invite_closed(request: Request, db: DatabaseDep, clinic_id: uuid.UUID) -> Response:
    return _closed(request, db, clinic_id, "portal/invite_closed.html")


def _invite_page(
    request: Request, db: DatabaseDep, token: str, step: str, **context: object
) -> Response:
    now = utcnow()
    with db.reading() as session:
        row = invites.find(session, token)
        if row is None:
            return not_found_page(request)
        brand = brand_for(session, row.clinic_id)
        patient = invites.usable(session, row, now)
        clinic_id = row.clinic_id
        # An account this address already uses at another clinic is added to; one made
        # when the patient first booked here online is set up like a new one. Either may
        # take a first password here (never a change of an existing one).
        account = accounts.account_by_email(session, row.email)
        has_account = account is not None and any(
            clinic != row.clinic_id for clinic in accounts.clinics_of(session, account.id)
        )
        has_password = account is not None and account.password_hash is not None
        email = row.email
        first_name = patient.first_name if patient is not None else ""
        opened = row.status.value == "opened"
    if patient is None:
        return _invite_closed(request, db, clinic_id)
    if step == "account" and not opened:
        return see_other(f"/portal/invite/{token}")
    status = int(context.pop("status", 200))  # type: ignore[call-overload]
    return render(
        request,
        f"portal/invite_{step}.html",
        {
            "token": token,
            "email": email,
            "first_name": first_name,
            "has_account": has_account,
            "has_password": has_password,
            "errors": {},
            **context,
        },
        brand=brand,
        private=True,
        status=status,
    )


@router.api_route("/portal/invite/{token}", methods=READ, response_class=HTMLResponse)
def open_invite(token: str, request: Request, db: DatabaseDep) -> Response:
    return _invite_page(request, db, token, "welcome")


@router.post("/portal/invite/{token}", response_class=HTMLResponse)
def start_invite(token: str, request: Request, db: DatabaseDep, form: CheckedForm) -> Response:
    """ "Set up my account": the invitation reads as opened at the desk from here."""
    with db.writing() as session:
        opened = invites.mark_opened(session, token, utcnow())
    if opened is None:
        return _invite_page(request, db, token, "welcome")
    return see_other(f"/portal/invite/{token}/account")


@router.api_route("/portal/invite/{token}/account", methods=READ, response_class=HTMLResponse)
def invite_account_page(token: str, request: Request, db: DatabaseDep) -> Response:
    return _invite_page(request, db, token, "account")


@router.post("/portal/invite/{token}/account", response_class=HTMLResponse)
async def accept_invite(
    token: str, request: Request, db: DatabaseDep, settings: SettingsDep, form: CheckedForm
) -> Response:
    """Create the account, with a password if the patient chose one, and sign in."""
    password = str(form.get("password") or "")
    password_hash = None
    if password:

        def about() -> tuple[str, list[str]] | None:
            with db.reading() as session:
                row = invites.find(session, token)
                patient = invites.usable(session, row, utcnow()) if row is not None else None
                if row is None or patient is None:
                    return None
                return row.email, [patient.first_name, patient.last_name]

        found = await run_in_threadpool(about)
        if found is None:
            return await run_in_threadpool(_invite_page, request, db, token, "account")
        try:
            await passwords.check_password_for_account(
                password, email=found[0], names=found[1], settings=settings
            )
        except InvalidInput as refused:
            return await run_in_threadpool(
                _invite_page,
                request,
                db,
                token,
                "account",
                errors={"password": refused.message},
                status=422,
            )
        password_hash = await run_in_threadpool(hash_password, password)
    return await run_in_threadpool(_accept, request, db, settings, token, password_hash)


def _accept(
    request: Request, db: DatabaseDep, settings: Settings, token: str, password_hash: str | None
) -> Response:
    now = utcnow()
    for attempt in (1, 2):
        try:
            started, slug = _accept_once(request, db, settings, token, password_hash, now)
            break
        except IntegrityError:
            # Another clinic's invitation to the same new address was accepted at the
            # same moment and made the account: this one now finds it.
            if attempt == 2:
                raise
    if started is None:
        return _invite_page(request, db, token, "welcome")
    return _signed_in(request, started, f"/portal/{slug}/home?welcome=1")


def _accept_once(
    request: Request,
    db: DatabaseDep,
    settings: Settings,
    token: str,
    password_hash: str | None,
    now: datetime,
) -> tuple[accounts.Started | None, str | None]:
    with db.writing() as session:
        accepted = invites.accept(session, token, now, password_hash=password_hash)
        if accepted is None:
            started = None
            slug = None
        else:
            started = accounts.start_session(
                session,
                accepted.account,
                accepted.clinic_id,
                now,
                method="invite",
                address_hash=limits.address_hash(request, settings),
                user_agent=request.headers.get("user-agent", ""),
            )
            slug = profile_slug(session, accepted.clinic_id)
    return started, slug


# --- signing out ------------------------------------------------------------------------------


@router.post("/portal/{slug}/sign-out", response_class=HTMLResponse)
def sign_out(slug: str, request: Request, db: DatabaseDep, form: CheckedForm) -> Response:
    now = utcnow()
    token = request.cookies.get(cookie_name(request), "")
    with db.writing() as session:
        row = accounts.live_session(session, token, now) if token else None
        if row is not None:
            accounts.end_session(session, row.id, now, "signed out")
    response = see_other(f"/portal/{slug.lower()}/sign-in?ended=out")
    clear_session_cookie(response, request)
    return response


@router.post("/portal/{slug}/sign-out-everywhere", response_class=HTMLResponse)
def sign_out_everywhere(
    slug: str, request: Request, db: DatabaseDep, viewer: PortalViewer, form: CheckedForm
) -> Response:
    refuse_while_viewing(viewer)  # the patient's sessions are not an admin's to end
    with db.writing() as session:
        accounts.end_all_sessions(session, viewer.account_id, utcnow())
    response = see_other(f"/portal/{viewer.slug}/sign-in?ended=everywhere")
    clear_session_cookie(response, request)
    return response


__all__ = ["router", "tokens"]
