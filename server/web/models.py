"""What the patients' pages keep of their own: each clinic's public profile (its name,
colours and logo on every page) and the counters behind their rate limits."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, ClinicScoped

# A profile's public address: lower-case letters, digits and single hyphens.
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
SLUG_LENGTH = 64
DEFAULT_BRAND_COLOUR = "#1f5f8b"
LOGO_MAX_BYTES = 200 * 1024


class PracticeProfile(ClinicScoped):
    """A clinic's public face: the practice page, and the name, logo and colours every
    patient page carries. At most one per clinic; a clinic without one is shown under its
    own name and slug, with booking and enquiries closed until an admin opens them.

    ``slug`` is the public address (``/practice/{slug}``, ``/book/{slug}``), unique on
    the server and separate from the clinic's sign-in slug, so renaming the public page
    never signs a desk out.
    """

    __tablename__ = "practice_profiles"
    __table_args__ = (
        UniqueConstraint("clinic_id", name="uq_practice_profiles_clinic"),
        UniqueConstraint("slug", name="uq_practice_profiles_slug"),
    )

    slug: Mapped[str] = mapped_column(String(SLUG_LENGTH))
    display_name: Mapped[str] = mapped_column(String(200))
    specialty: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    about: Mapped[str] = mapped_column(Text, default="")
    insurances: Mapped[list[str]] = mapped_column(JSON, default=list)
    # What patients read before they cancel (shown on confirmation pages).
    cancellation_policy: Mapped[str] = mapped_column(Text, default="")
    brand_colour: Mapped[str] = mapped_column(String(7), default=DEFAULT_BRAND_COLOUR)
    logo: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    logo_type: Mapped[str | None] = mapped_column(String(32), default=None)
    # Where video consultations take place: an https address with {room} in it
    # (``common.video``); empty: the default provider.
    video_room_template: Mapped[str] = mapped_column(String(200), default="")
    # The public page is listed; booking (the widget) and enquiries (the lead form) are
    # opened separately: a clinic may take enquiries before it takes bookings.
    published: Mapped[bool] = mapped_column(default=False)
    booking_enabled: Mapped[bool] = mapped_column(default=False)
    leads_enabled: Mapped[bool] = mapped_column(default=False)
    # The "Book appointment" button for the clinic's own website.
    button_size: Mapped[str] = mapped_column(String(8), default="medium")
    button_colour: Mapped[str] = mapped_column(String(7), default=DEFAULT_BRAND_COLOUR)
    changed_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )


class RateCounter(Base):
    """Requests counted per (scope, key) in fixed windows, in the database so every
    worker process of a server shares them. ``key`` is a keyed hash (of an address, a
    link), never the address itself."""

    __tablename__ = "web_rate_counters"
    __table_args__ = (
        UniqueConstraint("scope", "key", "window_start", name="uq_web_rate_counters_window"),
        Index("ix_web_rate_counters_window_start", "window_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[datetime]
    count: Mapped[int] = mapped_column(default=0)


__all__ = ["PracticeProfile", "RateCounter"]
