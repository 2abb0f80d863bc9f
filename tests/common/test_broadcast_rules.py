"""The booking-link rule's SMS text: where the link goes, and only placeholders that are
filled in (a typo would reach the patient as "{fist_name}")."""

from __future__ import annotations

import pytest

from common.broadcast_rules import fill, sms_problems


def test_a_good_text_has_no_problems_and_is_filled_in() -> None:
    text = "Hi {first_name}, {clinic} asks you to book: {link}"
    assert sms_problems(text, "Demo Clinic") == []
    filled = fill(text, link="https://x.example/l/abc", clinic="Demo Clinic", first_name="Ada")
    assert filled == "Hi Ada, Demo Clinic asks you to book: https://x.example/l/abc"


def test_the_link_is_required() -> None:
    assert any("{link}" in p for p in sms_problems("Call us to book", "Demo"))


@pytest.mark.parametrize(
    "text", ["Hi {fist_name}: {link}", "Hi {{ patient.first_name }}: {link}", "Hi {}: {link}"]
)
def test_unknown_placeholders_are_named(text: str) -> None:
    [problem] = sms_problems(text, "Demo")
    assert "not filled in" in problem
    assert "{first_name}" in problem
