"""A desk's side of the sync tests: the seeded random changes a receptionist makes, and
snapshots of what a desk caches and of what the server holds, to compare the two.

Used in-process by the multi-desk simulation and inside forked desk children by the crash
test, so nothing here starts threads or keeps global state.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.demo import DEMO_TIME_ZONE, FRONT_DESK
from server.patients.models import Patient
from server.scheduling.models import Appointment, Provider
from sync.records import epoch_seconds
from sync.schema import appointments, outbox, patients, providers
from sync.signing import Author
from sync.store import Store

ZONE = ZoneInfo(DEMO_TIME_ZONE)
EMAIL, PASSWORD = FRONT_DESK.email, FRONT_DESK.password
MOVABLE = ("booked", "confirmed")
CANCELLABLE = ("booked", "confirmed", "arrived")
KINDS = ("book", "move", "cancel", "check_in", "no_show", "update_patient_contact")

Slot = tuple[uuid.UUID, datetime, datetime]  # provider, start, end
Snapshot = dict[str, dict[str, tuple[object, ...]]]


@dataclass(frozen=True)
class Change:
    """One local change, as the outbox holds it."""

    kind: str
    mutation_id: uuid.UUID
    appointment_id: uuid.UUID | None = None


def seeded_uuid4(rng: random.Random) -> Callable[[], uuid.UUID]:
    """A stand-in for ``uuid.uuid4`` drawing from ``rng`` on the calling thread (others get
    real random ids), so a seed replays the same appointment and mutation ids and with them
    the same choices."""
    real = uuid.uuid4
    owner = threading.get_ident()

    def uuid4() -> uuid.UUID:
        if threading.get_ident() != owner:
            return real()
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    return uuid4


def clinic_time(day: date, hour: int, minutes: int = 0) -> datetime:
    """``hour`` o'clock plus ``minutes`` on ``day`` in the clinic's own time, as UTC."""
    local = datetime.combine(day, time(hour), tzinfo=ZONE) + timedelta(minutes=minutes)
    return local.astimezone(UTC)


def provider_ids(store: Store) -> list[uuid.UUID]:
    return [row.id for row in store.providers()]


def patient_ids(store: Store) -> list[uuid.UUID]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(patients.c.id).order_by(
                patients.c.last_name, patients.c.first_name, patients.c.date_of_birth
            )
        )
        return [uuid.UUID(row.id) for row in rows]


@dataclass(frozen=True)
class CachedAppointment:
    id: uuid.UUID
    provider_id: uuid.UUID
    starts_at: int
    status: str


def cached_appointments(
    store: Store, within: Callable[[datetime], bool]
) -> list[CachedAppointment]:
    """The desk's appointments whose start passes ``within``, in a stable order."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                appointments.c.id,
                appointments.c.provider_id,
                appointments.c.starts_at,
                appointments.c.status,
            ).order_by(appointments.c.starts_at, appointments.c.id)
        ).all()
    return [
        CachedAppointment(uuid.UUID(r.id), uuid.UUID(r.provider_id), r.starts_at, r.status)
        for r in rows
        if within(datetime.fromtimestamp(r.starts_at, UTC))
    ]


def booking_mutation(store: Store, appointment_id: uuid.UUID) -> uuid.UUID:
    """The outbox entry of the booking just made (``Store.book`` returns the appointment)."""
    with store.engine.connect() as conn:
        found = conn.execute(
            select(outbox.c.mutation_id)
            .where(outbox.c.kind == "book", outbox.c.command.contains(str(appointment_id)))
            .order_by(outbox.c.seq.desc())
        ).first()
    assert found is not None, "the booking has no outbox entry"
    return uuid.UUID(found.mutation_id)


WEIGHTS = {
    "book": 40,
    "move": 20,
    "cancel": 14,
    "check_in": 10,
    "no_show": 4,
    "update_patient_contact": 12,
}


def random_change(
    store: Store,
    author: Author,
    rng: random.Random,
    *,
    slot: Callable[[random.Random], Slot],
    within: Callable[[datetime], bool],
    patients_: Sequence[uuid.UUID],
) -> Change:
    """Make one seeded random change at this desk: book a slot from ``slot``, or move,
    cancel, check in or mark a no-show of an appointment starting ``within`` the test's
    window, or edit a patient's contact details. Falls back to booking when there is
    nothing to move or change. Returns once the local transaction has committed."""
    kind = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    targets = cached_appointments(store, within) if kind in KINDS[1:5] else []
    if kind == "move":
        targets = [t for t in targets if t.status in MOVABLE]
    elif kind == "cancel":
        targets = [t for t in targets if t.status in CANCELLABLE]
    elif kind in ("check_in", "no_show"):
        targets = [t for t in targets if t.status in MOVABLE]
    if kind in KINDS[1:5] and not targets:
        kind = "book"
    if kind == "book":
        provider, start, end = slot(rng)
        appointment_id = store.book(
            author,
            provider_id=provider,
            patient_id=rng.choice(patients_),
            starts_at=start,
            ends_at=end,
        )
        return Change("book", booking_mutation(store, appointment_id), appointment_id)
    if kind == "update_patient_contact":
        patient = rng.choice(patients_)
        phone = f"+4477009{rng.randint(0, 99999):05d}"
        email = rng.choice((None, f"patient{rng.randint(1, 999)}@Example.com"))
        return Change(kind, store.update_contact(author, patient, phone=phone, email=email))
    target = rng.choice(targets)
    if kind == "move":
        provider, start, end = slot(rng)
        mutation_id = store.move(
            author, target.id, provider_id=provider, starts_at=start, ends_at=end
        )
        return Change(kind, mutation_id, target.id)
    mutation_id = store.set_status(author, target.id, kind)
    return Change(kind, mutation_id, target.id)


# --- snapshots ---------------------------------------------------------------------------


def desk_snapshot(store: Store) -> Snapshot:
    """What the desk caches, in the server's terms (without the ``pending`` marks)."""
    with store.engine.connect() as conn:
        return {
            "providers": {
                r.id: (r.version, r.display_name, r.colour, bool(r.active))
                for r in conn.execute(select(providers))
            },
            "patients": {
                r.id: (
                    r.version,
                    r.first_name,
                    r.last_name,
                    r.date_of_birth,
                    r.phone,
                    r.email,
                )
                for r in conn.execute(select(patients))
            },
            "appointments": {
                r.id: (
                    r.version,
                    r.provider_id,
                    r.patient_id,
                    r.starts_at,
                    r.ends_at,
                    r.status,
                    r.source,
                )
                for r in conn.execute(select(appointments))
            },
        }


def pending_marks(store: Store) -> int:
    """Cached rows still marked as changed here and not yet acknowledged."""
    with store.engine.connect() as conn:
        return sum(
            len(conn.execute(select(table.c.id).where(table.c.pending != 0)).all())
            for table in (appointments, patients)
        )


def server_snapshot(
    factory: sessionmaker[Session], clinic_id: uuid.UUID, since: int = 0
) -> Snapshot:
    """The clinic's live (not deleted) synced rows on the server, as a desk caches them;
    with ``since``, only those changed after that version of the clinic's counter."""
    with factory() as session:
        return {
            "providers": {
                str(p.id): (p.version, p.display_name, p.colour, p.active)
                for p in session.scalars(
                    select(Provider).where(
                        Provider.clinic_id == clinic_id,
                        Provider.deleted_at.is_(None),
                        Provider.version > since,
                    )
                )
            },
            "patients": {
                str(p.id): (
                    p.version,
                    p.first_name,
                    p.last_name,
                    p.date_of_birth.isoformat() if p.date_of_birth else None,
                    p.phone,
                    p.email,
                )
                for p in session.scalars(
                    select(Patient).where(
                        Patient.clinic_id == clinic_id,
                        Patient.deleted_at.is_(None),
                        Patient.version > since,
                    )
                )
            },
            "appointments": {
                str(a.id): (
                    a.version,
                    str(a.provider_id),
                    str(a.patient_id),
                    epoch_seconds(a.starts_at),
                    epoch_seconds(a.ends_at),
                    a.status.value,
                    a.source.value,
                )
                for a in session.scalars(
                    select(Appointment).where(
                        Appointment.clinic_id == clinic_id,
                        Appointment.deleted_at.is_(None),
                        Appointment.version > since,
                    )
                )
            },
        }


def differences(desk: Snapshot, server: Snapshot, limit: int = 5) -> list[str]:
    """Where a desk's copy differs from the server, in words, for an assertion message."""
    found: list[str] = []
    for entity, rows in server.items():
        cached = desk.get(entity, {})
        for row_id in sorted(rows.keys() | cached.keys()):
            if rows.get(row_id) != cached.get(row_id):
                found.append(
                    f"{entity} {row_id}: server {rows.get(row_id)} desk {cached.get(row_id)}"
                )
    return found[:limit] + ([f"… {len(found) - limit} more"] if len(found) > limit else [])
