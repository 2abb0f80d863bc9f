"""The portal's family page: the people whose care an account holder manages at this
clinic (a child, an elderly parent), adding one and taking one off the account.

Adding a family member registers a patient at this clinic, with the checks the desk
applies to names and dates of birth (``common.patients``), and links the record to the
account as a dependant. The patient's context may only book (``DIARY_BOOK``), so the
record is written here rather than through the desk's registering path, which asks for
staff's ``PATIENTS_WRITE``: what a patient may register is narrower (a name and a date of
birth, no contact details, no alerts). Dependants have no e-mail or account of their
own. Taking someone off the account only unlinks them: the clinic's record stays.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from common.errors import Conflict, InvalidInput, NotFound
from common.patients import PatientDetails, PatientInvalid, clean, parse_birth_date
from common.portal import Relation
from server.audit import service as audit
from server.clinics.models import Clinic
from server.db import utcnow
from server.deps import DatabaseDep
from server.patients.models import Patient
from server.portal.models import PortalAccount, PortalMember
from server.portal.viewer import PortalViewer, Viewer, see_other
from server.web.pages import READ, WebRoute, render
from server.web.security import CheckedForm

router = APIRouter(route_class=WebRoute, include_in_schema=False)

MOST_DEPENDANTS = 20  # at one clinic, per account: a family, not a register
RELATION_LENGTH = 40
FIELDS = ("first_name", "last_name", "date_of_birth", "relationship")


def _births(session: Session, viewer: Viewer) -> dict[uuid.UUID, date | None]:
    ids = [p.patient_id for p in viewer.people]
    rows = session.execute(
        select(Patient.id, Patient.date_of_birth).where(
            Patient.clinic_id == viewer.clinic_id, Patient.id.in_(ids)
        )
    )
    return {row.id: row.date_of_birth for row in rows}


def _today(clinic: Clinic) -> date:
    # A birth "today" is allowed wherever the clinic is; so the latest today on earth.
    return max(datetime.now(ZoneInfo(clinic.time_zone)).date(), datetime.now(UTC).date())


@router.api_route("/portal/{slug}/family", methods=READ, response_class=HTMLResponse)
def family(
    slug: str, request: Request, db: DatabaseDep, viewer: PortalViewer, done: str = ""
) -> Response:
    with db.reading() as session:
        births = _births(session, viewer)
    dependants = [
        {"person": p, "born": births.get(p.patient_id)}
        for p in viewer.people
        if p.relation is Relation.DEPENDANT
    ]
    audit.read(
        db,
        viewer.ctx(),
        entity="patients",
        record_count=len(dependants),
        reason=f"family members on the account, read by {viewer.actor()}",
    )
    return render(
        request,
        "portal/family.html",
        {
            "viewer": viewer,
            "section": "family",
            "dependants": dependants,
            "done": done if done in ("added", "removed") else "",
        },
        brand=viewer.brand,
        private=True,
    )


def _add_page(
    request: Request,
    viewer: Viewer,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "portal/family_add.html",
        {"viewer": viewer, "section": "family", "typed": typed or {}, "errors": errors or {}},
        brand=viewer.brand,
        private=True,
        status=status,
    )


@router.api_route("/portal/{slug}/family/add", methods=READ, response_class=HTMLResponse)
def add_form(slug: str, request: Request, viewer: PortalViewer) -> Response:
    return _add_page(request, viewer)


@router.post("/portal/{slug}/family/add", response_class=HTMLResponse)
def add(
    slug: str, request: Request, db: DatabaseDep, viewer: PortalViewer, form: CheckedForm
) -> Response:
    typed = {name: str(form.get(name) or "")[:400] for name in FIELDS}
    errors: dict[str, str] = {}
    born: date | None = None
    try:
        born = parse_birth_date(typed["date_of_birth"])
    except PatientInvalid as problem:
        errors["date_of_birth"] = str(problem)
    if born is None and "date_of_birth" not in errors:
        errors["date_of_birth"] = "Enter their date of birth, for example 17/05/2015."
    relationship = " ".join(typed["relationship"].split())
    if len(relationship) > RELATION_LENGTH:
        errors["relationship"] = f"Describe how you are related in {RELATION_LENGTH} characters."
    elif any(ch in relationship for ch in "<>"):
        errors["relationship"] = "How you are related cannot contain < or >."
    now = utcnow()
    try:
        with db.writing() as session:
            clinic = session.get(Clinic, viewer.clinic_id)
            assert clinic is not None
            try:
                details = clean(
                    PatientDetails(
                        first_name=typed["first_name"],
                        last_name=typed["last_name"],
                        date_of_birth=born,
                    ),
                    country=clinic.country,
                    today=_today(clinic),
                )
            except PatientInvalid as problem:
                for refused in (problem, *problem.also):
                    text = str(refused).replace("the patient's", "their")
                    errors.setdefault(refused.field, text)
            if errors:
                raise InvalidInput(next(iter(errors.values())))
            _refuse_duplicate(session, viewer, details)
            patient = Patient(
                id=uuid.uuid4(),
                clinic_id=viewer.clinic_id,
                first_name=details.first_name,
                last_name=details.last_name,
                date_of_birth=details.date_of_birth,
            )
            session.add(patient)
            session.flush()
            session.add(
                PortalMember(
                    clinic_id=viewer.clinic_id,
                    patient_id=patient.id,
                    account_id=viewer.account_id,
                    relation=Relation.DEPENDANT,
                    created_at=now,
                )
            )
            session.flush()
            said = f" ({relationship})" if relationship else ""
            audit.record(
                session,
                viewer.ctx(),
                action="create",
                entity="patients",
                entity_id=patient.id,
                reason=f"family member{said} registered by {viewer.actor()}",
            )
    except (InvalidInput, Conflict) as problem:
        if not errors:
            errors["first_name"] = str(problem)
        return _add_page(request, viewer, typed, errors, status=422)
    return see_other(f"{viewer.base()}/family?done=added")


def _refuse_duplicate(session: Session, viewer: Viewer, details: PatientDetails) -> None:
    """The same name and date of birth among the account's people here: the family
    member is on the account already (a double click, or a second try). The account's
    row is locked first: two sends at once take turns, and the second sees the first's
    family member (locking the member rows alone would not stop a new one)."""
    session.execute(
        select(PortalAccount.id).where(PortalAccount.id == viewer.account_id).with_for_update()
    )
    members = session.scalars(
        select(PortalMember)
        .where(
            PortalMember.account_id == viewer.account_id,
            PortalMember.clinic_id == viewer.clinic_id,
        )
        .with_for_update()
    ).all()
    if sum(m.relation is Relation.DEPENDANT for m in members) >= MOST_DEPENDANTS:
        raise Conflict(
            f"An account holds at most {MOST_DEPENDANTS} family members. Ask the clinic to help."
        )
    ids = [m.patient_id for m in members]
    rows = session.execute(
        select(Patient.first_name, Patient.last_name, Patient.date_of_birth).where(
            Patient.clinic_id == viewer.clinic_id,
            Patient.id.in_(ids),
            Patient.deleted_at.is_(None),
        )
    )
    name = details.name.casefold()
    for row in rows:
        if f"{row.first_name} {row.last_name}".casefold() == name and (
            row.date_of_birth == details.date_of_birth
        ):
            raise Conflict(
                f"{details.name}, born {details.date_of_birth:%d/%m/%Y}, is on your account "
                "already."
            )


def _dependant(viewer: Viewer, patient_id: str) -> uuid.UUID:
    person = viewer.person(patient_id)
    if person.relation is not Relation.DEPENDANT:
        raise NotFound("There is no such family member on your account.")
    return person.patient_id


@router.api_route(
    "/portal/{slug}/family/{patient_id}/remove", methods=READ, response_class=HTMLResponse
)
def remove_form(slug: str, patient_id: str, request: Request, viewer: PortalViewer) -> Response:
    person = viewer.person(_dependant(viewer, patient_id))
    return render(
        request,
        "portal/family_remove.html",
        {"viewer": viewer, "section": "family", "person": person},
        brand=viewer.brand,
        private=True,
    )


@router.post("/portal/{slug}/family/{patient_id}/remove", response_class=HTMLResponse)
def remove(
    slug: str,
    patient_id: str,
    request: Request,
    db: DatabaseDep,
    viewer: PortalViewer,
    form: CheckedForm,
) -> Response:
    who = _dependant(viewer, patient_id)
    with db.writing() as session:
        gone = session.execute(
            delete(PortalMember).where(
                PortalMember.clinic_id == viewer.clinic_id,
                PortalMember.account_id == viewer.account_id,
                PortalMember.patient_id == who,
                PortalMember.relation == Relation.DEPENDANT,
            )
        )
        if gone.rowcount:  # type: ignore[attr-defined]
            audit.record(
                session,
                viewer.ctx(),
                action="unlink",
                entity="portal_members",
                entity_id=who,
                reason=f"family member taken off the account by {viewer.actor()}; "
                "the clinic's record stays",
            )
    return see_other(f"{viewer.base()}/family?done=removed")
