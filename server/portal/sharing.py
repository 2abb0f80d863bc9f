"""The portable profile and each clinic's sharing consent.

The profile belongs to the patient's account, not to a clinic: a clinic reads it only
while the account holder's consent for that clinic stands (signed, not withdrawn). What
a clinic never reads, consent or not: another clinic's records or consents.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import InvalidInput, NotFound
from common.patients import EARLIEST_BIRTH, parse_birth_date
from common.portal import BLOOD_TYPES, PROFILE_FIELDS, PROFILE_TEXT_LENGTH
from server.db import utcnow
from server.portal import accounts
from server.portal.models import PortalAccount, SharingConsent


def profile_of(account: PortalAccount) -> dict[str, str]:
    """The profile's fields (empty strings for those not filled in)."""
    stored: dict[str, str] = {}
    if account.profile:
        try:
            loaded = json.loads(account.profile)
        except ValueError:
            loaded = {}
        if isinstance(loaded, dict):
            stored = {k: str(v) for k, v in loaded.items() if k in PROFILE_FIELDS}
    return {name: stored.get(name, "") for name in PROFILE_FIELDS}


def set_profile(account: PortalAccount, values: dict[str, str], now: datetime) -> None:
    account.profile = json.dumps({k: values.get(k, "") for k in PROFILE_FIELDS})
    account.profile_changed_at = now


def current_consent(
    session: Session, account_id: uuid.UUID, clinic_id: uuid.UUID
) -> SharingConsent | None:
    """The consent in force for this clinic: the latest signature, if not withdrawn."""
    latest = session.scalar(
        select(SharingConsent)
        .where(SharingConsent.account_id == account_id, SharingConsent.clinic_id == clinic_id)
        .order_by(SharingConsent.signed_at.desc())
        .limit(1)
    )
    return latest if latest is not None and latest.withdrawn_at is None else None


# --- editing the profile --------------------------------------------------------------------

# Line breaks and tabs are what a patient types in a list of allergies; any other control
# character is no text of theirs.
_CONTROL = {chr(c) for c in range(32)} - {"\n", "\t"}


def clean_profile(typed: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The profile as it is kept, and the problems by field (empty: none).

    Texts are trimmed with line endings made ``\\n``, so saving a form unchanged compares
    equal to what is stored; the date of birth is kept as ``dd/mm/yyyy`` whichever way it
    was typed; the blood type is one of ``BLOOD_TYPES``."""
    values: dict[str, str] = {}
    problems: dict[str, str] = {}
    for name, label in PROFILE_FIELDS.items():
        text = (typed.get(name) or "").replace("\r\n", "\n").replace("\r", "\n").strip()
        if any(ch in _CONTROL for ch in text):
            problems[name] = f"{label}: remove the special characters."
        elif len(text) > PROFILE_TEXT_LENGTH:
            problems[name] = f"{label}: at most {PROFILE_TEXT_LENGTH} characters."
        values[name] = text
    born = values["date_of_birth"]
    if born and "date_of_birth" not in problems:
        try:
            when = parse_birth_date(born)
        except InvalidInput:
            when = None
        if when is None or when > utcnow().date() or when < EARLIEST_BIRTH:
            problems["date_of_birth"] = "Write your date of birth like 17/05/1980."
        else:
            values["date_of_birth"] = f"{when:%d/%m/%Y}"
    if values["blood_type"] not in BLOOD_TYPES:
        problems["blood_type"] = "Choose a blood type from the list, or leave it blank."
    return values, problems


def save_profile(
    session: Session, account_id: uuid.UUID, values: dict[str, str], now: datetime
) -> bool:
    """Store ``values`` (already ``clean_profile``d) as the account's profile. False, and
    nothing written, when they are what the profile holds already: opening the page and
    saving it does not tell the clinics that it changed."""
    account = session.scalar(
        select(PortalAccount).where(PortalAccount.id == account_id).with_for_update()
    )
    if account is None:
        raise NotFound("Your account is no longer there. Sign in again.")
    if profile_of(account) == {k: values.get(k, "") for k in PROFILE_FIELDS}:
        return False
    set_profile(account, values, now)
    session.flush()
    return True


# --- consents -------------------------------------------------------------------------------


def consent_text(clinic_name: str) -> str:
    """What the patient agrees to, word for word (shown above the signature)."""
    fields = ", ".join(label.lower() for label in PROFILE_FIELDS.values())
    return f"I allow {clinic_name} to see my profile: {fields}. I can withdraw this at any time."


def same_name(typed: str, expected: str) -> bool:
    """A signature matches a name whatever its case and spacing."""
    return " ".join(typed.split()).casefold() == " ".join(expected.split()).casefold()


def sign(
    session: Session,
    account_id: uuid.UUID,
    clinic_id: uuid.UUID,
    *,
    signed_name: str,
    address_hash: str,
    now: datetime,
) -> SharingConsent | None:
    """A new consent for ``clinic_id``; None when one stands already (signing twice,
    a double click, changes nothing)."""
    session.scalar(select(PortalAccount.id).where(PortalAccount.id == account_id).with_for_update())
    if current_consent(session, account_id, clinic_id) is not None:
        return None
    consent = SharingConsent(
        clinic_id=clinic_id,
        account_id=account_id,
        signed_at=now,
        signed_name=" ".join(signed_name.split())[:200],
        address_hash=address_hash,
    )
    session.add(consent)
    session.flush()
    return consent


def withdraw(
    session: Session, account_id: uuid.UUID, clinic_id: uuid.UUID, now: datetime
) -> SharingConsent | None:
    """End the consent in force for ``clinic_id`` (None: there was none)."""
    session.scalar(select(PortalAccount.id).where(PortalAccount.id == account_id).with_for_update())
    consent = current_consent(session, account_id, clinic_id)
    if consent is None:
        return None
    consent.withdrawn_at = now
    session.flush()
    return consent


def sharing_clinics(session: Session, account_id: uuid.UUID) -> set[uuid.UUID]:
    """The clinics that currently see the account's profile."""
    return {
        clinic_id
        for clinic_id in accounts.clinics_of(session, account_id)
        if current_consent(session, account_id, clinic_id) is not None
    }
