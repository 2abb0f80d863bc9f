"""Signing out, and a clinic admin's view of workstations, sign-ins and staff.

Everything here is online-only by nature: revoking a workstation or a person must reach
the server before it means anything.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from server.deps import DatabaseDep, StaffContext
from server.staff import service
from server.staff.models import Device, StaffSession, StaffUser
from sync.protocol import SignInRecord, StaffMemberRecord, WorkstationRecord

router = APIRouter(tags=["staff"])


def _member(staff: StaffUser) -> StaffMemberRecord:
    return StaffMemberRecord.model_validate(staff, from_attributes=True)


def _workstation(
    device: Device,
    open_sessions: list[StaffSession],
    names: dict[uuid.UUID, str],
    asking: uuid.UUID | None = None,
) -> WorkstationRecord:
    return WorkstationRecord(
        this_workstation=device.id == asking,
        id=device.id,
        name=device.name,
        enrolled_at=device.created_at,
        last_seen_at=device.last_seen_at,
        expires_at=device.expires_at,
        revoked_at=device.revoked_at,
        signed_in=[
            SignInRecord(
                id=s.id,
                staff_id=s.staff_id,
                staff_name=names.get(s.staff_id, "?"),
                started_at=s.created_at,
                expires_at=s.expires_at,
            )
            for s in open_sessions
        ],
    )


@router.delete("/sessions/current", status_code=204)
def sign_out(ctx: StaffContext, db: DatabaseDep) -> Response:
    """End the caller's own sign-in. Changes already made under it still count."""
    assert ctx.session_id is not None  # a staff context always comes from a session
    with db.writing() as session:
        found = session.get(StaffSession, ctx.session_id)
        if found is not None and found.clinic_id == ctx.clinic_id:
            service.end_session(session, found, revoke_key=False)
    return Response(status_code=204)


@router.get("/workstations")
def list_workstations(ctx: StaffContext, db: DatabaseDep) -> list[WorkstationRecord]:
    """The clinic's enrolled workstations (newest first) and who is signed in on each."""
    with db.reading() as session:
        found = service.workstations(session, ctx)
        names = {s.id: s.display_name for s in service.staff_members(session, ctx)}
        return [
            _workstation(device, open_sessions, names, ctx.device_id)
            for device, open_sessions in found
        ]


@router.post("/workstations/{device_id}/revoke")
def revoke_workstation(
    device_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep
) -> WorkstationRecord:
    with db.writing() as session:
        device = service.revoke_device(session, ctx, device_id)
        return _workstation(device, [], {}, ctx.device_id)


@router.post("/sign-ins/{session_id}/revoke", status_code=204)
def revoke_sign_in(session_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    with db.writing() as session:
        service.revoke_session(session, ctx, session_id)
    return Response(status_code=204)


@router.get("/staff")
def list_staff(ctx: StaffContext, db: DatabaseDep) -> list[StaffMemberRecord]:
    with db.reading() as session:
        return [_member(s) for s in service.staff_members(session, ctx)]


@router.post("/staff/{staff_id}/deactivate")
def deactivate(staff_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> StaffMemberRecord:
    """The person can no longer sign in anywhere, and their pending changes are refused;
    desks forget their offline sign-in at their next sync."""
    with db.writing() as session:
        return _member(service.set_active(session, ctx, staff_id, active=False))


@router.post("/staff/{staff_id}/reactivate")
def reactivate(staff_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> StaffMemberRecord:
    with db.writing() as session:
        return _member(service.set_active(session, ctx, staff_id, active=True))
