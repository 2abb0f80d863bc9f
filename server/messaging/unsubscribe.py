"""The unsubscribe link of every marketing e-mail: one click, no sign-in.

The link carries a token naming the clinic, the patient and the purpose, signed with a
key derived from the server's secret: nothing is stored for it, and it cannot be forged
or turned to another patient. Opening the link (a GET, which mail scanners also make)
only shows a page with one button; pressing it (a POST) records the withdrawal. Mail
programs that offer "Unsubscribe" themselves post to the same address (RFC 8058's
``List-Unsubscribe-Post``), which is the one click.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Callable
from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from common.messaging import Channel, ConsentSource, Purpose
from server.clinics.models import Clinic
from server.config import Settings
from server.db import Database
from server.deps import DatabaseDep, SettingsDep
from server.messaging import service
from server.patients.models import Patient

router = APIRouter(tags=["unsubscribe"], include_in_schema=False)

LABEL = b"clinicdesk unsubscribe links"


def _key(settings: Settings) -> bytes:
    return hashlib.sha256(LABEL + settings.secret_key.encode()).digest()


def token(settings: Settings, clinic_id: uuid.UUID, patient_id: uuid.UUID, purpose: Purpose) -> str:
    body = f"{clinic_id.hex}.{patient_id.hex}.{purpose.value}".encode()
    mac = hmac.new(_key(settings), body, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(body + b"." + mac).decode().rstrip("=")


def read(settings: Settings, text: str) -> tuple[uuid.UUID, uuid.UUID, Purpose] | None:
    """What a token names, if it is one of ours; None for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        body, mac = raw[:-17], raw[-16:]
        if raw[-17:-16] != b"." or not hmac.compare_digest(
            mac, hmac.new(_key(settings), body, hashlib.sha256).digest()[:16]
        ):
            return None
        clinic, patient, purpose = body.decode().split(".")
        return uuid.UUID(clinic), uuid.UUID(patient), Purpose(purpose)
    except (ValueError, UnicodeDecodeError):
        return None


def url_maker(settings: Settings) -> Callable[[uuid.UUID, uuid.UUID, Purpose], str]:
    base = settings.public_base_url.rstrip("/")
    return lambda clinic_id, patient_id, purpose: (
        f"{base}/unsubscribe/{token(settings, clinic_id, patient_id, purpose)}"
    )


# --- the page ----------------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 17px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 34rem;
       padding: 1.5rem; color: #1b1b1b; }}
button {{ font: inherit; padding: .7rem 1.2rem; border-radius: .4rem; border: 0;
         background: #1f5fbf; color: #fff; cursor: pointer; }}
button:focus {{ outline: 3px solid #f4b400; outline-offset: 2px; }}
</style></head><body><main>
<h1>{title}</h1>
{content}
</main></body></html>"""


def _page(title: str, content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        PAGE.format(lang="en", title=escape(title), content=content), status_code=status
    )


def _not_ours() -> HTMLResponse:
    return _page(
        "This link does not work",
        "<p>The link may have been copied incompletely. Use the link in the e-mail again, "
        "or reply to the clinic and ask them to stop sending these messages.</p>",
        status=404,
    )


def _who(db: Database, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> tuple[str, bool] | None:
    with db.reading() as session:
        clinic = session.get(Clinic, clinic_id)
        found = session.scalar(
            select(Patient.id).where(Patient.id == patient_id, Patient.clinic_id == clinic_id)
        )
        if clinic is None or found is None:
            return None
        name = service.sender_name(session, clinic_id)
        consents = service.consents_of(session, clinic_id, [patient_id])[patient_id]
        return name, service.allowed(consents, Channel.EMAIL, Purpose.MARKETING)


@router.get("/unsubscribe/{text}", response_class=HTMLResponse)
def unsubscribe_page(text: str, db: DatabaseDep, settings: SettingsDep) -> HTMLResponse:
    """One button, nothing changed yet: a mail scanner opening the link unsubscribes no
    one."""
    named = read(settings, text)
    who = _who(db, named[0], named[1]) if named else None
    if named is None or who is None:
        return _not_ours()
    clinic, still_subscribed = who
    purpose = named[2]
    if not still_subscribed and purpose is Purpose.MARKETING:
        return _page("You are unsubscribed", f"<p>{escape(clinic)} sends you no more news.</p>")
    return _page(
        f"Unsubscribe from {clinic}",
        f"<p>Stop e-mails from {escape(clinic)} about news and offers ({escape(purpose.value)})? "
        "Messages about your own appointments still reach you.</p>"
        '<form method="post"><button type="submit">Unsubscribe</button></form>',
    )


@router.post("/unsubscribe/{text}", response_class=HTMLResponse)
def unsubscribe(text: str, db: DatabaseDep, settings: SettingsDep) -> HTMLResponse:
    """Record the withdrawal (once: pressing again changes nothing) and say so."""
    named = read(settings, text)
    if named is None:
        return _not_ours()
    clinic_id, patient_id, purpose = named
    who = _who(db, clinic_id, patient_id)
    if who is None:
        return _not_ours()
    clinic, _ = who
    with db.writing() as session:
        consents = service.consents_of(session, clinic_id, [patient_id])[patient_id]
        if service.allowed(consents, Channel.EMAIL, purpose):
            service.decide(
                session,
                clinic_id,
                patient_id,
                Channel.EMAIL,
                purpose,
                granted=False,
                source=ConsentSource.UNSUBSCRIBE_LINK,
                note="the unsubscribe link in an e-mail",
            )
    return _page(
        "You are unsubscribed", f"<p>{escape(clinic)} sends you no more of these e-mails.</p>"
    )
