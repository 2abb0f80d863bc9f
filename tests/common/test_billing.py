"""Money and invoice lines: amounts shown as patients read them, amounts typed at the
desk read to the penny (or refused in words), lines checked, the clinic's currency."""

from __future__ import annotations

import pytest

from common.billing import (
    LARGEST_LINE,
    MAX_LINES,
    Line,
    LinesInvalid,
    check_lines,
    check_void_reason,
    currency_for,
    parse_amount,
    shown,
    total,
)
from common.errors import InvalidInput


@pytest.mark.parametrize(
    ("country", "currency"),
    [
        ("GB", "GBP"),
        ("IE", "EUR"),
        ("DE", "EUR"),
        ("FR", "EUR"),
        ("ES", "EUR"),
        ("IT", "EUR"),
        ("NL", "EUR"),
        ("US", "USD"),
        ("gb", "GBP"),
        ("JP", "GBP"),
        (None, "GBP"),
    ],
)
def test_a_clinic_bills_in_its_countrys_currency(country: str | None, currency: str) -> None:
    assert currency_for(country) == currency


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (4500, "GBP", "£45.00"),
        (5, "GBP", "£0.05"),
        (120050, "EUR", "€1,200.50"),
        (10_000_000, "USD", "$100,000.00"),
        (-500, "GBP", "-£5.00"),
        (0, "GBP", "£0.00"),
    ],
)
def test_amounts_are_shown_with_symbol_pence_and_grouping(
    minor: int, currency: str, text: str
) -> None:
    assert shown(minor, currency) == text


@pytest.mark.parametrize(
    ("typed", "minor"),
    [
        ("45", 4500),
        ("45.5", 4550),
        ("45.50", 4550),
        ("£45.50", 4550),
        (" £ 45.50 ", 4550),
        ("GBP 45", 4500),
        ("0.01", 1),
        ("1,200", 120000),
        ("1,200.75", 120075),
        ("45,50", 4550),  # a decimal comma, as typed on a continental keyboard
        ("100000", 10_000_000),
    ],
)
def test_amounts_typed_at_the_desk_are_read_to_the_penny(typed: str, minor: int) -> None:
    assert parse_amount(typed, "GBP") == minor


def test_a_euro_clinic_reads_its_own_symbol() -> None:
    assert parse_amount("€12,50", "EUR") == 1250


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "missing"),
        ("   ", "missing"),
        ("abc", "is not an amount"),
        ("45.555", "more than two decimals"),
        ("4 5 . 5 . 0", "is not an amount"),
        ("-5", "more than nothing"),
        ("0", "more than nothing"),
        ("0.00", "more than nothing"),
        ("€45", "this clinic bills in GBP"),
        ("$45", "this clinic bills in GBP"),
        ("100000.01", "is more than £100,000.00"),
        ("1e5", "is not an amount"),
    ],
)
def test_nonsense_amounts_are_refused_in_words(typed: str, says: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_amount(typed, "GBP")
    assert says in refused.value.message


def test_lines_are_tidied_and_added_up() -> None:
    lines = check_lines(
        [
            {"description": "  Physiotherapy,   60 minutes ", "amount_minor": 6000},
            Line("Exercise band", 850),
        ],
        "GBP",
    )
    assert lines == [Line("Physiotherapy, 60 minutes", 6000), Line("Exercise band", 850)]
    assert total(lines) == 6850


@pytest.mark.parametrize(
    ("lines", "field", "says"),
    [
        ([], "lines", "at least one line"),
        ([{"description": "", "amount_minor": 100}], "line1", "needs a description"),
        (
            [{"description": "A", "amount_minor": 100}, {"description": "B", "amount_minor": 0}],
            "line2",
            "more than nothing",
        ),
        ([{"description": "A", "amount_minor": -100}], "line1", "more than nothing"),
        ([{"description": "A", "amount_minor": LARGEST_LINE + 1}], "line1", "£100,000.00"),
        ([{"description": "A", "amount_minor": "12"}], "line1", "needs an amount"),
        ([{"description": "A", "amount_minor": True}], "line1", "needs an amount"),
        ([{"description": "x" * 201, "amount_minor": 100}], "line1", "longer than 200"),
        (
            [{"description": f"Line {n}", "amount_minor": 100} for n in range(MAX_LINES + 1)],
            "lines",
            "at most 50 lines",
        ),
    ],
)
def test_bad_lines_are_refused_naming_the_line(
    lines: list[dict[str, object]], field: str, says: str
) -> None:
    with pytest.raises(LinesInvalid) as refused:
        check_lines(lines, "GBP")
    assert refused.value.field == field
    assert says in refused.value.message


def test_fifty_lines_at_the_largest_amount_are_a_bill() -> None:
    lines = [{"description": f"Item {n}", "amount_minor": LARGEST_LINE} for n in range(MAX_LINES)]
    assert total(check_lines(lines, "GBP")) == MAX_LINES * LARGEST_LINE


def test_a_void_needs_a_reason() -> None:
    assert check_void_reason("  issued  twice ") == "issued twice"
    with pytest.raises(InvalidInput, match="Say why"):
        check_void_reason("   ")
    with pytest.raises(InvalidInput, match="under 300"):
        check_void_reason("x" * 301)
