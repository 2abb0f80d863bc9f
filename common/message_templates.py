"""Message templates: what a clinic's texts and e-mails say, checked and filled in.

A clinic admin edits templates at the desk, which checks them and fills them with sample
facts as they type; the server fills the same templates with a real patient's facts when
it sends. Both run this module, so a template the desk accepted is one the server can send.

Templates are Jinja2, rendered in a sandbox and held to an allowlist on top of it: the
blanks of ``SCHEMA``, a few case filters, ``default``, ``{% if %}`` and comparisons —
nothing that calls, loops, assigns, reaches past those blanks or computes. The check walks the
parsed template itself, so a problem is named before anything is sent, in words a clinic
admin can act on. Filling in is strict: a blank with nothing to put in it stops the
message (``TemplateProblem``) rather than sending "Dear ,". Wrap a blank that may be
missing in ``{% if … %}``.

Dates and times are written in the clinic's time zone and language (the patient comes to
the clinic, so its clock is the one that matters).
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from common.errors import InvalidInput
from common.messaging import Channel, Purpose

# --- what a template may say ------------------------------------------------------------

# Declared once, nested as a template writes it (``patient.first_name``); the description
# is what the desk shows beside each name.
SCHEMA: dict[str, str | dict[str, str]] = {
    "patient": {
        "first_name": "the patient's first name",
        "last_name": "the patient's last name",
        "full_name": "the patient's first and last name",
    },
    "appointment": {
        "date": "the appointment's day, e.g. Tuesday 4 March",
        "time": "the appointment's start time, e.g. 13:45",
        "when": "the appointment's day and time",
        "provider": "who the appointment is with",
        "type": "the kind of appointment",
        "location": "where the appointment is",
    },
    "clinic": {
        "name": "the clinic's name",
        "phone": "the clinic's phone number",
        "email": "the clinic's e-mail address",
    },
    "link": "a web link for this message, e.g. to see or change the appointment",
    "reason": "why a booking request was turned down",
    "minutes_late": "how many minutes late the provider is running",
    "unsubscribe_link": "the link that stops these messages",
}


def _flat() -> dict[str, str]:
    flat: dict[str, str] = {}
    for top, entry in SCHEMA.items():
        if isinstance(entry, dict):
            flat.update({f"{top}.{field}": said for field, said in entry.items()})
        else:
            flat[top] = entry
    return flat


# The same, flat: every name a template may use ("patient.first_name", "link"…).
VARIABLES = _flat()
GROUPS: dict[str, tuple[str, ...]] = {
    top: tuple(entry) for top, entry in SCHEMA.items() if isinstance(entry, dict)
}

ALLOWED_FILTERS = ("upper", "lower", "title", "capitalize", "trim", "default")
ALLOWED_TESTS = ("defined", "undefined")

_EVERY_NAME = ", ".join(VARIABLES)


class TemplateProblem(InvalidInput):
    """A template that cannot be used, or cannot be filled in with the facts at hand.
    ``problems`` holds each reason; the message joins them."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems) or [message]


# --- the facts a message is filled with -------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatientFacts:
    first_name: str
    last_name: str


@dataclass(frozen=True, slots=True)
class AppointmentFacts:
    starts_at: datetime
    provider: str
    type_name: str
    location: str

    def __post_init__(self) -> None:
        if self.starts_at.tzinfo is None or self.starts_at.utcoffset() is None:
            raise ValueError("starts_at must be an aware datetime")


@dataclass(frozen=True, slots=True)
class ClinicFacts:
    name: str
    phone: str | None
    email: str | None
    time_zone: str
    language: str = "en"


@dataclass(frozen=True, slots=True)
class TemplateContext:
    """The values a template is filled with: each group (``patient``…) a mapping of its
    fields, each other variable a value. A fact that is not known is absent, never blank."""

    values: Mapping[str, object]

    def has(self, name: str) -> bool:
        group, _, field = name.partition(".")
        value = self.values.get(group)
        if not field:
            return value is not None
        return isinstance(value, Mapping) and field in value


def context_for(
    *,
    clinic: ClinicFacts,
    patient: PatientFacts | None = None,
    appointment: AppointmentFacts | None = None,
    link: str | None = None,
    reason: str | None = None,
    minutes_late: int | None = None,
    unsubscribe_link: str | None = None,
) -> TemplateContext:
    values: dict[str, object] = {
        "clinic": _present(name=clinic.name, phone=clinic.phone, email=clinic.email)
    }
    if patient is not None:
        full_name = " ".join(p.strip() for p in (patient.first_name, patient.last_name))
        values["patient"] = _present(
            first_name=patient.first_name, last_name=patient.last_name, full_name=full_name
        )
    if appointment is not None:
        words = _date_words(clinic.language)
        local = appointment.starts_at.astimezone(ZoneInfo(clinic.time_zone))
        day, clock = words.date(local), f"{local:%H:%M}"
        values["appointment"] = _present(
            date=day,
            time=clock,
            when=words.when.format(date=day, time=clock),
            provider=appointment.provider,
            type=appointment.type_name,
            location=appointment.location,
        )
    values.update(_present(link=link, reason=reason, unsubscribe_link=unsubscribe_link))
    if minutes_late is not None:
        values["minutes_late"] = minutes_late
    return TemplateContext(values)


def _present(**values: str | None) -> dict[str, str]:
    """Only the facts that say something: an empty one is left out, so a template that
    uses it stops instead of sending a blank."""
    return {key: value.strip() for key, value in values.items() if value and value.strip()}


@dataclass(frozen=True, slots=True)
class _DateWords:
    weekdays: str  # Monday first, separated by spaces
    months: str
    pattern: str  # {weekday}, {day}, {month}
    when: str  # {date}, {time}
    first_day: str = "1"

    def date(self, moment: datetime) -> str:
        day = self.first_day if moment.day == 1 else str(moment.day)
        return self.pattern.format(
            weekday=self.weekdays.split()[moment.weekday()],
            day=day,
            month=self.months.split()[moment.month - 1],
        )


_DATE_WORDS = {
    "en": _DateWords(
        "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
        "January February March April May June July August September October November December",
        "{weekday} {day} {month}",
        "{date} at {time}",
    ),
    "de": _DateWords(
        "Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag",
        "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
        "{weekday}, {day}. {month}",
        "{date} um {time}",
    ),
    "fr": _DateWords(
        "lundi mardi mercredi jeudi vendredi samedi dimanche",
        "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
        "{weekday} {day} {month}",
        "{date} à {time}",
        first_day="1er",
    ),
    "es": _DateWords(
        "lunes martes miércoles jueves viernes sábado domingo",
        "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
        "{weekday} {day} de {month}",
        "{date} a las {time}",
    ),
}
LANGUAGES = tuple(_DATE_WORDS)


def language_of(code: str) -> str:
    """The language we write for a clinic's language code ("de-AT" → "de"); English for
    one we have no words in."""
    primary = code.strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in _DATE_WORDS else "en"


def _date_words(code: str) -> _DateWords:
    return _DATE_WORDS[language_of(code)]


# Sample facts, for the desk's preview while a template is written.
SAMPLE_PATIENT = PatientFacts("Alex", "Morgan")
SAMPLE_CLINIC = ClinicFacts(
    "Brook Street Clinic", "020 7946 0000", "hello@brookstreet.example", "Europe/London"
)


_SAMPLE_REASONS = {
    "en": "Dr Shah is away that week.",
    "de": "Dr. Shah ist in dieser Woche nicht da.",
    "fr": "Le Dr Shah est absent cette semaine-là.",
    "es": "La doctora Shah no pasa consulta esa semana.",
}


def sample_context(clinic: ClinicFacts = SAMPLE_CLINIC) -> TemplateContext:
    """Every blank filled, with the clinic's own details when given: the sample visit is
    on a Tuesday at 13:45 by the clinic's clock, the sample reason in its language."""
    starts_at = datetime(2025, 3, 4, 13, 45, tzinfo=ZoneInfo(clinic.time_zone))
    return context_for(
        clinic=clinic,
        patient=SAMPLE_PATIENT,
        appointment=AppointmentFacts(starts_at, "Dr Priya Shah", "Follow-up", "Room 2"),
        link="https://brookstreet.example/a/7Kq2",
        reason=_SAMPLE_REASONS[language_of(clinic.language)],
        minutes_late=15,
        unsubscribe_link="https://brookstreet.example/u/7Kq2",
    )


SAMPLE = sample_context()


# --- checking ---------------------------------------------------------------------------


def _environment() -> SandboxedEnvironment:
    """The sandbox, stripped to the allowlist: even a template that skipped the check
    could reach no global and no other filter or test."""
    env = SandboxedEnvironment(
        undefined=_Missing, autoescape=False, trim_blocks=True, lstrip_blocks=True
    )
    env.filters = {name: env.filters[name] for name in ALLOWED_FILTERS}
    env.tests = {name: env.tests[name] for name in ALLOWED_TESTS}
    env.globals.clear()
    return env


class _Missing(StrictUndefined):
    """Strict everywhere except in a condition: ``{% if link %}`` is how a template says
    "only when there is one", so a missing fact reads as false there."""

    __slots__ = ()

    def __bool__(self) -> bool:  # type: ignore[override]  # deliberately not strict here
        return False


_ENV = _environment()


@dataclass(frozen=True, slots=True)
class _Inspection:
    problems: tuple[str, ...]
    references: tuple[str, ...]  # the variables used, in order of first use


def check(subject: str | None, body: str, *, channel: Channel | None = None) -> list[str]:
    """Every reason the template cannot be used, in words; empty when it is fine.

    ``subject`` is None for a text message. Given the channel, an e-mail without a subject
    is refused as well.
    """
    problems: list[str] = []
    if not body.strip():
        problems.append("The message is empty: write what the patient should read.")
    if channel is Channel.EMAIL and not (subject and subject.strip()):
        problems.append("An e-mail needs a subject.")
    if subject is not None:
        problems += _inspect(subject, "subject").problems
    problems += _inspect(body, "message").problems
    return problems


def used_variables(subject: str | None, body: str) -> frozenset[str]:
    """The variables a (checked) template uses: the sender need only work out those, e.g.
    make a link only for a template that shows one."""
    sources = (subject, body) if subject is not None else (body,)
    return frozenset(name for source in sources for name in _inspect(source, "message").references)


@lru_cache(maxsize=512)
def _inspect(source: str, where: str) -> _Inspection:
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as error:
        return _Inspection((_syntax_words(error, where),), ())
    inspector = _Inspector(where)
    inspector.visit(tree)
    return _Inspection(tuple(inspector.problems.values()), tuple(inspector.references))


_SYNTAX_WORDS = (
    ("expected 'end of print statement'", "a “{{” is never closed with “}}”"),
    ("unexpected '}'", "a blank must end with two braces, “}}”"),
    ("The innermost block that needs to be closed is 'if'", "an “{% if %}” has no “{% endif %}”"),
    ("unknown tag 'endif'", "an “{% endif %}” has no “{% if %}” before it"),
    ("unknown tag 'else'", "an “{% else %}” has no “{% if %}” before it"),
    ("unknown tag 'elif'", "an “{% elif %}” has no “{% if %}” before it"),
    ("Expected an expression", "a “{{ }}” or “{% if %}” has nothing inside"),
    ("Missing end of comment tag", "a comment “{#” is never closed with “#}”"),
    ("unexpected char", "a quote or sign inside “{{ }}” is not closed or not allowed"),
    ("Encountered unknown tag", "“{% … %}” holds something a message cannot use"),
)


def _syntax_words(error: TemplateSyntaxError, where: str) -> str:
    said = error.message or ""
    words = next((mine for theirs, mine in _SYNTAX_WORDS if theirs in said), None)
    head = "The subject" if where == "subject" else f"Line {error.lineno} of the {where}"
    if words is None:
        return (
            f"{head} cannot be read: {said.rstrip('.')}. Check that every “{{{{” has its "
            "“}}” and every “{% if %}” its “{% endif %}”."
        )
    return f"{head} cannot be read: {words}."


def _place(lineno: int, where: str) -> str:
    return "in the subject" if where == "subject" else f"line {lineno}"


# What each refused construct is called when a template uses it.
_REFUSED: tuple[tuple[type[nodes.Node], str], ...] = (
    (nodes.For, "A loop (“{% for %}”)"),
    (nodes.Macro, "A macro"),
    (nodes.CallBlock, "A call block"),
    (nodes.Call, "Calling something (“( )”)"),
    (nodes.Assign, "Setting a value (“{% set %}”)"),
    (nodes.AssignBlock, "Setting a value (“{% set %}”)"),
    (nodes.Extends, "Building on another template"),
    (nodes.Include, "Including another template"),
    (nodes.Import, "Importing another template"),
    (nodes.FromImport, "Importing another template"),
    (nodes.Block, "A block (“{% block %}”)"),
    (nodes.With, "“{% with %}”"),
    (nodes.FilterBlock, "A filter block"),
    (nodes.Getitem, "Square brackets (write patient.first_name)"),
    (nodes.Slice, "Square brackets"),
    (nodes.BinExpr, "Arithmetic"),
    (nodes.UnaryExpr, "Arithmetic"),
    (nodes.Tuple, "A list of values"),
    (nodes.List, "A list of values"),
    (nodes.Dict, "A list of values"),
    (nodes.EvalContextModifier, "“{% autoescape %}”"),
)
# Nodes that only hold others: allowed when everything inside them is.
_STRUCTURE = (
    nodes.Template,
    nodes.Scope,  # holds what {% autoescape %} changes, refused in its own words
    nodes.Output,
    nodes.If,
    nodes.CondExpr,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Compare,
    nodes.Operand,
    nodes.Concat,
    nodes.Keyword,
    nodes.Const,
)
_SINGLE_BRACES = re.compile(r"(?<!\{)\{\s*([a-z_]+(?:\.[a-z_]+)?)\s*\}(?!\})")


class _Inspector:
    """Walks a parsed template, noting each use of a variable and each thing refused."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.problems: dict[str, str] = {}  # each problem said once, at its first line
        self.references: dict[str, None] = {}

    def visit(self, node: nodes.Node) -> None:
        if isinstance(node, nodes.Name):
            self._variable(node, node.name)
        elif isinstance(node, nodes.Getattr):
            self._attribute(node)
        elif isinstance(node, nodes.Filter | nodes.Test):
            self._filter_or_test(node)
        elif isinstance(node, nodes.TemplateData):
            self._text(node)
        elif isinstance(node, _STRUCTURE):
            for child in node.iter_child_nodes():
                self.visit(child)
        else:
            what = next((w for kind, w in _REFUSED if isinstance(node, kind)), None)
            self._refuse(node, f"{what or type(node).__name__} cannot be used in a message")

    def _variable(self, node: nodes.Node, name: str) -> None:
        if name in VARIABLES:
            self.references[name] = None
        elif name in GROUPS:
            fields = " or ".join(f"{name}.{field}" for field in GROUPS[name])
            self._refuse(node, f"“{{{{ {name} }}}}” is a group, not a value: use {fields}")
        else:
            close = difflib.get_close_matches(name, VARIABLES, n=1, cutoff=0.75)
            hint = f" Did you mean “{{{{ {close[0]} }}}}”?" if close else ""
            self._refuse(
                node,
                f"“{{{{ {name} }}}}” is not something a message can include",
                f"{hint} You can use: {_EVERY_NAME}.",
            )

    def _attribute(self, node: nodes.Getattr) -> None:
        dotted = _dotted(node)
        if dotted is None:
            self._refuse(node, f"“.{node.attr}” cannot be used in a message")
        else:
            self._variable(node, dotted)

    def _filter_or_test(self, node: nodes.Filter | nodes.Test) -> None:
        allowed: tuple[str, ...]
        if isinstance(node, nodes.Filter):
            allowed, sign = ALLOWED_FILTERS, "|"
        else:
            allowed, sign = ALLOWED_TESTS, "is"
        if node.name not in allowed:
            choices = ", ".join(f"{sign} {name}" for name in allowed)
            self._refuse(
                node,
                f"“{sign} {node.name}” cannot be used in a message",
                f" You can use: {choices}.",
            )
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            self._refuse(node, "“*” and “**” cannot be used in a message")
        for child in (node.node, *node.args, *node.kwargs):
            if child is not None:
                self.visit(child)

    def _text(self, node: nodes.TemplateData) -> None:
        """Plain text is sent as written; catch the blanks that were meant but mistyped."""
        for match in _SINGLE_BRACES.finditer(node.data):
            name = match.group(1)
            if name in VARIABLES or name in GROUPS:
                self._refuse(
                    node,
                    f"“{match.group(0)}” would be sent as it is: a blank needs two braces on "
                    f"each side, “{{{{ {name} }}}}”",
                )
        if "}}" in node.data:
            self._refuse(node, "“}}” closes a blank that was never opened with “{{”")

    def _refuse(self, node: nodes.Node, text: str, after: str = "") -> None:
        place = f" ({_place(node.lineno, self.where)})" if node.lineno else ""
        self.problems.setdefault(text + after, f"{text}{place}.{after}")


def _dotted(node: nodes.Node) -> str | None:
    """``patient.first_name`` for a chain of attributes on a name, else None."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        base = _dotted(node.node)
        return None if base is None else f"{base}.{node.attr}"
    return None


# --- filling in -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rendered:
    """A filled-in message: ``subject`` for e-mail only; ``html`` from ``render_html``."""

    subject: str | None
    text: str
    html: str | None = None


def render(subject: str | None, body: str, context: TemplateContext) -> Rendered:
    """The message as the patient reads it, as plain text (a text message, or the plain
    part of an e-mail). Raises ``TemplateProblem`` for a template that fails the check or
    a blank with nothing to fill it."""
    problems = check(subject, body)
    if problems:
        raise TemplateProblem(" ".join(problems), problems)
    text = _tidy(_fill(body, "message", context))
    if not text:
        raise TemplateProblem("The message came out empty with these facts.")
    if subject is None:
        return Rendered(None, text)
    # A subject is one line: a line break in it could start a new mail header.
    filled_subject = " ".join(_fill(subject, "subject", context).split())
    if not filled_subject:
        raise TemplateProblem("The subject came out empty with these facts.")
    return Rendered(filled_subject, text)


def render_html(subject: str | None, body: str, context: TemplateContext) -> Rendered:
    """``render``, plus the body as simple HTML for an e-mail: paragraphs at blank lines,
    line breaks within them, web addresses as links. The clinic writes plain text, so all
    of it is escaped — the admin's words and every filled-in value alike — and nothing in a
    patient's name or a reason can become markup."""
    rendered = render(subject, body, context)
    return Rendered(rendered.subject, rendered.text, _as_html(rendered.text))


def _fill(source: str, where: str, context: TemplateContext) -> str:
    try:
        return _compiled(source).render(context.values)
    except UndefinedError:
        missing = [n for n in _inspect(source, where).references if not context.has(n)]
        raise TemplateProblem(_missing_words(missing, where)) from None
    except SecurityError:  # the check refuses all of it first; this is the last wall
        raise TemplateProblem(f"The {where} uses something a message may not.") from None
    except (TypeError, ValueError) as error:  # only a comparison can go wrong this way
        raise TemplateProblem(
            f"The {where} could not be filled in: it compares values that cannot be compared "
            f"({error})."
        ) from None


@lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    return _ENV.from_string(source)


def _missing_words(missing: list[str], where: str) -> str:
    if not missing:
        return f"The {where} has a blank with nothing to fill it, so it cannot be sent."
    shown = " and ".join(f"“{{{{ {name} }}}}” ({VARIABLES[name]})" for name in missing)
    first = missing[0]
    return (
        f"There is nothing to put in {shown} for this message, and a message is never sent "
        f"with a blank. If it may be missing, put it inside “{{% if {first} %}}…{{% endif %}}”."
    )


def _tidy(text: str) -> str:
    """No trailing spaces, at most one empty line in a row, nothing around the whole: what
    optional parts leave behind when they are left out."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


_WEB_ADDRESS = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]]")


def _as_html(text: str) -> str:
    paragraphs = re.split(r"\n\s*\n", text)
    return "\n".join(
        "<p>" + "<br>\n".join(_line_html(line) for line in paragraph.split("\n")) + "</p>"
        for paragraph in paragraphs
    )


def _line_html(line: str) -> str:
    out, last = [], 0
    for match in _WEB_ADDRESS.finditer(line):
        address = html.escape(match.group(0))
        out += [html.escape(line[last : match.start()]), f'<a href="{address}">{address}</a>']
        last = match.end()
    out.append(html.escape(line[last:]))
    return "".join(out)


# --- the defaults -------------------------------------------------------------------------


class CommunicationType(StrEnum):
    """The messages a clinic sends about appointments, each with its default wording."""

    CONFIRMATION = "confirmation"
    REMINDER = "reminder"  # 48 hours before
    DAY_OF = "day_of"
    RUNNING_LATE = "running_late"
    POST_VISIT = "post_visit"
    REQUEST_CONFIRMED = "request_confirmed"
    REQUEST_REJECTED = "request_rejected"

    @property
    def label(self) -> str:
        return {
            "confirmation": "Booking confirmation",
            "reminder": "Reminder (48 hours before)",
            "day_of": "On the day",
            "running_late": "Running late",
            "post_visit": "After the visit",
            "request_confirmed": "Booking request confirmed",
            "request_rejected": "Booking request rejected",
        }[self.value]

    @property
    def purpose(self) -> Purpose:
        """Reminders are held by quiet hours and may be refused on their own; the rest is
        about the patient's care."""
        if self in (CommunicationType.REMINDER, CommunicationType.DAY_OF):
            return Purpose.REMINDER
        return Purpose.CARE


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    subject: str | None  # e-mail only
    body: str


@dataclass(frozen=True, slots=True)
class DefaultTemplate:
    purpose: Purpose
    sms: MessageTemplate
    email: MessageTemplate

    def for_channel(self, channel: Channel) -> MessageTemplate:
        return self.sms if channel is Channel.SMS else self.email


# Pieces every language shares.
_WHERE = "{% if appointment.location %} ({{ appointment.location }}){% endif %}"


def _signature(closing: str) -> str:
    return (
        f"\n\n{closing}\n{{{{ clinic.name }}}}\n"
        "{% if clinic.phone %}\n{{ clinic.phone }}\n{% endif %}\n"
        "{% if clinic.email %}\n{{ clinic.email }}\n{% endif %}\n"
    )


def _optional(sentence: str) -> str:
    """A paragraph shown only when there is a link; ``{}`` stands for it."""
    return "{% if link %}\n\n" + sentence.format("{{ link }}") + "\n{% endif %}\n"


_Texts = tuple[str, str, str]  # SMS body, e-mail subject, e-mail body

_ENGLISH: dict[CommunicationType, _Texts] = {
    CommunicationType.CONFIRMATION: (
        "{{ clinic.name }}: Hi {{ patient.first_name }}, your appointment with "
        f"{{{{ appointment.provider }}}} is booked for {{{{ appointment.when }}}}{_WHERE}."
        "{% if link %} Details: {{ link }}{% endif %}",
        "Your appointment at {{ clinic.name }} on {{ appointment.date }}",
        "Dear {{ patient.first_name }},\n\nYour appointment with {{ appointment.provider }} "
        f"is booked for {{{{ appointment.when }}}}{_WHERE}.\n"
        + _optional("To see or change it: {}")
        + "\nIf you cannot come, please let us know as soon as you can.",
    ),
    CommunicationType.REMINDER: (
        "{{ clinic.name }}: reminder of your appointment with {{ appointment.provider }} on "
        f"{{{{ appointment.when }}}}{_WHERE}."
        "{% if link %} Change or cancel: {{ link }}"
        "{% elif clinic.phone %} Can't come? Call {{ clinic.phone }}.{% endif %}",
        "Reminder: your appointment at {{ clinic.name }} on {{ appointment.date }}",
        "Dear {{ patient.first_name }},\n\nThis is a reminder of your appointment with "
        f"{{{{ appointment.provider }}}} on {{{{ appointment.when }}}}{_WHERE}.\n"
        + _optional("To change or cancel it: {}")
        + "\nIf you cannot come, please let us know soon, so that someone else can have "
        "the time.",
    ),
    CommunicationType.DAY_OF: (
        "{{ clinic.name }}: see you today at {{ appointment.time }} with "
        f"{{{{ appointment.provider }}}}{_WHERE}.",
        "Today at {{ appointment.time }}: your appointment at {{ clinic.name }}",
        "Dear {{ patient.first_name }},\n\nWe look forward to seeing you today at "
        f"{{{{ appointment.time }}}} with {{{{ appointment.provider }}}}{_WHERE}.\n\n"
        "If you cannot come after all, please let us know.",
    ),
    CommunicationType.RUNNING_LATE: (
        "{{ clinic.name }}: sorry, {{ appointment.provider }} is running about "
        "{{ minutes_late }} minutes late. Your {{ appointment.time }} appointment will start "
        "a little later.",
        "{{ clinic.name }}: {{ appointment.provider }} is running late today",
        "Dear {{ patient.first_name }},\n\nWe are sorry: {{ appointment.provider }} is "
        "running about {{ minutes_late }} minutes late today, so your appointment at "
        "{{ appointment.time }} will start a little later than planned.\n\n"
        "We will see you as soon as we can.",
    ),
    CommunicationType.POST_VISIT: (
        "{{ clinic.name }}: thank you for your visit today, {{ patient.first_name }}."
        "{% if clinic.phone %} Questions about your care? Call {{ clinic.phone }}.{% endif %}",
        "Thank you for your visit to {{ clinic.name }}",
        "Dear {{ patient.first_name }},\n\nThank you for your visit today with "
        "{{ appointment.provider }}.\n"
        + _optional("More about your visit: {}")
        + "\nIf you have any questions about your care, please get in touch.",
    ),
    CommunicationType.REQUEST_CONFIRMED: (
        "{{ clinic.name }}: your booking request is confirmed: {{ appointment.when }} with "
        f"{{{{ appointment.provider }}}}{_WHERE}.{{% if link %}} Details: {{{{ link }}}}"
        "{% endif %}",
        "{{ clinic.name }}: your appointment on {{ appointment.date }} is confirmed",
        "Dear {{ patient.first_name }},\n\nThank you for your request. Your appointment with "
        f"{{{{ appointment.provider }}}} is confirmed for {{{{ appointment.when }}}}{_WHERE}.\n"
        + _optional("To see or change it: {}"),
    ),
    CommunicationType.REQUEST_REJECTED: (
        "{{ clinic.name }}: sorry, we cannot book your request for {{ appointment.when }}. "
        "{{ reason }}{% if clinic.phone %} Please call {{ clinic.phone }} to find another "
        "time.{% endif %}",
        "{{ clinic.name }}: your booking request",
        "Dear {{ patient.first_name }},\n\nThank you for your request for an appointment "
        "with {{ appointment.provider }} on {{ appointment.when }}. We are sorry, but we "
        "cannot book it:\n\n{{ reason }}\n\n"
        "Please get in touch and we will find another time with you.",
    ),
}

_GERMAN: dict[CommunicationType, _Texts] = {
    CommunicationType.CONFIRMATION: (
        "{{ clinic.name }}: Hallo {{ patient.first_name }}, Ihr Termin bei "
        f"{{{{ appointment.provider }}}} ist gebucht: {{{{ appointment.when }}}}{_WHERE}."
        "{% if link %} Details: {{ link }}{% endif %}",
        "Ihr Termin bei {{ clinic.name }} am {{ appointment.date }}",
        "Guten Tag {{ patient.full_name }},\n\nIhr Termin bei {{ appointment.provider }} ist "
        f"gebucht: {{{{ appointment.when }}}}{_WHERE}.\n"
        + _optional("Hier können Sie ihn ansehen oder ändern: {}")
        + "\nWenn Sie nicht kommen können, sagen Sie bitte so früh wie möglich ab.",
    ),
    CommunicationType.REMINDER: (
        "{{ clinic.name }}: Erinnerung an Ihren Termin bei {{ appointment.provider }} am "
        f"{{{{ appointment.when }}}}{_WHERE}."
        "{% if link %} Ändern oder absagen: {{ link }}"
        "{% elif clinic.phone %} Absagen? Tel. {{ clinic.phone }}{% endif %}",
        "Erinnerung: Ihr Termin bei {{ clinic.name }} am {{ appointment.date }}",
        "Guten Tag {{ patient.full_name }},\n\nwir erinnern Sie an Ihren Termin bei "
        f"{{{{ appointment.provider }}}} am {{{{ appointment.when }}}}{_WHERE}.\n"
        + _optional("Termin ändern oder absagen: {}")
        + "\nWenn Sie nicht kommen können, sagen Sie bitte rechtzeitig ab, damit jemand "
        "anderes den Termin bekommen kann.",
    ),
    CommunicationType.DAY_OF: (
        "{{ clinic.name }}: Ihr Termin ist heute um {{ appointment.time }} bei "
        f"{{{{ appointment.provider }}}}{_WHERE}. Wir freuen uns auf Sie.",
        "Heute um {{ appointment.time }}: Ihr Termin bei {{ clinic.name }}",
        "Guten Tag {{ patient.full_name }},\n\nIhr Termin ist heute um "
        f"{{{{ appointment.time }}}} bei {{{{ appointment.provider }}}}{_WHERE}. Wir freuen "
        "uns auf Sie.\n\nWenn Sie doch nicht kommen können, geben Sie uns bitte Bescheid.",
    ),
    CommunicationType.RUNNING_LATE: (
        "{{ clinic.name }}: Entschuldigung, {{ appointment.provider }} hat heute etwa "
        "{{ minutes_late }} Minuten Verspätung. Ihr Termin um {{ appointment.time }} beginnt "
        "etwas später.",
        "{{ clinic.name }}: {{ appointment.provider }} hat heute Verspätung",
        "Guten Tag {{ patient.full_name }},\n\nes tut uns leid: {{ appointment.provider }} "
        "hat heute etwa {{ minutes_late }} Minuten Verspätung. Ihr Termin um "
        "{{ appointment.time }} beginnt daher etwas später als geplant.\n\n"
        "Wir sind so bald wie möglich für Sie da.",
    ),
    CommunicationType.POST_VISIT: (
        "{{ clinic.name }}: Vielen Dank für Ihren Besuch heute, {{ patient.first_name }}."
        "{% if clinic.phone %} Fragen zu Ihrer Behandlung? Tel. {{ clinic.phone }}{% endif %}",
        "Vielen Dank für Ihren Besuch bei {{ clinic.name }}",
        "Guten Tag {{ patient.full_name }},\n\nvielen Dank für Ihren Besuch heute bei "
        "{{ appointment.provider }}.\n"
        + _optional("Mehr zu Ihrem Besuch: {}")
        + "\nWenn Sie Fragen zu Ihrer Behandlung haben, melden Sie sich gern bei uns.",
    ),
    CommunicationType.REQUEST_CONFIRMED: (
        "{{ clinic.name }}: Ihre Terminanfrage ist bestätigt: {{ appointment.when }} bei "
        f"{{{{ appointment.provider }}}}{_WHERE}.{{% if link %}} Details: {{{{ link }}}}"
        "{% endif %}",
        "{{ clinic.name }}: Ihr Termin am {{ appointment.date }} ist bestätigt",
        "Guten Tag {{ patient.full_name }},\n\nvielen Dank für Ihre Anfrage. Ihr Termin bei "
        f"{{{{ appointment.provider }}}} ist bestätigt: {{{{ appointment.when }}}}{_WHERE}.\n"
        + _optional("Hier können Sie ihn ansehen oder ändern: {}"),
    ),
    CommunicationType.REQUEST_REJECTED: (
        "{{ clinic.name }}: Leider können wir Ihre Anfrage für {{ appointment.when }} nicht "
        "buchen. {{ reason }}{% if clinic.phone %} Rufen Sie uns an: {{ clinic.phone }}"
        "{% endif %}",
        "{{ clinic.name }}: Ihre Terminanfrage",
        "Guten Tag {{ patient.full_name }},\n\nvielen Dank für Ihre Anfrage für einen Termin "
        "bei {{ appointment.provider }} am {{ appointment.when }}. Leider können wir ihn "
        "nicht buchen:\n\n{{ reason }}\n\n"
        "Bitte melden Sie sich, dann finden wir gemeinsam einen anderen Termin.",
    ),
}

# The French and Spanish texts avoid letters outside the GSM alphabet where a natural
# wording allows, since one such letter halves what a text message holds.
_FRENCH: dict[CommunicationType, _Texts] = {
    CommunicationType.CONFIRMATION: (
        "{{ clinic.name }} : Bonjour {{ patient.first_name }}, votre rendez-vous avec "
        f"{{{{ appointment.provider }}}} est confirmé pour le {{{{ appointment.when }}}}{_WHERE}."
        "{% if link %} Détails : {{ link }}{% endif %}",
        "Votre rendez-vous chez {{ clinic.name }} le {{ appointment.date }}",
        "Bonjour {{ patient.first_name }},\n\nVotre rendez-vous avec {{ appointment.provider }} "
        f"est confirmé pour le {{{{ appointment.when }}}}{_WHERE}.\n"
        + _optional("Pour le consulter ou le modifier : {}")
        + "\nSi vous ne pouvez pas venir, merci de nous prévenir le plus tôt possible.",
    ),
    CommunicationType.REMINDER: (
        "{{ clinic.name }} : rappel de votre rendez-vous avec {{ appointment.provider }} le "
        f"{{{{ appointment.when }}}}{_WHERE}."
        "{% if link %} Modifier ou annuler : {{ link }}"
        "{% elif clinic.phone %} Pour annuler, appelez le {{ clinic.phone }}.{% endif %}",
        "Rappel : votre rendez-vous chez {{ clinic.name }} le {{ appointment.date }}",
        "Bonjour {{ patient.first_name }},\n\nNous vous rappelons votre rendez-vous avec "
        f"{{{{ appointment.provider }}}} le {{{{ appointment.when }}}}{_WHERE}.\n"
        + _optional("Pour le modifier ou l'annuler : {}")
        + "\nSi vous ne pouvez pas venir, merci de nous prévenir au plus vite afin de "
        "libérer la place pour un autre patient.",
    ),
    CommunicationType.DAY_OF: (
        "{{ clinic.name }} : votre rendez-vous est aujourd'hui à {{ appointment.time }} avec "
        f"{{{{ appointment.provider }}}}{_WHERE}. Nous vous attendons.",
        "Aujourd'hui à {{ appointment.time }} : votre rendez-vous chez {{ clinic.name }}",
        "Bonjour {{ patient.first_name }},\n\nNous vous attendons aujourd'hui à "
        f"{{{{ appointment.time }}}} avec {{{{ appointment.provider }}}}{_WHERE}.\n\n"
        "Si vous ne pouvez finalement pas venir, merci de nous prévenir.",
    ),
    CommunicationType.RUNNING_LATE: (
        "{{ clinic.name }} : {{ appointment.provider }} a environ {{ minutes_late }} minutes "
        "de retard aujourd'hui. Votre rendez-vous de {{ appointment.time }} commencera un "
        "peu plus tard. Merci de votre patience.",
        "{{ clinic.name }} : {{ appointment.provider }} a du retard aujourd'hui",
        "Bonjour {{ patient.first_name }},\n\nNous sommes désolés : {{ appointment.provider }} "
        "a environ {{ minutes_late }} minutes de retard aujourd'hui. Votre rendez-vous de "
        "{{ appointment.time }} commencera donc un peu plus tard que prévu.\n\n"
        "Nous vous recevrons dès que possible.",
    ),
    CommunicationType.POST_VISIT: (
        "{{ clinic.name }} : merci de votre visite aujourd'hui, {{ patient.first_name }}."
        "{% if clinic.phone %} Une question sur vos soins ? Appelez le {{ clinic.phone }}."
        "{% endif %}",
        "Merci de votre visite chez {{ clinic.name }}",
        "Bonjour {{ patient.first_name }},\n\nMerci de votre visite aujourd'hui avec "
        "{{ appointment.provider }}.\n"
        + _optional("Plus d'informations sur votre visite : {}")
        + "\nSi vous avez des questions sur vos soins, n'hésitez pas à nous contacter.",
    ),
    CommunicationType.REQUEST_CONFIRMED: (
        "{{ clinic.name }} : votre demande de rendez-vous est acceptée : le "
        f"{{{{ appointment.when }}}} avec {{{{ appointment.provider }}}}{_WHERE}."
        "{% if link %} Détails : {{ link }}{% endif %}",
        "{{ clinic.name }} : votre rendez-vous du {{ appointment.date }} est confirmé",
        "Bonjour {{ patient.first_name }},\n\nMerci pour votre demande. Votre rendez-vous avec "
        f"{{{{ appointment.provider }}}} est confirmé pour le {{{{ appointment.when }}}}{_WHERE}.\n"
        + _optional("Pour le consulter ou le modifier : {}"),
    ),
    CommunicationType.REQUEST_REJECTED: (
        "{{ clinic.name }} : désolés, nous ne pouvons pas accepter votre demande pour le "
        "{{ appointment.when }}. {{ reason }}{% if clinic.phone %} Appelez-nous au "
        "{{ clinic.phone }}.{% endif %}",
        "{{ clinic.name }} : votre demande de rendez-vous",
        "Bonjour {{ patient.first_name }},\n\nMerci pour votre demande de rendez-vous avec "
        "{{ appointment.provider }} le {{ appointment.when }}. Nous sommes désolés, mais nous "
        "ne pouvons pas l'accepter :\n\n{{ reason }}\n\n"
        "Contactez-nous et nous trouverons ensemble un autre créneau.",
    ),
}

_SPANISH: dict[CommunicationType, _Texts] = {
    CommunicationType.CONFIRMATION: (
        "{{ clinic.name }}: Hola {{ patient.first_name }}, su cita con "
        "{{ appointment.provider }} queda reservada para el "
        f"{{{{ appointment.when }}}}{_WHERE}.{{% if link %}} Detalles: {{{{ link }}}}"
        "{% endif %}",
        "Su cita en {{ clinic.name }} el {{ appointment.date }}",
        "Hola, {{ patient.first_name }}:\n\nSu cita con {{ appointment.provider }} queda "
        f"reservada para el {{{{ appointment.when }}}}{_WHERE}.\n"
        + _optional("Para verla o cambiarla: {}")
        + "\nSi no puede venir, avísenos lo antes posible.",
    ),
    CommunicationType.REMINDER: (
        "{{ clinic.name }}: le recordamos su cita con {{ appointment.provider }} el "
        f"{{{{ appointment.when }}}}{_WHERE}."
        "{% if link %} Cambiar o cancelar: {{ link }}"
        "{% elif clinic.phone %} Si no puede venir, llame al {{ clinic.phone }}.{% endif %}",
        "Recordatorio: su cita en {{ clinic.name }} el {{ appointment.date }}",
        "Hola, {{ patient.first_name }}:\n\nLe recordamos su cita con "
        f"{{{{ appointment.provider }}}} el {{{{ appointment.when }}}}{_WHERE}.\n"
        + _optional("Para cambiarla o cancelarla: {}")
        + "\nSi no puede venir, avísenos cuanto antes para que otra persona pueda "
        "aprovechar la hora.",
    ),
    CommunicationType.DAY_OF: (
        "{{ clinic.name }}: su cita es hoy a las {{ appointment.time }} con "
        f"{{{{ appointment.provider }}}}{_WHERE}. Le esperamos.",
        "Hoy a las {{ appointment.time }}: su cita en {{ clinic.name }}",
        "Hola, {{ patient.first_name }}:\n\nLe esperamos hoy a las {{ appointment.time }} "
        f"con {{{{ appointment.provider }}}}{_WHERE}.\n\n"
        "Si finalmente no puede venir, avísenos, por favor.",
    ),
    CommunicationType.RUNNING_LATE: (
        "{{ clinic.name }}: lo sentimos, {{ appointment.provider }} lleva unos "
        "{{ minutes_late }} minutos de retraso hoy. Su cita de las {{ appointment.time }} se "
        "retrasa un poco. Gracias por su paciencia.",
        "{{ clinic.name }}: {{ appointment.provider }} lleva retraso hoy",
        "Hola, {{ patient.first_name }}:\n\nLo sentimos: {{ appointment.provider }} lleva "
        "unos {{ minutes_late }} minutos de retraso hoy, así que su cita de las "
        "{{ appointment.time }} empezará un poco más tarde de lo previsto.\n\n"
        "Le atenderemos lo antes posible.",
    ),
    CommunicationType.POST_VISIT: (
        "{{ clinic.name }}: gracias por su visita de hoy, {{ patient.first_name }}."
        "{% if clinic.phone %} ¿Dudas sobre su tratamiento? Llame al {{ clinic.phone }}."
        "{% endif %}",
        "Gracias por su visita a {{ clinic.name }}",
        "Hola, {{ patient.first_name }}:\n\nGracias por su visita de hoy con "
        "{{ appointment.provider }}.\n"
        + _optional("Más información sobre su visita: {}")
        + "\nSi tiene cualquier duda sobre su tratamiento, no dude en contactarnos.",
    ),
    CommunicationType.REQUEST_CONFIRMED: (
        "{{ clinic.name }}: su solicitud de cita queda confirmada: el "
        f"{{{{ appointment.when }}}} con {{{{ appointment.provider }}}}{_WHERE}."
        "{% if link %} Detalles: {{ link }}{% endif %}",
        "{{ clinic.name }}: su cita del {{ appointment.date }} queda confirmada",
        "Hola, {{ patient.first_name }}:\n\nGracias por su solicitud. Su cita con "
        "{{ appointment.provider }} queda confirmada para el "
        f"{{{{ appointment.when }}}}{_WHERE}.\n" + _optional("Para verla o cambiarla: {}"),
    ),
    CommunicationType.REQUEST_REJECTED: (
        "{{ clinic.name }}: lo sentimos, no podemos reservar su solicitud para el "
        "{{ appointment.when }}. {{ reason }}{% if clinic.phone %} Llame al "
        "{{ clinic.phone }} para buscar otra hora.{% endif %}",
        "{{ clinic.name }}: su solicitud de cita",
        "Hola, {{ patient.first_name }}:\n\nGracias por su solicitud de cita con "
        "{{ appointment.provider }} el {{ appointment.when }}. Lo sentimos, pero no podemos "
        "reservarla:\n\n{{ reason }}\n\n"
        "Póngase en contacto con nosotros y buscaremos juntos otra hora.",
    ),
}


def _defaults(texts: dict[CommunicationType, _Texts], closing: str) -> dict[str, DefaultTemplate]:
    return {
        kind: DefaultTemplate(
            kind.purpose,
            sms=MessageTemplate(None, sms),
            email=MessageTemplate(subject, body + _signature(closing)),
        )
        for kind, (sms, subject, body) in texts.items()
    }


DEFAULTS: dict[str, dict[str, DefaultTemplate]] = {
    "en": _defaults(_ENGLISH, "Kind regards,"),
    "de": _defaults(_GERMAN, "Mit freundlichen Grüßen"),
    "fr": _defaults(_FRENCH, "Cordialement,"),
    "es": _defaults(_SPANISH, "Un saludo,"),
}


def defaults_for(language: str) -> dict[str, DefaultTemplate]:
    """The default templates in the clinic's language, keyed by ``CommunicationType``
    (English for a language we have no defaults in)."""
    return DEFAULTS[language_of(language)]
