"""A patient's treatment plans, their phases, and the notes and photos of each phase.

Kept on the server only: the desk reads a patient's plans when their file's Treatment
tab is looked at (each read audited), and the patient sees them in the portal. Notes are
sealed at rest like every other clinical text; a photo's bytes are a file in the media
folder (``server.media``) and its row says where, how large, what type and its digest.

A note or photo staff remove (one put on the wrong patient's plan) keeps its row, marked
``removed_at`` and by whom, for the audit trail; nobody is shown it again, and a photo's
file is deleted.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.crypto import EncryptedText
from server.db import ClinicScoped, utcnow


class TreatmentPlan(ClinicScoped):
    """One treatment ("Braces, upper and lower"). ``current_phase_id`` is one of its own
    phases (None only before the first phase exists); ``language`` is the language the
    patient reads the clinic's content in, which decides what they are given."""

    __tablename__ = "treatment_plans"
    __table_args__ = (Index("ix_treatment_plans_patient", "clinic_id", "patient_id"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    title: Mapped[str] = mapped_column(String(120))
    language: Mapped[str] = mapped_column(String(16), default="en")
    current_phase_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )


class TreatmentPhase(ClinicScoped):
    __tablename__ = "treatment_phases"
    __table_args__ = (UniqueConstraint("plan_id", "position", name="uq_treatment_phases_position"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    position: Mapped[int]  # 1, 2, 3… in the order the treatment goes through them
    name: Mapped[str] = mapped_column(String(60))
    entered_at: Mapped[datetime | None] = mapped_column(default=None)  # last made current


class ProgressNote(ClinicScoped):
    """What staff noted at a visit, under the phase it belongs to. The patient sees it."""

    __tablename__ = "progress_notes"
    __table_args__ = (Index("ix_progress_notes_plan", "clinic_id", "plan_id"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_plans.id"))
    phase_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_phases.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    text: Mapped[str] = mapped_column(EncryptedText("progress_notes", "text"))
    written_at: Mapped[datetime] = mapped_column(default=utcnow)
    written_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )
    removed_at: Mapped[datetime | None] = mapped_column(default=None)
    removed_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )


class ProgressPhoto(ClinicScoped):
    """A progress photo: its file's place in the media folder, and what it is."""

    __tablename__ = "progress_photos"
    __table_args__ = (Index("ix_progress_photos_plan", "clinic_id", "plan_id"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_plans.id"))
    phase_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_phases.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    path: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    # As shown, in pixels (``common.treatment.image_size``); None if it could not be read.
    width: Mapped[int | None] = mapped_column(default=None)
    height: Mapped[int | None] = mapped_column(default=None)
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )
    removed_at: Mapped[datetime | None] = mapped_column(default=None)
    removed_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )


__all__ = ["ProgressNote", "ProgressPhoto", "TreatmentPhase", "TreatmentPlan"]
