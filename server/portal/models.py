"""The portal's rows: platform accounts and their links to clinics' patient records,
each clinic's profile-sharing consents, invitations, magic links and sessions.

Accounts, magic links and sessions are the server's alone (never synced, no clinic of
their own: an account spans clinics). Tokens are stored only as digests
(``server.web.tokens``); passwords only as argon2id hashes; the portable profile sealed
at rest (``server.crypto.EncryptedText``) like patients' phone numbers.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.portal import InviteStatus, Relation
from server.crypto import EncryptedText
from server.db import ClinicScoped, RecordBase, StrEnumColumn, utcnow
from server.web.tokens import DIGEST_LENGTH


class PortalAccount(RecordBase):
    """A patient's platform account: one per e-mail address on the server.

    ``profile`` is the portable profile (``common.portal.PROFILE_FIELDS``) as sealed
    JSON: it belongs to the patient, and a clinic reads it only under a sharing consent
    of its own (``SharingConsent``)."""

    __tablename__ = "portal_accounts"
    __table_args__ = (UniqueConstraint("email", name="uq_portal_accounts_email"),)

    email: Mapped[str] = mapped_column(String(254))  # lower-cased
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    password_set_at: Mapped[datetime | None] = mapped_column(default=None)
    profile: Mapped[str | None] = mapped_column(
        EncryptedText("portal_accounts", "profile"), default=None
    )
    profile_changed_at: Mapped[datetime | None] = mapped_column(default=None)


class PortalMember(ClinicScoped):
    """A clinic's patient record linked to an account: the holder's own record, or a
    dependant's. A record belongs to one account at most."""

    __tablename__ = "portal_members"
    __table_args__ = (
        UniqueConstraint("clinic_id", "patient_id", name="uq_portal_members_patient"),
        Index("ix_portal_members_account", "account_id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("portal_accounts.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    relation: Mapped[Relation] = mapped_column(StrEnumColumn(Relation, 16))


class SharingConsent(ClinicScoped):
    """The patient's consent that this clinic may read their portable profile, signed in
    the portal by typing their name. Withdrawn, it stays as a record of what was agreed
    and when; a new signature is a new row."""

    __tablename__ = "portal_sharing_consents"
    __table_args__ = (Index("ix_portal_sharing_consents_account", "account_id", "clinic_id"),)

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("portal_accounts.id"))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    signed_name: Mapped[str] = mapped_column(String(200))
    address_hash: Mapped[str] = mapped_column(String(64), default="")
    withdrawn_at: Mapped[datetime | None] = mapped_column(default=None)


class PortalInvite(ClinicScoped):
    """An invitation e-mailed to a patient to set up their portal account."""

    __tablename__ = "portal_invites"
    __table_args__ = (Index("ix_portal_invites_clinic_patient", "clinic_id", "patient_id"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    status: Mapped[InviteStatus] = mapped_column(
        StrEnumColumn(InviteStatus, 16), default=InviteStatus.SENT
    )
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime]
    sent_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )
    message_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("portal_accounts.id"), default=None
    )


class MagicLink(RecordBase):
    """A one-time sign-in link e-mailed to an account holder, asked for at one clinic's
    portal (its branding; where it leads). An admin's impersonation ticket is one too,
    with ``staff_id`` set and a few minutes to live."""

    __tablename__ = "portal_magic_links"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("portal_accounts.id"), index=True)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    token_hash: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    staff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"), default=None)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id"), default=None)


class PortalSession(RecordBase):
    """One sign-in to the portal. The browser holds a random token; this row its digest.
    It ends after ``IDLE`` without a request, at ``expires_at`` whatever happens, on
    sign-out, or when the patient signs out everywhere. Kept 90 days as the portal's
    session log, then purged.

    ``impersonator_staff_id``: a clinic admin viewing the portal as the patient; such a
    session sees only ``clinic_id``'s records and every action in it names both."""

    __tablename__ = "portal_sessions"
    __table_args__ = (Index("ix_portal_sessions_started", "started_at"),)

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("portal_accounts.id"), index=True)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    token_hash: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    method: Mapped[str] = mapped_column(String(16))  # magic_link, password, invite, impersonation
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    end_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    address_hash: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    impersonator_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )
    impersonated_patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patients.id"), default=None
    )


__all__ = [
    "MagicLink",
    "PortalAccount",
    "PortalInvite",
    "PortalMember",
    "PortalSession",
    "SharingConsent",
]
