"""The portal's "Sign-in and security" page: the account's password (set, change,
remove), its recent sign-ins, and signing out everywhere.

A password is the account's, across clinics. Changing or removing it needs the current
one (a session left open on a shared computer must not be enough to take the account
over), is limited per account (``server.web.limits``), and any change ends the account's
other sessions: whoever knew the old password is signed out. (Setting a first password
on a link-only account needs no current one — there is none — and still ends every other
session.) Hashing is argon2 work, done off the event
loop.

An admin viewing the portal as the patient sees this page but cannot use it: the
password and the patient's sessions are the patient's alone. Those posts are refused
with a page that says so, whatever the form sent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from common.errors import Forbidden, InvalidInput
from server.audit import service as audit
from server.auth.security import hash_password, verify_password
from server.booking_links.patient import short_when
from server.clinics.models import Clinic
from server.db import utcnow
from server.deps import DatabaseDep, SettingsDep
from server.portal import accounts, passwords
from server.portal.models import PortalAccount, PortalSession
from server.portal.viewer import PortalViewer, Viewer, see_other
from server.scheduling.service import clinic_zone
from server.web import limits
from server.web.models import PracticeProfile
from server.web.pages import READ, WebRoute, render
from server.web.security import CheckedForm

router = APIRouter(route_class=WebRoute, include_in_schema=False)

CHANGES_PER_ACCOUNT = 10  # a quarter of an hour
QUARTER_HOUR = timedelta(minutes=15)
SHOWN = 20  # sign-ins listed
NOT_WHILE_VIEWING = (
    "While you view the portal as the patient you cannot change their password or sign "
    "them out. Only the patient can do that."
)
WRONG_CURRENT = "That is not your current password."
ENTER_NEW = "Enter the new password."
ALREADY_YOURS = "That is your password already. Choose a new one."
METHODS = {
    "password": "Password",
    "magic_link": "E-mailed link",
    "invite": "Invitation",
    "impersonation": "Clinic admin viewing as you",
}
DONE = {
    "set": "Your password is set. You can sign in with it or with an e-mailed link.",
    "changed": "Your password is changed. Your other sign-ins have ended.",
    "removed": "Your password is removed. Sign in with a link we e-mail you.",
}


@dataclass(frozen=True, slots=True)
class SignIn:
    """One line of the session log, in the clinic's time."""

    started: str
    method: str
    where: str
    ended: str
    this_device: bool


def _ended(row: PortalSession, now: datetime, zone) -> str:  # type: ignore[no-untyped-def]
    if row.ended_at is not None:
        why = row.end_reason or "ended"
        return f"{short_when(row.ended_at, zone)} ({why})"
    if now >= row.expires_at:
        return f"{short_when(row.expires_at, zone)} (time limit)"
    if now - row.last_seen_at >= accounts.IDLE:
        return f"{short_when(row.last_seen_at + accounts.IDLE, zone)} (inactive)"
    return "Still signed in"


def _log(viewer: Viewer, db: DatabaseDep, now: datetime) -> tuple[bool, list[SignIn]]:
    """Whether the account has a password, and its latest sign-ins: every clinic's for
    the patient; only this clinic's for an admin viewing as them."""
    with db.reading() as session:
        account = session.get(PortalAccount, viewer.account_id)
        has_password = account is not None and account.password_hash is not None
        query = select(PortalSession).where(PortalSession.account_id == viewer.account_id)
        if viewer.impersonating:
            query = query.where(PortalSession.clinic_id == viewer.clinic_id)
        rows = list(session.scalars(query.order_by(PortalSession.started_at.desc()).limit(SHOWN)))
        zone = clinic_zone(session, viewer.clinic_id)
        ids = {r.clinic_id for r in rows}
        names = {
            row.id: row.name
            for row in session.execute(select(Clinic.id, Clinic.name).where(Clinic.id.in_(ids)))
        }
        for row in session.execute(  # the name the clinic's portal shows, where it has one
            select(PracticeProfile.clinic_id, PracticeProfile.display_name).where(
                PracticeProfile.clinic_id.in_(ids)
            )
        ):
            names[row.clinic_id] = row.display_name
    return has_password, [
        SignIn(
            started=short_when(row.started_at, zone),
            method=METHODS.get(row.method, row.method),
            where=names.get(row.clinic_id, ""),
            ended=_ended(row, now, zone),
            this_device=row.id == viewer.session_id,
        )
        for row in rows
    ]


def _page(
    request: Request,
    db: DatabaseDep,
    viewer: Viewer,
    *,
    errors: dict[str, str] | None = None,
    done: str | None = None,
    status: int = 200,
) -> Response:
    has_password, sign_ins = _log(viewer, db, utcnow())
    audit.read(
        db,
        viewer.ctx(),
        entity="portal_sessions",
        record_count=len(sign_ins),
        reason=f"the portal's sign-in log, read by {viewer.actor()}",
    )
    return render(
        request,
        "portal/security.html",
        {
            "viewer": viewer,
            "section": "security",
            "has_password": has_password,
            "sign_ins": sign_ins,
            "errors": errors or {},
            "done": DONE.get(done or ""),
        },
        brand=viewer.brand,
        private=True,
        status=status,
    )


@router.api_route("/portal/{slug}/security", methods=READ, response_class=HTMLResponse)
def security_page(
    slug: str, request: Request, db: DatabaseDep, viewer: PortalViewer, done: str | None = None
) -> Response:
    return _page(request, db, viewer, done=done)


def refuse_while_viewing(viewer: Viewer) -> None:
    """The patient's password and sessions are theirs alone: not for an admin viewing
    the portal as them."""
    if viewer.impersonating:
        raise Forbidden(NOT_WHILE_VIEWING)


def _current_hash(db: DatabaseDep, account_id: uuid.UUID) -> str | None:
    with db.reading() as session:
        account = session.get(PortalAccount, account_id)
        return account.password_hash if account is not None else None


def _throttle(request: Request, db: DatabaseDep, settings: SettingsDep, viewer: Viewer) -> None:
    limits.hit(
        db,
        "portal-password-change",
        limits.keyed(settings, "portal-account", str(viewer.account_id)),
        limit=CHANGES_PER_ACCOUNT,
        window=QUARTER_HOUR,
        what="password changes",
    )


@router.post("/portal/{slug}/security/password", response_class=HTMLResponse)
async def change_password(
    slug: str,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    viewer: PortalViewer,
    form: CheckedForm,
) -> Response:
    """Set a first password, or change it (the current one required). The account's
    other sessions end."""
    refuse_while_viewing(viewer)
    await run_in_threadpool(_throttle, request, db, settings, viewer)
    current = str(form.get("current_password") or "")
    new = str(form.get("new_password") or "")
    stored = await run_in_threadpool(_current_hash, db, viewer.account_id)
    errors: dict[str, str] = {}
    if stored is not None and not await run_in_threadpool(verify_password, stored, current):
        errors["current_password"] = (
            WRONG_CURRENT if current else "Enter your current password first."
        )
    if not new:
        errors["new_password"] = ENTER_NEW
    elif stored is not None and await run_in_threadpool(verify_password, stored, new):
        errors["new_password"] = ALREADY_YOURS
    else:
        try:
            await passwords.check_password_for_account(
                new,
                email=viewer.email,
                names=[viewer.holder.first_name, viewer.holder.last_name],
                settings=settings,
            )
        except InvalidInput as refused:
            errors["new_password"] = refused.message
    if errors:
        return await run_in_threadpool(
            lambda: _page(request, db, viewer, errors=errors, status=422)
        )
    new_hash = await run_in_threadpool(hash_password, new)
    await run_in_threadpool(_save, db, viewer, new_hash, stored is not None)
    return see_other(f"{viewer.base()}/security?done={'changed' if stored else 'set'}")


def _save(db: DatabaseDep, viewer: Viewer, new_hash: str | None, had_one: bool) -> None:
    """Store the new hash (or none), and end the account's other sessions whatever
    changed: whoever knew the old password is out, and a password set or removed from a
    session left open elsewhere leaves no other session behind."""
    now = utcnow()
    with db.writing() as session:
        session.execute(
            update(PortalAccount)
            .where(PortalAccount.id == viewer.account_id)
            .values(password_hash=new_hash, password_set_at=now if new_hash else None)
        )
        result = session.execute(
            update(PortalSession)
            .where(
                PortalSession.account_id == viewer.account_id,
                PortalSession.id != viewer.session_id,
                PortalSession.ended_at.is_(None),
            )
            .values(ended_at=now, end_reason="password changed")
        )
        ended = int(result.rowcount or 0)  # type: ignore[attr-defined]
        what = (
            "removed the portal password"
            if new_hash is None
            else ("changed" if had_one else "set") + " the portal password"
        )
        audit.record(
            session,
            viewer.ctx(),
            action="update",
            entity="portal_accounts",
            entity_id=viewer.account_id,
            reason=f"{viewer.actor()} {what}"
            + (f"; {ended} other sign-ins ended" if ended else ""),
        )


@router.post("/portal/{slug}/security/password/remove", response_class=HTMLResponse)
async def remove_password(
    slug: str,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    viewer: PortalViewer,
    form: CheckedForm,
) -> Response:
    """Sign in by e-mailed links only: the current password confirms it."""
    refuse_while_viewing(viewer)
    await run_in_threadpool(_throttle, request, db, settings, viewer)
    stored = await run_in_threadpool(_current_hash, db, viewer.account_id)
    if stored is None:
        return see_other(f"{viewer.base()}/security")
    current = str(form.get("remove_password") or "")
    if not await run_in_threadpool(verify_password, stored, current):
        errors = {"remove_password": WRONG_CURRENT if current else "Enter your password first."}
        return await run_in_threadpool(
            lambda: _page(request, db, viewer, errors=errors, status=422)
        )
    await run_in_threadpool(_save, db, viewer, None, True)
    return see_other(f"{viewer.base()}/security?done=removed")
