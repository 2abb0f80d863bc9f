"""The portal's care pages: the treatment plans of the account's people (phases, the
current one marked, notes and progress photos per phase), "For you" (what the clinic's
library gave them as their treatment moved on, and what of it the clinic has withdrawn
since) and the help centre (every published item of the clinic's library, by phase in
the order treatment goes through them, with a search).

A plan's photos are shown as the photo itself at thumbnail size: the server has no
image library to make smaller copies with, so each is loaded only as it scrolls into
view (``loading="lazy"``), with its width and height given (the page does not jump as
they come in), and links to the photo at full size.

Photos are served from this portal only to the account whose people they show, at the
clinic they were taken at; any other photo id (another patient's, another clinic's, none
at all) is the same "nothing here". Every read of a plan, a photo or a delivery is
audited. A GET changes nothing: opening an item from "For you" is a small form (POST),
which records the first opening (not while a clinic admin views the portal as the
patient) and then shows the item. So a mail scanner following links opens nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.content import ContentKind
from common.errors import NotFound
from common.treatment import THUMBNAIL_WIDTH, fold, photo_alt, thumbnail_height
from server import media
from server.audit import service as audit
from server.content import service as content
from server.content.models import ContentDelivery, ContentItem
from server.db import utcnow
from server.deps import DatabaseDep, SettingsDep
from server.portal.viewer import PortalViewer, Viewer, see_other
from server.scheduling.service import clinic_zone
from server.staff.models import StaffUser
from server.treatment import service as treatment
from server.treatment.models import TreatmentPhase, TreatmentPlan
from server.web.pages import READ, WebRoute, render
from server.web.security import CheckedForm

router = APIRouter(route_class=WebRoute, include_in_schema=False)
NO_PHOTO = "There is no such photo on your account. Check the link, or call the clinic."
NO_ITEM = "There is no such item in your reading. It may have been withdrawn by the clinic."
NO_HELP = "There is no such page in the help centre. It may have been withdrawn by the clinic."
GENERAL = "General"
MAX_QUERY = 100


def _id(text: str, missing: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound(missing) from None


def _day(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local.day} {local:%B %Y}"


def _people_ids(viewer: Viewer) -> list[uuid.UUID]:
    return [p.patient_id for p in viewer.people]


# --- the plans --------------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoShown:
    url: str
    alt: str
    width: int
    height: int


@dataclass
class PhaseShown:
    name: str
    position: int
    current: bool
    done: bool
    entered: str
    notes: list[tuple[str, str, str]] = field(default_factory=list)  # when, by whom, text
    photos: list[PhotoShown] = field(default_factory=list)


@dataclass
class PlanShown:
    title: str
    for_name: str  # a family member's name; empty for the holder's own plan
    started: str
    current: str
    step: str
    phases: list[PhaseShown]


def _plans(
    viewer: Viewer, views: list[treatment.PlanView], zone: ZoneInfo, names: dict[uuid.UUID, str]
) -> list[PlanShown]:
    shown = []
    for view in views:
        person = viewer.person(view.plan.patient_id)
        current = view.current
        phases = []
        for phase in view.phases:
            phases.append(
                PhaseShown(
                    name=phase.name,
                    position=phase.position,
                    current=current is not None and phase.id == current.id,
                    done=current is not None and phase.position < current.position,
                    entered=_day(phase.entered_at, zone) if phase.entered_at else "",
                    notes=[
                        (
                            _day(n.written_at, zone),
                            names.get(n.written_by_staff_id, "") if n.written_by_staff_id else "",
                            n.text,
                        )
                        for n in view.notes.get(phase.id, [])
                    ],
                    photos=[
                        PhotoShown(
                            url=f"{viewer.base()}/treatment/photos/{f.id}",
                            alt=photo_alt(phase.name, f.taken_at.astimezone(zone).date()),
                            width=THUMBNAIL_WIDTH,
                            height=thumbnail_height(
                                (f.width, f.height) if f.width and f.height else None
                            ),
                        )
                        for f in view.photos.get(phase.id, [])
                    ],
                )
            )
        shown.append(
            PlanShown(
                title=view.plan.title,
                for_name=person.name if person != viewer.holder else "",
                started=_day(view.plan.started_at, zone),
                current=current.name if current else "",
                step=f"Phase {current.position} of {len(view.phases)}" if current else "",
                phases=phases,
            )
        )
    return shown


@router.api_route("/portal/{slug}/treatment", methods=READ, response_class=HTMLResponse)
def plans(slug: str, request: Request, db: DatabaseDep, viewer: PortalViewer) -> Response:
    ids = _people_ids(viewer)
    with db.reading() as session:
        views = treatment.views(session, viewer.clinic_id, ids)
        zone = clinic_zone(session, viewer.clinic_id)
        writers = {n.written_by_staff_id for v in views for ns in v.notes.values() for n in ns}
        names = _staff_names(session, viewer.clinic_id, writers)
        unread = sum(
            1
            for g in content.given_to(session, viewer.clinic_id, ids)
            if g.delivery.opened_at is None and not g.withdrawn
        )
    audit.read(
        db,
        viewer.ctx(),
        entity="treatment_plans",
        record_count=len(views),
        reason=f"treatment plans of the account's people, read by {viewer.actor()}",
    )
    return render(
        request,
        "portal/treatment.html",
        {
            "viewer": viewer,
            "section": "treatment",
            "plans": _plans(viewer, views, zone, names),
            "unread": unread,
        },
        brand=viewer.brand,
        private=True,
    )


def _staff_names(
    session: Session, clinic_id: uuid.UUID, ids: set[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = session.execute(
        select(StaffUser.id, StaffUser.display_name).where(
            StaffUser.clinic_id == clinic_id, StaffUser.id.in_(wanted)
        )
    )
    return {row.id: row.display_name for row in rows}


@router.api_route(
    "/portal/{slug}/treatment/photos/{photo_id}", methods=READ, response_class=Response
)
def photo(
    slug: str,
    photo_id: str,
    db: DatabaseDep,
    settings: SettingsDep,
    viewer: PortalViewer,
) -> Response:
    wanted = _id(photo_id, NO_PHOTO)
    with db.reading() as session:
        found = treatment.find_photo(session, viewer.clinic_id, _people_ids(viewer), wanted)
        if found is None:
            raise NotFound(NO_PHOTO)
        row = found[0]
        patient_id, path, digest, kind = row.patient_id, row.path, row.sha256, row.content_type
    try:
        data = media.read(settings.media_dir, path, digest)
    except media.MissingFile:
        raise NotFound(NO_PHOTO) from None
    audit.read(
        db,
        viewer.ctx(patient_id),
        entity="progress_photos",
        entity_id=wanted,
        reason=f"progress photo, seen by {viewer.actor()}",
    )
    return media.served(data, kind)


# --- "For you" ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GivenShown:
    delivery_id: uuid.UUID
    title: str
    kind: str
    phase: str
    for_name: str
    when: str
    new: bool
    withdrawn: bool


@router.api_route("/portal/{slug}/for-you", methods=READ, response_class=HTMLResponse)
def for_you(slug: str, request: Request, db: DatabaseDep, viewer: PortalViewer) -> Response:
    ids = _people_ids(viewer)
    with db.reading() as session:
        given = content.given_to(session, viewer.clinic_id, ids)
        zone = clinic_zone(session, viewer.clinic_id)
    shown = [
        GivenShown(
            delivery_id=g.delivery.id,
            title=g.item.title,
            kind=g.item.kind.label,
            phase=g.delivery.phase_name,
            for_name=(
                viewer.person(g.delivery.patient_id).name
                if g.delivery.patient_id != viewer.patient_id
                else ""
            ),
            when=_day(g.delivery.delivered_at, zone),
            new=g.delivery.opened_at is None and not g.withdrawn,
            withdrawn=g.withdrawn,
        )
        for g in given
    ]
    audit.read(
        db,
        viewer.ctx(),
        entity="content_deliveries",
        record_count=len(shown),
        reason=f"reading given to the account's people, read by {viewer.actor()}",
    )
    return render(
        request,
        "portal/treatment_for_you.html",
        {"viewer": viewer, "section": "treatment", "given": shown},
        brand=viewer.brand,
        private=True,
    )


@router.post("/portal/{slug}/for-you/{delivery_id}/open", response_class=HTMLResponse)
def open_given(
    slug: str,
    delivery_id: str,
    db: DatabaseDep,
    viewer: PortalViewer,
    form: CheckedForm,
) -> Response:
    """Opened: the first time is recorded for the desk to see (an admin viewing as the
    patient opens it without it counting as the patient's)."""
    wanted = _id(delivery_id, NO_ITEM)
    ids = _people_ids(viewer)
    if viewer.impersonating:
        with db.reading() as session:
            found = content.find_given(session, viewer.clinic_id, ids, wanted)
    else:
        with db.writing() as session:
            found = content.mark_opened(session, viewer.clinic_id, ids, wanted, utcnow())
    if found is None:
        raise NotFound(NO_ITEM)
    return see_other(f"{viewer.base()}/for-you/{wanted}")


@router.api_route("/portal/{slug}/for-you/{delivery_id}", methods=READ, response_class=HTMLResponse)
def read_given(
    slug: str, delivery_id: str, request: Request, db: DatabaseDep, viewer: PortalViewer
) -> Response:
    wanted = _id(delivery_id, NO_ITEM)
    with db.reading() as session:
        found = content.find_given(session, viewer.clinic_id, _people_ids(viewer), wanted)
        if found is None:
            raise NotFound(NO_ITEM)
        patient_id = found.delivery.patient_id
    audit.read(
        db,
        viewer.ctx(patient_id),
        entity="content_deliveries",
        entity_id=wanted,
        reason=f"reading given for a treatment phase, opened by {viewer.actor()}",
    )
    return render(
        request,
        "portal/treatment_reading.html",
        {
            "viewer": viewer,
            "section": "treatment",
            "phase": found.delivery.phase_name,
            **_item_context(viewer, found.item),
        },
        brand=viewer.brand,
        private=True,
    )


def _item_context(viewer: Viewer, item: ContentItem) -> dict[str, object]:
    """What ``help_content.html`` shows of an item."""
    text = item.body.replace("\r\n", "\n")
    size = item.file_size or 0
    return {
        "item": item,
        "paragraphs": [p.strip() for p in text.split("\n\n") if p.strip()],
        "file_url": f"{viewer.base()}/help/{item.id}/file",
        "video_host": urlsplit(item.url).hostname or "" if item.url else "",
        "size": f"{size / (1024 * 1024):.1f} MB"
        if size >= 1024 * 1024
        else f"{-(-size // 1024)} KB"
        if size
        else "",
    }


# --- the help centre ---------------------------------------------------------------------


def treatment_order(session: Session, clinic_id: uuid.UUID) -> dict[str, tuple[float, datetime]]:
    """Where each phase name (folded) comes in the clinic's treatments: its average place
    in the plans that have it (a plan begun at the fitting, for a patient who comes from
    another clinic, or one that skips a phase, moves it little), then when it was first
    used. Names no plan has are not in it."""
    rows = session.execute(
        select(
            TreatmentPhase.name,
            func.sum(TreatmentPhase.position),
            func.count(),
            func.min(TreatmentPlan.started_at),
        )
        .join(TreatmentPlan, TreatmentPlan.id == TreatmentPhase.plan_id)
        .where(TreatmentPhase.clinic_id == clinic_id, TreatmentPlan.clinic_id == clinic_id)
        .group_by(TreatmentPhase.name)
    )
    places: dict[str, tuple[int, int, datetime]] = {}
    for name, total, count, first in rows:
        key = fold(name)
        was_total, was_count, was_first = places.get(key, (0, 0, first))
        places[key] = (was_total + total, was_count + count, min(was_first, first))
    return {key: (total / count, first) for key, (total, count, first) in places.items()}


def _groups(
    items: list[ContentItem], order: dict[str, tuple[float, datetime]]
) -> list[tuple[str, list[ContentItem]]]:
    """The items under each phase they are tagged with (an item under each of its
    phases), phases in the order the clinic's treatments go through them (``order``),
    then any no plan has, by name; untagged ones under "General", last."""
    named: dict[str, str] = {}
    grouped: dict[str, list[ContentItem]] = defaultdict(list)
    for item in items:
        for tag in item.phases or [GENERAL]:
            key = fold(tag)
            named.setdefault(key, tag)
            grouped[key].append(item)
    general = fold(GENERAL)
    tagged = sorted((k for k in grouped if k != general), key=lambda k: named[k].casefold())
    known = sorted((k for k in tagged if k in order), key=lambda k: order[k])
    ordered = known + [k for k in tagged if k not in order]
    if general in grouped:
        ordered.append(general)
    return [(named[k], grouped[k]) for k in ordered]


@router.api_route("/portal/{slug}/help", methods=READ, response_class=HTMLResponse)
def help_centre(
    slug: str,
    request: Request,
    db: DatabaseDep,
    viewer: PortalViewer,
    q: str = "",
    phase: str = "",
) -> Response:
    words, chosen = q.strip()[:MAX_QUERY], phase.strip()[:MAX_QUERY]
    with db.reading() as session:
        library = content.items_of(session, viewer.clinic_id, published_only=True)
        order = treatment_order(session, viewer.clinic_id)
    every_phase = [name for name, _ in _groups(library, order)]
    found = content.search(library, words)
    if chosen:
        found = [i for i in found if fold(chosen) in {fold(t) for t in (i.phases or [GENERAL])}]
    return render(
        request,
        "portal/help.html",
        {
            "viewer": viewer,
            "section": "help",
            "groups": _groups(found, order),
            "phases": every_phase,
            "q": words,
            "phase": chosen,
            "total": len(library),
            "found": len(found),
        },
        brand=viewer.brand,
        private=True,
    )


def _visible_item(db: DatabaseDep, viewer: Viewer, item_id: uuid.UUID) -> ContentItem:
    """A published item of the clinic's library, or one given to the viewer's people
    (which stays theirs to read even if the clinic stops publishing it). A PDF item
    whose file has not come yet is nobody's to read."""
    with db.reading() as session:
        item = content.find_item(session, viewer.clinic_id, item_id)
        if item is None or not content.ready(item):
            raise NotFound(NO_HELP)
        if not item.published:
            given = session.scalar(
                select(ContentDelivery.id).where(
                    ContentDelivery.clinic_id == viewer.clinic_id,
                    ContentDelivery.item_id == item.id,
                    ContentDelivery.patient_id.in_(_people_ids(viewer)),
                )
            )
            if given is None:
                raise NotFound(NO_HELP)
        session.expunge(item)
    return item


@router.api_route("/portal/{slug}/help/{item_id}", methods=READ, response_class=HTMLResponse)
def help_item(
    slug: str, item_id: str, request: Request, db: DatabaseDep, viewer: PortalViewer
) -> Response:
    item = _visible_item(db, viewer, _id(item_id, NO_HELP))
    return render(
        request,
        "portal/help_item.html",
        {"viewer": viewer, "section": "help", **_item_context(viewer, item)},
        brand=viewer.brand,
        private=True,
    )


@router.api_route("/portal/{slug}/help/{item_id}/file", methods=READ, response_class=Response)
def help_file(
    slug: str, item_id: str, db: DatabaseDep, settings: SettingsDep, viewer: PortalViewer
) -> Response:
    """A PDF of the library, saved to the patient's device (their phone opens it)."""
    item = _visible_item(db, viewer, _id(item_id, NO_HELP))
    if item.kind is not ContentKind.PDF or not item.file_path or not item.file_sha256:
        raise NotFound(NO_HELP)
    try:
        data = media.read(settings.media_dir, item.file_path, item.file_sha256)
    except media.MissingFile:
        raise NotFound(NO_HELP) from None
    return media.served(data, "application/pdf", download_as=f"{_file_name(item.title)}.pdf")


def _file_name(title: str) -> str:
    """The title as a file name any system takes (letters, digits, spaces, dashes)."""
    kept = "".join(ch if ch.isascii() and (ch.isalnum() or ch in " -_") else " " for ch in title)
    return " ".join(kept.split())[:80] or "document"
