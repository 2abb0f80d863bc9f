"""The roles table: who may do what (seed 004's table, extended for the front desk)."""

from __future__ import annotations

import pytest

from common.roles import ROLE_PERMISSIONS, Permission, Role, can

ADMINS = {Role.SUPER_ADMIN, Role.CLINIC_ADMIN}
STAFF_WHO_SEND = set(Role) - {Role.READ_ONLY}

# Seed 004, "Special Permissions": the default roles of each (super admins hold everything).
SEED_004_DEFAULTS = {
    Permission.COMMS_SEND_MESSAGE: STAFF_WHO_SEND,  # "all staff"; read only may only view
    Permission.COMMS_SEND_BULK: ADMINS,
    Permission.COMMS_VIEW_INBOX: set(Role),
    Permission.COMMS_MANAGE_TEMPLATES: ADMINS,
    Permission.COMMS_MANAGE_CAMPAIGNS: ADMINS,
    Permission.PORTAL_ADMIN: ADMINS,
    Permission.PORTAL_IMPERSONATE: ADMINS,
    Permission.CONTENT_MANAGE: ADMINS | {Role.DOCTOR},
}


def holders(permission):
    return {role for role in Role if can(role, permission)}


def test_every_role_has_an_entry_and_every_entry_is_a_role():
    assert set(ROLE_PERMISSIONS) == set(Role)
    for permissions in ROLE_PERMISSIONS.values():
        assert permissions <= set(Permission)


@pytest.mark.parametrize("role", sorted(ADMINS))
def test_admins_hold_every_permission(role):
    assert ROLE_PERMISSIONS[role] == frozenset(Permission)
    assert all(can(role, permission) for permission in Permission)


@pytest.mark.parametrize("permission", list(SEED_004_DEFAULTS))
def test_seed_004_permissions_go_to_their_default_roles(permission):
    assert holders(permission) == SEED_004_DEFAULTS[permission]


def test_read_only_can_look_but_not_book_change_or_send():
    role = Role.READ_ONLY
    for permission in (Permission.PATIENTS_READ, Permission.DIARY_READ, Permission.SYNC_PULL):
        assert can(role, permission)
    for permission in (
        Permission.DIARY_BOOK,
        Permission.PATIENTS_WRITE,
        Permission.COMMS_SEND_MESSAGE,
        Permission.STAFF_MANAGE,
        Permission.SETTINGS_MANAGE,
    ):
        assert not can(role, permission)


def test_read_only_is_the_least_any_role_holds():
    for role in Role:
        assert ROLE_PERMISSIONS[Role.READ_ONLY] <= ROLE_PERMISSIONS[role]


def test_the_desk_roles_can_book_and_keep_patient_files():
    for role in (Role.FRONT_DESK, Role.CLINICAL_STAFF, Role.DOCTOR, *ADMINS):
        assert can(role, Permission.DIARY_BOOK)
        assert can(role, Permission.PATIENTS_WRITE)
    assert holders(Permission.DIARY_BOOK).isdisjoint({Role.BILLING, Role.READ_ONLY})


def test_only_admins_manage_staff_and_settings():
    assert holders(Permission.STAFF_MANAGE) == ADMINS
    assert holders(Permission.SETTINGS_MANAGE) == ADMINS


def test_labels_read_as_words():
    assert Role.FRONT_DESK.label == "Front desk"
    assert all("_" not in role.label for role in Role)
