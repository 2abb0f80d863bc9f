"""The desk's side of the portal: invitations (one, or "Send (N) invites" after the
shared-address report), their states, and what a patient's file shows of the portal.

Online only: nothing here is cached on the desks. Every read of patient data is
audited; the portable profile is in the answer only while the patient shares it with
the caller's clinic."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.portal import Relation
from common.roles import Permission
from server import kit
from server.audit import service as audit
from server.db import utcnow
from server.deps import DatabaseDep, SettingsDep, StaffContext
from server.patients.models import Patient
from server.portal import accounts, invites, sharing
from server.portal.models import PortalInvite
from sync.protocol import (
    BulkInviteResult,
    InviteCandidatesRecord,
    PatientPortalRecord,
    PortalInviteRecord,
    PortalPersonRecord,
    SharedAddressRecord,
)

router = APIRouter(tags=["portal"])


def _names(session: Session, clinic_id: uuid.UUID, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(Patient.id, Patient.first_name, Patient.last_name).where(
            Patient.clinic_id == clinic_id, Patient.id.in_(ids)
        )
    )
    return {row.id: f"{row.first_name} {row.last_name}" for row in rows}


def invite_records(
    session: Session, clinic_id: uuid.UUID, rows: list[PortalInvite]
) -> list[PortalInviteRecord]:
    now = utcnow()
    names = _names(session, clinic_id, list({r.patient_id for r in rows}))
    return [
        PortalInviteRecord(
            id=r.id,
            patient_id=r.patient_id,
            patient_name=names.get(r.patient_id, ""),
            email=r.email,
            status=invites.state_of(r, now),
            sent_at=r.sent_at,
            opened_at=r.opened_at,
            accepted_at=r.accepted_at,
            expires_at=r.expires_at,
        )
        for r in rows
    ]


@router.get("/portal/invites", response_model=list[PortalInviteRecord])
def list_invites(
    ctx: StaffContext,
    db: DatabaseDep,
    patient_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
) -> Response:
    """Invitations, newest first (one patient's with ``patient_id``)."""
    ctx.require(Permission.PATIENTS_READ)
    with db.reading() as session:
        rows = invites.invites_of(session, ctx.clinic_id, patient_id=patient_id, limit=limit)
        records = invite_records(session, ctx.clinic_id, rows)
    audit.read(
        db, ctx, entity="portal_invites", record_count=len(records), reason="portal invitations"
    )
    return kit.json_response(records)


@router.get("/portal/invite-candidates", response_model=InviteCandidatesRecord)
def invite_candidates(ctx: StaffContext, db: DatabaseDep) -> Response:
    """Before "Send (N) invites": N, and the addresses several patients share."""
    ctx.require(Permission.PATIENTS_READ)
    with db.reading() as session:
        found = invites.candidates(session, ctx.clinic_id, utcnow())
        names = _names(session, ctx.clinic_id, [i for s in found.shared for i in s.patient_ids])
        record = InviteCandidatesRecord(
            count=len(found.patient_ids),
            pending=found.pending,
            shared=[
                SharedAddressRecord(
                    email=s.email,
                    patient_ids=s.patient_ids,
                    patient_names=[names.get(i, "") for i in s.patient_ids],
                )
                for s in found.shared
            ],
        )
    audit.read(
        db,
        ctx,
        entity="patients",
        record_count=sum(len(s.patient_ids) for s in found.shared),
        reason="e-mail addresses shared by several patients (portal invitations)",
    )
    return kit.json_response(record)


@router.post("/portal/invites/bulk", response_model=BulkInviteResult)
def invite_everyone(ctx: StaffContext, db: DatabaseDep, settings: SettingsDep) -> Response:
    with db.writing() as session:
        sent = invites.invite_all(
            session, ctx, now=utcnow(), public_base_url=settings.public_base_url
        )
    return kit.json_response(BulkInviteResult(sent=len(sent)))


@router.post("/patients/{patient_id}/portal/invite", response_model=PortalInviteRecord)
def invite_patient(
    patient_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep, settings: SettingsDep
) -> Response:
    with db.writing() as session:
        row = invites.invite(
            session, ctx, patient_id, now=utcnow(), public_base_url=settings.public_base_url
        )
        record = invite_records(session, ctx.clinic_id, [row])[0]
    return kit.json_response(record)


@router.post("/portal/invites/{invite_id}/withdraw", response_model=PortalInviteRecord)
def withdraw_invite(invite_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    with db.writing() as session:
        row = invites.withdraw(session, ctx, invite_id)
        record = invite_records(session, ctx.clinic_id, [row])[0]
    return kit.json_response(record)


@router.get("/patients/{patient_id}/portal", response_model=PatientPortalRecord)
def patient_portal(patient_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    """The portal on a patient's file: account, family, invitations, and the portable
    profile if (and only while) the patient shares it with this clinic."""
    ctx.require(Permission.PATIENTS_READ)
    with db.reading() as session:
        kit.live(session, Patient, ctx.clinic_id, patient_id, what="patient")
        invite_rows = invites.invites_of(session, ctx.clinic_id, patient_id=patient_id, limit=20)
        sent = invite_records(session, ctx.clinic_id, invite_rows)
        linked = accounts.account_of_patient(session, ctx.clinic_id, patient_id)
        if linked is None:
            record = PatientPortalRecord(has_account=False, invites=sent)
        else:
            account, member = linked
            members = accounts.members_at(session, account.id, ctx.clinic_id)
            names = _names(session, ctx.clinic_id, [m.patient_id for m in members])
            holder = next((m for m in members if m.relation is Relation.SELF), None)
            consent = sharing.current_consent(session, account.id, ctx.clinic_id)
            shares = consent is not None and member.relation is Relation.SELF
            record = PatientPortalRecord(
                has_account=member.relation is Relation.SELF,
                email=account.email if member.relation is Relation.SELF else None,
                relation=member.relation,
                holder_name=names.get(holder.patient_id) if holder else None,
                people=[
                    PortalPersonRecord(
                        patient_id=m.patient_id,
                        name=names.get(m.patient_id, ""),
                        relation=m.relation,
                    )
                    for m in members
                ],
                invites=sent,
                shared=shares,
                shared_since=consent.signed_at if shares and consent else None,
                profile=sharing.profile_of(account) if shares else None,
            )
    audit.read(
        db,
        ctx,
        entity="patients",
        entity_id=patient_id,
        reason="the patient's portal account"
        + (" and shared profile" if record.profile is not None else ""),
    )
    return kit.json_response(record)
