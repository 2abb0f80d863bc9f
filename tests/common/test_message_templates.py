"""Message templates: the defaults in every language, the check a clinic admin sees while
typing, and filling in — never with a blank, always by the clinic's clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from common.errors import InvalidInput
from common.message_templates import (
    ALLOWED_FILTERS,
    LANGUAGES,
    SAMPLE,
    SAMPLE_CLINIC,
    VARIABLES,
    AppointmentFacts,
    ClinicFacts,
    CommunicationType,
    PatientFacts,
    Rendered,
    TemplateProblem,
    check,
    context_for,
    defaults_for,
    render,
    render_html,
    sample_context,
    used_variables,
)
from common.messaging import Channel, Purpose
from common.sms import segments

PARIS = ClinicFacts("Clinique du Parc", "+33 1 23 45 67 89", None, "Europe/Paris", "fr")
BARE_CLINIC = ClinicFacts("Brook Street Clinic", None, None, "Europe/London")
ALEX = PatientFacts("Alex", "Morgan")


def one_problem(subject: str | None, body: str) -> str:
    problems = check(subject, body)
    assert len(problems) == 1, problems
    return problems[0]


def readable(text: str) -> None:
    """Words for a clinic admin: no Python or Jinja internals."""
    for internal in ("jinja", "Traceback", "TemplateSyntaxError", "dict object", "Undefined"):
        assert internal not in text


# --- the defaults ---------------------------------------------------------------------

DEFAULT_CASES = [
    (language, kind, channel)
    for language in LANGUAGES
    for kind in CommunicationType
    for channel in Channel
]


def test_every_language_has_every_communication_type() -> None:
    assert LANGUAGES == ("en", "de", "fr", "es")
    for language in LANGUAGES:
        assert set(defaults_for(language)) == set(CommunicationType)


@pytest.mark.parametrize(("language", "kind", "channel"), DEFAULT_CASES)
def test_default_passes_the_check_and_names_the_clinic(
    language: str, kind: CommunicationType, channel: Channel
) -> None:
    template = defaults_for(language)[kind].for_channel(channel)
    assert check(template.subject, template.body, channel=channel) == []
    if channel is Channel.SMS:
        assert template.subject is None
    else:
        assert template.subject
    clinic = replace(SAMPLE_CLINIC, language=language)
    for context in (SAMPLE, sample_context(clinic)):
        rendered = render(template.subject, template.body, context)
        assert "Brook Street Clinic" in rendered.text
        assert "None" not in rendered.text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", list(CommunicationType))
def test_default_text_messages_fit_two_gsm_segments(language: str, kind: CommunicationType) -> None:
    template = defaults_for(language)[kind].sms
    text = render(None, template.body, sample_context(replace(SAMPLE_CLINIC, language=language)))
    size = segments(text.text)
    assert size.segments <= 2, text.text
    # Straight quotes and GSM letters only: one curly apostrophe would halve the room.
    assert size.encoding == "GSM-7", text.text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", list(CommunicationType))
def test_defaults_render_with_only_the_facts_they_need(
    language: str, kind: CommunicationType
) -> None:
    """No phone, no e-mail, no room, no type, no link: the optional parts drop out cleanly."""
    context = context_for(
        clinic=replace(BARE_CLINIC, language=language),
        patient=ALEX,
        appointment=AppointmentFacts(datetime(2026, 3, 3, 9, tzinfo=UTC), "Dr Shah", "", ""),
        reason="Dr Shah is away." if kind is CommunicationType.REQUEST_REJECTED else None,
        minutes_late=20 if kind is CommunicationType.RUNNING_LATE else None,
    )
    for channel in Channel:
        template = defaults_for(language)[kind].for_channel(channel)
        rendered = render(template.subject, template.body, context)
        assert "Brook Street Clinic" in rendered.text
        assert "()" not in rendered.text
        assert "\n\n\n" not in rendered.text
        assert "None" not in rendered.text


def test_purposes_of_the_communication_types() -> None:
    expected = {
        "confirmation": Purpose.CARE,
        "reminder": Purpose.REMINDER,
        "day_of": Purpose.REMINDER,
        "running_late": Purpose.CARE,
        "post_visit": Purpose.CARE,
        "request_confirmed": Purpose.CARE,
        "request_rejected": Purpose.CARE,
    }
    for language in LANGUAGES:
        defaults = defaults_for(language)
        assert {kind: d.purpose for kind, d in defaults.items()} == expected
        assert defaults["reminder"] is defaults[CommunicationType.REMINDER]


@pytest.mark.parametrize(
    ("asked", "given"), [("it", "en"), ("", "en"), ("de-AT", "de"), ("FR", "fr"), ("es_MX", "es")]
)
def test_defaults_for_reads_the_language_and_falls_back_to_english(asked: str, given: str) -> None:
    assert defaults_for(asked) is defaults_for(given)
    assert defaults_for("it") is not defaults_for("de")


def test_english_confirmation_reads_well() -> None:
    template = defaults_for("en")["confirmation"].sms
    assert render(None, template.body, SAMPLE).text == (
        "Brook Street Clinic: Hi Alex, your appointment with Dr Priya Shah is booked for "
        "Tuesday 4 March at 13:45 (Room 2). Details: https://brookstreet.example/a/7Kq2"
    )


# --- the check --------------------------------------------------------------------------


def test_a_template_using_what_is_allowed_passes() -> None:
    body = (
        "{{ patient.first_name | upper }} {{ patient.last_name | lower | title }}\n"
        "{{ clinic.phone | default('the clinic') }} {{ reason | trim | capitalize }}\n"
        "{% if link %}{{ link }}{% elif unsubscribe_link is defined %}x{% else %}y{% endif %}\n"
        "{% if minutes_late == 15 and not reason %}{{ 'late' ~ '!' }}{% endif %}\n"
        "{{ appointment.when if appointment.when is defined else 'soon' }}{# a comment #}"
    )
    assert check("Hello {{ patient.full_name }}", body) == []


def test_unknown_variable_is_refused_with_what_may_be_used() -> None:
    problem = one_problem(None, "Hi {{ surname }}")
    assert problem.startswith("“{{ surname }}” is not something a message can include")
    assert "You can use: patient.first_name, patient.last_name" in problem
    for name in VARIABLES:
        assert name in problem
    readable(problem)


def test_attribute_typo_is_refused_with_a_suggestion() -> None:
    problem = one_problem(None, "Hi {{ patient.frist_name }}")
    assert "“{{ patient.frist_name }}” is not something a message can include" in problem
    assert "Did you mean “{{ patient.first_name }}”?" in problem
    assert "“{{ patient.middle_name }}” is not something" in one_problem(
        None, "{{ patient.middle_name }}"
    )
    assert "is not something" in one_problem(None, "{{ patient.first_name.upper }}")


def test_a_group_is_not_a_value() -> None:
    problem = one_problem(None, "Dear {{ patient }}")
    assert "“{{ patient }}” is a group, not a value" in problem
    assert "patient.first_name" in problem


def test_each_problem_is_said_once_with_its_line() -> None:
    problems = check(None, "{{ nope }}\n{{ nope }}\n\n{{ clinic.fax }}")
    assert len(problems) == 2
    assert "(line 1)" in problems[0]
    assert "“{{ clinic.fax }}”" in problems[1]
    assert "(line 4)" in problems[1]


def test_subject_problems_say_so() -> None:
    (problem,) = check("About {{ appointmnet.date }}", "Hello")
    assert "(in the subject)" in problem
    assert "Did you mean “{{ appointment.date }}”?" in problem


@pytest.mark.parametrize(
    "body",
    [
        "{{ patient.first_name | truncate(3) }}",
        "{{ patient.first_name | safe }}",
        "{{ reason | replace('a', 'b') }}",
        "{{ link | urlize }}",
        "{{ patient.first_name | attr('__class__') }}",
    ],
)
def test_filters_outside_the_allowlist_are_refused(body: str) -> None:
    problem = one_problem(None, body)
    assert "cannot be used in a message" in problem
    assert "You can use: " + ", ".join(f"| {name}" for name in ALLOWED_FILTERS) in problem
    readable(problem)


def test_tests_outside_the_allowlist_are_refused() -> None:
    problem = one_problem(None, "{% if minutes_late is divisibleby 5 %}x{% endif %}")
    assert problem.startswith("“is divisibleby” cannot be used in a message")
    assert "is defined" in problem


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("{{ ''.__class__ }}", "“.__class__” cannot be used"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "Calling something"),
        ("{{ patient.__class__ }}", "“{{ patient.__class__ }}” is not something"),
        ("{{ patient.first_name.__class__.__base__ }}", "is not something"),
        ("{{ self.__init__.__globals__ }}", "“{{ self.__init__.__globals__ }}” is not something"),
        ("{{ lipsum.__globals__ }}", "is not something"),
        ("{{ cycler.__init__.__globals__.os }}", "is not something"),
        ("{{ config }}", "“{{ config }}” is not something"),
        ("{{ range(10) }}", "Calling something"),
        ("{{ patient.first_name.format(1) }}", "Calling something"),
        ("{{ patient['first_name'] }}", "Square brackets"),
        ("{{ 'a' * 1000000000 }}", "Arithmetic"),
        ("{{ -minutes_late }}", "Arithmetic"),
        ("{{ [1, 2] }}", "A list of values"),
        ("{% for x in reason %}{{ x }}{% endfor %}", "A loop"),
        ("{% set reason = 'x' %}{{ reason }}", "Setting a value"),
        ("{% include 'other' %}", "Including another template"),
        ("{% extends 'base' %}", "Building on another template"),
        ("{% import 'm' as m %}", "Importing another template"),
        ("{% macro m() %}x{% endmacro %}", "A macro"),
        ("{% with x = 1 %}{{ x }}{% endwith %}", "“{% with %}”"),
        ("{% filter upper %}x{% endfilter %}", "A filter block"),
        ("{% autoescape false %}x{% endautoescape %}", "“{% autoescape %}”"),
        ("{% block b %}x{% endblock %}", "A block"),
    ],
)
def test_anything_beyond_blanks_and_conditions_is_refused(body: str, said: str) -> None:
    problems = check(None, body)
    assert problems, body
    assert said in problems[0]
    assert "cannot be used in a message" in problems[0] or "is not something" in problems[0]
    readable(problems[0])
    with pytest.raises(TemplateProblem):
        render(None, body, SAMPLE)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            "Hello\n{{ patient.first_name",
            "Line 2 of the message cannot be read: a “{{” is never closed with “}}”",
        ),
        (
            "Hello\n\n{{ patient.first_name }",
            "Line 3 of the message cannot be read: a blank must end with two braces",
        ),
        ("{% if link %}\nSee {{ link }}", "an “{% if %}” has no “{% endif %}”"),
        ("Hi{% endif %}", "an “{% endif %}” has no “{% if %}” before it"),
        ("Hi {{ }}", "has nothing inside"),
        ("Hi {# note", "a comment “{#” is never closed with “#}”"),
        ("Hi {{ 'x }}", "a quote or sign inside “{{ }}” is not closed"),
        ("Hi {% frobnicate %}", "holds something a message cannot use"),
        ("Hi {{ patient.first_name patient.last_name }}", "Check that every “{{” has its “}}”"),
    ],
)
def test_syntax_errors_are_refused_in_words_with_the_line(body: str, said: str) -> None:
    problem = one_problem(None, body)
    assert said in problem
    readable(problem)


def test_syntax_error_in_the_subject() -> None:
    assert check("Your visit {{ appointment.date", "Hello") == [
        "The subject cannot be read: a “{{” is never closed with “}}”."
    ]


def test_mistyped_blanks_in_plain_text_are_caught() -> None:
    problem = one_problem(None, "Dear {patient.first_name},")
    assert "“{patient.first_name}” would be sent as it is" in problem
    assert "“{{ patient.first_name }}”" in problem
    assert "never opened" in one_problem(None, "Dear patient.first_name }},")
    assert check(None, "Prices {from 10 euros}") == []  # braces around words are just text


def test_empty_message_and_missing_subject() -> None:
    assert check(None, "  \n") == ["The message is empty: write what the patient should read."]
    assert check(None, "Hi", channel=Channel.SMS) == []
    assert check(" ", "Hi", channel=Channel.EMAIL) == ["An e-mail needs a subject."]
    assert check(None, "Hi", channel=Channel.EMAIL) == ["An e-mail needs a subject."]


# --- filling in -----------------------------------------------------------------------


def test_a_missing_value_is_never_sent_blank() -> None:
    context = context_for(clinic=BARE_CLINIC, patient=ALEX)
    with pytest.raises(TemplateProblem) as caught:
        render(None, "Call us on {{ clinic.phone }}.", context)
    message = caught.value.message
    assert "“{{ clinic.phone }}” (the clinic's phone number)" in message
    assert "never sent with a blank" in message
    assert "“{% if clinic.phone %}…{% endif %}”" in message
    readable(message)
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.problems == [message]


@pytest.mark.parametrize(
    "body",
    [
        "{{ link }}",
        "{{ reason }}",
        "{{ minutes_late }}",
        "{{ unsubscribe_link }}",
        "{{ appointment.when }}",
        "{{ patient.first_name }}",
        "{{ link | upper }}",
        "{{ 'x' ~ link }}",
        "{{ appointment.location }}",
    ],
)
def test_every_kind_of_missing_fact_stops_the_message(body: str) -> None:
    context = context_for(clinic=BARE_CLINIC)
    with pytest.raises(TemplateProblem, match="never sent with a blank"):
        render(None, f"Hello {body}", context)


def test_empty_facts_count_as_missing() -> None:
    context = context_for(
        clinic=replace(BARE_CLINIC, phone="  "),
        patient=PatientFacts("Alex", ""),
        appointment=AppointmentFacts(datetime(2026, 3, 3, 9, tzinfo=UTC), "Dr Shah", "", ""),
        link="",
    )
    assert context.has("patient.first_name")
    for name in ("clinic.phone", "patient.last_name", "appointment.location", "link"):
        assert not context.has(name)
        with pytest.raises(TemplateProblem):
            render(None, f"{{{{ {name} }}}}", context)
    assert render(None, "{{ patient.full_name }}.", context).text == "Alex."


def test_a_condition_on_a_missing_fact_leaves_the_part_out() -> None:
    body = (
        "Hello{% if link %} {{ link }}{% endif %}"
        "{% if clinic.phone %} {{ clinic.phone }}{% endif %}."
    )
    assert render(None, body, context_for(clinic=BARE_CLINIC)).text == "Hello."
    assert render(
        None, "{{ link | default('no link') }}", context_for(clinic=BARE_CLINIC)
    ).text == ("no link")


def test_render_refuses_what_the_check_refuses() -> None:
    with pytest.raises(TemplateProblem) as caught:
        render(None, "{{ patient.middle_name }} {{ ''.__class__ }}", SAMPLE)
    assert len(caught.value.problems) == 2
    assert "patient.middle_name" in caught.value.message


def test_filters_work() -> None:
    rendered = render(None, "{{ patient.first_name | upper }} {{ clinic.name | lower }}", SAMPLE)
    assert rendered == Rendered(None, "ALEX brook street clinic")


def test_a_message_that_comes_out_empty_is_refused() -> None:
    with pytest.raises(TemplateProblem, match="came out empty"):
        render(None, "{% if link %}{{ link }}{% endif %}", context_for(clinic=BARE_CLINIC))


def test_subject_is_one_line() -> None:
    rendered = render("About\n  your {{ appointment.date }}\r\n", "Hi", SAMPLE)
    assert rendered.subject == "About your Tuesday 4 March"


def test_values_are_sent_as_they_are_in_plain_text() -> None:
    context = context_for(clinic=BARE_CLINIC, patient=PatientFacts("<b>Zoë</b> & {{ x }}", "M"))
    assert render(None, "Hi {{ patient.first_name }}", context).text == "Hi <b>Zoë</b> & {{ x }}"


def test_comparison_that_cannot_be_made_is_a_template_problem() -> None:
    with pytest.raises(TemplateProblem, match="compares values that cannot be compared"):
        render(None, "{% if patient.first_name > 3 %}x{% endif %}", SAMPLE)


# --- the clinic's clock and language ----------------------------------------------------


def appointment_at(moment: datetime) -> AppointmentFacts:
    return AppointmentFacts(moment, "Dr Shah", "Check-up", "Room 1")


def test_times_are_written_by_the_clinic_clock() -> None:
    winter = context_for(
        clinic=PARIS, appointment=appointment_at(datetime(2026, 1, 6, 9, 30, tzinfo=UTC))
    )
    assert render(None, "{{ appointment.time }}", winter).text == "10:30"
    summer = context_for(
        clinic=PARIS, appointment=appointment_at(datetime(2026, 7, 7, 9, 30, tzinfo=UTC))
    )
    assert render(None, "{{ appointment.time }}", summer).text == "11:30"


def test_the_date_is_the_clinic_date_not_the_utc_one() -> None:
    late = context_for(
        clinic=PARIS, appointment=appointment_at(datetime(2026, 1, 5, 23, 30, tzinfo=UTC))
    )
    assert render(None, "{{ appointment.when }}", late).text == "mardi 6 janvier à 00:30"


@pytest.mark.parametrize(
    ("language", "date", "when"),
    [
        ("en", "Tuesday 4 March", "Tuesday 4 March at 13:45"),
        ("de", "Dienstag, 4. März", "Dienstag, 4. März um 13:45"),
        ("fr", "mardi 4 mars", "mardi 4 mars à 13:45"),
        ("es", "martes 4 de marzo", "martes 4 de marzo a las 13:45"),
        ("pt", "Tuesday 4 March", "Tuesday 4 March at 13:45"),
    ],
)
def test_dates_in_the_clinic_language(language: str, date: str, when: str) -> None:
    context = sample_context(replace(SAMPLE_CLINIC, language=language))
    rendered = render(
        None, "{{ appointment.date }}|{{ appointment.time }}|{{ appointment.when }}", context
    )
    assert rendered.text == f"{date}|13:45|{when}"


def test_first_of_the_month_in_french() -> None:
    context = context_for(
        clinic=PARIS, appointment=appointment_at(datetime(2026, 8, 1, 8, tzinfo=UTC))
    )
    assert render(None, "{{ appointment.date }}", context).text == "samedi 1er août"


def test_sample_preview_uses_the_clinic_own_details_and_zone() -> None:
    context = sample_context(PARIS)
    rendered = render(None, "{{ clinic.name }} {{ appointment.when }} {{ reason }}", context)
    assert rendered.text.startswith("Clinique du Parc mardi 4 mars à 13:45 Le Dr Shah")


def test_every_variable_is_filled_in_the_sample() -> None:
    for name in VARIABLES:
        assert SAMPLE.has(name), name
        assert render(None, f"{{{{ {name} }}}}", SAMPLE).text


def test_appointment_time_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        AppointmentFacts(datetime(2026, 1, 1, 9), "Dr Shah", "", "")


# --- e-mail as HTML ---------------------------------------------------------------------


def test_html_has_paragraphs_line_breaks_and_links() -> None:
    body = "Dear {{ patient.first_name }},\n\nSee {{ link }}.\nThanks\n\n\n{{ clinic.name }}"
    rendered = render_html("Hi", body, SAMPLE)
    assert rendered.subject == "Hi"
    assert rendered.text == (
        "Dear Alex,\n\nSee https://brookstreet.example/a/7Kq2.\nThanks\n\nBrook Street Clinic"
    )
    assert rendered.html == (
        "<p>Dear Alex,</p>\n"
        '<p>See <a href="https://brookstreet.example/a/7Kq2">https://brookstreet.example/a/7Kq2</a>.'
        "<br>\nThanks</p>\n"
        "<p>Brook Street Clinic</p>"
    )
    assert render("Hi", body, SAMPLE).html is None


def test_html_escapes_values_and_words_alike() -> None:
    context = context_for(
        clinic=replace(BARE_CLINIC, name="Smith & Sons <Physio>"),
        patient=PatientFacts('<script>alert("x")</script>', "O'Neil"),
        link='https://x.example/a?b=1&c=2"><script>',
    )
    rendered = render_html(
        "x", "Fish & chips <b>{{ patient.first_name }}</b> {{ clinic.name }} {{ link }}", context
    )
    assert rendered.html is not None
    assert "<script>" not in rendered.html
    assert "<b>" not in rendered.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in rendered.html
    assert "Fish &amp; chips" in rendered.html
    assert "Smith &amp; Sons &lt;Physio&gt;" in rendered.html
    assert '<a href="https://x.example/a?b=1&amp;c=2">' in rendered.html


def test_used_variables() -> None:
    template = defaults_for("en")["request_rejected"].sms
    assert used_variables(template.subject, template.body) == {
        "clinic.name",
        "clinic.phone",
        "appointment.when",
        "reason",
    }
    assert used_variables("{{ link }}", "{{ reason }}") == {"link", "reason"}


def test_the_sandbox_is_a_second_wall_behind_the_check() -> None:
    """Were the check ever skipped, the environment itself has no globals, no other
    filters, and refuses private attributes."""
    from jinja2.exceptions import SecurityError, TemplateAssertionError, UndefinedError

    from common.message_templates import _compiled

    with pytest.raises(SecurityError):
        _compiled("{{ ''.__class__.__mro__ }}").render()
    with pytest.raises(UndefinedError):
        _compiled("{{ range(3) }}").render()
    with pytest.raises(TemplateAssertionError):
        _compiled("{{ 'x' | truncate(1) }}")
