"""Inviting patients to the portal, and accepting an invitation.

The portal account's identifier is the e-mail address, so only one patient may hold an
address: a family sharing one must first give each member their own (or the parent
manages the children as family members from their own account). Before a bulk invite,
``shared_addresses`` lists the addresses on several files so staff can fix them; until
then those patients are left out of the invitation, never guessed between.

An invitation is an e-mail with a link (``/portal/invite/{token}``): opening it changes
nothing; the patient's "Set up my account" marks it opened, and choosing how to sign in
creates the account (or, for an address that has one already, links this clinic's
record to it: the link proves the patient reads that mailbox) and signs them in.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.errors import Conflict, InvalidInput, NotFound
from common.messaging import Channel, Purpose
from common.patients import PatientInvalid, normalise_email
from common.portal import INVITE_VALID_DAYS, InviteStatus, Relation
from common.roles import Permission
from server import kit
from server.audit import service as audit
from server.auth.context import AuthContext
from server.messaging import service as messaging
from server.patients.models import Patient
from server.portal import accounts
from server.portal.models import PortalAccount, PortalInvite, PortalMember
from server.web import tokens

INVITE_KIND = "portal_invite"
OPEN = (InviteStatus.SENT, InviteStatus.OPENED)


def invite_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/portal/invite/{token}"


def state_of(invite: PortalInvite, now: datetime) -> InviteStatus:
    """An open invitation past its expiry reads as expired (nothing rewrites the row)."""
    if invite.status in OPEN and tokens.expired(invite.expires_at, now):
        return InviteStatus.EXPIRED
    return invite.status


def usable_email(patient: Patient) -> str | None:
    try:
        return normalise_email(patient.email)
    except PatientInvalid:
        return None


def _live_patients(session: Session, clinic_id: uuid.UUID) -> list[Patient]:
    return list(
        session.scalars(
            select(Patient)
            .where(Patient.clinic_id == clinic_id, Patient.deleted_at.is_(None))
            .order_by(Patient.last_name, Patient.first_name, Patient.id)
        )
    )


@dataclass(frozen=True, slots=True)
class SharedAddress:
    email: str
    patient_ids: list[uuid.UUID]


@dataclass(frozen=True, slots=True)
class Candidates:
    """Who "Send (N) invites" would reach, and what keeps others out."""

    patient_ids: list[uuid.UUID]  # valid address of their own, no account, no open invite
    shared: list[SharedAddress]  # addresses on several files: fix these first
    pending: int  # already invited, invitation still open


def _by_address(patients: list[Patient]) -> dict[str, list[Patient]]:
    found: dict[str, list[Patient]] = defaultdict(list)
    for patient in patients:
        address = usable_email(patient)
        if address is not None:
            found[address.lower()].append(patient)
    return found


def _linked(session: Session, clinic_id: uuid.UUID) -> set[uuid.UUID]:
    return set(
        session.scalars(select(PortalMember.patient_id).where(PortalMember.clinic_id == clinic_id))
    )


def _open_invites(session: Session, clinic_id: uuid.UUID, now: datetime) -> set[uuid.UUID]:
    """Patients with an invitation still open to the address their file holds now (one
    sent to a corrected address does not count: they are invited again)."""
    rows = session.execute(
        select(PortalInvite.patient_id, PortalInvite.email, Patient.email)
        .join(Patient, Patient.id == PortalInvite.patient_id)
        .where(
            PortalInvite.clinic_id == clinic_id,
            PortalInvite.status.in_(OPEN),
            PortalInvite.expires_at > now,
        )
    )
    return {
        patient_id
        for patient_id, sent_to, on_file in rows
        if (on_file or "").strip().lower() == sent_to
    }


def shared_addresses(session: Session, clinic_id: uuid.UUID) -> list[SharedAddress]:
    """Addresses on more than one live patient's file, alphabetically."""
    grouped = _by_address(_live_patients(session, clinic_id))
    return [
        SharedAddress(address, [p.id for p in patients])
        for address, patients in sorted(grouped.items())
        if len(patients) > 1
    ]


def candidates(session: Session, clinic_id: uuid.UUID, now: datetime) -> Candidates:
    grouped = _by_address(_live_patients(session, clinic_id))
    linked = _linked(session, clinic_id)
    pending = _open_invites(session, clinic_id, now)
    chosen = [
        patients[0].id
        for patients in grouped.values()
        if len(patients) == 1 and patients[0].id not in linked and patients[0].id not in pending
    ]
    shared = [
        SharedAddress(address, [p.id for p in patients])
        for address, patients in sorted(grouped.items())
        if len(patients) > 1
    ]
    return Candidates(chosen, shared, len(pending - linked))


Wording = Callable[[str], tuple[str, str]]
"""An invitation's e-mail (subject, text) around its link."""


def _invitation(patient: Patient, clinic: str) -> Wording:
    def words(url: str) -> tuple[str, str]:
        return f"Your patient portal at {clinic}", (
            f"Dear {patient.first_name},\n\n"
            f"{clinic} invites you to its patient portal: see and book your appointments, "
            "cancel or move them, keep your contact details and preferences up to date, and "
            "manage appointments for family members.\n\n"
            f"Set up your account here (the link works for {INVITE_VALID_DAYS} days):\n{url}\n\n"
            "If you did not expect this, you can ignore this e-mail.\n\n"
            f"{clinic}"
        )

    return words


def _compose(
    session: Session,
    patient: Patient,
    address: str,
    url: str,
    token: str,
    staff_id: uuid.UUID | None,
    wording: Wording | None,
) -> uuid.UUID:
    clinic = messaging.sender_name(session, patient.clinic_id)
    subject, text = (wording or _invitation(patient, clinic))(url)
    message = messaging.compose(
        session,
        patient.clinic_id,
        patient=patient,
        purpose=Purpose.CARE,
        kind=INVITE_KIND,
        drafts=[messaging.Draft(Channel.EMAIL, text, subject=subject)],
        staff_id=staff_id,
        email=address,
        conceal=[token],
    )
    return message.id


def invite(
    session: Session,
    ctx: AuthContext,
    patient_id: uuid.UUID,
    *,
    now: datetime,
    public_base_url: str,
) -> PortalInvite:
    """Invite one patient (the patient file's "Send invite to patient portal"). An open
    invitation they had is withdrawn: only the newest link works."""
    ctx.require(Permission.PATIENTS_WRITE)
    patient = kit.live(session, Patient, ctx.clinic_id, patient_id, what="patient")
    address = usable_email(patient)
    if address is None:
        raise InvalidInput(
            "This patient has no valid e-mail address on file. Add one with Edit details… on "
            "their file, then send the invitation."
        )
    existing = accounts.account_of_patient(session, ctx.clinic_id, patient_id)
    if existing is not None and existing[1].relation is Relation.SELF:
        raise Conflict("This patient already has a portal account.")
    check_address_free(session, ctx.clinic_id, patient_id, address)
    others = shared_with_others(session, patient, address)
    if others:
        names = ", ".join(f"{p.first_name} {p.last_name}" for p in others[:3])
        raise Conflict(
            f"{address} is also on the file of {names}. A portal account needs an address "
            "of its own: change or remove it on one of the files first."
        )
    return send(session, ctx, patient, address, now=now, public_base_url=public_base_url)


def shared_with_others(session: Session, patient: Patient, address: str) -> list[Patient]:
    """The clinic's other live patients whose file holds this address too (asked of the
    database by the address, so a first booking does not read the whole clinic)."""
    wanted = address.strip().lower()
    found = session.scalars(
        select(Patient).where(
            Patient.clinic_id == patient.clinic_id,
            Patient.deleted_at.is_(None),
            Patient.id != patient.id,
            func.lower(func.trim(Patient.email)) == wanted,
        )
    )
    return [p for p in found if (usable_email(p) or "").lower() == wanted]


def open_invite(
    session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID, now: datetime
) -> PortalInvite | None:
    """The patient's invitation that can still be used, if any."""
    rows = session.scalars(
        select(PortalInvite).where(
            PortalInvite.clinic_id == clinic_id,
            PortalInvite.patient_id == patient_id,
            PortalInvite.status.in_(OPEN),
        )
    )
    return next((r for r in rows if state_of(r, now) in OPEN), None)


TAKEN_ADDRESS = (
    "{address} already signs in to the portal as another patient of this clinic. A portal "
    "account holds one patient's own record per clinic: give this patient an address of "
    "their own, or let the account holder manage them as a family member."
)


def check_address_free(
    session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID, address: str
) -> None:
    """The address's account, if there is one, must not hold another patient's own
    record here: accepting would give one account two selves at one clinic."""
    account = accounts.account_by_email(session, address)
    if account is None:
        return
    holder = accounts.holder_at(session, account.id, clinic_id)
    if holder is not None and holder.patient_id != patient_id:
        raise Conflict(TAKEN_ADDRESS.format(address=address))


def send(
    session: Session,
    ctx: AuthContext,
    patient: Patient,
    address: str,
    *,
    now: datetime,
    public_base_url: str,
    wording: Wording | None = None,
) -> PortalInvite:
    for earlier in session.scalars(
        select(PortalInvite)
        .where(
            PortalInvite.clinic_id == ctx.clinic_id,
            PortalInvite.patient_id == patient.id,
            PortalInvite.status.in_(OPEN),
        )
        .with_for_update()
    ):
        earlier.status = InviteStatus.WITHDRAWN
    token = tokens.new_token()
    row = PortalInvite(
        id=uuid.uuid4(),
        clinic_id=ctx.clinic_id,
        patient_id=patient.id,
        email=address.lower(),
        token_hash=tokens.digest(token),
        status=InviteStatus.SENT,
        sent_at=now,
        expires_at=now + timedelta(days=INVITE_VALID_DAYS),
        sent_by_staff_id=ctx.staff_id,
    )
    session.add(row)
    row.message_id = _compose(
        session,
        patient,
        address,
        invite_url(public_base_url, token),
        token,
        ctx.staff_id,
        wording,
    )
    audit.record(
        session,
        ctx,
        action="invite",
        entity="patients",
        entity_id=patient.id,
        reason="invited to the patient portal",
    )
    session.flush()
    return row


def invite_all(
    session: Session, ctx: AuthContext, *, now: datetime, public_base_url: str
) -> list[PortalInvite]:
    """ "Send (N) invites": everyone ``candidates`` names, in one transaction."""
    ctx.require(Permission.COMMS_SEND_BULK)
    chosen = candidates(session, ctx.clinic_id, now).patient_ids
    sent = []
    for patient_id in chosen:
        patient = session.get(Patient, patient_id)
        address = usable_email(patient) if patient is not None else None
        if patient is None or address is None:
            continue
        try:
            check_address_free(session, ctx.clinic_id, patient.id, address)
        except Conflict:
            continue  # the address is another patient's sign-in here: left for staff
        sent.append(send(session, ctx, patient, address, now=now, public_base_url=public_base_url))
    return sent


def withdraw(session: Session, ctx: AuthContext, invite_id: uuid.UUID) -> PortalInvite:
    ctx.require(Permission.PATIENTS_WRITE)
    row = session.scalar(
        select(PortalInvite)
        .where(PortalInvite.clinic_id == ctx.clinic_id, PortalInvite.id == invite_id)
        .with_for_update()
    )
    if row is None:
        raise NotFound("No such invitation.")
    if row.status in OPEN:
        row.status = InviteStatus.WITHDRAWN
    session.flush()
    return row


def invites_of(
    session: Session,
    clinic_id: uuid.UUID,
    *,
    patient_id: uuid.UUID | None = None,
    limit: int = 500,
) -> list[PortalInvite]:
    query = select(PortalInvite).where(PortalInvite.clinic_id == clinic_id)
    if patient_id is not None:
        query = query.where(PortalInvite.patient_id == patient_id)
    return list(session.scalars(query.order_by(PortalInvite.sent_at.desc()).limit(limit)))


def count_by_state(session: Session, clinic_id: uuid.UUID) -> dict[str, int]:
    rows = session.execute(
        select(PortalInvite.status, func.count())
        .where(PortalInvite.clinic_id == clinic_id)
        .group_by(PortalInvite.status)
    )
    return {status.value: count for status, count in rows}


# --- the patient's side ---------------------------------------------------------------------


def find(session: Session, token: str, *, lock: bool = False) -> PortalInvite | None:
    if not tokens.plausible(token):
        return None
    query = select(PortalInvite).where(PortalInvite.token_hash == tokens.digest(token))
    return session.scalar(query.with_for_update() if lock else query)


def usable(session: Session, invite: PortalInvite, now: datetime) -> Patient | None:
    """The invited patient, if the invitation may still be used."""
    if state_of(invite, now) not in OPEN:
        return None
    patient = session.get(Patient, invite.patient_id)
    if patient is None or patient.deleted_at is not None or patient.clinic_id != invite.clinic_id:
        return None
    # Sent to an address the file no longer holds (staff corrected a wrong one): whoever
    # reads that mailbox must not get the record.
    current = usable_email(patient)
    if current is None or current.lower() != invite.email:
        return None
    return patient


def mark_opened(session: Session, token: str, now: datetime) -> PortalInvite | None:
    """The patient pressed "Set up my account" (never on merely opening the link)."""
    row = find(session, token, lock=True)
    if row is None or usable(session, row, now) is None:
        return None
    if row.status is InviteStatus.SENT:
        row.status = InviteStatus.OPENED
        row.opened_at = now
    session.flush()
    return row


@dataclass(frozen=True, slots=True)
class Accepted:
    account: PortalAccount
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    new_account: bool


def accept(
    session: Session, token: str, now: datetime, *, password_hash: str | None = None
) -> Accepted | None:
    """Create the account (or find the one this address has) and link the clinic's
    record to it, once: a second click finds the invitation accepted and answers None."""
    row = find(session, token, lock=True)
    if row is None:
        return None
    patient = usable(session, row, now)
    if patient is None:
        return None
    check_address_free(session, row.clinic_id, patient.id, row.email)
    account = accounts.account_by_email(session, row.email)
    new = account is None
    if account is None:
        account = accounts.create_account(session, row.email, now)
    # A password is chosen here only for an account without one (new, or made when the
    # patient first booked online): an existing password (the patient's account at
    # another clinic) is changed only on the security page.
    if password_hash is not None and account.password_hash is None:
        account.password_hash = password_hash
        account.password_set_at = now
    accounts.link_record(session, account, row.clinic_id, patient.id, Relation.SELF)
    row.status = InviteStatus.ACCEPTED
    row.accepted_at = now
    row.opened_at = row.opened_at or now
    row.account_id = account.id
    audit.record(
        session,
        AuthContext.for_patient(row.clinic_id, patient.id),
        action="create",
        entity="portal_accounts",
        entity_id=account.id,
        reason="the patient accepted the portal invitation",
    )
    session.flush()
    return Accepted(account, row.clinic_id, patient.id, new)
