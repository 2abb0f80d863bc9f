"""The public new-patient enquiry form: ``/enquire/{slug}``.

Open only while the clinic's profile takes enquiries (otherwise the same 404 page as an
unknown address). Where the person came from (``utm_source``, ``utm_medium``, ``ref``)
travels from the link into the form as hidden fields and is checked again when it comes
back. A hidden form key makes a double submit one enquiry; a honeypot field catches
simple robots (their enquiry is kept as discarded spam, and they are thanked like anyone
else, so they learn nothing); each address may send a few enquiries an hour.

Post, redirect, get: the thank-you page shows nothing of what was sent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError

from common.errors import InvalidInput
from common.leads import MESSAGE_MAX, PreferredContact, attribute, bounded, check_enquiry
from server.deps import DatabaseDep, SettingsDep
from server.leads import service
from server.web import limits, tokens
from server.web.pages import READ, Brand, WebRoute, brand_of, by_slug, not_found_page, render
from server.web.security import CheckedForm

router = APIRouter(route_class=WebRoute, include_in_schema=False)

ENQUIRIES_PER_HOUR = 5
TRAP_FIELD = "website"  # the honeypot: people never see it, simple robots fill it in
ATTRIBUTION = ("utm_source", "utm_medium", "ref")
FIELDS = (
    "first_name",
    "last_name",
    "date_of_birth",
    "phone",
    "email",
    "preferred_contact",
    "message",
)
MISSING_KEY = "This form is missing a part. Reload the page and send it again."


@dataclass(frozen=True)
class _Clinic:
    id: uuid.UUID
    country: str | None
    time_zone: str
    brand: Brand


def _open(db: DatabaseDep, slug: str) -> _Clinic | None:
    """The clinic taking enquiries at ``slug``; None (the 404 page) for an unknown slug
    and for a clinic that does not take them: the two look the same."""
    with db.reading() as session:
        found = by_slug(session, slug)
        if found is None or not found[1].leads_enabled:
            return None
        clinic, profile = found
        return _Clinic(clinic.id, clinic.country, clinic.time_zone, brand_of(clinic, profile))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _form_page(
    request: Request,
    brand: Brand,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    form_key: str,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "enquire.html",
        {
            "values": values,
            "errors": errors or {},
            "form_key": form_key,
            "trap": TRAP_FIELD,
            "attribution": {name: values.get(name, "") for name in ATTRIBUTION},
            "message_max": MESSAGE_MAX,
            "contacts": list(PreferredContact),
        },
        brand=brand,
        status=status,
        # What was typed is on the page again after a refusal: never cached.
        private=True,
    )


@router.api_route("/enquire/{slug}", methods=READ, response_class=HTMLResponse)
def enquiry_form(
    request: Request,
    slug: str,
    db: DatabaseDep,
    utm_source: str = "",
    utm_medium: str = "",
    ref: str = "",
) -> Response:
    opened = _open(db, slug)
    if opened is None:
        return not_found_page(request)
    brand = opened.brand
    values = {
        "utm_source": bounded(utm_source),
        "utm_medium": bounded(utm_medium),
        "ref": bounded(ref),
        "preferred_contact": PreferredContact.PHONE.value,
    }
    return _form_page(request, brand, values=values, form_key=tokens.new_token())


@router.post("/enquire/{slug}", response_class=HTMLResponse)
def send_enquiry(
    request: Request, slug: str, form: CheckedForm, db: DatabaseDep, settings: SettingsDep
) -> Response:
    opened = _open(db, slug)
    if opened is None:
        return not_found_page(request)
    clinic, brand = opened, opened.brand
    values = {name: _text(form.get(name)) for name in FIELDS}
    values.update({name: bounded(_text(form.get(name))) for name in ATTRIBUTION})
    form_key = _text(form.get("form_key"))
    if not tokens.plausible(form_key):
        raise InvalidInput(MISSING_KEY)
    today = max(datetime.now(ZoneInfo(clinic.time_zone)).date(), datetime.now(UTC).date())
    enquiry, errors = check_enquiry(values, country=clinic.country, today=today)
    if enquiry is None:
        return _form_page(
            request, brand, values=values, errors=errors, form_key=form_key, status=422
        )
    thanks = RedirectResponse(f"/enquire/{slug}/thanks", status_code=303)
    key = tokens.digest(form_key)
    with db.reading() as session:
        if service.form_key_used(session, clinic.id, key):
            return thanks  # sent twice: it was recorded the first time
    address = limits.address_hash(request, settings)
    limits.hit(
        db,
        "enquiry",
        address,
        limit=ENQUIRIES_PER_HOUR,
        window=timedelta(hours=1),
        what="enquiries",
    )
    agent = request.headers.get("user-agent", "")[: service.USER_AGENT_MAX]
    try:
        with db.writing() as session:
            if not service.form_key_used(session, clinic.id, key):
                service.record_enquiry(
                    session,
                    clinic.id,
                    enquiry,
                    attribute(values["utm_source"], values["utm_medium"], values["ref"]),
                    form_key=key,
                    ip_hash=address,
                    user_agent_hash=limits.keyed(settings, "user-agent", agent),
                    user_agent_family=service.browser_family(agent),
                    spam=bool(_text(form.get(TRAP_FIELD)).strip()),
                )
    except IntegrityError:
        pass  # the same form, sent twice at once from another worker: recorded once
    return thanks


@router.api_route("/enquire/{slug}/thanks", methods=READ, response_class=HTMLResponse)
def enquiry_sent(request: Request, slug: str, db: DatabaseDep) -> Response:
    opened = _open(db, slug)
    if opened is None:
        return not_found_page(request)
    return render(request, "enquire_thanks.html", {}, brand=opened.brand)
