from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from server.auth import service
from server.auth.guard import guarded_sign_in
from server.auth.hashing import CheckedPassword
from server.clinics.models import Clinic
from server.deps import DeviceContext, SettingsDep
from server.staff.models import Device, StaffUser
from sync.protocol import (
    ClinicInfo,
    EnrollRequest,
    EnrollResponse,
    SignInRequest,
    SignInResponse,
    StaffInfo,
)

router = APIRouter(tags=["auth"])


def clinic_info(clinic: Clinic) -> ClinicInfo:
    return ClinicInfo(
        id=clinic.id,
        slug=clinic.slug,
        name=clinic.name,
        time_zone=clinic.time_zone,
        country=clinic.country,
    )


def staff_info(staff: StaffUser) -> StaffInfo:
    return StaffInfo(
        id=staff.id, email=staff.email, display_name=staff.display_name, role=staff.role
    )


@router.post("/devices", status_code=201)
async def enroll(body: EnrollRequest, request: Request, settings: SettingsDep) -> EnrollResponse:
    """Enroll a workstation with a staff login; the token is shown this once. The
    password is checked under the sign-in guard: throttled, and without holding a
    worker thread or a transaction while it waits (server.auth.guard)."""

    def enroll_checked(session: Session, password: CheckedPassword) -> EnrollResponse:
        device, token, clinic, staff = service.enroll_device(
            session,
            settings,
            clinic_slug=body.clinic,
            email=body.email,
            password=password,
            name=body.device_name,
        )
        return EnrollResponse(
            device_id=device.id,
            device_token=token,
            expires_at=device.expires_at,
            clinic=clinic_info(clinic),
            staff=staff_info(staff),
        )

    return await guarded_sign_in(
        request, clinic=body.clinic, email=body.email, password=body.password, then=enroll_checked
    )


@router.post("/sessions", status_code=201)
async def sign_in(
    body: SignInRequest, ctx: DeviceContext, request: Request, settings: SettingsDep
) -> SignInResponse:
    """A staff member signs in on an enrolled workstation of their clinic (the password
    checked under the sign-in guard, as for enrolling), registering the public key they
    will sign their changes with there."""

    def sign_in_checked(session: Session, password: CheckedPassword) -> SignInResponse:
        staff_session, token, clinic, staff, key = service.sign_in(
            session,
            settings,
            device=session.get_one(Device, ctx.device_id),
            email=body.email,
            password=password,
            signing_key=body.signing_key,
        )
        return SignInResponse(
            session_token=token,
            expires_at=staff_session.expires_at,
            staff=staff_info(staff),
            clinic=clinic_info(clinic),
            signing_key_id=key.id if key else None,
        )

    return await guarded_sign_in(
        request,
        clinic=ctx.clinic_id,
        email=body.email,
        password=body.password,
        then=sign_in_checked,
    )
