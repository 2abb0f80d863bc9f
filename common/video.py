"""Video consultations: the room address a booking gets.

A clinic names its video provider by an address template with ``{room}`` in it (Jitsi
Meet by default; a Whereby, Zoom or self-hosted address works the same way). Each video
booking gets a random room name, unguessable, so the address itself is the key to the
room and is shown only to the patient and the clinic's staff.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from common.errors import InvalidInput

DEFAULT_ROOM_TEMPLATE = "https://meet.jit.si/{room}"
TEMPLATE_LENGTH = 200


def check_room_template(template: str) -> str:
    cleaned = template.strip()
    if not cleaned:
        return ""  # the default
    if len(cleaned) > TEMPLATE_LENGTH:
        raise InvalidInput(f"The video room address is at most {TEMPLATE_LENGTH} characters.")
    if cleaned.count("{room}") != 1:
        raise InvalidInput(
            "Write the video room address with {room} where the room's name goes, like "
            "https://meet.jit.si/{room}."
        )
    parts = urlsplit(cleaned.replace("{room}", "room"))
    if "{room}" in urlsplit(cleaned).netloc:
        raise InvalidInput(
            "Put {room} in the path of the video room address (after the first /), not in "
            "the server's name."
        )
    if parts.scheme != "https" or not parts.netloc or any(c in cleaned for c in " <>\"'"):
        raise InvalidInput(
            "The video room address must be a secure web address starting with https://."
        )
    return cleaned


def new_room_url(template: str, clinic_slug: str = "") -> str:
    """A fresh room's address: the clinic's template, or the default."""
    room = (
        f"{clinic_slug}-{secrets.token_urlsafe(15)}" if clinic_slug else secrets.token_urlsafe(18)
    )
    return (template or DEFAULT_ROOM_TEMPLATE).replace("{room}", room)
