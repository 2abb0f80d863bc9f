from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import RecordBase


class Clinic(RecordBase):
    """A tenant. ``sync_version`` is its change counter; ``dataset_epoch`` its feed's
    generation (bumped when desks must download everything again); ``tombstone_horizon``
    the newest version whose tombstone may be gone."""

    __tablename__ = "clinics"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64))
    # ISO 3166 alpha-2: phone numbers typed without a country code are read in it. None
    # for a clinic whose country could not be told from its time zone (numbers must then
    # be typed with their country code).
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    sync_version: Mapped[int] = mapped_column(BigInteger, default=0)
    dataset_epoch: Mapped[int] = mapped_column(default=1)
    # Tombstones at or below this version may have been purged: a desk whose cursor is
    # older cannot know what it missed, and downloads everything again.
    tombstone_horizon: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
