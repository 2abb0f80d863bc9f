"""Portal accounts, the clinics' records linked to them, magic links and sessions.

An account is found by its e-mail address (lower-cased: one account per address on the
whole server). It reaches a clinic's records through ``PortalMember`` rows, made when the
patient accepts that clinic's invitation (their own record) or adds a family member
there (a dependant's).

Sessions: the browser holds a random token in a cookie; the server keeps its digest. A
session ends after ``IDLE`` without a request and at ``ABSOLUTE`` after sign-in whatever
happens; "sign out everywhere" ends every session of the account. Rows stay 90 days as
the portal's session log (``purge``).

A magic link is a token e-mailed to the account holder: opening it (GET) shows a button
and changes nothing, since mail scanners open links; the button's POST spends it
(``spend_link``, under a row lock so a double click signs in once) and starts a session.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from common.portal import Relation
from server.patients.models import Patient
from server.portal.models import MagicLink, PortalAccount, PortalMember, PortalSession
from server.web import tokens

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
IMPERSONATION = timedelta(minutes=30)  # an admin's look at the portal, idle or not
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
MAGIC_LINK_LIFE = timedelta(minutes=15)
IMPERSONATION_TICKET_LIFE = timedelta(minutes=2)
KEEP_LOGS = timedelta(days=90)


def normal_email(email: str) -> str:
    """The form accounts are kept and found under."""
    return email.strip().lower()


def account_by_email(session: Session, email: str) -> PortalAccount | None:
    address = normal_email(email)
    if not address or len(address) > 254:
        return None
    return session.scalar(select(PortalAccount).where(PortalAccount.email == address))


def account_of_patient(
    session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> tuple[PortalAccount, PortalMember] | None:
    """The account a clinic's record is linked to, and how."""
    member = session.scalar(
        select(PortalMember).where(
            PortalMember.clinic_id == clinic_id, PortalMember.patient_id == patient_id
        )
    )
    if member is None:
        return None
    account = session.get(PortalAccount, member.account_id)
    return (account, member) if account is not None else None


def members_at(session: Session, account_id: uuid.UUID, clinic_id: uuid.UUID) -> list[PortalMember]:
    """The account's records at one clinic, the holder's own first, then dependants'."""
    rows = session.scalars(
        select(PortalMember)
        .join(Patient, Patient.id == PortalMember.patient_id)
        .where(
            PortalMember.account_id == account_id,
            PortalMember.clinic_id == clinic_id,
            Patient.deleted_at.is_(None),
        )
        .order_by(Patient.first_name, Patient.last_name)
    )
    return sorted(rows, key=lambda m: m.relation is not Relation.SELF)


def holder_at(session: Session, account_id: uuid.UUID, clinic_id: uuid.UUID) -> PortalMember | None:
    """The account holder's own record at a clinic (None: they are not its patient)."""
    return session.scalar(
        select(PortalMember).where(
            PortalMember.account_id == account_id,
            PortalMember.clinic_id == clinic_id,
            PortalMember.relation == Relation.SELF,
        )
    )


def carer_record(session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> Patient | None:
    """The holder's own record at this clinic, when ``patient_id`` is a family member on
    someone's account there (None otherwise)."""
    member = session.scalar(
        select(PortalMember).where(
            PortalMember.clinic_id == clinic_id,
            PortalMember.patient_id == patient_id,
            PortalMember.relation == Relation.DEPENDANT,
        )
    )
    if member is None:
        return None
    holder = holder_at(session, member.account_id, clinic_id)
    patient = session.get(Patient, holder.patient_id) if holder is not None else None
    return patient if patient is not None and patient.deleted_at is None else None


def clinics_of(session: Session, account_id: uuid.UUID) -> list[uuid.UUID]:
    """Every clinic where the account holder has a record of their own."""
    return list(
        session.scalars(
            select(PortalMember.clinic_id)
            .where(PortalMember.account_id == account_id, PortalMember.relation == Relation.SELF)
            .distinct()
        )
    )


def create_account(session: Session, email: str, now: datetime) -> PortalAccount:
    account = PortalAccount(id=uuid.uuid4(), email=normal_email(email), created_at=now)
    session.add(account)
    session.flush()
    return account


def link_record(
    session: Session,
    account: PortalAccount,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    relation: Relation,
) -> PortalMember:
    """Link a clinic's record to ``account``. A record belongs to one account: one that
    was a dependant of another account and is now the holder's own (a child grown up,
    invited at their own address) moves to its new account."""
    member = session.scalar(
        select(PortalMember)
        .where(PortalMember.clinic_id == clinic_id, PortalMember.patient_id == patient_id)
        .with_for_update()
    )
    if member is None:
        member = PortalMember(
            clinic_id=clinic_id, patient_id=patient_id, account_id=account.id, relation=relation
        )
        session.add(member)
    else:
        member.account_id = account.id
        member.relation = relation
    session.flush()
    return member


# --- magic links --------------------------------------------------------------------------


def issue_link(
    session: Session,
    account: PortalAccount,
    clinic_id: uuid.UUID,
    now: datetime,
    *,
    staff_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
) -> str:
    """A fresh sign-in link's token (only its digest is kept). With ``staff_id``: an
    admin's ticket to view the portal as ``patient_id``, for two minutes."""
    token = tokens.new_token()
    life = IMPERSONATION_TICKET_LIFE if staff_id else MAGIC_LINK_LIFE
    if staff_id is None:
        # Only the newest sign-in link works: an older one still in the mailbox expires.
        session.execute(
            update(MagicLink)
            .where(
                MagicLink.account_id == account.id,
                MagicLink.staff_id.is_(None),
                MagicLink.used_at.is_(None),
                MagicLink.expires_at > now,
            )
            .values(expires_at=now)
        )
    session.add(
        MagicLink(
            account_id=account.id,
            clinic_id=clinic_id,
            token_hash=tokens.digest(token),
            expires_at=now + life,
            staff_id=staff_id,
            patient_id=patient_id,
            created_at=now,
        )
    )
    session.flush()
    return token


def find_link(session: Session, token: str, *, lock: bool = False) -> MagicLink | None:
    if not tokens.plausible(token):
        return None
    query = select(MagicLink).where(MagicLink.token_hash == tokens.digest(token))
    return session.scalar(query.with_for_update() if lock else query)


def link_usable(link: MagicLink, now: datetime) -> bool:
    return link.used_at is None and not tokens.expired(link.expires_at, now)


def spend_link(session: Session, token: str, now: datetime) -> MagicLink | None:
    """Spend a link once (the caller starts the session in the same transaction). None:
    no such link, or used or expired already."""
    link = find_link(session, token, lock=True)
    if link is None or not link_usable(link, now):
        return None
    link.used_at = now
    session.flush()
    return link


# --- sessions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Started:
    token: str
    session_id: uuid.UUID
    max_age: int  # seconds, for the cookie


def start_session(
    session: Session,
    account: PortalAccount,
    clinic_id: uuid.UUID,
    now: datetime,
    *,
    method: str,
    address_hash: str = "",
    user_agent: str = "",
    impersonator: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
) -> Started:
    token = tokens.new_token()
    life = IMPERSONATION if impersonator else ABSOLUTE
    row = PortalSession(
        id=uuid.uuid4(),
        account_id=account.id,
        clinic_id=clinic_id,
        token_hash=tokens.digest(token),
        method=method,
        started_at=now,
        last_seen_at=now,
        expires_at=now + life,
        address_hash=address_hash,
        user_agent=user_agent[:200],
        impersonator_staff_id=impersonator,
        impersonated_patient_id=patient_id,
    )
    session.add(row)
    session.flush()
    return Started(token, row.id, int(life.total_seconds()))


def live_session(session: Session, token: str, now: datetime) -> PortalSession | None:
    """The session behind a cookie, if it has not ended, idled out or run its course."""
    if not tokens.plausible(token):
        return None
    row = session.scalar(
        select(PortalSession).where(PortalSession.token_hash == tokens.digest(token))
    )
    if row is None or row.ended_at is not None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= IDLE:
        return None
    return row


def needs_touch(row: PortalSession, now: datetime) -> bool:
    return now - row.last_seen_at >= TOUCH_EVERY


def touch(session: Session, session_id: uuid.UUID, now: datetime) -> None:
    session.execute(
        update(PortalSession)
        .where(PortalSession.id == session_id, PortalSession.ended_at.is_(None))
        .values(last_seen_at=now)
    )


def end_session(session: Session, session_id: uuid.UUID, now: datetime, reason: str) -> None:
    session.execute(
        update(PortalSession)
        .where(PortalSession.id == session_id, PortalSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )


def end_all_sessions(session: Session, account_id: uuid.UUID, now: datetime) -> int:
    """Sign out everywhere: every session of the account ends, impersonations too."""
    result = session.execute(
        update(PortalSession)
        .where(PortalSession.account_id == account_id, PortalSession.ended_at.is_(None))
        .values(ended_at=now, end_reason="signed out everywhere")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def purge(session: Session, now: datetime) -> int:
    """Forget sessions and magic links older than 90 days (the session log's term)."""
    horizon = now - KEEP_LOGS
    gone = session.execute(delete(PortalSession).where(PortalSession.started_at < horizon))
    session.execute(delete(MagicLink).where(MagicLink.expires_at < horizon))
    return int(gone.rowcount or 0)  # type: ignore[attr-defined]
