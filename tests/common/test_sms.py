"""Text message rules: segment counting against the carriers' arithmetic, and keywords."""

from __future__ import annotations

import pytest

from common.sms import (
    Keyword,
    SmsSize,
    help_reply,
    keyword,
    opt_in_reply,
    opt_out_reply,
    segments,
)

# --- segments ------------------------------------------------------------------------

BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = "\f^{}\\[~]|€"


@pytest.mark.parametrize(
    ("char", "length", "expected"),
    [
        ("a", 1, SmsSize("GSM-7", 1, 1, 160, 159)),
        ("a", 159, SmsSize("GSM-7", 159, 1, 160, 1)),
        ("a", 160, SmsSize("GSM-7", 160, 1, 160, 0)),
        ("a", 161, SmsSize("GSM-7", 161, 2, 153, 145)),
        ("a", 306, SmsSize("GSM-7", 306, 2, 153, 0)),
        ("a", 307, SmsSize("GSM-7", 307, 3, 153, 152)),
        ("a", 459, SmsSize("GSM-7", 459, 3, 153, 0)),
        ("a", 460, SmsSize("GSM-7", 460, 4, 153, 152)),
        ("ж", 1, SmsSize("UCS-2", 1, 1, 70, 69)),
        ("ж", 70, SmsSize("UCS-2", 70, 1, 70, 0)),
        ("ж", 71, SmsSize("UCS-2", 71, 2, 67, 63)),
        ("ж", 134, SmsSize("UCS-2", 134, 2, 67, 0)),
        ("ж", 135, SmsSize("UCS-2", 135, 3, 67, 66)),
    ],
)
def test_lengths(char: str, length: int, expected: SmsSize) -> None:
    assert segments(char * length) == expected


def test_empty_text_costs_nothing() -> None:
    assert segments("") == SmsSize("GSM-7", 0, 0, 160, 160)


def test_every_basic_character_is_one_septet() -> None:
    for ch in BASIC:
        assert segments(ch) == SmsSize("GSM-7", 1, 1, 160, 159), repr(ch)


def test_every_extension_character_is_two_septets() -> None:
    for ch in EXTENSION:
        assert segments(ch) == SmsSize("GSM-7", 2, 1, 160, 158), repr(ch)
    assert segments("€" * 80).segments == 1
    assert segments("€" * 81).segments == 2


@pytest.mark.parametrize("ch", ["á", "ç", "ê", "’", "“", "ж", "中", "\x1b", "\t"])
def test_one_character_outside_gsm_makes_the_whole_text_ucs2(ch: str) -> None:
    size = segments("a" * 69 + ch)
    assert size.encoding == "UCS-2"
    assert (size.units, size.segments) == (70, 1)
    assert segments("a" * 70 + ch).segments == 2


def test_escape_pair_is_never_split_across_segments() -> None:
    # 306 septets would fit two parts exactly, but the euro sign would straddle the first
    # boundary (septets 153 and 154), so it opens the second part and a third is needed.
    text = "a" * 152 + "€" + "a" * 152
    size = segments(text)
    assert size.units == 306
    assert size.segments == 3
    assert size.remaining == 152
    # The same text with the euro sign away from a boundary fits in two.
    assert segments("€" + "a" * 304).segments == 2


def test_emoji_counts_two_units_and_is_never_split() -> None:
    assert segments("😀") == SmsSize("UCS-2", 2, 1, 70, 68)
    assert segments("😀" * 35).segments == 1
    assert segments("😀" * 36).segments == 2
    text = "ж" * 66 + "😀" + "ж" * 66  # 134 units: two parts, were the pair split
    size = segments(text)
    assert size.units == 134
    assert size.segments == 3
    assert size.remaining == 66


def test_mixed_text_counts_in_ucs2() -> None:
    size = segments("Your appointment is confirmed 👍")
    assert size.encoding == "UCS-2"
    assert size.units == len("Your appointment is confirmed ") + 2


# --- keywords ------------------------------------------------------------------------

WORDS = {
    "stop": Keyword.OPT_OUT,
    "stopall": Keyword.OPT_OUT,
    "unsubscribe": Keyword.OPT_OUT,
    "cancel": Keyword.OPT_OUT,
    "end": Keyword.OPT_OUT,
    "quit": Keyword.OPT_OUT,
    "revoke": Keyword.OPT_OUT,
    "optout": Keyword.OPT_OUT,
    "start": Keyword.OPT_IN,
    "unstop": Keyword.OPT_IN,
    "help": Keyword.HELP,
    "info": Keyword.HELP,
}
CASES = (
    str.lower,
    str.upper,
    str.title,
    lambda w: "".join(ch.upper() if i % 2 else ch for i, ch in enumerate(w)),
)
SURROUNDINGS = (
    "{}",
    " {}",
    "{} ",
    "  {}  ",
    "\n{}\n",
    "\t{} \r\n",
    "{}.",
    "{}!",
    " {}!! ",
    "{}?",
    "'{}'",
)


@pytest.mark.parametrize("word", sorted(WORDS))
def test_every_keyword_in_every_case_and_spacing(word: str) -> None:
    for case in CASES:
        for around in SURROUNDINGS:
            body = around.format(case(word))
            assert keyword(body) is WORDS[word], repr(body)


def test_full_width_letters_read_as_the_word() -> None:
    assert keyword("ＳＴＯＰ") is Keyword.OPT_OUT


@pytest.mark.parametrize(
    "body",
    [
        "please don't stop my appointment",
        "Stop it",
        "stop stop",
        "s top",
        "stopp",
        "stopping",
        "yes",
        "y",
        "ok",
        "",
        "   ",
        "...",
        "Can I cancel my appointment?",
        "help me please",
        "start time?",
    ],
)
def test_anything_more_than_the_word_is_not_a_keyword(body: str) -> None:
    assert keyword(body) is None


# --- replies -------------------------------------------------------------------------

NAMES = (
    "Brook Street Clinic",
    "Riverside Physiotherapy & Sports Injuries",  # 40 characters
    "Dr Müller's Praxis",
    "Clínica Dental Sonrisa",
)
PHONE = "+44 20 7946 0000"


@pytest.mark.parametrize("name", NAMES)
def test_replies_fit_one_text_and_name_the_clinic(name: str) -> None:
    replies = {
        "help": help_reply(name, PHONE),
        "out": opt_out_reply(name),
        "in": opt_in_reply(name),
    }
    for reply in replies.values():
        assert reply.startswith(f"{name}: ")
        assert len(reply) <= 160
        if segments(name).encoding == "GSM-7":
            assert segments(reply).encoding == "GSM-7"
            assert segments(reply).segments == 1
    assert "START" in replies["out"]
    assert "STOP" in replies["in"]
    assert PHONE in replies["help"]
    assert "STOP" in replies["help"]


def test_opt_out_reply_reads_as_the_brief_example() -> None:
    assert opt_out_reply("Brook Street Clinic") == (
        "Brook Street Clinic: you will get no more texts from us. "
        "Reply START to receive them again."
    )


def test_help_reply_without_a_phone_still_says_how_to_stop() -> None:
    reply = help_reply("Brook Street Clinic", "")
    assert "call" not in reply
    assert "Reply STOP" in reply
    assert "  " not in reply
