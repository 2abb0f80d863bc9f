from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlalchemy import select

from common.errors import NotFound
from common.roles import Permission
from server.audit import service as audit
from server.deps import SessionDep, StaffContext
from server.scheduling.models import Appointment, Provider
from sync.protocol import AppointmentRecord, ProviderRecord

router = APIRouter(tags=["scheduling"])


@router.get("/providers")
def list_providers(ctx: StaffContext, session: SessionDep) -> list[ProviderRecord]:
    ctx.require(Permission.DIARY_READ)
    providers = session.scalars(
        select(Provider)
        .where(Provider.clinic_id == ctx.clinic_id, Provider.deleted_at.is_(None))
        .order_by(Provider.display_name)
    )
    return [ProviderRecord.model_validate(p, from_attributes=True) for p in providers]


@router.get("/appointments/{appointment_id}")
def read_appointment(
    appointment_id: uuid.UUID, ctx: StaffContext, session: SessionDep
) -> AppointmentRecord:
    ctx.require(Permission.DIARY_READ)
    appointment = session.scalar(
        select(Appointment).where(
            Appointment.id == appointment_id,
            Appointment.clinic_id == ctx.clinic_id,
            Appointment.deleted_at.is_(None),
        )
    )
    if appointment is None:
        raise NotFound("There is no such appointment in this clinic.")
    audit.record(
        session,
        ctx,
        action="read",
        entity="appointments",
        entity_id=appointment.id,
        reason="appointment details",
    )
    return AppointmentRecord.model_validate(appointment, from_attributes=True)
