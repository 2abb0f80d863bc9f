from __future__ import annotations

from datetime import date

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column, validates

from common.patients import Sex
from server.crypto import INDEX_BYTES, EncryptedText, index_of_stored_phone
from server.db import StrEnumColumn, Synced, feed_index


class Patient(Synced):
    __tablename__ = "patients"
    __table_args__ = (
        feed_index("patients"),
        Index("ix_patients_clinic_phone_index", "clinic_id", "phone_index"),
    )

    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100), index=True)
    date_of_birth: Mapped[date | None] = mapped_column(default=None)
    # Sealed in the database (``server.crypto``): the attribute is the number as it was
    # saved, the column only ciphertext. ``phone_index`` finds a patient by number (an
    # inbound message's sender) and follows ``phone`` by itself; never set it directly.
    phone: Mapped[str | None] = mapped_column(EncryptedText("patients", "phone"), default=None)
    phone_index: Mapped[str | None] = mapped_column(String(2 * INDEX_BYTES), default=None)
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

    @validates("phone")
    def _index_phone(self, _key: str, phone: str | None) -> str | None:
        self.phone_index = index_of_stored_phone(phone)
        return phone
