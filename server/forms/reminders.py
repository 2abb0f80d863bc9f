"""Reminders to fill in forms: one e-mail per patient, two days after a form went out
unanswered, through messaging (so consents, quiet hours and the desk's inbox apply as to
any message). Each form is reminded of once.

Only patients on the portal are written to: that is where the forms are filled in. A
patient who is not (booked at the desk, no e-mail address) stays on the desk's worklist
of incomplete forms for staff to follow up.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from sqlalchemy.orm import Session

from common.messaging import Channel, Purpose
from server.forms import service
from server.forms.models import FormRequest
from server.messaging import service as messaging
from server.patients.models import Patient
from server.portal import accounts
from server.web.pages import profile_of

REMINDER_KIND = "forms_reminder"


def send_due(session: Session, now: datetime, public_base_url: str) -> int:
    """Remind every patient with forms due a reminder; how many were written to."""
    due = service.due_reminders(session, now, lock=True)
    by_patient: dict[tuple[uuid.UUID, uuid.UUID], list[FormRequest]] = defaultdict(list)
    for request in due:
        request.reminded_at = now
        by_patient[(request.clinic_id, request.patient_id)].append(request)
    written = 0
    for (clinic_id, patient_id), waiting in by_patient.items():
        patient = session.get(Patient, patient_id)
        profile = profile_of(session, clinic_id)
        if patient is None or patient.deleted_at is not None or profile is None:
            continue
        if accounts.account_of_patient(session, clinic_id, patient_id) is None:
            continue
        clinic = messaging.sender_name(session, clinic_id)
        url = f"{public_base_url.rstrip('/')}/portal/{profile.slug}/forms"
        listed = "\n".join(f"- {r.title}" for r in waiting)
        text = (
            f"Dear {patient.first_name},\n\n"
            f"{clinic} is still waiting for {'this form' if len(waiting) == 1 else 'these forms'}:"
            f"\n{listed}\n\n"
            "Filling them in before your visit saves time at the desk. Sign in to the patient "
            f"portal to fill them in (what you have answered so far is kept):\n{url}\n\n{clinic}"
        )
        messaging.compose(
            session,
            clinic_id,
            patient=patient,
            purpose=Purpose.CARE,
            kind=REMINDER_KIND,
            drafts=[messaging.Draft(Channel.EMAIL, text, subject=f"Your forms for {clinic}")],
        )
        written += 1
    session.flush()
    return written
