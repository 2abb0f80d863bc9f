"""Enquiries from the public form ("leads").

Not cached by the desks (``ClinicScoped``, not ``Synced``): the desk lists them over the
API, as it does booking requests. The phone is sealed like a patient's; the address and
the browser are kept only as keyed hashes (plus a readable browser family), enough to
see that ten enquiries came from one place without the database holding where.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.leads import (
    SOURCE_DETAIL_MAX,
    LeadChannel,
    LeadStatus,
    PreferredContact,
)
from server.crypto import EncryptedText
from server.db import ClinicScoped, StrEnumColumn

__all__ = ["Lead"]


class Lead(ClinicScoped):
    """One enquiry, worked by the desk from new to contacted to converted (linked to a
    patient) or discarded. ``form_key`` is the digest of the key the form carried, unique
    per clinic, so a double submit records one enquiry."""

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("clinic_id", "form_key", name="uq_leads_clinic_form_key"),
        Index("ix_leads_clinic_status_created", "clinic_id", "status", "created_at"),
        Index("ix_leads_clinic_ip_hash", "clinic_id", "ip_hash"),
    )

    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date | None] = mapped_column(default=None)
    phone: Mapped[str | None] = mapped_column(EncryptedText("leads", "phone"), default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    message: Mapped[str] = mapped_column(Text, default="")
    preferred_contact: Mapped[PreferredContact] = mapped_column(
        StrEnumColumn(PreferredContact, 16), default=PreferredContact.PHONE
    )
    channel: Mapped[LeadChannel] = mapped_column(
        StrEnumColumn(LeadChannel, 16), default=LeadChannel.UNKNOWN
    )
    source_detail: Mapped[str] = mapped_column(String(SOURCE_DETAIL_MAX), default="")
    # Keyed hashes (``server.web.limits.keyed``), never the address or the header itself.
    ip_hash: Mapped[str] = mapped_column(String(64))
    user_agent_hash: Mapped[str] = mapped_column(String(64))
    user_agent_family: Mapped[str] = mapped_column(String(64), default="")
    form_key: Mapped[str] = mapped_column(String(64))
    # Caught by the form's honeypot: kept, discarded, out of the desk's way.
    spam: Mapped[bool] = mapped_column(default=False)
    status: Mapped[LeadStatus] = mapped_column(
        StrEnumColumn(LeadStatus, 16), default=LeadStatus.NEW
    )
    # [{"at": iso instant, "staff_id": uuid or None, "staff_name": str, "text": str}]
    notes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # SET NULL: a patient row is never hard-deleted, but a lead must not hold one up.
    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patients.id", ondelete="SET NULL"), default=None
    )
    decided_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
