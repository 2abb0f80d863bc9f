from __future__ import annotations

from datetime import date

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from common.patients import Sex
from server.db import StrEnumColumn, Synced, feed_index


class Patient(Synced):
    __tablename__ = "patients"
    __table_args__ = (feed_index("patients"),)

    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100), index=True)
    date_of_birth: Mapped[date | None] = mapped_column(default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    sex: Mapped[Sex] = mapped_column(
        StrEnumColumn(Sex, 16), default=Sex.UNKNOWN, server_default=Sex.UNKNOWN.value
    )
    address_line1: Mapped[str] = mapped_column(String(200), default="", server_default="")
    address_line2: Mapped[str] = mapped_column(String(200), default="", server_default="")
    city: Mapped[str] = mapped_column(String(100), default="", server_default="")
    postcode: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # Staff alerts on the file ("needs wheelchair access"): a few short lines, read and
    # replaced whole with the rest of the details.
    alerts: Mapped[list[str]] = mapped_column(JSON, default=list)
