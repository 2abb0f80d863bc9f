"""Staff roles and what each may do.

The roles and the messaging, portal and content permissions follow the product's
description of patient communications; the patient, diary, billing and admin permissions
extend them in the same spirit (read-only staff can look, front desk can book, admins can
configure).
Both the server (to authorise) and the desk (to hide what a role cannot use) read this
one table.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SUPER_ADMIN = "super_admin"
    CLINIC_ADMIN = "clinic_admin"
    DOCTOR = "doctor"
    CLINICAL_STAFF = "clinical_staff"
    FRONT_DESK = "front_desk"
    BILLING = "billing"
    READ_ONLY = "read_only"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Permission(StrEnum):
    # Messaging hub, portal, campaigns, content.
    COMMS_SEND_MESSAGE = "comms:send_message"
    COMMS_SEND_BULK = "comms:send_bulk"
    COMMS_VIEW_INBOX = "comms:view_inbox"
    COMMS_MANAGE_TEMPLATES = "comms:manage_templates"
    COMMS_MANAGE_CAMPAIGNS = "comms:manage_campaigns"
    PORTAL_ADMIN = "portal:admin"
    PORTAL_IMPERSONATE = "portal:impersonate"
    CONTENT_MANAGE = "content:manage"
    # Front-desk core.
    PATIENTS_READ = "patients:read"
    PATIENTS_WRITE = "patients:write"
    DIARY_READ = "diary:read"
    DIARY_BOOK = "diary:book"
    SYNC_PULL = "sync:pull"
    STAFF_MANAGE = "staff:manage"
    SETTINGS_MANAGE = "settings:manage"
    # Bills and payments: everyone who may read a patient's file may read their bills;
    # invoicing, taking payments and voiding are for billing, the front desk and admins.
    BILLING_READ = "billing:read"
    BILLING_MANAGE = "billing:manage"


_ALL = frozenset(Permission)
_EVERY_STAFF = frozenset(
    {
        Permission.COMMS_SEND_MESSAGE,
        Permission.COMMS_VIEW_INBOX,
        Permission.PATIENTS_READ,
        Permission.DIARY_READ,
        Permission.SYNC_PULL,
        Permission.BILLING_READ,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.SUPER_ADMIN: _ALL,
    Role.CLINIC_ADMIN: _ALL,
    Role.DOCTOR: _EVERY_STAFF
    | {Permission.CONTENT_MANAGE, Permission.PATIENTS_WRITE, Permission.DIARY_BOOK},
    Role.CLINICAL_STAFF: _EVERY_STAFF | {Permission.PATIENTS_WRITE, Permission.DIARY_BOOK},
    Role.FRONT_DESK: _EVERY_STAFF
    | {Permission.PATIENTS_WRITE, Permission.DIARY_BOOK, Permission.BILLING_MANAGE},
    Role.BILLING: _EVERY_STAFF | {Permission.BILLING_MANAGE},
    # Read only: sees the inbox and the diary but cannot send or change anything.
    Role.READ_ONLY: frozenset(
        {
            Permission.COMMS_VIEW_INBOX,
            Permission.PATIENTS_READ,
            Permission.DIARY_READ,
            Permission.SYNC_PULL,
            Permission.BILLING_READ,
        }
    ),
}


def can(role: Role, permission: Permission) -> bool:
    """True when ``role`` holds ``permission``."""
    return permission in ROLE_PERMISSIONS[role]
