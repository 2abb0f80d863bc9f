from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import Conflict
from common.roles import Role
from common.validation import check_password, normalise_email
from server.auth.security import hash_password
from server.clinics.models import Clinic
from server.staff.models import StaffUser


def create_staff_user(
    session: Session, clinic: Clinic, *, email: str, display_name: str, password: str, role: Role
) -> StaffUser:
    email = normalise_email(email)
    check_password(password)
    taken = session.scalar(
        select(StaffUser.id).where(StaffUser.clinic_id == clinic.id, StaffUser.email == email)
    )
    if taken is not None:
        raise Conflict(f"{email} already has an account at {clinic.name}.")
    user = StaffUser(
        clinic_id=clinic.id,
        email=email,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role=role,
    )
    session.add(user)
    session.flush()
    return user
