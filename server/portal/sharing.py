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

from common.portal import PROFILE_FIELDS
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
