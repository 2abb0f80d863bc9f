"""The rules of a patient's file: names, dates of birth, phone numbers in the clinic's
country, e-mail addresses, alerts, and who on file may be the same person."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date

import pytest

from common.errors import InvalidInput
from common.patients import (
    PatientDetails,
    PatientInvalid,
    Sex,
    check_country,
    clean,
    country_for_time_zone,
    duplicates,
    normalise_email,
    normalise_phone,
    parse_birth_date,
    show_phone,
)

TODAY = date(2026, 12, 1)


def _clean(**fields: object) -> PatientDetails:
    details = replace(PatientDetails("Ada", "Lovelace"), **fields)  # type: ignore[arg-type]
    return clean(details, country="GB", today=TODAY)


def _refusal(**fields: object) -> PatientInvalid:
    with pytest.raises(PatientInvalid) as refused:
        _clean(**fields)
    return refused.value


# --- names -------------------------------------------------------------------------------


def test_names_are_trimmed_and_their_inner_spaces_collapsed() -> None:
    cleaned = _clean(first_name="  Ada  Augusta ", last_name=" King-Noel ")
    assert (cleaned.first_name, cleaned.last_name) == ("Ada Augusta", "King-Noel")


@pytest.mark.parametrize(
    ("field", "words"), [("first_name", "first name"), ("last_name", "last name")]
)
def test_a_missing_name_is_asked_for(field: str, words: str) -> None:
    refusal = _refusal(**{field: "   "})
    assert refusal.field == field
    assert refusal.message == f"Type the patient's {words}."


def test_a_name_too_long_is_refused_with_the_limit() -> None:
    refusal = _refusal(last_name="x" * 101)
    assert "at most 100 characters" in refusal.message


def test_a_name_with_a_line_break_is_refused() -> None:
    assert _refusal(first_name="Ada\nX").field == "first_name"


# --- dates of birth -------------------------------------------------------------------


def test_a_birth_today_or_before_is_kept() -> None:
    assert _clean(date_of_birth=TODAY).date_of_birth == TODAY
    assert _clean(date_of_birth=date(1900, 1, 1)).date_of_birth == date(1900, 1, 1)


def test_a_birth_in_the_future_is_refused_in_words() -> None:
    refusal = _refusal(date_of_birth=date(2026, 12, 2))
    assert refusal.field == "date_of_birth"
    assert refusal.message == "The date of birth 02/12/2026 is in the future."


def test_a_birth_before_1900_is_refused_as_a_likely_typo() -> None:
    refusal = _refusal(date_of_birth=date(1899, 12, 31))
    assert "before 1900" in refusal.message


@pytest.mark.parametrize(
    ("typed", "born"),
    [
        ("17/05/1980", date(1980, 5, 17)),
        ("17.5.1980", date(1980, 5, 17)),
        ("1980-05-17", date(1980, 5, 17)),
        ("", None),
    ],
)
def test_dates_of_birth_are_read_as_staff_type_them(typed: str, born: date | None) -> None:
    assert parse_birth_date(typed) == born


@pytest.mark.parametrize("typed", ["1980", "yesterday", "17/05/80"])
def test_a_date_of_birth_that_is_not_one_is_refused(typed: str) -> None:
    with pytest.raises(PatientInvalid, match="write it like 17/05/1980"):
        parse_birth_date(typed)


def test_a_day_that_does_not_exist_is_called_that() -> None:
    """Written the right way, 31/02 is still no day: say so, not "write it like…"."""
    with pytest.raises(PatientInvalid, match="no such day as 31/02/1980"):
        parse_birth_date("31/02/1980")


# --- phones ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["020 7946 0123", "(020) 7946-0123", "+44 20 7946 0123", "0044 20 7946 0123"]
)
def test_a_uk_number_is_kept_in_e164_however_it_was_typed(typed: str) -> None:
    assert normalise_phone(typed, "GB") == "+442079460123"


def test_a_number_of_another_country_keeps_its_own_code() -> None:
    assert normalise_phone("+1 202 555 0123", "GB") == "+12025550123"
    assert normalise_phone("(202) 555-0123", "US") == "+12025550123"


def test_a_number_is_read_in_the_clinics_country() -> None:
    assert normalise_phone("01 234 5678", "IE") == "+35312345678"


def test_a_bad_number_is_refused_naming_the_clinics_country() -> None:
    with pytest.raises(PatientInvalid) as refused:
        normalise_phone("0770 090", "GB")
    assert refused.value.field == "phone"
    assert refused.value.message.startswith("That phone number is not a valid UK number: 0770 090.")
    assert "+44" in refused.value.message


def test_letters_are_not_a_phone_number() -> None:
    with pytest.raises(PatientInvalid, match="not a valid UK number: call me"):
        normalise_phone("call me", "GB")


def test_without_a_country_a_number_needs_its_country_code() -> None:
    with pytest.raises(PatientInvalid, match="country code"):
        normalise_phone("020 7946 0123", None)
    assert normalise_phone("+44 20 7946 0123", None) == "+442079460123"


def test_no_number_is_none() -> None:
    assert normalise_phone("   ", "GB") is None


def test_a_stored_number_is_shown_national_at_home_and_international_abroad() -> None:
    assert show_phone("+442079460123", "GB") == "020 7946 0123"
    assert show_phone("+12025550123", "GB") == "+1 202-555-0123"
    assert show_phone("not a number", "GB") == "not a number"


def test_an_unchanged_phone_from_before_the_rules_is_kept_as_it_was() -> None:
    # The demo's (and old records') drama numbers are not dialable; a save that does not
    # touch them must not be refused for them.
    before = PatientDetails("Ada", "Lovelace", phone="+447700900123")
    again = clean(before, country="GB", today=TODAY, previous=before)
    assert again.phone == "+447700900123"
    with pytest.raises(PatientInvalid):
        clean(before, country="GB", today=TODAY)


def test_a_number_from_before_the_rules_retyped_as_staff_read_it_is_still_kept() -> None:
    # The form shows it spaced; staff may retype it nationally: either way the same number.
    before = PatientDetails("Ada", "Lovelace", phone="+447700900123")
    for typed in (show_phone(before.phone, "GB"), "07700 900123", "07700900123"):
        retyped = PatientDetails("Ada", "Lovelace", phone=typed)
        kept = clean(retyped, country="GB", today=TODAY, previous=before)
        assert kept.phone == "+447700900123", typed
    other = PatientDetails("Ada", "Lovelace", phone="07700 900124")  # a changed number
    with pytest.raises(PatientInvalid):
        clean(other, country="GB", today=TODAY, previous=before)


# --- e-mail ----------------------------------------------------------------------------


def test_an_email_is_checked_for_its_form_and_its_domain_lower_cased() -> None:
    assert normalise_email("  Ada.Lovelace@Example.ORG ") == "Ada.Lovelace@example.org"


@pytest.mark.parametrize(
    "typed", ["ada@", "ada.example.org", "ada@@example.org", "ada @example.org"]
)
def test_a_bad_email_is_refused_in_words(typed: str) -> None:
    with pytest.raises(PatientInvalid) as refused:
        normalise_email(typed)
    assert refused.value.field == "email"
    assert refused.value.message.startswith(f"That e-mail address is not valid: {typed.strip()}.")


def test_no_network_is_asked_about_an_email() -> None:
    # A domain that does not exist is not refused: that would need the network.
    assert normalise_email("ada@no-such-domain.invalid-tld-xyz") is not None


# --- address, sex, alerts ----------------------------------------------------------------


def test_a_uk_postcode_is_written_the_usual_way() -> None:
    assert _clean(postcode="sw1a1aa").postcode == "SW1A 1AA"
    assert _refusal(postcode="12345").field == "postcode"


def test_a_postcode_elsewhere_is_only_bounded() -> None:
    details = replace(PatientDetails("A", "B"), postcode="10115")
    assert clean(details, country="DE", today=TODAY).postcode == "10115"


def test_address_lines_are_bounded() -> None:
    assert _refusal(address_line1="x" * 201).field == "address_line1"
    assert _clean(city="  London ").city == "London"


def test_sex_is_one_of_what_a_clinic_records() -> None:
    assert {s.value for s in Sex} == {"female", "male", "other", "unknown"}
    assert _clean(sex="female").sex is Sex.FEMALE
    assert Sex.UNKNOWN.label == "Not recorded"


def test_alerts_are_trimmed_blank_and_repeated_ones_dropped() -> None:
    cleaned = _clean(alerts=(" Needs wheelchair access ", "", "needs wheelchair access", "Deaf"))
    assert cleaned.alerts == ("Needs wheelchair access", "Deaf")


def test_too_many_or_too_long_alerts_are_refused() -> None:
    assert "at most 10 alerts" in _refusal(alerts=tuple(f"alert {n}" for n in range(11))).message
    assert _refusal(alerts=("x" * 121,)).field == "alerts"


# --- the clinic's country --------------------------------------------------------------


def test_a_country_is_its_iso_code() -> None:
    assert check_country(" gb ") == "GB"
    with pytest.raises(InvalidInput, match="two-letter ISO code"):
        check_country("UK")


def test_a_time_zone_tells_its_country() -> None:
    assert country_for_time_zone("Europe/London") == "GB"
    assert country_for_time_zone("UTC") is None


# --- duplicates --------------------------------------------------------------------------


@dataclass(frozen=True)
class OnFile:
    id: uuid.UUID
    first_name: str
    last_name: str
    date_of_birth: date | None = None
    phone: str | None = None
    email: str | None = None


ADA = OnFile(uuid.uuid4(), "Ada", "Lovelace", date(1980, 5, 17), "+442079460123", "ada@example.org")
ALAN = OnFile(uuid.uuid4(), "Alan", "Turing", date(1912, 6, 23), "020 7946 0999", None)


def _new(**fields: object) -> PatientDetails:
    return replace(PatientDetails("Someone", "Else"), **fields)  # type: ignore[arg-type]


def test_the_same_name_and_birth_date_is_a_possible_duplicate() -> None:
    found = duplicates(
        _new(first_name="ada", last_name=" LOVELACE", date_of_birth=date(1980, 5, 17)), [ADA, ALAN]
    )
    assert [(d.patient_id, d.reasons) for d in found] == [
        (ADA.id, ("same name and date of birth",))
    ]


def test_the_same_name_born_another_day_is_not() -> None:
    assert (
        duplicates(
            _new(first_name="Ada", last_name="Lovelace", date_of_birth=date(1981, 5, 17)), [ADA]
        )
        == []
    )
    assert duplicates(_new(first_name="Ada", last_name="Lovelace"), [ADA]) == []


def test_the_same_phone_however_written_is_a_possible_duplicate() -> None:
    found = duplicates(_new(phone="+442079460999"), [ADA, ALAN], country="GB")
    assert [(d.patient_id, d.reasons) for d in found] == [(ALAN.id, ("same phone",))]


def test_the_same_email_in_any_case_is_a_possible_duplicate() -> None:
    found = duplicates(_new(email="ADA@example.org"), [ADA, ALAN])
    assert [(d.patient_id, d.reasons) for d in found] == [(ADA.id, ("same e-mail",))]


def test_every_reason_is_given_and_the_patient_being_edited_is_not_their_own_duplicate() -> None:
    same = _new(
        first_name="Ada",
        last_name="Lovelace",
        date_of_birth=date(1980, 5, 17),
        phone="020 7946 0123",
        email="ada@example.org",
    )
    found = duplicates(same, [ADA], country="GB")
    assert found[0].reasons == ("same name and date of birth", "same phone", "same e-mail")
    assert duplicates(same, [ADA], country="GB", ignore=ADA.id) == []


def test_a_postcode_is_bounded_as_it_is_kept() -> None:
    # "ß" is one letter typed and two kept ("SS"): the bound is on what is stored.
    refusal = _refusal(postcode="ß" * 9)
    assert refusal.field == "postcode"
    assert "at most 16 characters" in refusal.message


def test_every_refused_field_is_reported_with_the_first_one() -> None:
    typed = PatientDetails(" ", "Lovelace", phone="12", email="ada@")
    with pytest.raises(PatientInvalid) as refused:
        clean(typed, country="GB", today=TODAY)
    assert refused.value.field == "first_name"
    assert [p.field for p in refused.value.also] == ["phone", "email"]
