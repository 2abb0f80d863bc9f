"""The portal's pages about the account holder rather than their visits: the portable
profile, which clinics may see it (signed consents), and the contact details and
message choices each clinic keeps.

The profile belongs to the account, not to a clinic: it is edited once and a clinic sees
it only under a consent of its own (``sharing``). The sharing page lists every clinic
where the holder has a record of their own, under each clinic's name; an admin viewing
the portal as the patient sees only their own clinic there, and cannot sign: a consent
is the patient's own signature. Nor does the admin see the profile unless the patient
shares it with their clinic already, or change it.

Contact details are the clinic's record (the one the desk edits), not the account: the
e-mail there is where the clinic writes, not the sign-in address. A patient's context
may only book (``DIARY_BOOK``); the desk's ``update_contact`` asks for staff's
``PATIENTS_WRITE``, which a patient must not have (it opens every patient's file). So
the change is written here, for the viewer's own people only, phone and e-mail only,
with the same checks (``common.patients``). Message choices go through
``messaging.decide`` with ``ConsentSource.PORTAL``, as the unsubscribe link does.
Saving a form unchanged writes nothing: no new version for the desks to pull.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from common.errors import Forbidden, InvalidInput, NotFound, StaleVersion
from common.messaging import Channel, ConsentSource, Purpose
from common.patients import PatientInvalid, normalise_email, normalise_phone, show_phone
from common.portal import BLOOD_TYPES, PROFILE_FIELDS, PROFILE_TEXT_LENGTH, Relation
from server import kit
from server.audit import service as audit
from server.auth.context import AuthContext
from server.clinics.models import Clinic
from server.db import utcnow
from server.deps import DatabaseDep, SettingsDep
from server.messaging import service as messaging
from server.patients.models import Patient
from server.portal import accounts, sharing
from server.portal.models import PortalAccount
from server.portal.viewer import ELSEWHERE, PortalViewer, Viewer, see_other
from server.web import limits
from server.web.pages import READ, WebRoute, profile_of, render
from server.web.security import CheckedForm

router = APIRouter(route_class=WebRoute, include_in_schema=False)

NOT_WHILE_VIEWING = (
    "The profile and its consents are the patient's own: while you view the portal as the "
    "patient, you can read them as your clinic does, not change or sign them."
)
TEXT_FIELDS = ("allergies", "conditions", "insurance", "emergency_contacts")


def _clinic_name(session: Session, clinic_id: uuid.UUID) -> str:
    clinic = session.get(Clinic, clinic_id)
    profile = profile_of(session, clinic_id)
    if profile is not None and profile.display_name:
        return profile.display_name
    return clinic.name if clinic is not None else "the clinic"


# --- the profile ------------------------------------------------------------------------


def _profile_page(
    request: Request,
    db: DatabaseDep,
    viewer: Viewer,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    done: str = "",
    status: int = 200,
) -> Response:
    with db.reading() as session:
        account = session.get(PortalAccount, viewer.account_id)
        if account is None:
            raise NotFound("Your account is no longer there. Sign in again.")
        stored = sharing.profile_of(account)
        seen_by = sharing.sharing_clinics(session, viewer.account_id)
        if viewer.impersonating:
            seen_by &= {viewer.clinic_id}
        names = sorted(_clinic_name(session, c) for c in seen_by)
    # An admin viewing as the patient reads the profile only as their clinic may.
    hidden = viewer.impersonating and viewer.clinic_id not in seen_by
    audit.read(
        db,
        viewer.ctx(),
        entity="portal_accounts",
        entity_id=viewer.account_id,
        reason=f"the portable profile, read by {viewer.actor()}"
        + (" (not shared with this clinic: not shown)" if hidden else ""),
    )
    return render(
        request,
        "portal/profile.html",
        {
            "viewer": viewer,
            "section": "profile",
            "values": {} if hidden else (typed or stored),
            "hidden": hidden,
            "fields": PROFILE_FIELDS,
            "text_fields": TEXT_FIELDS,
            "blood_types": BLOOD_TYPES,
            "longest": PROFILE_TEXT_LENGTH,
            "seen_by": names,
            "errors": errors or {},
            "done": done if done in ("saved", "unchanged") else "",
        },
        brand=viewer.brand,
        private=True,
        status=status,
    )


@router.api_route("/portal/{slug}/profile", methods=READ, response_class=HTMLResponse)
def profile(
    slug: str, request: Request, db: DatabaseDep, viewer: PortalViewer, done: str = ""
) -> Response:
    return _profile_page(request, db, viewer, done=done)


@router.post("/portal/{slug}/profile", response_class=HTMLResponse)
def save_profile(
    slug: str, request: Request, db: DatabaseDep, viewer: PortalViewer, form: CheckedForm
) -> Response:
    if viewer.impersonating:
        raise Forbidden(NOT_WHILE_VIEWING)
    typed = {name: str(form.get(name) or "")[: 2 * PROFILE_TEXT_LENGTH] for name in PROFILE_FIELDS}
    values, errors = sharing.clean_profile(typed)
    if errors:
        return _profile_page(request, db, viewer, typed=typed, errors=errors, status=422)
    with db.writing() as session:
        changed = sharing.save_profile(session, viewer.account_id, values, utcnow())
        if changed:
            audit.record(
                session,
                viewer.ctx(),
                action="update",
                entity="portal_accounts",
                entity_id=viewer.account_id,
                reason=f"the portable profile, changed by {viewer.actor()}",
            )
    return see_other(f"{viewer.base()}/profile?done={'saved' if changed else 'unchanged'}")


# --- sharing ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Place:
    """A clinic where the holder has a record of their own, and whether it sees the
    profile."""

    clinic_id: uuid.UUID
    name: str
    holder_id: uuid.UUID  # the holder's record there
    holder_name: str
    shared_since: str  # "" when it does not see the profile
    here: bool


def _places(session: Session, viewer: Viewer) -> list[Place]:
    clinic_ids = accounts.clinics_of(session, viewer.account_id)
    if viewer.impersonating:
        clinic_ids = [c for c in clinic_ids if c == viewer.clinic_id]
    found = []
    for clinic_id in clinic_ids:
        holder = accounts.holder_at(session, viewer.account_id, clinic_id)
        patient = session.get(Patient, holder.patient_id) if holder else None
        if patient is None or patient.clinic_id != clinic_id:
            continue
        consent = sharing.current_consent(session, viewer.account_id, clinic_id)
        found.append(
            Place(
                clinic_id=clinic_id,
                name=_clinic_name(session, clinic_id),
                holder_id=patient.id,
                holder_name=f"{patient.first_name} {patient.last_name}",
                shared_since=f"{consent.signed_at:%d/%m/%Y}" if consent else "",
                here=clinic_id == viewer.clinic_id,
            )
        )
    return sorted(found, key=lambda p: (not p.here, p.name.casefold()))


def _place(session: Session, viewer: Viewer, clinic_id: str) -> Place:
    """One of the viewer's clinics; no other (nor, when an admin views as the patient,
    any but the admin's own)."""
    try:
        wanted = uuid.UUID(clinic_id)
    except ValueError:
        raise NotFound("There is no such clinic on your account.") from None
    if viewer.impersonating and wanted != viewer.clinic_id:
        raise Forbidden(ELSEWHERE)
    for place in _places(session, viewer):
        if place.clinic_id == wanted:
            return place
    raise NotFound("There is no such clinic on your account.")


@router.api_route("/portal/{slug}/sharing", methods=READ, response_class=HTMLResponse)
def sharing_page(
    slug: str, request: Request, db: DatabaseDep, viewer: PortalViewer, done: str = ""
) -> Response:
    with db.reading() as session:
        places = _places(session, viewer)
    audit.read(
        db,
        viewer.ctx(),
        entity="portal_sharing_consents",
        record_count=len(places),
        reason=f"the profile's sharing consents, read by {viewer.actor()}",
    )
    return render(
        request,
        "portal/sharing.html",
        {
            "viewer": viewer,
            "section": "sharing",
            "places": places,
            "done": done if done in ("signed", "withdrawn", "unchanged") else "",
        },
        brand=viewer.brand,
        private=True,
    )


def _sign_page(
    request: Request,
    viewer: Viewer,
    place: Place,
    *,
    typed: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "portal/sharing_sign.html",
        {
            "viewer": viewer,
            "section": "sharing",
            "place": place,
            "text": sharing.consent_text(place.name),
            "typed": typed,
            "errors": errors or {},
        },
        brand=viewer.brand,
        private=True,
        status=status,
    )


@router.api_route(
    "/portal/{slug}/sharing/{clinic_id}/sign", methods=READ, response_class=HTMLResponse
)
def sign_form(
    slug: str, clinic_id: str, request: Request, db: DatabaseDep, viewer: PortalViewer
) -> Response:
    if viewer.impersonating:
        raise Forbidden(NOT_WHILE_VIEWING)
    with db.reading() as session:
        place = _place(session, viewer, clinic_id)
    return _sign_page(request, viewer, place)


def _ctx_at(viewer: Viewer, place: Place) -> AuthContext:
    """The audit trail of a consent is the consented clinic's: the holder's record there."""
    return AuthContext.for_patient(
        place.clinic_id, place.holder_id, impersonator=viewer.impersonator_id
    )


@router.post("/portal/{slug}/sharing/{clinic_id}/sign", response_class=HTMLResponse)
def sign(
    slug: str,
    clinic_id: str,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    viewer: PortalViewer,
    form: CheckedForm,
) -> Response:
    if viewer.impersonating:
        raise Forbidden(NOT_WHILE_VIEWING)
    typed = str(form.get("signed_name") or "")[:200]
    with db.reading() as session:
        place = _place(session, viewer, clinic_id)
    if not sharing.same_name(typed, place.holder_name):
        problem = f"Type your full name as {place.name} has it on your record: {place.holder_name}."
        if not typed.strip():
            problem = "Type your full name to sign."
        errors = {"signed_name": problem}
        return _sign_page(request, viewer, place, typed=typed, errors=errors, status=422)
    with db.writing() as session:
        consent = sharing.sign(
            session,
            viewer.account_id,
            place.clinic_id,
            signed_name=typed,
            address_hash=limits.address_hash(request, settings),
            now=utcnow(),
        )
        if consent is not None:
            audit.record(
                session,
                _ctx_at(viewer, place),
                action="consent_given",
                entity="portal_sharing_consents",
                entity_id=consent.id,
                reason=f"the portable profile shared with {place.name}, signed by {viewer.actor()}",
            )
    return see_other(f"{viewer.base()}/sharing?done={'signed' if consent else 'unchanged'}")


@router.post("/portal/{slug}/sharing/{clinic_id}/withdraw", response_class=HTMLResponse)
def withdraw(
    slug: str,
    clinic_id: str,
    request: Request,
    db: DatabaseDep,
    viewer: PortalViewer,
    form: CheckedForm,
) -> Response:
    if viewer.impersonating:
        raise Forbidden(NOT_WHILE_VIEWING)
    with db.writing() as session:
        place = _place(session, viewer, clinic_id)
        consent = sharing.withdraw(session, viewer.account_id, place.clinic_id, utcnow())
        if consent is not None:
            audit.record(
                session,
                _ctx_at(viewer, place),
                action="consent_withdrawn",
                entity="portal_sharing_consents",
                entity_id=consent.id,
                reason=f"the portable profile no longer shared with {place.name}, withdrawn "
                f"by {viewer.actor()}",
            )
    return see_other(f"{viewer.base()}/sharing?done={'withdrawn' if consent else 'unchanged'}")


# --- contact details and message choices ------------------------------------------------


def _key(channel: Channel, purpose: Purpose) -> str:
    return f"consent-{channel.value}-{purpose.value}"


@dataclass(frozen=True, slots=True)
class Card:
    """One person's contact details at this clinic and their message choices."""

    patient_id: uuid.UUID
    name: str
    relation: Relation
    phone: str
    email: str
    version: int
    choices: list[tuple[str, str, bool]]  # (field name, label, allowed)


def _cards(session: Session, viewer: Viewer) -> list[Card]:
    clinic = session.get(Clinic, viewer.clinic_id)
    country = clinic.country if clinic is not None else None
    ids = [p.patient_id for p in viewer.people]
    decided = messaging.consents_of(session, viewer.clinic_id, ids)
    cards = []
    for person in viewer.people:
        patient = kit.live(session, Patient, viewer.clinic_id, person.patient_id, what="patient")
        choices = [
            (
                _key(channel, purpose),
                f"{purpose.label} by {channel.label}",
                messaging.allowed(decided[person.patient_id], channel, purpose),
            )
            for channel in Channel
            for purpose in Purpose
        ]
        cards.append(
            Card(
                patient_id=person.patient_id,
                name=person.name,
                relation=person.relation,
                phone=show_phone(patient.phone, country),
                email=patient.email or "",
                version=patient.version,
                choices=choices,
            )
        )
    return cards


def _contact_page(
    request: Request,
    db: DatabaseDep,
    viewer: Viewer,
    *,
    done: str = "",
    errors: dict[str, str] | None = None,
    failed: uuid.UUID | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with db.reading() as session:
        cards = _cards(session, viewer)
    audit.read(
        db,
        viewer.ctx(),
        entity="patients",
        record_count=len(cards),
        reason=f"contact details and message choices, read by {viewer.actor()}",
    )
    return render(
        request,
        "portal/contact.html",
        {
            "viewer": viewer,
            "section": "contact",
            "cards": cards,
            "errors": errors or {},
            "failed": failed,
            "typed": typed or {},
            "sign_in_email": viewer.email,
            "done": done if done in ("saved", "unchanged") else "",
        },
        brand=viewer.brand,
        private=True,
        status=status,
    )


@router.api_route("/portal/{slug}/contact", methods=READ, response_class=HTMLResponse)
def contact(
    slug: str, request: Request, db: DatabaseDep, viewer: PortalViewer, done: str = ""
) -> Response:
    return _contact_page(request, db, viewer, done=done)


def _typed_phone(typed: str, stored: str | None, country: str | None) -> str | None:
    """The phone to keep: the stored one when the typed number is it (in any form)."""
    cleaned = " ".join(typed.split())
    if not cleaned:
        return None
    if stored and cleaned in (stored, show_phone(stored, country)):
        return stored
    return normalise_phone(cleaned, country)


def _typed_email(typed: str, stored: str | None) -> str | None:
    cleaned = typed.strip()
    if not cleaned:
        return None
    return stored if cleaned == stored else normalise_email(cleaned)


def save_contact(
    session: Session,
    viewer: Viewer,
    patient_id: uuid.UUID,
    *,
    base_version: int,
    phone: str,
    email: str,
) -> bool:
    """Phone and e-mail of one of the viewer's people at this clinic (``PatientInvalid``
    when one is not usable; ``StaleVersion`` when the clinic changed them since the page
    was shown). False, and nothing written, when they are as stored."""
    person = viewer.person(patient_id)
    patient = kit.live(
        session, Patient, viewer.clinic_id, person.patient_id, what="patient", lock=True
    )
    clinic = session.get(Clinic, viewer.clinic_id)
    country = clinic.country if clinic is not None else None
    problems: list[PatientInvalid] = []
    new_phone: str | None = patient.phone
    new_email: str | None = patient.email
    try:
        new_phone = _typed_phone(phone, patient.phone, country)
    except PatientInvalid as problem:
        problems.append(problem)
    try:
        new_email = _typed_email(email, patient.email)
    except PatientInvalid as problem:
        problems.append(problem)
    if problems:
        problems[0].also = tuple(problems[1:])
        raise problems[0]
    if (new_phone, new_email) == (patient.phone, patient.email):
        return False
    if patient.version != base_version:
        raise StaleVersion(
            "The clinic changed these details while you were typing. Here they are now: "
            "check them and save again."
        )
    patient.phone = new_phone
    patient.email = new_email
    patient.changed_by_device_id = None
    session.flush()
    audit.record(
        session,
        viewer.ctx(patient.id),
        action="update",
        entity="patients",
        entity_id=patient.id,
        reason=f"phone and e-mail changed by {viewer.actor()}",
    )
    return True


def save_choices(session: Session, viewer: Viewer, patient_id: uuid.UUID, ticked: set[str]) -> int:
    """Record each message choice that differs from the last decision (or the default),
    in the patient portal's name. How many changed."""
    person = viewer.person(patient_id)
    kit.require_live(session, Patient, viewer.clinic_id, person.patient_id, what="patient")
    decided = messaging.consents_of(session, viewer.clinic_id, [person.patient_id])
    changed = 0
    for channel in Channel:
        for purpose in Purpose:
            wanted = _key(channel, purpose) in ticked
            if messaging.allowed(decided[person.patient_id], channel, purpose) == wanted:
                continue
            if viewer.impersonating:
                # A consent is the patient's word: staff record one at the desk, as
                # told, never in the patient's own name here.
                raise Forbidden(NOT_WHILE_VIEWING)
            messaging.decide(
                session,
                viewer.clinic_id,
                person.patient_id,
                channel,
                purpose,
                granted=wanted,
                source=ConsentSource.PORTAL,
                staff_id=viewer.impersonator_id,
                note=f"by {viewer.actor()}",
            )
            audit.record(
                session,
                viewer.ctx(person.patient_id),
                action="consent_given" if wanted else "consent_withdrawn",
                entity="patients",
                entity_id=person.patient_id,
                reason=f"{channel.label} for {purpose.value}, {ConsentSource.PORTAL.label}, "
                f"by {viewer.actor()}",
            )
            changed += 1
    return changed


@router.post("/portal/{slug}/contact/{patient_id}", response_class=HTMLResponse)
def save_contact_page(
    slug: str,
    patient_id: str,
    request: Request,
    db: DatabaseDep,
    viewer: PortalViewer,
    form: CheckedForm,
) -> Response:
    person = viewer.person(patient_id)
    phone = str(form.get("phone") or "")[:100]
    email = str(form.get("email") or "")[:300]
    try:
        base_version = int(str(form.get("version") or ""))
    except ValueError:
        raise InvalidInput("The form was not sent whole. Open the page again.") from None
    ticked = {str(k) for k in form if str(k).startswith("consent-")}
    try:
        with db.writing() as session:
            changed = save_contact(
                session,
                viewer,
                person.patient_id,
                base_version=base_version,
                phone=phone,
                email=email,
            )
            changed = save_choices(session, viewer, person.patient_id, ticked) > 0 or changed
    except PatientInvalid as problem:
        errors = {p.field: str(p) for p in (problem, *problem.also)}
        return _contact_page(
            request,
            db,
            viewer,
            errors=errors,
            failed=person.patient_id,
            typed={"phone": phone, "email": email},
            status=422,
        )
    except StaleVersion as problem:
        return _contact_page(
            request,
            db,
            viewer,
            errors={"phone": str(problem)},
            failed=person.patient_id,
            status=409,
        )
    return see_other(f"{viewer.base()}/contact?done={'saved' if changed else 'unchanged'}")
