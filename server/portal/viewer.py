"""Who is looking at a portal page: the signed-in account, at which clinic's portal,
on whose behalf.

The portal of a clinic lives at ``/portal/{slug}`` (its public page's address), in its
colours. The account is the patient's across clinics, so one sign-in serves every clinic
where they have a record; each clinic's pages show only that clinic's records. An
admin's impersonation session is bound to its clinic and its patient: it opens nothing
else, and every action in it is recorded with both names (``AuthContext.for_patient``
with ``impersonator``).

The session cookie (``__Host-clinicdesk-portal``: HttpOnly, Secure, SameSite=Lax, so a
link from the patient's mail keeps them signed in) holds a random token; the server
keeps its digest (``accounts.live_session``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from common.errors import Forbidden, NotFound
from common.portal import Relation
from common.roles import Permission, can
from server.auth.context import AuthContext
from server.db import utcnow
from server.deps import DatabaseDep
from server.patients.models import Patient
from server.portal import accounts
from server.portal.models import PortalAccount
from server.staff.models import StaffUser
from server.web.pages import Brand, SeeOther, brand_of, by_slug
from server.web.security import secure_context

SECURE_COOKIE = "__Host-clinicdesk-portal"
PLAIN_COOKIE = "clinicdesk-portal"
NOT_HERE = (
    "This clinic's portal is not open to your account. If you are their patient, ask them "
    "to send you an invitation."
)
ELSEWHERE = "This view of the portal is for one clinic and one patient only."
NO_LONGER = (
    "This view of the portal as the patient has ended: the staff member who opened it no "
    "longer may. Open it again from the desk if you still need it."
)


def cookie_name(request: Request) -> str:
    return SECURE_COOKIE if secure_context(request) else PLAIN_COOKIE


def set_session_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    name = cookie_name(request)
    secure = "; Secure" if name == SECURE_COOKIE else ""
    response.headers.append(
        "set-cookie",
        f"{name}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
    )


def _cleared(request: Request) -> str:
    name = cookie_name(request)
    secure = "; Secure" if name == SECURE_COOKIE else ""
    return f"{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}"


def clear_session_cookie(response: Response, request: Request) -> None:
    response.headers.append("set-cookie", _cleared(request))


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"cache-control": "no-store"})


@dataclass(frozen=True, slots=True)
class Person:
    """Someone whose care the viewer manages at this clinic: themselves or a dependant."""

    patient_id: uuid.UUID
    first_name: str
    last_name: str
    relation: Relation

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True, slots=True)
class Viewer:
    session_id: uuid.UUID
    account_id: uuid.UUID
    email: str
    clinic_id: uuid.UUID
    slug: str
    brand: Brand
    people: tuple[Person, ...]  # the holder first, then dependants
    impersonator_id: uuid.UUID | None = None
    impersonator_name: str = ""

    @property
    def holder(self) -> Person:
        return self.people[0]

    @property
    def patient_id(self) -> uuid.UUID:
        return self.holder.patient_id

    @property
    def impersonating(self) -> bool:
        return self.impersonator_id is not None

    def base(self) -> str:
        return f"/portal/{self.slug}"

    def person(self, patient_id: uuid.UUID | str | None) -> Person:
        """One of the viewer's people, by id (the holder when none is given); anyone else
        is not found, whoever they are."""
        if patient_id is None or patient_id == "":
            return self.holder
        try:
            wanted = patient_id if isinstance(patient_id, uuid.UUID) else uuid.UUID(patient_id)
        except ValueError:
            raise NotFound("There is nobody like that on your account.") from None
        for person in self.people:
            if person.patient_id == wanted:
                return person
        raise NotFound("There is nobody like that on your account.")

    def ctx(self, patient_id: uuid.UUID | None = None) -> AuthContext:
        """The context of an action for one of the viewer's people (default: the
        holder). Whoever it is for, the actor is the account holder (or the admin
        viewing as them): the audit trail names who acted, and the row acted on (an
        appointment, a family member's record) says for whom."""
        self.person(patient_id)  # anyone not on the account is not found
        return AuthContext.for_patient(
            self.clinic_id, self.holder.patient_id, impersonator=self.impersonator_id
        )

    def actor(self) -> str:
        """Words for audit reasons: who did it."""
        if self.impersonator_id:
            return f"clinic admin {self.impersonator_name} viewing the portal as the patient"
        return "the patient in the portal"


def _people(session: Session, account_id: uuid.UUID, clinic_id: uuid.UUID) -> tuple[Person, ...]:
    found = []
    for member in accounts.members_at(session, account_id, clinic_id):
        patient = session.get(Patient, member.patient_id)
        if patient is not None and patient.deleted_at is None and patient.clinic_id == clinic_id:
            found.append(Person(patient.id, patient.first_name, patient.last_name, member.relation))
    return tuple(found)


def load_viewer(request: Request, db: DatabaseDep, slug: str) -> Viewer:
    """The viewer of ``/portal/{slug}/…``, or ``SeeOther`` the sign-in page."""
    now = utcnow()
    token = request.cookies.get(cookie_name(request), "")
    with db.reading() as session:
        found = by_slug(session, slug)
        if found is None:
            raise NotFound("There is no clinic portal at this address. Check the link.")
        clinic, profile = found
        brand = brand_of(clinic, profile)
        request.state.brand = brand
        row = accounts.live_session(session, token, now) if token else None
        if row is None:
            # A cookie whose session has ended (idle, expired, signed out elsewhere) is
            # dropped, and the sign-in page says why.
            ended = "?ended=idle" if token else ""
            raise SeeOther(
                f"/portal/{profile.slug}/sign-in{ended}",
                headers={"set-cookie": _cleared(request)} if token else None,
            )
        if row.impersonator_staff_id is not None and row.clinic_id != clinic.id:
            raise Forbidden(ELSEWHERE)
        account = session.get(PortalAccount, row.account_id)
        people = _people(session, row.account_id, clinic.id)
        if row.impersonated_patient_id is not None:
            people = tuple(
                p
                for p in people
                if p.patient_id == row.impersonated_patient_id or p.relation is Relation.DEPENDANT
            )
        if account is None or not people or people[0].relation is not Relation.SELF:
            raise Forbidden(NOT_HERE)
        staff_name = ""
        if row.impersonator_staff_id is not None:
            # The admin's view lasts only while they may still have it.
            staff = session.get(StaffUser, row.impersonator_staff_id)
            if (
                staff is None
                or not staff.active
                or not can(staff.role, Permission.PORTAL_IMPERSONATE)
            ):
                raise Forbidden(NO_LONGER)
            staff_name = staff.display_name
        viewer = Viewer(
            session_id=row.id,
            account_id=account.id,
            email=account.email,
            clinic_id=clinic.id,
            slug=profile.slug,
            brand=brand,
            people=people,
            impersonator_id=row.impersonator_staff_id,
            impersonator_name=staff_name,
        )
        stale = accounts.needs_touch(row, now)
    if stale:
        with db.writing() as session:
            accounts.touch(session, viewer.session_id, now)
    request.state.viewer = viewer
    return viewer


PortalViewer = Annotated[Viewer, Depends(load_viewer)]
