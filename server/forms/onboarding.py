"""What a booking sets in motion: the forms it sends, its video room, and for a patient
who booked online for the first time, their portal account and a welcome e-mail.

``forms.booked`` runs inside every booking's transaction (``scheduling.book``), whoever made
it, so a booking made at the desk sends the clinic's forms too and the desk's worklist
shows them. ``welcome`` runs where a booking came from the web (a confirmed web request,
a booking link): the patient is new to the portal, so their account is made from the
booking's e-mail address and the welcome e-mail carries a link that links their record
to it and signs them in to fill the forms (an invitation, valid for days, spent once).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from common.errors import Conflict
from common.portal import INVITE_VALID_DAYS
from server.auth.context import AuthContext
from server.forms import service as forms
from server.messaging import service as messaging
from server.patients.models import Patient
from server.portal import accounts, invites
from server.portal.models import PortalInvite
from server.scheduling.models import Appointment


def welcome(
    session: Session,
    ctx: AuthContext,
    appointment: Appointment,
    zone: ZoneInfo,
    *,
    now: datetime,
    public_base_url: str,
) -> PortalInvite | None:
    """A patient's first online booking here: make their portal account (if their
    address has none), link this clinic's record to it, and e-mail them a link to fill
    in the forms the booking sent (and their video room). Nothing when there is nothing
    to fill in or join, when they are already on the portal, or when their address
    cannot be theirs alone (another patient's sign-in here, or shared on several
    files): staff see the forms in the worklist and sort the address out."""
    patient = session.get(Patient, appointment.patient_id)
    if patient is None or patient.clinic_id != ctx.clinic_id:
        return None
    waiting = forms.open_requests(session, ctx.clinic_id, [patient.id])
    if not waiting and not appointment.video_url:
        return None
    if accounts.account_of_patient(session, ctx.clinic_id, patient.id) is not None:
        return None  # on the portal already (theirs, or a family member's account)
    address = invites.usable_email(patient)
    if address is None or invites.shared_with_others(session, patient, address):
        return None
    try:
        invites.check_address_free(session, ctx.clinic_id, patient.id, address)
    except Conflict:
        return None
    if invites.open_invite(session, ctx.clinic_id, patient.id, now) is not None:
        return None  # the welcome already sent still works: one e-mail, not one a booking
    # The account is made now; the record is linked only when the patient accepts the
    # invitation (``invites.accept``), which checks that the file still holds this
    # address: a mistyped address corrected by reception opens nothing.
    account = accounts.account_by_email(session, address) or accounts.create_account(
        session, address, now
    )
    when = appointment.starts_at.astimezone(zone).strftime("%A %-d %B at %H:%M")
    titles = [r.title for r in waiting]

    def words(url: str) -> tuple[str, str]:
        clinic = messaging.sender_name(session, ctx.clinic_id)
        lines = [f"Dear {patient.first_name},", "", f"Welcome to {clinic}."]
        if titles:
            lines += ["", f"Before your appointment on {when}, please fill in:"]
            lines += [f"- {title}" for title in titles]
        if appointment.video_url:
            lines += [
                "",
                f"Your appointment on {when} is a video consultation. At that time, join it "
                f"here:\n{appointment.video_url}",
            ]
        lines += [
            "",
            "We have made you an account in our patient portal, where you can fill in your "
            "forms on your phone (they are saved as you go), and see, move or cancel your "
            f"appointments. Open it here (the link works for {INVITE_VALID_DAYS} days):\n{url}",
            "",
            "If you did not book with us, you can ignore this e-mail.",
            "",
            clinic,
        ]
        return f"Welcome to {clinic}: your forms and your portal", "\n".join(lines)

    invite = invites.send(
        session, ctx, patient, address, now=now, public_base_url=public_base_url, wording=words
    )
    invite.account_id = account.id
    session.flush()
    return invite
