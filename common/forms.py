"""Clinic forms: what a form may ask and what counts as an answer.

A clinic's admins build forms on the desk (intake questionnaires, consents, forms for one
kind of appointment); patients answer them in the portal. Both ends check a form's
questions with ``check_questions`` and an answer with ``check_answer``, so the builder
refuses at the desk exactly what the server would, and the portal says beside the field
what the server refused.

A form is versioned: publishing changes makes a new version, and an answered form keeps
the questions it was answered under, so what a patient agreed to is never rewritten.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from typing import Any

from common.errors import InvalidInput

MAX_QUESTIONS = 60
MAX_CHOICES = 20
LABEL_LENGTH = 300
HELP_LENGTH = 600
CHOICE_LENGTH = 120
TITLE_LENGTH = 120
ANSWER_LENGTH = 4000
QUESTIONS_PER_PAGE = 5
SCALE_LOW, SCALE_HIGH = 0, 10


class QuestionKind(StrEnum):
    TEXT = "text"
    CHOICE = "choice"
    SCALE = "scale"
    DATE = "date"
    SIGNATURE = "signature"

    @property
    def label(self) -> str:
        return {
            QuestionKind.TEXT: "Text",
            QuestionKind.CHOICE: "Choice",
            QuestionKind.SCALE: "Scale 0–10",
            QuestionKind.DATE: "Date",
            QuestionKind.SIGNATURE: "Signature (typed name)",
        }[self]


class FormKind(StrEnum):
    """When a form is sent. Intake and consent forms go to a patient once, with their
    first booking that matches; a service form goes with every matching booking."""

    INTAKE = "intake"
    CONSENT = "consent"
    SERVICE = "service"

    @property
    def label(self) -> str:
        return {
            FormKind.INTAKE: "Intake (once per patient)",
            FormKind.CONSENT: "Consent (once per patient)",
            FormKind.SERVICE: "For each appointment of its types",
        }[self]

    @property
    def once_per_patient(self) -> bool:
        return self is not FormKind.SERVICE


class FormStatus(StrEnum):
    PENDING = "pending"  # sent, not opened
    IN_PROGRESS = "in_progress"  # some answers saved
    COMPLETE = "complete"
    WITHDRAWN = "withdrawn"  # staff took it back

    @property
    def label(self) -> str:
        return {
            FormStatus.PENDING: "Not started",
            FormStatus.IN_PROGRESS: "Started",
            FormStatus.COMPLETE: "Complete",
            FormStatus.WITHDRAWN: "Withdrawn",
        }[self]


OPEN_STATUSES = (FormStatus.PENDING, FormStatus.IN_PROGRESS)


class FormInvalid(InvalidInput):
    """A refusal about one question (or one part of the form), so a form can say it
    beside that field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    kind: QuestionKind
    label: str
    help: str = ""
    required: bool = True
    choices: tuple[str, ...] = ()
    multiple: bool = False  # a choice question answered with any number of its choices

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind.value,
            "label": self.label,
            "help": self.help,
            "required": self.required,
        }
        if self.kind is QuestionKind.CHOICE:
            data["choices"] = list(self.choices)
            data["multiple"] = self.multiple
        return data


@dataclass(frozen=True, slots=True)
class FormDefinition:
    title: str
    kind: FormKind
    questions: tuple[Question, ...] = field(default_factory=tuple)

    def pages(self) -> list[tuple[Question, ...]]:
        """The questions a phone shows at a time: each page is saved before the next."""
        return [
            self.questions[start : start + QUESTIONS_PER_PAGE]
            for start in range(0, len(self.questions), QUESTIONS_PER_PAGE)
        ] or [()]

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


_ID = re.compile(r"[a-z0-9_-]{1,40}")


def _text(value: object, longest: int, what: str, field_name: str, *, empty: bool) -> str:
    if not isinstance(value, str):
        raise FormInvalid(field_name, f"{what} must be text.")
    cleaned = " ".join(value.split())
    if any(unicodedata.category(ch) == "Cc" for ch in cleaned):
        raise FormInvalid(field_name, f"{what} holds characters that cannot be shown.")
    if not cleaned and not empty:
        raise FormInvalid(field_name, f"{what} is empty: write it, or remove it.")
    if len(cleaned) > longest:
        raise FormInvalid(field_name, f"{what} is {len(cleaned)} characters; at most {longest}.")
    return cleaned


def check_title(title: object) -> str:
    return _text(title, TITLE_LENGTH, "The form's title", "title", empty=False)


def check_question(raw: dict[str, Any], number: int) -> Question:
    """One question from the builder (or a stored version), in the words the builder
    shows beside it."""
    where = f"Question {number}"
    field_name = f"q{number}"
    try:
        kind = QuestionKind(str(raw.get("kind", "")))
    except ValueError:
        raise FormInvalid(field_name, f"{where}: choose what kind of answer it takes.") from None
    question_id = raw.get("id")
    if not isinstance(question_id, str) or not _ID.fullmatch(question_id):
        raise FormInvalid(field_name, f"{where} has no usable id; remove it and add it again.")
    label = _text(raw.get("label", ""), LABEL_LENGTH, f"{where}'s wording", field_name, empty=False)
    help_text = _text(raw.get("help", ""), HELP_LENGTH, f"{where}'s hint", field_name, empty=True)
    choices: tuple[str, ...] = ()
    multiple = False
    if kind is QuestionKind.CHOICE:
        listed = raw.get("choices") or []
        if not isinstance(listed, list):
            raise FormInvalid(field_name, f"{where}: list its choices, one per line.")
        choices = tuple(
            _text(c, CHOICE_LENGTH, f"{where}: a choice", field_name, empty=False)
            for c in listed
            if not (isinstance(c, str) and not c.strip())
        )
        if len(choices) < 2:
            raise FormInvalid(field_name, f"{where} needs at least two choices, one per line.")
        if len(choices) > MAX_CHOICES:
            raise FormInvalid(
                field_name, f"{where} has {len(choices)} choices; at most {MAX_CHOICES}."
            )
        folded = [c.casefold() for c in choices]
        if len(set(folded)) != len(folded):
            raise FormInvalid(field_name, f"{where} lists the same choice twice.")
        multiple = bool(raw.get("multiple", False))
    required = bool(raw.get("required", True))
    if kind is QuestionKind.SIGNATURE:
        required = True  # an optional signature signs nothing
    return Question(question_id, kind, label, help_text, required, choices, multiple)


def check_questions(raw: object) -> tuple[Question, ...]:
    if not isinstance(raw, list) or not raw:
        raise FormInvalid("questions", "A form needs at least one question.")
    if len(raw) > MAX_QUESTIONS:
        raise FormInvalid("questions", f"A form holds at most {MAX_QUESTIONS} questions.")
    questions = []
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise FormInvalid(f"q{number}", f"Question {number} is not a question.")
        questions.append(check_question(item, number))
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise FormInvalid("questions", "Two questions share one id; remove one and add it again.")
    return tuple(questions)


def definition_of(title: str, kind: str, questions: list[dict[str, Any]]) -> FormDefinition:
    """A stored version as a definition (stored versions were checked when published)."""
    return FormDefinition(title, FormKind(kind), check_questions(questions))


# --- answers --------------------------------------------------------------------------------


def fold_name(name: str) -> str:
    """A typed name as compared for a signature: case, accents and spacing aside."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().replace("-", " ").split())


def parse_date(text: str) -> date:
    """A date as a phone's date picker sends it (2024-05-17) or as typed (17/05/2024)."""
    cleaned = text.strip()
    for pattern in (r"(\d{4})-(\d{1,2})-(\d{1,2})", r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})"):
        found = re.fullmatch(pattern, cleaned)
        if found is None:
            continue
        numbers = [int(part) for part in found.groups()]
        year, month, day = numbers if pattern.startswith(r"(\d{4})") else numbers[::-1]
        try:
            return date(year, month, day)
        except ValueError:
            raise InvalidInput(
                f"There is no such day as {cleaned}: check the day and month."
            ) from None
    raise InvalidInput(f"“{cleaned}” is not a date: write it like 17/05/2024.")


def check_answer(question: Question, raw: list[str], signers: tuple[str, ...] = ()) -> Any:
    """The stored value of one answer as the form sent it (a list: a field may repeat),
    or None when it was left empty. ``signers``: the names a signature may be typed as
    (the patient's, and the account holder's when they answer for a family member)."""
    values = [v.strip() for v in raw if isinstance(v, str) and v.strip()]
    if not values:
        return None
    try:
        return _value(question, values, signers)
    except FormInvalid:
        raise
    except InvalidInput as refused:
        raise FormInvalid(question.id, refused.message) from None


def _value(question: Question, values: list[str], signers: tuple[str, ...]) -> Any:
    match question.kind:
        case QuestionKind.TEXT:
            text = values[0].replace("\r\n", "\n")
            # Control characters (a pasted NUL, say) are dropped; lines and tabs stay.
            text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
            if len(text) > ANSWER_LENGTH:
                raise InvalidInput(
                    f"This answer is {len(text)} characters; at most {ANSWER_LENGTH}."
                )
            return text
        case QuestionKind.CHOICE:
            unknown = [v for v in values if v not in question.choices]
            if unknown:
                raise InvalidInput("Choose one of the answers listed.")
            if question.multiple:
                return [c for c in question.choices if c in values]
            if len(values) > 1:
                raise InvalidInput("Choose one answer only.")
            return values[0]
        case QuestionKind.SCALE:
            if not re.fullmatch(r"\d{1,2}", values[0]):
                raise InvalidInput(f"Choose a number from {SCALE_LOW} to {SCALE_HIGH}.")
            number = int(values[0])
            if not SCALE_LOW <= number <= SCALE_HIGH:
                raise InvalidInput(f"Choose a number from {SCALE_LOW} to {SCALE_HIGH}.")
            return number
        case QuestionKind.DATE:
            return parse_date(values[0]).isoformat()
        case QuestionKind.SIGNATURE:
            typed = " ".join(values[0].split())
            if signers and fold_name(typed) not in {fold_name(s) for s in signers}:
                names = " or ".join(signers)
                raise InvalidInput(f"To sign, type your full name as the clinic has it: {names}.")
            return typed


def missing(questions: tuple[Question, ...], answers: dict[str, Any]) -> list[Question]:
    """Required questions still without an answer."""
    return [q for q in questions if q.required and answers.get(q.id) in (None, "", [])]


def shown(question: Question, value: Any, zone: tzinfo = UTC) -> str:
    """An answer in words, for the desk and the review page (a signature with who
    signed, for whom, and when on ``zone``'s clock)."""
    if question.kind is QuestionKind.SIGNATURE and isinstance(value, dict):
        on_behalf = f" for {value['for']}" if value.get("for") else ""
        try:
            moment = datetime.fromisoformat(str(value.get("signed_at", "")))
            when = f" on {moment.astimezone(zone):%d/%m/%Y at %H:%M}"
        except ValueError:
            when = ""
        return f"Signed “{value.get('name', '')}”{on_behalf}{when}"
    if value is None or value == [] or value == "":
        return "—"
    if question.kind is QuestionKind.CHOICE and isinstance(value, list):
        return ", ".join(value)
    if question.kind is QuestionKind.DATE and isinstance(value, str):
        try:
            return date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    if question.kind is QuestionKind.SCALE:
        return f"{value} of {SCALE_HIGH}"
    return str(value)
