"""Reminders to fill in forms: one e-mail per patient, two days after a form went out
unanswered, through messaging (so consents, quiet hours and the desk's inbox apply as to
any message). Each form is reminded of once.

Only patients on the portal are written to, since that is where the forms are filled
in, and patients welcomed after a web booking who have not opened their account yet
(they get a fresh invitation). A patient who is neither (booked at the desk, no e-mail
address) stays on the desk's worklist of incomplete forms for staff to follow up.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from sqlalchemy.orm import Session

from common.messaging import Channel, Purpose
from server.auth.context import AuthContext
from server.forms import service
from server.forms.models import FormRequest
from server.messaging import service as messaging
from server.patients.models import Patient
from server.portal import accounts, invites
from server.scheduling.models import Appointment
from server.scheduling.service import INACTIVE
from server.web.pages import profile_of

REMINDER_KIND = "forms_reminder"


def send_due(session: Session, now: datetime, public_base_url: str) -> int:
    """Remind every patient with forms due a reminder; how many were written to."""
    due = service.due_reminders(session, now, lock=True)
    by_patient: dict[tuple[uuid.UUID, uuid.UUID], list[FormRequest]] = defaultdict(list)
    for request in due:
        request.reminded_at = now
        if request.appointment_id is not None:
            visit = session.get(Appointment, request.appointment_id)
            if visit is None or visit.status in INACTIVE or visit.ends_at <= now:
                continue  # a visit that is over: too late to ask before it
        by_patient[(request.clinic_id, request.patient_id)].append(request)
    written = 0
    for (clinic_id, patient_id), waiting in by_patient.items():
        patient = session.get(Patient, patient_id)
        profile = profile_of(session, clinic_id)
        if patient is None or patient.deleted_at is not None or profile is None:
            continue
        clinic = messaging.sender_name(session, clinic_id)
        if accounts.account_of_patient(session, clinic_id, patient_id) is None:
            # Welcomed after a web booking but not in yet: a fresh invitation (the older
            # link stops working), worded as the reminder it is.
            if invites.open_invite(session, clinic_id, patient_id, now) is not None:
                written += _invite_again(session, patient, waiting, clinic, now, public_base_url)
            continue
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


def _invite_again(
    session: Session,
    patient: Patient,
    waiting: list[FormRequest],
    clinic: str,
    now: datetime,
    public_base_url: str,
) -> int:
    address = invites.usable_email(patient)
    if address is None:
        return 0
    listed = "\n".join(f"- {r.title}" for r in waiting)

    def words(url: str) -> tuple[str, str]:
        return f"Your forms for {clinic}", (
            f"Dear {patient.first_name},\n\n"
            f"{clinic} is still waiting for {'this form' if len(waiting) == 1 else 'these forms'}:"
            f"\n{listed}\n\n"
            "Filling them in before your visit saves time at the desk. This link opens your "
            f"account in our patient portal, where you can fill them in on your phone:\n{url}"
            f"\n\nIf you did not book with us, you can ignore this e-mail.\n\n{clinic}"
        )

    ctx = AuthContext(clinic_id=patient.clinic_id, device_id=None, staff_id=None, role=None)
    invites.send(session, ctx, patient, address, now=now, public_base_url=public_base_url,
                 wording=words)  # fmt: skip
    return 1
