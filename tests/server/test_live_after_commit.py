"""In-process change notices are sent only once a change is committed: a savepoint's
release (SQLAlchemy's ``after_commit`` fires for those too) tells no one, or a desk would
pull at once, find nothing new, and wait for the next poll."""

from __future__ import annotations

from sqlalchemy import select

from common.roles import Role
from server.changefeed import live
from server.clinics.models import Clinic
from server.db import transaction
from server.patients.models import Patient


def test_a_change_inside_a_savepoint_is_told_after_the_commit_and_once(
    db, factory, engine_factory, monkeypatch
):
    clinic = factory.clinic("rowan", roles=(Role.FRONT_DESK,))
    other = engine_factory()  # reads as another request would
    told: list[tuple[object, int]] = []

    def notify(clinic_ids):
        with other.connect() as connection:
            seen = connection.scalar(select(Clinic.sync_version).where(Clinic.id == clinic.id))
        told.extend((clinic_id, seen) for clinic_id in clinic_ids)

    monkeypatch.setattr(live.hub, "notify", notify)
    with transaction(db) as session:
        with session.begin_nested():  # as every desk change and webhook event runs
            session.add(Patient(clinic_id=clinic.id, first_name="Ada", last_name="King"))
        assert told == []  # released, not committed
    with db() as session:
        version = session.scalar(select(Clinic.sync_version).where(Clinic.id == clinic.id))
    assert told == [(clinic.id, version)]  # told once, and the news is there to pull
