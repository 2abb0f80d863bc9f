"""A clinic admin viewing the portal as one of the clinic's patients.

Support needs to see what a patient sees ("the button is not there"), without asking
for their password. The admin asks the desk's API for a ticket: a one-time sign-in
link of two minutes (``accounts.issue_link`` with ``staff_id``) that opens an
impersonation session bound to this clinic and this patient, for at most 30 minutes.
Every action in that session is recorded under both the admin and the patient
(``AuthContext.for_patient`` with ``impersonator``); the portal shows a banner on every
page and refuses what only the patient may do (their password, signing them out).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import Response

from common.errors import Conflict
from common.portal import Relation
from common.roles import Permission
from server import kit
from server.audit import service as audit
from server.db import utcnow
from server.deps import DatabaseDep, SettingsDep, StaffContext
from server.patients.models import Patient
from server.portal import accounts
from server.staff.models import StaffUser
from sync.protocol import ImpersonationTicket

router = APIRouter(tags=["portal"])

NO_ACCOUNT = "This patient has no portal account."


@router.post("/patients/{patient_id}/portal/impersonate", response_model=ImpersonationTicket)
def impersonate(
    patient_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep, settings: SettingsDep
) -> Response:
    """A two-minute, one-time address that opens the portal as the patient. Only the
    holder of an account (their own record, not a dependant's) can be viewed as."""
    ctx.require(Permission.PORTAL_IMPERSONATE)
    now = utcnow()
    with db.writing() as session:
        kit.live(session, Patient, ctx.clinic_id, patient_id, what="patient")
        linked = accounts.account_of_patient(session, ctx.clinic_id, patient_id)
        if linked is None or linked[1].relation is not Relation.SELF:
            raise Conflict(NO_ACCOUNT)
        account = linked[0]
        token = accounts.issue_link(
            session, account, ctx.clinic_id, now, staff_id=ctx.staff_id, patient_id=patient_id
        )
        staff = session.get(StaffUser, ctx.staff_id) if ctx.staff_id else None
        who = staff.display_name if staff is not None else "a clinic admin"
        audit.record(
            session,
            ctx,
            action="impersonate",
            entity="patients",
            entity_id=patient_id,
            reason=f"{who} asked to view the portal as the patient",
        )
    ticket = ImpersonationTicket(
        url=f"{settings.public_base_url.rstrip('/')}/portal/link/{token}",
        expires_at=now + accounts.IMPERSONATION_TICKET_LIFE,
    )
    return kit.json_response(ticket)
