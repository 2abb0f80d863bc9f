"""Input checks shared by every entry point: good input passes, bad input is named."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from common.errors import InvalidInput
from common.validation import (
    MIN_PASSWORD_LENGTH,
    check_password,
    check_slug,
    check_time_zone,
    normalise_email,
)


@pytest.mark.parametrize("slug", ["demo", "riverside-physio", "a", "7", "clinic-2", "a" * 64])
def test_good_slugs_pass_unchanged(slug):
    assert check_slug(slug) == slug


@pytest.mark.parametrize(
    "slug",
    ["", "Riverside", "river side", "-river", "river-", "river_side", "rivér", "a" * 65, "a.b"],
)
def test_bad_slugs_are_refused_by_name(slug):
    with pytest.raises(InvalidInput) as refused:
        check_slug(slug)

    assert repr(slug) in refused.value.message
    assert "short name" in refused.value.message


@pytest.mark.parametrize("name", ["Europe/London", "America/New_York", "UTC", "Asia/Kolkata"])
def test_known_time_zones_are_loaded(name):
    assert check_time_zone(name) == ZoneInfo(name)


@pytest.mark.parametrize(
    "name", ["", "Mars/Olympus_Mons", "europe/london", "GMT+25", "../etc/passwd", "Europe/"]
)
def test_unknown_time_zones_are_refused_by_name(name):
    with pytest.raises(InvalidInput) as refused:
        check_time_zone(name)

    assert repr(name) in refused.value.message
    assert "time zone" in refused.value.message


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("robin@riverside.example", "robin@riverside.example"),
        ("  Robin.Reception@Riverside.Example ", "robin.reception@riverside.example"),
        ("a+tag@b.co", "a+tag@b.co"),
    ],
)
def test_good_emails_are_trimmed_and_lower_cased(given, stored):
    assert normalise_email(given) == stored


@pytest.mark.parametrize(
    "email", ["", "robin", "robin@", "@riverside.example", "robin@riverside", "ro bin@x.example"]
)
def test_bad_emails_are_refused_by_name(email):
    with pytest.raises(InvalidInput) as refused:
        normalise_email(email)

    assert repr(email) in refused.value.message
    assert "e-mail" in refused.value.message


def test_a_long_enough_password_passes():
    password = "x" * MIN_PASSWORD_LENGTH

    assert check_password(password) == password


@pytest.mark.parametrize("password", ["", "short", "x" * (MIN_PASSWORD_LENGTH - 1)])
def test_a_short_password_is_refused_with_the_minimum(password):
    with pytest.raises(InvalidInput) as refused:
        check_password(password)

    assert f"at least {MIN_PASSWORD_LENGTH} characters" in refused.value.message
    if password:
        assert password not in refused.value.message, "the password was echoed back"
