"""A clinic's forms, their published versions, the forms sent to patients and their
answers.

``FormRequest`` (one form sent to one patient) is synced to the desks without its
answers, so the diary's hover card and the worklist of incomplete forms work offline;
the answers (``FormResponse``) stay on the server, sealed at rest, and the desk reads
them on demand, each read audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.forms import FormKind, FormStatus
from server.crypto import EncryptedText
from server.db import ClinicScoped, StrEnumColumn, Synced, feed_index, utcnow


class FormTemplate(ClinicScoped):
    """A form as the clinic's admins keep it. Its questions live in versions; the
    current one is what new requests are answered under."""

    __tablename__ = "form_templates"

    title: Mapped[str] = mapped_column(String(120))
    kind: Mapped[FormKind] = mapped_column(StrEnumColumn(FormKind, 16))
    # The appointment types it is sent with, as id strings; empty: every type.
    appointment_type_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    current_version: Mapped[int] = mapped_column(default=0)  # 0: never published


class FormVersion(ClinicScoped):
    """One published set of questions, never changed once written."""

    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("template_id", "number", name="uq_form_versions_number"),)

    template_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("form_templates.id"))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(120))
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )


class FormRequest(Synced):
    """One form sent to one patient (with the booking that prompted it, if any).

    ``version_number`` is pinned when the patient first saves an answer: until then the
    form shows the newest version, from then on always the one they began."""

    __tablename__ = "form_requests"
    __table_args__ = (
        feed_index("form_requests"),
        Index("ix_form_requests_patient", "clinic_id", "patient_id"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    template_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("form_templates.id"))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id"), default=None
    )
    title: Mapped[str] = mapped_column(String(120))
    kind: Mapped[FormKind] = mapped_column(StrEnumColumn(FormKind, 16))
    status: Mapped[FormStatus] = mapped_column(
        StrEnumColumn(FormStatus, 16), default=FormStatus.PENDING
    )
    version_number: Mapped[int | None] = mapped_column(default=None)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)


class FormResponse(ClinicScoped):
    """The answers to one request, sealed: ``{question id: value}`` as JSON, a
    signature as ``{"name", "signed_at", "address_hash"}``."""

    __tablename__ = "form_responses"
    __table_args__ = (UniqueConstraint("request_id", name="uq_form_responses_request"),)

    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("form_requests.id"))
    answers: Mapped[str] = mapped_column(EncryptedText("form_responses", "answers"))
    # Who sent the final answers: the patient's account (for a family member, the
    # holder's), or staff who filled it in with the patient at the desk.
    completed_by_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("portal_accounts.id"), default=None
    )
    completed_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )


__all__ = ["FormRequest", "FormResponse", "FormTemplate", "FormVersion"]
