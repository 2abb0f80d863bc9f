"""The practice profile's rules: what an admin may save (checked in words), the defaults a
clinic starts from, the logo, signed preview links and the opening hours shown publicly.

Services flush, never commit: the endpoint's ``db.writing()`` commits.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.embed import BUTTON_SIZES, COLOUR_PATTERN
from common.errors import Conflict, InvalidInput
from common.scheduling import Weekday
from server.audit import service as audit
from server.auth.context import AuthContext
from server.clinics.models import Clinic
from server.scheduling.models import Provider
from server.scheduling.settings import week_of
from server.web.models import (
    DEFAULT_BRAND_COLOUR,
    LOGO_MAX_BYTES,
    SLUG_LENGTH,
    SLUG_PATTERN,
    PracticeProfile,
)
from sync.protocol import PracticeLogoUpload, PracticeProfileBody, PracticeProfileFields

SLUG = re.compile(SLUG_PATTERN)
# Words the portal's own addresses use after /portal/ (invitations, sign-in links): a
# clinic whose page took one would find its portal unreachable.
RESERVED_SLUGS = frozenset({"invite", "link", "static", "api"})
TAKEN = "That address is already taken: choose another for the practice page."
# The longest each field may be, as the table holds it (and the page shows it).
LIMITS = {
    "display_name": 200,
    "specialty": 200,
    "address": 500,
    "phone": 40,
    "email": 254,
    "about": 5000,
    "cancellation_policy": 2000,
}
LABELS = {
    "slug": "The page address",
    "display_name": "The practice name",
    "specialty": "The specialty",
    "address": "The address",
    "phone": "The phone number",
    "email": "The e-mail address",
    "about": "The text about the practice",
    "cancellation_policy": "The cancellation policy",
}
PROSE = frozenset({"about", "cancellation_policy", "address"})
INSURANCES_MAX = 30
INSURANCE_LENGTH = 80
PREVIEW_MINUTES = 15
PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"


# --- reading -----------------------------------------------------------------------------


def profile_of(
    session: Session, clinic_id: uuid.UUID, *, lock: bool = False
) -> PracticeProfile | None:
    query = select(PracticeProfile).where(PracticeProfile.clinic_id == clinic_id)
    return session.scalar(query.with_for_update() if lock else query)


def _slug_owner(session: Session, slug: str) -> uuid.UUID | None:
    return session.scalar(select(PracticeProfile.clinic_id).where(PracticeProfile.slug == slug))


def logo_version(profile: PracticeProfile) -> str:
    return hashlib.sha256(profile.logo).hexdigest()[:10] if profile.logo else ""


def body_of(session: Session, clinic_id: uuid.UUID, public_base_url: str) -> PracticeProfileBody:
    """The clinic's profile, or what a new one would start from: the clinic's own name,
    and its sign-in slug as the address when no other page has it."""
    profile = profile_of(session, clinic_id)
    if profile is not None:
        return PracticeProfileBody(
            slug=profile.slug,
            display_name=profile.display_name,
            specialty=profile.specialty,
            address=profile.address,
            phone=profile.phone,
            email=profile.email,
            about=profile.about,
            insurances=list(profile.insurances or []),
            cancellation_policy=profile.cancellation_policy,
            brand_colour=profile.brand_colour,
            published=profile.published,
            booking_enabled=profile.booking_enabled,
            leads_enabled=profile.leads_enabled,
            button_size=profile.button_size,
            button_colour=profile.button_colour,
            saved=True,
            has_logo=profile.logo is not None,
            logo_version=logo_version(profile),
            public_base_url=public_base_url,
        )
    clinic = session.get(Clinic, clinic_id)
    assert clinic is not None  # the caller's own clinic
    owner = _slug_owner(session, clinic.slug)
    free = (
        owner is None and SLUG.match(clinic.slug) is not None and clinic.slug not in RESERVED_SLUGS
    )
    return PracticeProfileBody(
        slug=clinic.slug if free else "",
        display_name=clinic.name,
        brand_colour=DEFAULT_BRAND_COLOUR,
        button_colour=DEFAULT_BRAND_COLOUR,
        public_base_url=public_base_url,
    )


# --- checking what an admin sends ----------------------------------------------------------


def _no_controls(text: str, prose: bool) -> bool:
    allowed = "\t\n\r" if prose else "\t"
    return not any((ord(ch) < 32 and ch not in allowed) or ord(ch) == 127 for ch in text)


def checked(fields: PracticeProfileFields) -> PracticeProfileFields:
    """``fields`` trimmed, or ``InvalidInput`` naming every problem in words."""
    problems: list[str] = []
    values = fields.model_dump()
    for name in ("slug", *LIMITS):
        values[name] = values[name].strip()
    values["slug"] = values["slug"].lower()
    slug = values["slug"]
    if not slug:
        problems.append("The page address is missing.")
    elif len(slug) > SLUG_LENGTH or not SLUG.match(slug):
        problems.append(
            f"The page address {slug[:80]!r} cannot be used: use lower-case letters, digits "
            f"and single hyphens (at most {SLUG_LENGTH}), for example 'riverside-physio'."
        )
    elif slug in RESERVED_SLUGS:
        problems.append(
            f"The page address {slug!r} is kept for the server's own use: choose another."
        )
    if not values["display_name"]:
        problems.append("The practice name is missing.")
    for name, limit in LIMITS.items():
        text = values[name]
        if len(text) > limit:
            problems.append(f"{LABELS[name]} is too long: at most {limit} characters.")
        if not _no_controls(text, name in PROSE):
            problems.append(f"{LABELS[name]} contains characters that cannot be shown.")
    insurances = [item.strip() for item in values["insurances"] if item.strip()]
    if len(insurances) > INSURANCES_MAX:
        problems.append(f"At most {INSURANCES_MAX} insurances can be listed.")
    for item in insurances:
        if len(item) > INSURANCE_LENGTH:
            problems.append(
                f"The insurance {item[:30]!r}… is too long: at most {INSURANCE_LENGTH} characters."
            )
        if not _no_controls(item, False):
            problems.append("An insurance name contains characters that cannot be shown.")
    values["insurances"] = list(dict.fromkeys(insurances))
    for name, label in (
        ("brand_colour", "The page colour"),
        ("button_colour", "The button colour"),
    ):
        colour = values[name].strip()
        if not COLOUR_PATTERN.match(colour):
            problems.append(f"{label} {colour[:20]!r} is not a colour: use the form #1f5f8b.")
        values[name] = colour.lower()
    if values["button_size"] not in BUTTON_SIZES:
        problems.append("The button size must be small, medium or large.")
    if problems:
        raise InvalidInput(" ".join(problems))
    return PracticeProfileFields.model_validate(values)


# --- changing -------------------------------------------------------------------------------


def _apply(profile: PracticeProfile, fields: PracticeProfileFields) -> bool:
    changed = False
    for name, value in fields.model_dump().items():
        if getattr(profile, name) != value:
            setattr(profile, name, value)
            changed = True
    return changed


def save(session: Session, ctx: AuthContext, fields: PracticeProfileFields) -> PracticeProfile:
    """Create or replace the clinic's profile. The same values again change nothing (no
    new stamp, no audit row)."""
    fields = checked(fields)
    owner = _slug_owner(session, fields.slug)
    if owner is not None and owner != ctx.clinic_id:
        raise InvalidInput(TAKEN)
    profile = profile_of(session, ctx.clinic_id, lock=True)
    if profile is None:
        profile = PracticeProfile(clinic_id=ctx.clinic_id)
        session.add(profile)
        _apply(profile, fields)
        action = "create"
    elif _apply(profile, fields):
        action = "update"
    else:
        return profile
    profile.changed_by_staff_id = ctx.staff_id
    _flush(session)
    audit.record(
        session,
        ctx,
        action=action,
        entity="practice_profile",
        entity_id=profile.id,
        reason="practice page settings",
    )
    return profile


def _flush(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError as exc:  # another clinic took the address a moment ago
        raise Conflict(TAKEN) from exc


def image_type(data: bytes) -> str | None:
    """What the bytes are, by their first bytes (never by what the sender claims)."""
    if data.startswith(PNG):
        return "image/png"
    if data.startswith(JPEG):
        return "image/jpeg"
    return None


def logo_bytes(raw: bytes, content_type: str) -> bytes:
    """The logo from a request body: the image itself, or JSON carrying it in base64."""
    if content_type.split(";")[0].strip().lower() == "application/json":
        try:
            upload = PracticeLogoUpload.model_validate_json(raw)
            return base64.b64decode(upload.content_base64, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise InvalidInput(
                "The logo could not be read: send the image itself, or JSON with the image "
                "in base64 as content_base64."
            ) from exc
    return raw


def set_logo(session: Session, ctx: AuthContext, data: bytes) -> PracticeProfile:
    if not data:
        raise InvalidInput("The logo file is empty.")
    if len(data) > LOGO_MAX_BYTES:
        raise InvalidInput(
            f"The logo is too large ({len(data) // 1024} KB): at most {LOGO_MAX_BYTES // 1024} KB. "
            "Save a smaller version of it and try again."
        )
    kind = image_type(data)
    if kind is None:
        raise InvalidInput("The logo must be a PNG or JPEG image.")
    profile = _existing(session, ctx)
    if profile.logo != data:
        profile.logo, profile.logo_type = data, kind
        profile.changed_by_staff_id = ctx.staff_id
        session.flush()
        audit.record(
            session,
            ctx,
            action="update",
            entity="practice_profile",
            entity_id=profile.id,
            reason="practice page logo",
        )
    return profile


def remove_logo(session: Session, ctx: AuthContext) -> PracticeProfile:
    profile = _existing(session, ctx)
    if profile.logo is not None:
        profile.logo, profile.logo_type = None, None
        profile.changed_by_staff_id = ctx.staff_id
        session.flush()
        audit.record(
            session,
            ctx,
            action="update",
            entity="practice_profile",
            entity_id=profile.id,
            reason="practice page logo removed",
        )
    return profile


def _existing(session: Session, ctx: AuthContext) -> PracticeProfile:
    profile = profile_of(session, ctx.clinic_id, lock=True)
    if profile is None:
        raise InvalidInput("Save the practice page's details first, then add its logo.")
    return profile


# --- previews ------------------------------------------------------------------------------


def _preview_mac(secret_key: str, clinic_id: uuid.UUID, expires: int) -> str:
    message = f"practice-preview:{clinic_id}:{expires}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def preview_token(secret_key: str, clinic_id: uuid.UUID, now: datetime) -> tuple[str, datetime]:
    """A token that shows this clinic's page, published or not, for a few minutes. Signed,
    not stored: nothing to clean up, and it cannot be stretched or moved to another clinic."""
    expires_at = now + timedelta(minutes=PREVIEW_MINUTES)
    expires = int(expires_at.timestamp())
    return f"{expires}.{_preview_mac(secret_key, clinic_id, expires)}", expires_at


def preview_allows(secret_key: str, token: str, clinic_id: uuid.UUID, now: datetime) -> bool:
    expires_text, _, mac = token.partition(".")
    if not (expires_text.isascii() and expires_text.isdigit()) or len(expires_text) > 12:
        return False
    if len(mac) != 64 or not mac.isascii():
        return False
    expires = int(expires_text)
    if expires <= now.timestamp():
        return False
    return hmac.compare_digest(mac, _preview_mac(secret_key, clinic_id, expires))


# --- opening hours ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayHours:
    day: str
    ranges: tuple[tuple[time, time], ...]

    @property
    def text(self) -> str:
        if not self.ranges:
            return "Closed"
        return ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in self.ranges)


def opening_hours(session: Session, clinic_id: uuid.UUID) -> list[DayHours]:
    """When the practice is open, Monday to Sunday: every active provider's usual week laid
    over each other (a patient asks when someone is there, not who). Empty when no
    provider has a week set, rather than a week of "Closed"."""
    providers = session.scalars(
        select(Provider).where(
            Provider.clinic_id == clinic_id, Provider.deleted_at.is_(None), Provider.active
        )
    ).all()
    by_day: dict[int, list[tuple[time, time]]] = {day: [] for day in Weekday}
    for provider in providers:
        for working in week_of(provider):
            by_day[int(working.weekday)].append((working.start, working.end))
    if not any(by_day.values()):
        return []
    return [DayHours(day.name.title(), _merged(by_day[day])) for day in Weekday]


def _merged(ranges: list[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    merged: list[tuple[time, time]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)
