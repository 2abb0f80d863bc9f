from __future__ import annotations

from fastapi import APIRouter

from server.auth import service
from server.clinics.models import Clinic
from server.deps import DeviceDep, SessionDep, SettingsDep
from server.staff.models import StaffUser
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
    return ClinicInfo(id=clinic.id, slug=clinic.slug, name=clinic.name, time_zone=clinic.time_zone)


def staff_info(staff: StaffUser) -> StaffInfo:
    return StaffInfo(
        id=staff.id, email=staff.email, display_name=staff.display_name, role=staff.role
    )


@router.post("/devices", status_code=201)
def enroll(body: EnrollRequest, session: SessionDep, settings: SettingsDep) -> EnrollResponse:
    """Enroll a workstation with a staff login; the token is shown this once."""
    device, token, clinic, staff = service.enroll_device(
        session,
        settings,
        clinic_slug=body.clinic,
        email=body.email,
        password=body.password,
        name=body.device_name,
    )
    return EnrollResponse(
        device_id=device.id,
        device_token=token,
        expires_at=device.expires_at,
        clinic=clinic_info(clinic),
        staff=staff_info(staff),
    )


@router.post("/sessions", status_code=201)
def sign_in(
    body: SignInRequest, device: DeviceDep, session: SessionDep, settings: SettingsDep
) -> SignInResponse:
    """A staff member signs in on an enrolled workstation of their clinic."""
    staff_session, token, clinic, staff, key = service.sign_in(
        session,
        settings,
        device=device,
        email=body.email,
        password=body.password,
        signing_key=body.signing_key,
    )
    return SignInResponse(
        session_token=token,
        expires_at=staff_session.expires_at,
        staff=staff_info(staff),
        clinic=clinic_info(clinic),
        signing_key_id=key.id if key else None,
    )
