"""The portal's side of clinic forms: which forms wait for the account's people, where a
form left half-way opens again, who may sign it, and its answers as the patient reads
them.

Every read is of this clinic's rows of the viewer's own people (``Viewer.people``); a
form of anyone else, of another clinic, or withdrawn by staff is simply not found. The
answers themselves are saved through ``server.forms.service.save_page`` alone, which
checks them with the same rules the desk's builder uses (``common.forms``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from sqlalchemy.orm import Session

from common import forms as rules
from common.errors import NotFound
from common.forms import FormDefinition, FormStatus, Question, QuestionKind
from common.portal import Relation
from server import kit
from server.booking_links.patient import long_day
from server.forms import service
from server.forms.models import FormRequest
from server.portal.viewer import Person, Viewer
from server.scheduling.models import Appointment
from server.scheduling.service import clinic_zone

NOT_YOURS = "There is no such form on your account. Check the link, or call the clinic."


def request_id_of(text: str) -> uuid.UUID:
    """A form's id from the address; anything else is simply not found."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound(NOT_YOURS) from None


def people_ids(viewer: Viewer) -> list[uuid.UUID]:
    return [p.patient_id for p in viewer.people]


@dataclass(frozen=True)
class Listed:
    """One form sent to one of the viewer's people, as a list shows it."""

    request_id: uuid.UUID
    title: str
    status: FormStatus
    person: Person
    appointment_id: uuid.UUID | None
    before: str  # "Monday 2 March 2026 at 10:00": the appointment it is for, if any
    completed: str  # "17/05/2026", once sent

    @property
    def open(self) -> bool:
        return self.status in rules.OPEN_STATUSES

    @property
    def for_name(self) -> str:
        """Whose it is, for a family member's (empty for the holder's own)."""
        return "" if self.person.relation is Relation.SELF else self.person.name


def listed(session: Session, viewer: Viewer, *, open_only: bool = False) -> list[Listed]:
    """The viewer's people's forms at this clinic (withdrawn ones aside): open ones in
    the order they were sent, or every one, newest first."""
    people = {p.patient_id: p for p in viewer.people}
    rows = (
        service.open_requests(session, viewer.clinic_id, people)
        if open_only
        else service.requests_of(session, viewer.clinic_id, people)
    )
    zone = clinic_zone(session, viewer.clinic_id)
    found = []
    for row in rows:
        before = ""
        appointment = kit.find(session, Appointment, viewer.clinic_id, row.appointment_id)
        if appointment is not None:
            local = appointment.starts_at.astimezone(zone)
            before = f"{long_day(local.date())} at {local:%H:%M}"
        completed = row.completed_at.astimezone(zone) if row.completed_at else None
        found.append(
            Listed(
                request_id=row.id,
                title=row.title,
                status=row.status,
                person=people[row.patient_id],
                appointment_id=row.appointment_id,
                before=before,
                completed=f"{completed:%d/%m/%Y}" if completed else "",
            )
        )
    return found


def for_appointment(session: Session, viewer: Viewer, appointment: Appointment) -> list[Listed]:
    """The forms an appointment's page lists: those sent with it, and the person's intake
    and consent forms still to fill in (they go once per patient, with no appointment
    of their own, but are wanted before this one)."""
    return [
        item
        for item in listed(session, viewer)
        if item.person.patient_id == appointment.patient_id
        and (item.appointment_id == appointment.id or (item.appointment_id is None and item.open))
    ]


def opened(session: Session, viewer: Viewer, request_id: uuid.UUID) -> service.Opened:
    """One of the viewer's people's forms, with the version it shows and its answers."""
    request = service.find_request(session, viewer.clinic_id, request_id, people_ids(viewer))
    return service.open_form(session, request)


def person_of(viewer: Viewer, request: FormRequest) -> Person:
    return viewer.person(request.patient_id)


def signers(viewer: Viewer, person: Person) -> tuple[str, ...]:
    """The names a signature may be typed as: the person's own, and the account
    holder's when the holder answers for a family member."""
    if person.patient_id == viewer.holder.patient_id:
        return (person.name,)
    return (person.name, viewer.holder.name)


# --- pages ------------------------------------------------------------------------------


def answered(question: Question, answers: dict[str, Any]) -> bool:
    return answers.get(question.id) not in (None, "", [])


def page_done(questions: tuple[Question, ...], answers: dict[str, Any]) -> bool:
    """A page saved before, with every question it needs answered."""
    return all(q.id in answers for q in questions) and not rules.missing(questions, answers)


def resume_page(form: FormDefinition, answers: dict[str, Any]) -> int | None:
    """Where a form opens: the first page not yet fully answered (1 for a form not
    begun); None when every page is, and the form waits only to be reviewed and sent."""
    for number, questions in enumerate(form.pages(), start=1):
        if not page_done(questions, answers):
            return number
    return None


def page_of(form: FormDefinition, question_id: str) -> int:
    for number, questions in enumerate(form.pages(), start=1):
        if any(q.id == question_id for q in questions):
            return number
    return 1


def field_values(question: Question, value: Any) -> list[str]:
    """A stored answer as the page's field shows it again."""
    if value is None or value == "" or value == []:
        return []
    if question.kind is QuestionKind.SIGNATURE and isinstance(value, dict):
        return [str(value.get("name", ""))]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def words(question: Question, value: Any, zone: tzinfo) -> str:
    """An answer in words, for the review page and a sent form's answers (a signature
    with its day, on the clinic's calendar)."""
    if question.kind is QuestionKind.SIGNATURE and isinstance(value, dict):
        return rules.shown(question, value, zone)
    if value is None or value == "" or value == []:
        return "Not answered" if question.required else "Not answered (optional)"
    return rules.shown(question, value)


def required_words(question: Question) -> str:
    """What the page says beside a required question left empty, when the patient
    moves on from its page (``save_page`` says the same when the form is sent)."""
    if question.kind is QuestionKind.SIGNATURE:
        return "Type your full name to sign."
    if question.kind is QuestionKind.CHOICE:
        return "Choose an answer: this question needs one."
    return "This question needs an answer."
