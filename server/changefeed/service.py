"""Read one page of a clinic's changes since a cursor."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, literal, select, union_all
from sqlalchemy.orm import Session

from common.appointments import LONGEST_APPOINTMENT
from common.errors import InvalidInput, NotFound
from server.audit import service as audit
from server.auth.context import AuthContext
from server.clinics.models import Clinic
from server.db import Database, Synced, utcnow
from server.forms.models import FormRequest
from server.messaging.models import ConsentDecision, Message, MessageTemplate
from server.patients.models import Patient
from server.scheduling.models import (
    Appointment,
    AppointmentType,
    BookingRules,
    Location,
    Provider,
    ScheduleException,
)
from server.staff.models import StaffUser
from sync.protocol import (
    AppointmentRecord,
    AppointmentTypeRecord,
    BookingRulesRecord,
    ChangesPage,
    ConsentRecord,
    Cursor,
    Entity,
    FormRequestRecord,
    LocationRecord,
    MessageRecord,
    MessageTemplateRecord,
    PatientRecord,
    ProviderRecord,
    Record,
    ScheduleExceptionRecord,
    StaffRecord,
    Tombstone,
)

FEED: dict[Entity, tuple[type[Synced], type[Record]]] = {
    "providers": (Provider, ProviderRecord),
    "patients": (Patient, PatientRecord),
    "appointments": (Appointment, AppointmentRecord),
    "locations": (Location, LocationRecord),
    "appointment_types": (AppointmentType, AppointmentTypeRecord),
    "schedule_exceptions": (ScheduleException, ScheduleExceptionRecord),
    "booking_rules": (BookingRules, BookingRulesRecord),
    "staff": (StaffUser, StaffRecord),
    "messages": (Message, MessageRecord),
    "consents": (ConsentDecision, ConsentRecord),
    "message_templates": (MessageTemplate, MessageTemplateRecord),
    "form_requests": (FormRequest, FormRequestRecord),
}
# The bulk of a first download: plain columns of our own database, already the right
# types, so their records are built without validating each value a second time. The
# settings tables are small and hold JSON lists, which are validated into their shapes.
# A sealed column (a patient's phone, ``server.crypto.EncryptedText``) is opened by its
# column type as each row is read, so desks receive the number itself.
TRUSTED_SHAPES = {"patients", "appointments"}


def _inside(fields: dict[str, Any], window: Window) -> bool:
    return bool(fields["starts_at"] < window[1] and fields["ends_at"] > window[0])


def parse_cursor(text: str | None) -> Cursor:
    if not text:
        return Cursor.start()
    try:
        return Cursor.parse(text)
    except ValueError:
        raise InvalidInput(
            "The sync position sent by this workstation is not valid; it will download "
            "everything again."
        ) from None


def _page_cut(
    session: Session, ctx: AuthContext, since: int, until: int, limit: int
) -> tuple[int, bool, set[Entity]]:
    """The version at which this page ends, whether more follow, and which tables have
    rows in it.

    Reads versions only (an index-only scan of ``(clinic_id, version)`` per table, all in
    one statement), so the rows themselves are fetched once, for exactly this page, and
    only from the tables that have any.
    """
    if until <= since:  # nothing new: the common poll costs no table reads at all
        return since, False, set()
    firsts = [
        select(literal(entity).label("entity"), model.version.label("version"))
        .where(model.clinic_id == ctx.clinic_id, model.version > since, model.version <= until)
        .order_by(model.version)
        .limit(limit + 1)
        .subquery()
        for entity, (model, _record) in FEED.items()
    ]
    found: list[tuple[Entity, int]] = [
        (row.entity, row.version)
        for row in session.execute(
            union_all(*(select(first.c.entity, first.c.version) for first in firsts))
        )
    ]
    found.sort(key=lambda pair: pair[1])
    more = len(found) > limit
    cut = found[limit - 1][1] if more else (found[-1][1] if found else since)
    return cut, more, {entity for entity, version in found if version <= cut}


Window = tuple[datetime, datetime]


def changes_since(
    session: Session,
    ctx: AuthContext,
    cursor: Cursor,
    limit: int,
    window: Window | None = None,
) -> ChangesPage:
    """The ``limit`` oldest changes after ``cursor`` across every synced table. A read:
    the caller audits the patient data in it (``audit_page``).

    Where the page ends is found from versions alone (``_page_cut``); then each table
    gives its rows up to that version, only the columns a desk caches.
    """
    clinic = session.get(Clinic, ctx.clinic_id)
    assert clinic is not None
    # A cursor from another epoch, ahead of the counter (say, after a restore from
    # backup) or behind the tombstone horizon cannot be continued from: the desk starts
    # again from the beginning (keeping, and then replaying, its outbox).
    reset = (
        cursor.epoch != clinic.dataset_epoch
        or cursor.version > clinic.sync_version
        or 0 < cursor.version < clinic.tombstone_horizon  # it may have missed a deletion
    )
    since = 0 if reset else cursor.version
    # Every version up to the counter as read here is already committed (see versioning).
    # On PostgreSQL each read below sees commits made after this one; reading no further
    # than this keeps the page a gap-free prefix, so the cursor never skips a row.
    until = clinic.sync_version

    cut, has_more, touched = _page_cut(session, ctx, since, until, limit)
    page: dict[Entity, list[Record]] = {entity: [] for entity in FEED}
    tombstones: list[Tombstone] = []
    connection = session.connection()  # plain rows: no ORM bookkeeping for a bulk read
    for entity, (model, record) in FEED.items():
        if entity not in touched:
            continue
        names = list(record.model_fields)
        found = connection.execute(
            select(*(model.__table__.c[name] for name in names), model.deleted_at)
            .where(model.clinic_id == ctx.clinic_id, model.version > since, model.version <= cut)
            .order_by(model.version)
        )
        for *values, deleted_at in found:
            fields = dict(zip(names, values, strict=True))
            if deleted_at is not None:
                tombstones.append(
                    Tombstone(entity=entity, id=fields["id"], version=fields["version"])
                )
            elif entity == "appointments" and window and not _inside(fields, window):
                # Changed, but outside the dates this desk keeps: it drops its copy.
                tombstones.append(
                    Tombstone(
                        entity=entity,
                        id=fields["id"],
                        version=fields["version"],
                        reason="left_scope",
                    )
                )
            elif entity in TRUSTED_SHAPES:
                page[entity].append(record.model_construct(**fields))
            else:
                page[entity].append(record.model_validate(fields))
    tombstones.sort(key=lambda t: t.version)
    return ChangesPage(
        next_cursor=str(Cursor(clinic.dataset_epoch, cut)),
        has_more=has_more,
        reset=reset,
        server_time=utcnow(),
        tombstones=tombstones,
        **page,
    )


def audit_page(db: Database, ctx: AuthContext, page: ChangesPage) -> None:
    """Who the clinic's patients and diary were sent to, and when (one row per kind, in
    one short write after the read; see ``server.audit.service``)."""
    counts = {
        "patients": len(page.patients),
        "appointments": len(page.appointments),
        "messages": len(page.messages),
        "consents": len(page.consents),
        "form_requests": len(page.form_requests),
    }
    if not any(counts.values()):
        return
    with db.writing() as session:
        for entity, count in counts.items():
            if count:
                audit.record(
                    session,
                    ctx,
                    action="sync_pull",
                    entity=entity,
                    record_count=count,
                    reason="cached on the clinic's enrolled workstation",
                )


MAX_RANGE_DAYS = 400


def appointments_between(
    session: Session, ctx: AuthContext, start: datetime, end: datetime
) -> list[AppointmentRecord]:
    """Every appointment of the caller's clinic overlapping ``[start, end)``: how a desk
    fills in days it does not keep (or that just came into its window). A read: the
    caller audits it."""
    if end <= start:
        raise InvalidInput("The end of the range must be after its start.")
    if (end - start).days > MAX_RANGE_DAYS:
        raise InvalidInput(f"Ask for at most {MAX_RANGE_DAYS} days at a time.")
    rows = session.scalars(
        select(Appointment)
        .where(
            Appointment.clinic_id == ctx.clinic_id,
            Appointment.deleted_at.is_(None),
            Appointment.starts_at > start - LONGEST_APPOINTMENT,
            Appointment.starts_at < end,
            Appointment.ends_at > start,
        )
        .order_by(Appointment.starts_at)
    ).all()
    return [AppointmentRecord.model_validate(row, from_attributes=True) for row in rows]


def purge_tombstones(session: Session, clinic_id: uuid.UUID, older_than: datetime) -> int:
    """Remove appointment tombstones deleted before ``older_than`` and raise the clinic's
    tombstone horizon past them. Patients and providers are never hard-deleted."""
    clinic = session.get(Clinic, clinic_id, with_for_update=True)
    if clinic is None:
        raise NotFound("There is no such clinic.")
    gone = (
        session.execute(
            delete(Appointment)
            .where(
                Appointment.clinic_id == clinic_id,
                Appointment.deleted_at.is_not(None),
                Appointment.deleted_at < older_than,
            )
            .returning(Appointment.version)
        )
        .scalars()
        .all()
    )
    if gone:
        clinic.tombstone_horizon = max(clinic.tombstone_horizon, *gone)
    return len(gone)
