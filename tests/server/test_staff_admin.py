"""What a clinic admin does to workstations, sign-ins and staff is on the audit trail,
attributed to the admin, with the thing it was done to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from common.roles import Role
from server.audit.models import AuditEvent
from server.staff.models import Device, StaffSession


def _trail(db: Any, clinic_id: Any) -> list[tuple[str, str, Any, Any]]:
    with db() as session:
        return [
            (e.action, e.entity, e.entity_id, e.staff_id)
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.clinic_id == clinic_id, AuditEvent.action != "read")
                .order_by(AuditEvent.at)
            )
        ]


def test_removing_a_workstation_ending_a_sign_in_and_deactivating_are_audited(
    client: Any, db: Any, factory: Any
) -> None:
    clinic = factory.clinic("north", roles=(Role.FRONT_DESK, Role.CLINIC_ADMIN))
    admin = clinic.staff[Role.CLINIC_ADMIN]
    admin_headers = factory.staff_headers(admin)
    factory.staff_headers(clinic.front_desk)  # a second workstation, signed in
    with db() as session:
        desk = session.scalars(
            select(StaffSession).where(StaffSession.staff_id == clinic.front_desk.staff_id)
        ).one()
        sign_in_id, device_id = desk.id, desk.device_id
        assert session.get(Device, device_id) is not None

    assert client.post(f"/api/v1/sign-ins/{sign_in_id}/revoke", headers=admin_headers).is_success
    assert client.post(f"/api/v1/workstations/{device_id}/revoke", headers=admin_headers).is_success
    staff_id = clinic.front_desk.staff_id
    assert client.post(f"/api/v1/staff/{staff_id}/deactivate", headers=admin_headers).is_success
    assert client.post(f"/api/v1/staff/{staff_id}/reactivate", headers=admin_headers).is_success

    assert _trail(db, clinic.id) == [
        ("revoke", "staff_sessions", sign_in_id, admin.staff_id),
        ("revoke", "workstations", device_id, admin.staff_id),
        ("deactivate", "staff_users", staff_id, admin.staff_id),
        ("reactivate", "staff_users", staff_id, admin.staff_id),
    ]


def test_a_refused_admin_action_leaves_no_trail(client: Any, db: Any, factory: Any) -> None:
    clinic = factory.clinic("south", roles=(Role.FRONT_DESK, Role.CLINIC_ADMIN))
    desk_headers = factory.staff_headers(clinic.front_desk)
    admin = clinic.staff[Role.CLINIC_ADMIN]
    answer = client.post(f"/api/v1/staff/{admin.staff_id}/deactivate", headers=desk_headers)
    assert answer.status_code == 403
    assert _trail(db, clinic.id) == []
