"""The portal's appointments: a patient's and their family members' visits at one
clinic, as they read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.booking_links.patient import Visit, visit_of
from server.portal.viewer import Person, Viewer
from server.scheduling.models import Appointment
from server.scheduling.service import clinic_zone


@dataclass(frozen=True)
class PortalVisit:
    """A visit and whose it is (``for_name`` is empty for the account holder's own)."""

    visit: Visit
    person: Person
    version: int

    @property
    def for_name(self) -> str:
        return "" if self.person.relation.value == "self" else self.person.name

    def __getattr__(self, name: str) -> object:
        return getattr(self.visit, name)


def visits(
    session: Session, viewer: Viewer, now: datetime, *, upcoming: bool = True, limit: int = 100
) -> list[PortalVisit]:
    """The viewer's people's appointments at this clinic: upcoming soonest first (past:
    latest first). Only this clinic's rows of these patients are ever read."""
    people = {p.patient_id: p for p in viewer.people}
    query = select(Appointment).where(
        Appointment.clinic_id == viewer.clinic_id,
        Appointment.patient_id.in_(list(people)),
        Appointment.deleted_at.is_(None),
    )
    if upcoming:
        query = query.where(Appointment.ends_at > now).order_by(Appointment.starts_at)
    else:
        query = query.where(Appointment.ends_at <= now).order_by(Appointment.starts_at.desc())
    zone = clinic_zone(session, viewer.clinic_id)
    return [
        PortalVisit(visit_of(session, row, zone, now), people[row.patient_id], row.version)
        for row in session.scalars(query.limit(limit))
    ]
