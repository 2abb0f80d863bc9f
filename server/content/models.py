"""The content library's items, and the deliveries of items to patients.

An item is an article (its text here), a PDF (a file in the media folder, named by a
random id) or a video link. A delivery is one item given to one patient, once ever
(unique per patient and item): moving a plan into a phase twice, or a request sent
twice, finds the delivery already there and gives nothing new. When the patient first
opens it in the portal, ``opened_at`` says so, and the desk shows it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.content import ContentKind
from server.db import ClinicScoped, StrEnumColumn, utcnow


class ContentItem(ClinicScoped):
    __tablename__ = "content_items"

    kind: Mapped[ContentKind] = mapped_column(StrEnumColumn(ContentKind, 16))
    title: Mapped[str] = mapped_column(String(160))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(500), default="")
    # The phase names it suits, as staff typed them (compared folded: common.treatment).
    phases: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(16), default="en")
    published: Mapped[bool] = mapped_column(default=True)
    file_path: Mapped[str | None] = mapped_column(String(200), default=None)
    file_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    file_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    # Removed from the library: no longer shown or given; deliveries keep their record.
    removed_at: Mapped[datetime | None] = mapped_column(default=None)
    changed_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )


class ContentDelivery(ClinicScoped):
    __tablename__ = "content_deliveries"
    __table_args__ = (
        UniqueConstraint("patient_id", "item_id", name="uq_content_deliveries_patient_item"),
        Index("ix_content_deliveries_patient", "clinic_id", "patient_id"),
    )

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("content_items.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    plan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("treatment_plans.id"), default=None
    )
    phase_name: Mapped[str] = mapped_column(String(60), default="")
    delivered_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    message_id: Mapped[uuid.UUID | None] = mapped_column(default=None)


__all__ = ["ContentDelivery", "ContentItem"]
