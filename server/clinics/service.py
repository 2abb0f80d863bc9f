from __future__ import annotations

from sqlalchemy.orm import Session

from common.errors import Conflict
from common.validation import check_slug, check_time_zone
from server.clinics import repository
from server.clinics.models import Clinic


def create_clinic(session: Session, *, slug: str, name: str, time_zone: str) -> Clinic:
    check_slug(slug)
    check_time_zone(time_zone)
    if repository.by_slug(session, slug) is not None:
        raise Conflict(f"A clinic with the short name {slug!r} already exists.")
    clinic = Clinic(slug=slug, name=name.strip(), time_zone=time_zone)
    session.add(clinic)
    session.flush()
    return clinic
