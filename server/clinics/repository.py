from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.clinics.models import Clinic


def by_slug(session: Session, slug: str) -> Clinic | None:
    return session.scalar(select(Clinic).where(Clinic.slug == slug))
