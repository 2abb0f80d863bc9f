from __future__ import annotations

import uuid
from dataclasses import dataclass

from common.errors import Forbidden
from common.roles import ROLE_PERMISSIONS, Permission, Role

# A device on its own (no one signed in) may only keep its cache fresh.
DEVICE_ONLY_PERMISSIONS = frozenset({Permission.SYNC_PULL})
# A patient acting on a link the clinic sent them (a booking or manage link), with no
# staff member and no device behind the request: booking and moving their own
# appointment through the one write path the desk uses, and nothing else.
PATIENT_WEB_PERMISSIONS = frozenset({Permission.DIARY_BOOK})


@dataclass(frozen=True, slots=True)
class AuthContext:
    """The caller of one request: which clinic, which device, which staff member and role.

    Every query takes ``clinic_id`` from here, never from the request body or path.
    """

    clinic_id: uuid.UUID
    device_id: uuid.UUID | None
    staff_id: uuid.UUID | None
    role: Role | None
    session_id: uuid.UUID | None = None  # the staff sign-in behind this request, if any
    # The patient acting for themselves on the web (``for_patient``); no role, no device.
    patient_id: uuid.UUID | None = None

    @classmethod
    def for_patient(
        cls, clinic_id: uuid.UUID, patient_id: uuid.UUID, *, impersonator: uuid.UUID | None = None
    ) -> AuthContext:
        """The context of a patient's own action (through a link of theirs, or in the
        portal): the services' permission checks pass for booking only, and the audit
        trail names the patient. ``impersonator``: a clinic admin viewing the portal as
        this patient; they get the patient's permissions, not their own, and the audit
        trail names both."""
        return cls(
            clinic_id=clinic_id,
            device_id=None,
            staff_id=impersonator,
            role=None,
            patient_id=patient_id,
        )

    @property
    def impersonating(self) -> bool:
        return self.patient_id is not None and self.staff_id is not None and self.role is None

    @property
    def permissions(self) -> frozenset[Permission]:
        if self.role:
            return ROLE_PERMISSIONS[self.role]
        if self.patient_id is not None:
            return PATIENT_WEB_PERMISSIONS
        return DEVICE_ONLY_PERMISSIONS

    def require(self, permission: Permission) -> None:
        if permission not in self.permissions:
            raise Forbidden("Your role does not allow this. Ask a clinic admin if you need it.")
