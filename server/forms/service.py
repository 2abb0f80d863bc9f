"""Forms: the builder's templates and versions, the forms a booking sends, and their
answers.

Publishing never edits a version: changed questions (or title) make version N + 1, and
forms already begun keep the version they were begun under (``FormRequest
.version_number``). Answers are saved page by page as the patient goes, so a form closed
half-way opens where it was left; sending the last page completes it. A completed consent
form is that clinic's consent record: it lives with the clinic's rows and nowhere else.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common import forms as rules
from common.errors import Conflict, InvalidInput, NotFound, StaleVersion
from common.forms import FormDefinition, FormKind, FormStatus, Question
from common.roles import Permission
from common.video import new_room_url
from server import kit
from server.audit import service as audit
from server.auth.context import AuthContext
from server.db import utcnow
from server.forms.models import FormRequest, FormResponse, FormTemplate, FormVersion
from server.scheduling.models import Appointment, AppointmentType
from server.web.models import PracticeProfile

# --- the builder ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Draft:
    """What the builder sends: the whole form, as the admin left it."""

    title: str
    kind: FormKind
    appointment_type_ids: list[uuid.UUID]
    active: bool
    questions: list[dict[str, Any]]


def templates_of(session: Session, clinic_id: uuid.UUID) -> list[FormTemplate]:
    return list(
        session.scalars(
            select(FormTemplate)
            .where(FormTemplate.clinic_id == clinic_id)
            .order_by(FormTemplate.active.desc(), FormTemplate.title)
        )
    )


def version_of(
    session: Session, clinic_id: uuid.UUID, template_id: uuid.UUID, number: int
) -> FormVersion | None:
    return session.scalar(
        select(FormVersion).where(
            FormVersion.clinic_id == clinic_id,
            FormVersion.template_id == template_id,
            FormVersion.number == number,
        )
    )


def _types(session: Session, clinic_id: uuid.UUID, wanted: Iterable[uuid.UUID]) -> list[str]:
    chosen = set(wanted)
    if not chosen:
        return []
    found = set(
        session.scalars(
            select(AppointmentType.id).where(
                AppointmentType.clinic_id == clinic_id,
                AppointmentType.id.in_(chosen),
                AppointmentType.deleted_at.is_(None),
            )
        )
    )
    if found != chosen:
        raise NotFound("Some of the chosen appointment types are not in this clinic.")
    return sorted(str(t) for t in chosen)


def save_template(
    session: Session,
    ctx: AuthContext,
    draft: Draft,
    *,
    template_id: uuid.UUID | None = None,
    base_version: int | None = None,
    now: datetime | None = None,
) -> FormTemplate:
    """Create a form, or change one. New or changed questions (or title) publish a new
    version; who it is sent with and whether it is in use change in place. Saving it
    unchanged changes nothing. ``base_version``: the version the admin edited; if
    someone published since, the save is refused rather than overwrite their work."""
    ctx.require(Permission.SETTINGS_MANAGE)
    now = now or utcnow()
    title = rules.check_title(draft.title)
    questions = [q.to_json() for q in rules.check_questions(draft.questions)]
    type_ids = _types(session, ctx.clinic_id, draft.appointment_type_ids)
    if template_id is None:
        template = FormTemplate(
            id=uuid.uuid4(),
            clinic_id=ctx.clinic_id,
            title=title,
            kind=draft.kind,
            current_version=0,  # a column default comes only with the INSERT
        )
        session.add(template)
        current: FormVersion | None = None
    else:
        found = kit.find(session, FormTemplate, ctx.clinic_id, template_id, lock=True)
        if found is None:
            raise kit.not_found("form")
        template = found
        if base_version is not None and base_version != template.current_version:
            raise StaleVersion(
                "Someone published a newer version of this form while you were editing it. "
                "Close it, open it again, and make your change there."
            )
        current = version_of(session, ctx.clinic_id, template.id, template.current_version)
    template.kind = draft.kind
    template.appointment_type_ids = type_ids
    template.active = draft.active
    if current is None or current.title != title or current.questions != questions:
        number = template.current_version + 1
        session.add(
            FormVersion(
                clinic_id=ctx.clinic_id,
                template_id=template.id,
                number=number,
                title=title,
                questions=questions,
                published_at=now,
                published_by_staff_id=ctx.staff_id,
            )
        )
        template.current_version = number
        template.title = title
    audit.record(
        session,
        ctx,
        action="save",
        entity="form_templates",
        entity_id=template.id,
        reason=f"form saved (version {template.current_version})",
    )
    session.flush()
    return template


def definition(version: FormVersion, kind: FormKind) -> FormDefinition:
    return rules.definition_of(version.title, kind.value, version.questions)


# --- sending forms with bookings -------------------------------------------------------------


def _matches(template: FormTemplate, appointment: Appointment) -> bool:
    wanted = template.appointment_type_ids or []
    return not wanted or (
        appointment.appointment_type_id is not None
        and str(appointment.appointment_type_id) in wanted
    )


def generate(session: Session, appointment: Appointment, now: datetime) -> list[FormRequest]:
    """The clinic's forms for this booking: intake and consent forms the patient has not
    been sent yet, and the forms of this appointment's type. Called in the booking's
    transaction, whoever booked (the desk, a link, the portal, a confirmed request)."""
    templates = [
        t
        for t in session.scalars(
            select(FormTemplate).where(
                FormTemplate.clinic_id == appointment.clinic_id,
                FormTemplate.active.is_(True),
                FormTemplate.current_version > 0,
            )
        )
        if _matches(t, appointment)
    ]
    if not templates:
        return []
    already = set(
        session.execute(
            select(FormRequest.template_id, FormRequest.appointment_id).where(
                FormRequest.clinic_id == appointment.clinic_id,
                FormRequest.patient_id == appointment.patient_id,
                FormRequest.status != FormStatus.WITHDRAWN,
                FormRequest.deleted_at.is_(None),
            )
        ).all()
    )
    sent_templates = {template_id for template_id, _ in already}
    made = []
    for template in sorted(templates, key=lambda t: (t.kind != FormKind.INTAKE, t.title)):
        if template.kind.once_per_patient and template.id in sent_templates:
            continue
        if (template.id, appointment.id) in already:
            continue
        request = FormRequest(
            clinic_id=appointment.clinic_id,
            patient_id=appointment.patient_id,
            template_id=template.id,
            appointment_id=appointment.id if not template.kind.once_per_patient else None,
            title=template.title,
            kind=template.kind,
            status=FormStatus.PENDING,
            sent_at=now,
        )
        session.add(request)
        made.append(request)
    if made:
        session.flush()
    return made


def booked(session: Session, appointment: Appointment, now: datetime) -> list[FormRequest]:
    """The booking's video room (a video consultation's) and the forms it sends."""
    kind = (
        session.get(AppointmentType, appointment.appointment_type_id)
        if appointment.appointment_type_id
        else None
    )
    if kind is not None and kind.video and appointment.video_url is None:
        profile = session.scalar(
            select(PracticeProfile).where(PracticeProfile.clinic_id == appointment.clinic_id)
        )
        appointment.video_url = new_room_url(
            profile.video_room_template if profile else "", profile.slug if profile else ""
        )
    return generate(session, appointment, now)


def cancelled(session: Session, appointment: Appointment) -> None:
    """A cancelled booking's own forms are no longer asked for (intake and consent
    forms are the patient's, not the booking's: they stay)."""
    for request in session.scalars(
        select(FormRequest).where(
            FormRequest.clinic_id == appointment.clinic_id,
            FormRequest.appointment_id == appointment.id,
            FormRequest.status.in_(rules.OPEN_STATUSES),
        )
    ):
        request.status = FormStatus.WITHDRAWN


def open_requests(
    session: Session, clinic_id: uuid.UUID, patient_ids: Iterable[uuid.UUID]
) -> list[FormRequest]:
    ids = list(patient_ids)
    if not ids:
        return []
    return list(
        session.scalars(
            select(FormRequest)
            .where(
                FormRequest.clinic_id == clinic_id,
                FormRequest.patient_id.in_(ids),
                FormRequest.status.in_(rules.OPEN_STATUSES),
                FormRequest.deleted_at.is_(None),
            )
            .order_by(FormRequest.sent_at, FormRequest.title)
        )
    )


def requests_of(
    session: Session, clinic_id: uuid.UUID, patient_ids: Iterable[uuid.UUID]
) -> list[FormRequest]:
    """Every form sent to these patients (withdrawn ones aside), newest first."""
    ids = list(patient_ids)
    if not ids:
        return []
    return list(
        session.scalars(
            select(FormRequest)
            .where(
                FormRequest.clinic_id == clinic_id,
                FormRequest.patient_id.in_(ids),
                FormRequest.status != FormStatus.WITHDRAWN,
                FormRequest.deleted_at.is_(None),
            )
            .order_by(FormRequest.sent_at.desc(), FormRequest.title)
        )
    )


# --- answering ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opened:
    """A form as it is answered or read: its request, the version it shows, the answers
    so far."""

    request: FormRequest
    version: FormVersion
    form: FormDefinition
    answers: dict[str, Any]
    completed_by_staff_id: uuid.UUID | None = None
    completed_by_account_id: uuid.UUID | None = None


def _response(session: Session, request: FormRequest, *, lock: bool = False) -> FormResponse | None:
    query = select(FormResponse).where(
        FormResponse.clinic_id == request.clinic_id, FormResponse.request_id == request.id
    )
    return session.scalar(query.with_for_update() if lock else query)


def open_form(session: Session, request: FormRequest, *, lock: bool = False) -> Opened:
    template = session.get(FormTemplate, request.template_id)
    if template is None:
        raise NotFound("This form is no longer available.")
    number = request.version_number or template.current_version
    version = version_of(session, request.clinic_id, template.id, number)
    if version is None:
        raise NotFound("This form is no longer available.")
    response = _response(session, request, lock=lock)
    answers = json.loads(response.answers) if response is not None else {}
    return Opened(
        request,
        version,
        definition(version, request.kind),
        answers,
        response.completed_by_staff_id if response else None,
        response.completed_by_account_id if response else None,
    )


def find_request(
    session: Session,
    clinic_id: uuid.UUID,
    request_id: uuid.UUID,
    patient_ids: Iterable[uuid.UUID],
    *,
    lock: bool = False,
) -> FormRequest:
    """One of these patients' forms at this clinic; anything else is not found."""
    request = kit.find(session, FormRequest, clinic_id, request_id, lock=lock)
    if request is None or request.patient_id not in set(patient_ids):
        raise NotFound("There is no such form on your account. It may have been withdrawn.")
    if request.status is FormStatus.WITHDRAWN:
        raise NotFound("The clinic has withdrawn this form: there is nothing to fill in.")
    return request


COMPLETE_ALREADY = (
    "This form was sent already and can no longer be changed. If something in it is wrong, "
    "tell the clinic."
)


@dataclass(frozen=True, slots=True)
class Signing:
    """Who may sign (the person the form is for first; the account holder next, who
    signs for a family member), and the stamp a signature gets."""

    names: tuple[str, ...]
    address_hash: str


def save_page(
    session: Session,
    ctx: AuthContext,
    request_id: uuid.UUID,
    patient_ids: Iterable[uuid.UUID],
    submitted: Mapping[str, list[str]],
    question_ids: Iterable[str],
    *,
    signing: Signing,
    now: datetime,
    complete: bool = False,
    account_id: uuid.UUID | None = None,
    expected_version: int | None = None,
) -> Opened:
    """Save the answers to ``question_ids`` (one page of the form) and, with
    ``complete``, send the form: every required question must be answered by then.

    Every refused answer is said at once (``PageRefused``); nothing of a refused page
    is saved, so what the patient typed stays in the form they see, not half in it.
    ``expected_version``: the version the page showed; if the form now shows another
    (published before the first answer pinned one), nothing is saved (``VersionChanged``)."""
    request = find_request(session, ctx.clinic_id, request_id, patient_ids, lock=True)
    if request.status is FormStatus.COMPLETE:
        raise Conflict(COMPLETE_ALREADY)
    opened = open_form(session, request, lock=True)
    if expected_version is not None and opened.version.number != expected_version:
        # Shown under a version replaced since (read again here, under the lock: an
        # admin may have published between the page's check and this save).
        raise VersionChanged(VERSION_CHANGED)
    answers = dict(opened.answers)
    refused: dict[str, str] = {}
    for question_id in question_ids:
        question = opened.form.question(question_id)
        if question is None:
            continue  # a question of another version (an old page reloaded): ignored
        raw = submitted.get(question_id, [])
        try:
            value = rules.check_answer(question, raw, signing.names)
        except InvalidInput as problem:
            refused[question_id] = problem.message
            continue
        answers[question_id] = _stamped(question, value, answers.get(question_id), signing, now)
        if value is None and question.required and complete:
            refused[question_id] = _required(question)
    if complete:
        for question in rules.missing(opened.form.questions, answers):
            refused.setdefault(question.id, _required(question))
    if refused:
        raise PageRefused(refused)
    response = _response(session, request, lock=True)
    if response is None:
        response = FormResponse(clinic_id=request.clinic_id, request_id=request.id, answers="{}")
        session.add(response)
    response.answers = json.dumps(answers, sort_keys=True)
    request.version_number = opened.version.number
    if complete:
        request.status = FormStatus.COMPLETE
        request.completed_at = now
        response.completed_by_account_id = account_id
        response.completed_by_staff_id = ctx.staff_id if account_id is None else None
    elif request.status is FormStatus.PENDING:
        request.status = FormStatus.IN_PROGRESS
    request.changed_by_device_id = None
    audit.record(
        session,
        ctx,
        action="complete" if complete else "save",
        entity="form_requests",
        entity_id=request.id,
        reason=f"form “{request.title}” {'sent' if complete else 'saved as it is filled in'}",
    )
    session.flush()
    return Opened(request, opened.version, opened.form, answers)


def _required(question: Question) -> str:
    if question.kind is rules.QuestionKind.SIGNATURE:
        return "Type your full name to sign."
    if question.kind is rules.QuestionKind.CHOICE:
        return "Choose an answer: this question needs one."
    return "This question needs an answer."


def _stamped(question: Question, value: Any, before: Any, signing: Signing, now: datetime) -> Any:
    """A signature keeps when and from where it was typed; signing again with the same
    name keeps the first stamp, so saving a page unchanged changes nothing."""
    if question.kind is not rules.QuestionKind.SIGNATURE or value is None:
        return value
    if isinstance(before, dict) and before.get("name") == value:
        return before
    stamp = {"name": value, "signed_at": now.isoformat(), "address_hash": signing.address_hash}
    if signing.names and rules.fold_name(value) != rules.fold_name(signing.names[0]):
        stamp["for"] = signing.names[0]  # signed by the account holder, for this person
    return stamp


VERSION_CHANGED = (
    "The clinic has updated this form since you opened it. Please check this page again: "
    "nothing on it has been saved yet."
)


class VersionChanged(Conflict):
    """The page was shown under a version the form no longer shows."""


class PageRefused(InvalidInput):
    """Answers refused on one page, by question id."""

    def __init__(self, refused: dict[str, str]) -> None:
        count = len(refused)
        super().__init__(
            "One answer needs another look."
            if count == 1
            else f"{count} answers need another look."
        )
        self.refused = refused


def withdraw(session: Session, ctx: AuthContext, request_id: uuid.UUID) -> FormRequest:
    """Staff take back a form that was not completed (sent by mistake, no longer
    needed). A completed one stays: it is the record of what the patient answered."""
    ctx.require(Permission.PATIENTS_WRITE)
    request = kit.find(session, FormRequest, ctx.clinic_id, request_id, lock=True)
    if request is None:
        raise kit.not_found("form")
    if request.status is FormStatus.COMPLETE:
        raise Conflict("This form is complete: it stays on the patient's file as answered.")
    if request.status is not FormStatus.WITHDRAWN:
        request.status = FormStatus.WITHDRAWN
        audit.record(
            session,
            ctx,
            action="withdraw",
            entity="form_requests",
            entity_id=request.id,
            reason=f"form “{request.title}” withdrawn",
        )
    session.flush()
    return request


REMIND_AFTER = timedelta(days=2)


def due_reminders(
    session: Session, now: datetime, *, limit: int = 200, lock: bool = False
) -> list[FormRequest]:
    """Forms still open two days after they were sent and not reminded of yet. With
    ``lock``, claimed: another dispatcher process skips them."""
    query = (
        select(FormRequest)
        .where(
            FormRequest.status.in_(rules.OPEN_STATUSES),
            FormRequest.reminded_at.is_(None),
            FormRequest.sent_at < now - REMIND_AFTER,
            FormRequest.deleted_at.is_(None),
        )
        .order_by(FormRequest.sent_at)
        .limit(limit)
    )
    if lock:
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))
