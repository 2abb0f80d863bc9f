from __future__ import annotations

from sqlalchemy.orm import Session

from common.errors import Conflict
from common.patients import check_country, country_for_time_zone
from common.validation import check_slug, check_time_zone
from server.clinics import repository
from server.clinics.models import Clinic


def create_clinic(
    session: Session, *, slug: str, name: str, time_zone: str, country: str | None = None
) -> Clinic:
    """A new clinic. Its country (for reading phone numbers) defaults to the one its time
    zone is in, and is stored: a later change of zone does not move the clinic abroad."""
    check_slug(slug)
    check_time_zone(time_zone)
    country = check_country(country) if country else country_for_time_zone(time_zone)
    if repository.by_slug(session, slug) is not None:
        raise Conflict(f"A clinic with the short name {slug!r} already exists.")
    clinic = Clinic(slug=slug, name=name.strip(), time_zone=time_zone, country=country)
    session.add(clinic)
    session.flush()
    return clinic
