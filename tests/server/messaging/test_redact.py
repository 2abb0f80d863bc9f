"""Numbers and addresses masked before a provider's words become a reason or a log line."""

from __future__ import annotations

import pytest

from server.messaging.redact import mask_email, mask_phone, redact


def test_a_number_keeps_its_country_and_last_two_digits():
    assert mask_phone("+447700900123") == "+44••••••23"
    assert mask_phone("+12025550143") == "+12••••••43"  # the mask does not tell the length


def test_an_address_keeps_its_first_letter_and_domain():
    assert mask_email("jane.doe@example.org") == "j••••••@example.org"


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ("The 'To' number +447700900123 is not a valid phone number.", "7700900123",
         "+44••••••23"),
        ("Call 07700 900123 back", "900123", "07••••••23"),
        ("550 5.1.1 <jane.doe@example.org>: Recipient address rejected", "jane.doe",
         "5.1.1 <j••••••@example.org>"),
    ],
)  # fmt: skip
def test_numbers_and_addresses_in_text_are_masked(text, hidden, kept):
    masked = redact(text)

    assert hidden not in masked
    assert kept in masked


@pytest.mark.parametrize(
    "text",
    [
        "Twilio error 21211, see https://www.twilio.com/docs/errors/21211",
        "451 4.3.0 Try again at 2025-03-04",
        "HTTP 503",
    ],
)
def test_codes_and_dates_are_left_alone(text):
    assert redact(text) == text
