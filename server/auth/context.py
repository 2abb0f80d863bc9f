from __future__ import annotations

import uuid
from dataclasses import dataclass

from common.errors import Forbidden
from common.roles import ROLE_PERMISSIONS, Permission, Role

# A device on its own (no one signed in) may only keep its cache fresh.
DEVICE_ONLY_PERMISSIONS = frozenset({Permission.SYNC_PULL})


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

    @property
    def permissions(self) -> frozenset[Permission]:
        return ROLE_PERMISSIONS[self.role] if self.role else DEVICE_ONLY_PERMISSIONS

    def require(self, permission: Permission) -> None:
        if permission not in self.permissions:
            raise Forbidden("Your role does not allow this. Ask a clinic admin if you need it.")
