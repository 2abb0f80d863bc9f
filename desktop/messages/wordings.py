"""A reply started from one of the clinic's wordings, filled in for the patient at hand.

The wording is the one the server would use for that kind of message and channel (the
clinic's own, else the standard one in its language), filled with the same
``common.message_templates`` rules, so staff start from what the clinic sends on its own.
Some wordings cannot be written from the desk for this patient: they speak of an
appointment the patient does not have, or of something only the server knows when it
sends (why a request was turned down, how late the provider runs). Those are refused with
the reason in words, never filled with a blank or a ``{{ … }}``.

Everything here is pure and quick: the facts are read on the db lane (``WordingFacts``),
and filling in runs on the UI thread as a wording or a channel is chosen.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from common.message_templates import (
    SAMPLE,
    VARIABLES,
    AppointmentFacts,
    ClinicFacts,
    CommunicationType,
    MessageTemplate,
    PatientFacts,
    TemplateContext,
    TemplateProblem,
    context_for,
    defaults_for,
    render,
    used_variables,
)
from common.messaging import Channel
from sync.messages import AppointmentsToMention, TemplateView

# Filled in only by the messages the server writes by itself: the desk never knows them.
SERVER_ONLY = ("reason", "minutes_late", "link", "unsubscribe_link")

SavedWordings = Mapping[tuple[str, Channel], MessageTemplate]


@dataclass(frozen=True)
class WordingFacts:
    """What a wording is filled with for one patient, read on the db lane."""

    patient_id: uuid.UUID
    patient: PatientFacts | None  # None: the patient is not in this desk's copy
    appointments: AppointmentsToMention
    saved: SavedWordings  # the clinic's own wordings, by kind and channel
    clinic: ClinicFacts
    now: datetime


@dataclass(frozen=True)
class Filled:
    """A wording as it goes in the box: ``subject`` None leaves the subject as it is."""

    subject: str | None
    body: str


@dataclass(frozen=True)
class Unavailable:
    reason: str  # one sentence, for staff


def saved_wordings(views: Iterable[TemplateView]) -> dict[tuple[str, Channel], MessageTemplate]:
    """The clinic's saved wordings as templates (a text has no subject; nor has an e-mail
    saved without one, which the server then sends without)."""
    return {
        (view.kind, view.channel): MessageTemplate(
            (view.subject or None) if view.channel is Channel.EMAIL else None, view.body
        )
        for view in views
    }


def wording(kind: CommunicationType, channel: Channel, facts: WordingFacts) -> MessageTemplate:
    """The clinic's own wording of ``kind`` on ``channel``, else the standard one."""
    saved = facts.saved.get((kind.value, channel))
    if saved is not None:
        return saved
    return defaults_for(facts.clinic.language)[kind.value].for_channel(channel)


def fill(
    kind: CommunicationType, channels: Collection[Channel], facts: WordingFacts
) -> Filled | Unavailable:
    """``kind`` filled in for the patient: the text from the e-mail wording when only
    e-mail is chosen, else from the text message's (which fits a text); the subject from
    the e-mail wording whenever e-mail is chosen."""
    occasion = _occasion(kind, facts)
    if isinstance(occasion, Unavailable):
        return occasion
    context = context_for(clinic=facts.clinic, patient=facts.patient, appointment=occasion)
    by_email = Channel.EMAIL in channels
    body_channel = Channel.EMAIL if by_email and Channel.SMS not in channels else Channel.SMS
    body = _filled(wording(kind, body_channel, facts).body, context, facts)
    if isinstance(body, Unavailable):
        return body
    subject_source = wording(kind, Channel.EMAIL, facts).subject if by_email else None
    if not subject_source:
        return Filled(None, body)
    subject = _filled(subject_source, context, facts)
    if isinstance(subject, Unavailable):
        return subject
    return Filled(" ".join(subject.split()), body)


def _filled(source: str, context: TemplateContext, facts: WordingFacts) -> str | Unavailable:
    try:
        return render(None, source, context).text
    except TemplateProblem as problem:
        return Unavailable(_why(source, context, problem, facts))


def _occasion(
    kind: CommunicationType, facts: WordingFacts
) -> AppointmentFacts | Unavailable | None:
    """The appointment ``kind`` speaks of: the visit today for a thank-you, an appointment
    later today for "on the day", else the next one still expected."""
    upcoming, who = facts.appointments.upcoming, _who(facts)
    if kind is CommunicationType.POST_VISIT:
        seen = facts.appointments.seen_today
        return seen or Unavailable(f"It is for after a visit, and {who} has not come in today.")
    if kind is CommunicationType.DAY_OF:
        zone = ZoneInfo(facts.clinic.time_zone)
        today = facts.now.astimezone(zone).date()
        if upcoming is None or upcoming.starts_at.astimezone(zone).date() != today:
            return Unavailable(
                f"It is for an appointment today, and {who} has none later today on this desk."
            )
    return upcoming


def _who(facts: WordingFacts) -> str:
    return facts.patient.first_name if facts.patient else "the patient"


def _why(
    source: str, context: TemplateContext, problem: TemplateProblem, facts: WordingFacts
) -> str:
    """Why the wording cannot be filled in, said for staff: the first blank it cannot do
    without (what only the server knows first, since no appointment would help)."""
    needed = sorted(_needed(source, context), key=lambda name: (name not in SERVER_ONLY, name))
    if not needed:
        return problem.message
    name = needed[0]
    group = name.partition(".")[0]
    said = VARIABLES[name]
    if name in SERVER_ONLY:
        return f"It needs {said}, which only the server fills in, when it sends it by itself."
    if group == "appointment" and not context.has("appointment"):
        return f"It needs an upcoming appointment, and {_who(facts)} has none on this desk."
    if group == "patient":
        return "It needs the patient's details, and they are not in this desk's copy."
    return f"It needs {said}, which this desk does not know."


def _needed(source: str, context: TemplateContext) -> list[str]:
    """The blanks missing from ``context`` that the wording cannot do without: those it
    still stops at when every other missing one is filled (a blank inside
    ``{% if … %}`` is not needed)."""
    missing = [n for n in used_variables(None, source) if not context.has(n)]
    needed = []
    for name in missing:
        try:
            render(None, source, _with_samples(context, [n for n in missing if n != name]))
        except TemplateProblem:
            needed.append(name)
    return needed


def _with_samples(context: TemplateContext, names: Iterable[str]) -> TemplateContext:
    values = {
        key: dict(value) if isinstance(value, Mapping) else value
        for key, value in context.values.items()
    }
    for name in names:
        group, _, field = name.partition(".")
        sample = SAMPLE.values[group]
        if field and isinstance(sample, Mapping):
            entry = values.setdefault(group, {})
            if isinstance(entry, dict):
                entry[field] = sample[field]
        else:
            values[group] = sample
    return TemplateContext(values)
