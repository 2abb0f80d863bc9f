"""The content library: keeping items, giving them to patients, and what they opened.

Staff with ``content:manage`` keep the library. When a patient's plan moves into a phase
(``server.treatment.service``), ``deliver`` gives them every published item tagged with
that phase in the plan's language, each once ever: a delivery row per patient and item,
unique in the database too. Whatever is new in one move goes out in one e-mail (through
messaging, purpose CARE, so consent and the desk's inbox apply), linking to the portal's
"For you" page; nothing new, no e-mail. The caller holds the patient's row locked, so two
moves at once cannot both find an item "not yet given".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from common import content as rules
from common.content import ContentKind
from common.errors import InvalidInput
from common.messaging import Channel, Purpose
from common.portal import Relation
from common.roles import Permission
from common.treatment import fold
from server import kit
from server.audit import service as audit
from server.auth.context import AuthContext
from server.content.models import ContentDelivery, ContentItem
from server.media import Stored
from server.messaging import service as messaging
from server.patients.models import Patient
from server.portal import accounts
from server.treatment.models import TreatmentPhase, TreatmentPlan
from server.web.pages import profile_of

MESSAGE_KIND = "care_content"
LIBRARY_LIMIT = 1000


# --- the library ------------------------------------------------------------------------


def _ready() -> ColumnElement[bool]:
    """An item a patient may be shown: a PDF only once its file has come (the desk adds
    the item, then sends its file on a request of its own)."""
    return or_(ContentItem.kind != ContentKind.PDF, ContentItem.file_path.is_not(None))


def ready(item: ContentItem) -> bool:
    return item.kind is not ContentKind.PDF or item.file_path is not None


def items_of(
    session: Session, clinic_id: uuid.UUID, *, published_only: bool = False
) -> list[ContentItem]:
    """The library (never the removed), by title; ``published_only``: what patients may
    be shown (published, and a PDF with its file)."""
    query = select(ContentItem).where(
        ContentItem.clinic_id == clinic_id, ContentItem.removed_at.is_(None)
    )
    if published_only:
        query = query.where(ContentItem.published.is_(True), _ready())
    return list(
        session.scalars(query.order_by(ContentItem.title, ContentItem.id).limit(LIBRARY_LIMIT))
    )


def find_item(
    session: Session,
    clinic_id: uuid.UUID,
    item_id: uuid.UUID,
    *,
    published_only: bool = False,
    lock: bool = False,
) -> ContentItem | None:
    """An item of the library (never a removed one), locked for the rest of the
    transaction if ``lock``: whoever changes its file reads the old one's place only
    once nobody else can be replacing it too."""
    item = kit.find(session, ContentItem, clinic_id, item_id, lock=lock)
    if item is None or item.removed_at is not None:
        return None
    if published_only and not (item.published and ready(item)):
        return None
    return item


@dataclass(frozen=True, slots=True)
class Draft:
    kind: ContentKind
    title: str
    body: str
    url: str
    phases: list[str]
    language: str
    published: bool


def save_item(
    session: Session,
    ctx: AuthContext,
    draft: Draft,
    *,
    item_id: uuid.UUID | None = None,
    file: Stored | None = None,
) -> ContentItem:
    """Add an item (``item_id`` None) or change one. A PDF item keeps its file unless
    given another (``file``: already checked and written; the desk sends it afterwards,
    to ``set_file``); until it has one, no patient is shown or given it."""
    ctx.require(Permission.CONTENT_MANAGE)
    checked = rules.check_item(
        draft.kind, draft.title, draft.body, draft.url, draft.phases, draft.language
    )
    if item_id is None:
        item = ContentItem(clinic_id=ctx.clinic_id, kind=checked.kind)
        session.add(item)
    else:
        found = find_item(session, ctx.clinic_id, item_id, lock=True)
        if found is None:
            raise kit.not_found("library item")
        if found.kind is not checked.kind:
            raise InvalidInput(
                f"This item is a {found.kind.label.lower()}: it stays one. Add a new item "
                f"to make a {checked.kind.label.lower()}."
            )
        item = found
    if file is not None and checked.kind is not ContentKind.PDF:
        raise InvalidInput("Only a PDF item takes a file.")
    item.title, item.body, item.url = checked.title, checked.body, checked.url
    item.phases, item.language = list(checked.phases), checked.language
    item.published = draft.published
    item.changed_by_staff_id = ctx.staff_id
    if file is not None:
        item.file_path, item.file_size, item.file_sha256 = file.path, file.size, file.sha256
    session.flush()
    audit.record(
        session,
        ctx,
        action="create" if item_id is None else "update",
        entity="content_items",
        entity_id=item.id,
        reason=f"library item “{item.title}”",
    )
    return item


def set_file(
    session: Session, ctx: AuthContext, item_id: uuid.UUID, file: Stored
) -> tuple[ContentItem, str | None]:
    """A PDF item's file, new or replacing the one it had; with the place of the file it
    replaces, for the caller to remove once this is committed. The row is locked before
    the old place is read: two replacements at once queue, and each removes the file
    the other's left, so no file is left behind that no row names."""
    ctx.require(Permission.CONTENT_MANAGE)
    item = find_item(session, ctx.clinic_id, item_id, lock=True)
    if item is None:
        raise kit.not_found("library item")
    if item.kind is not ContentKind.PDF:
        raise InvalidInput(
            f"This item is a {item.kind.label.lower()}: only a PDF item takes a file."
        )
    replaced = item.file_path
    item.file_path, item.file_size, item.file_sha256 = file.path, file.size, file.sha256
    item.changed_by_staff_id = ctx.staff_id
    session.flush()
    audit.record(
        session,
        ctx,
        action="update",
        entity="content_items",
        entity_id=item.id,
        reason=f"the PDF of library item “{item.title}” {'replaced' if replaced else 'added'}",
    )
    return item, replaced


def remove_item(
    session: Session, ctx: AuthContext, item_id: uuid.UUID, now: datetime
) -> ContentItem:
    """Out of the library and the help centre; what was given keeps its record (listed
    as withdrawn). A PDF's file is for the caller to remove once this is committed: the
    row keeps its place and digest, saying what it was."""
    ctx.require(Permission.CONTENT_MANAGE)
    item = find_item(session, ctx.clinic_id, item_id, lock=True)
    if item is None:
        raise kit.not_found("library item")
    item.removed_at = now
    item.changed_by_staff_id = ctx.staff_id
    audit.record(
        session,
        ctx,
        action="delete",
        entity="content_items",
        entity_id=item.id,
        reason=f"library item “{item.title}” removed",
    )
    return item


def search(items: list[ContentItem], words: str) -> list[ContentItem]:
    """Items whose title, text or tags hold every word typed (case and accents as
    ``fold`` compares them); nothing typed, every item."""
    wanted = fold(words).split() if words else []
    if not wanted:
        return items
    found = []
    for item in items:
        text = fold(" ".join([item.title, item.body, *item.phases]))
        if all(word in text for word in wanted):
            found.append(item)
    return found


# --- giving it to patients --------------------------------------------------------------


def deliver(
    session: Session,
    ctx: AuthContext,
    plan: TreatmentPlan,
    phase: TreatmentPhase,
    now: datetime,
    public_base_url: str,
) -> list[ContentDelivery]:
    """Give the patient what the phase's tags and the plan's language call for and they
    have not had yet; one e-mail about what is new. The caller locked the patient's row."""
    suited = [
        item
        for item in items_of(session, plan.clinic_id, published_only=True)
        if rules.language_suits(item.language, plan.language)
        and rules.matches(item.phases, phase.name)
    ]
    if not suited:
        return []
    had = set(
        session.scalars(
            select(ContentDelivery.item_id).where(
                ContentDelivery.clinic_id == plan.clinic_id,
                ContentDelivery.patient_id == plan.patient_id,
                ContentDelivery.item_id.in_([i.id for i in suited]),
            )
        )
    )
    fresh = [i for i in suited if i.id not in had]
    if not fresh:
        return []
    made = [
        ContentDelivery(
            clinic_id=plan.clinic_id,
            item_id=item.id,
            patient_id=plan.patient_id,
            plan_id=plan.id,
            phase_name=phase.name,
            delivered_at=now,
        )
        for item in fresh
    ]
    session.add_all(made)
    session.flush()
    message_id = _tell(session, ctx, plan, phase, fresh, public_base_url)
    for row in made:
        row.message_id = message_id
    audit.record(
        session,
        ctx,
        action="create",
        entity="content_deliveries",
        entity_id=plan.patient_id,
        record_count=len(made),
        reason=f"library items given for the phase “{phase.name}” of a treatment plan",
    )
    return made


def _tell(
    session: Session,
    ctx: AuthContext,
    plan: TreatmentPlan,
    phase: TreatmentPhase,
    fresh: list[ContentItem],
    public_base_url: str,
) -> uuid.UUID | None:
    """One e-mail about what is new, to the portal account's address (the holder's, for
    a family member) or the patient's own. None when the clinic has no portal page to
    send them to: the items wait in the portal all the same."""
    patient = session.get(Patient, plan.patient_id)
    profile = profile_of(session, plan.clinic_id)
    if patient is None or profile is None:
        return None
    clinic = messaging.sender_name(session, plan.clinic_id)
    url = f"{public_base_url.rstrip('/')}/portal/{profile.slug}/for-you"
    on_portal = accounts.account_of_patient(session, plan.clinic_id, patient.id)
    email = on_portal[0].email if on_portal is not None else None
    for_family = on_portal is not None and on_portal[1].relation is Relation.DEPENDANT
    greeting = "Hello," if for_family else f"Dear {patient.first_name},"
    whose = f"{patient.first_name}'s treatment" if for_family else "your treatment"
    listed = "\n".join(f"- {item.title}" for item in fresh)
    text = (
        f"{greeting}\n\n"
        f"As {whose} moves on to its next stage ({phase.name}), {clinic} has put "
        f"{'something' if len(fresh) == 1 else 'a few things'} to read in the patient "
        f"portal:\n{listed}\n\n"
        f"Read {'it' if len(fresh) == 1 else 'them'} here (sign in if asked):\n{url}\n\n"
        f"{clinic}"
    )
    message = messaging.compose(
        session,
        plan.clinic_id,
        patient=patient,
        purpose=Purpose.CARE,
        kind=MESSAGE_KIND,
        drafts=[messaging.Draft(Channel.EMAIL, text, subject=f"Reading for {whose}")],
        staff_id=ctx.staff_id,
        device_id=ctx.device_id,
        email=email,
    )
    return message.id


@dataclass(frozen=True, slots=True)
class Given:
    delivery: ContentDelivery
    item: ContentItem

    @property
    def withdrawn(self) -> bool:
        """Removed from the library since: still on the patient's record, no longer
        there to read."""
        return self.item.removed_at is not None


def given_to(session: Session, clinic_id: uuid.UUID, patient_ids: list[uuid.UUID]) -> list[Given]:
    """What these patients were given, newest first; items removed from the library
    since are listed too (``Given.withdrawn``): the record says they were given."""
    if not patient_ids:
        return []
    rows = session.execute(
        select(ContentDelivery, ContentItem)
        .join(ContentItem, ContentItem.id == ContentDelivery.item_id)
        .where(
            ContentDelivery.clinic_id == clinic_id,
            ContentDelivery.patient_id.in_(patient_ids),
            ContentItem.clinic_id == clinic_id,
        )
        .order_by(ContentDelivery.delivered_at.desc(), ContentItem.title)
    )
    return [Given(d, i) for d, i in rows]


def find_given(
    session: Session,
    clinic_id: uuid.UUID,
    patient_ids: list[uuid.UUID],
    delivery_id: uuid.UUID,
    *,
    lock: bool = False,
) -> Given | None:
    """One delivery to one of ``patient_ids`` that is still there to read; anyone
    else's, or one whose item was withdrawn, is not found."""
    delivery = kit.find(session, ContentDelivery, clinic_id, delivery_id, lock=lock)
    if delivery is None or delivery.patient_id not in patient_ids:
        return None
    item = kit.find(session, ContentItem, clinic_id, delivery.item_id)
    if item is None or item.removed_at is not None:
        return None
    return Given(delivery, item)


def mark_opened(
    session: Session,
    clinic_id: uuid.UUID,
    patient_ids: list[uuid.UUID],
    delivery_id: uuid.UUID,
    now: datetime,
) -> Given | None:
    """The patient opened it: the first time is kept, later ones change nothing."""
    given = find_given(session, clinic_id, patient_ids, delivery_id, lock=True)
    if given is not None and given.delivery.opened_at is None:
        given.delivery.opened_at = now
    return given
