"""What a clinic pastes into its own website: a "Book appointment" button and the booking
widget in an iframe, both pointing at the clinic's booking page on this server.

Plain HTML with inline styles only (no script, nothing to load): it must work pasted into
any site builder, whose own styles and scripts we know nothing of. Built from the saved
profile, here rather than on the server, so the desk shows exactly what the server would
and tests check one function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

COLOUR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOUR = "#1f5f8b"


@dataclass(frozen=True, slots=True)
class ButtonSize:
    font_px: int
    padding: str  # vertical and horizontal, in px
    label: str


BUTTON_SIZES: dict[str, ButtonSize] = {
    "small": ButtonSize(14, "8px 14px", "Small"),
    "medium": ButtonSize(16, "12px 20px", "Medium"),
    "large": ButtonSize(20, "16px 28px", "Large"),
}
DEFAULT_SIZE = "medium"


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio of two ``#rrggbb`` colours."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(colour: str) -> str:
    """Black or white, whichever reads better on ``colour``: whatever an admin picks,
    the button's words stay readable."""
    return "#ffffff" if contrast(colour, "#ffffff") >= contrast(colour, "#000000") else "#000000"


def _colour(colour: str) -> str:
    return colour.lower() if COLOUR_PATTERN.match(colour or "") else DEFAULT_COLOUR


def booking_url(public_base_url: str, slug: str) -> str:
    return f"{public_base_url.rstrip('/')}/book/{slug}"


def button_code(public_base_url: str, slug: str, *, size: str, colour: str) -> str:
    """An ``<a>`` styled as a button: a link works in every site builder, opens the booking
    page in a new tab, and needs nothing from us to render."""
    chosen = BUTTON_SIZES.get(size, BUTTON_SIZES[DEFAULT_SIZE])
    background = _colour(colour)
    style = (
        f"display:inline-block;padding:{chosen.padding};font:600 {chosen.font_px}px/1.2 "
        f"system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:{text_on(background)};"
        f"background:{background};border-radius:4px;text-decoration:none"
    )
    href = escape(booking_url(public_base_url, slug), quote=True)
    return (
        f'<a href="{href}" target="_blank" rel="noopener" '
        f'style="{escape(style, quote=True)}">Book appointment</a>'
    )


def iframe_code(public_base_url: str, slug: str, *, name: str) -> str:
    """The booking widget inside the clinic's own page (the booking page allows framing)."""
    src = escape(booking_url(public_base_url, slug), quote=True)
    title = escape(f"Book an appointment with {name}", quote=True)
    return (
        f'<iframe src="{src}" title="{title}" width="100%" height="720" '
        'style="border:0;max-width:480px" loading="lazy"></iframe>'
    )
