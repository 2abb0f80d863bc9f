"""The website button and iframe: the booking address, the chosen size and colour,
readable text whatever the colour, and every value escaped."""

from __future__ import annotations

import re

import pytest

from common.embed import BUTTON_SIZES, button_code, contrast, iframe_code, text_on

BASE = "https://clinic.example.com/"


def _style(code: str) -> str:
    found = re.search(r'style="([^"]*)"', code)
    assert found
    return found.group(1)


def test_the_button_links_to_the_booking_page_in_a_new_tab() -> None:
    code = button_code(BASE, "alder-physio", size="medium", colour="#1F5F8B")
    assert code.startswith('<a href="https://clinic.example.com/book/alder-physio"')
    assert 'target="_blank" rel="noopener"' in code
    assert code.endswith(">Book appointment</a>")
    assert "background:#1f5f8b" in _style(code)
    assert "color:#ffffff" in _style(code)
    assert "<script" not in code


@pytest.mark.parametrize("size", list(BUTTON_SIZES))
def test_each_size_sets_its_font_and_padding(size: str) -> None:
    style = _style(button_code(BASE, "x", size=size, colour="#000000"))
    chosen = BUTTON_SIZES[size]
    assert f"{chosen.font_px}px" in style
    assert f"padding:{chosen.padding}" in style


def test_sizes_differ_and_an_unknown_size_is_medium() -> None:
    styles = {_style(button_code(BASE, "x", size=s, colour="#000000")) for s in BUTTON_SIZES}
    assert len(styles) == 3
    assert button_code(BASE, "x", size="huge", colour="#000000") == button_code(
        BASE, "x", size="medium", colour="#000000"
    )


@pytest.mark.parametrize(
    "colour", ["#ffcc00", "#ffffff", "#1f5f8b", "#000000", "#e91e63", "#777777"]
)
def test_text_is_chosen_for_contrast(colour: str) -> None:
    text = text_on(colour)
    assert contrast(colour, text) >= max(contrast(colour, "#ffffff"), contrast(colour, "#000000"))
    assert f"color:{text}" in _style(button_code(BASE, "x", size="small", colour=colour))
    assert text_on("#ffcc00") == "#000000"
    assert text_on("#1f5f8b") == "#ffffff"


def test_everything_is_escaped() -> None:
    code = button_code('https://x.example/"><script>', "a", size="small", colour='"red')
    assert "<script>" not in code
    assert "&quot;&gt;&lt;script&gt;" in code
    assert "background:#1f5f8b" in code, "a colour that is not #rrggbb is never written"
    frame = iframe_code(BASE, "alder-physio", name='Dr "O\'Neil" <b>&')
    assert 'src="https://clinic.example.com/book/alder-physio"' in frame
    assert 'title="Book an appointment with Dr &quot;O&#x27;Neil&quot; &lt;b&gt;&amp;"' in frame
    assert frame.startswith("<iframe ")
    assert frame.endswith("</iframe>")
