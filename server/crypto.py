"""Patient data sealed by the server before it reaches the database, and found again
through a keyed index.

A copy of the database (a backup, a stolen disk, a dump handed to support) should not give
away how to reach a clinic's patients. So their phone numbers are encrypted here, at the
application level, and the database only ever holds ciphertext:

- **Sealing**: AES-256-GCM with a random 96-bit nonce per value. The stored text is
  base64 of ``version byte | nonce | ciphertext and tag``; the version byte names the key
  (so keys can be rotated later, old values still read), and the table and column are the
  associated data, so a value copied into another column does not open there.
- **Finding**: a number cannot be looked up by its ciphertext, so each sealed phone has a
  *blind index* beside it: HMAC-SHA256 of its E.164 form, cut to 16 bytes. The HMAC is
  keyed, so the index cannot be reversed by hashing every possible number.

Both keys are derived (HKDF-SHA256, each with its own ``info``) from ``field_key`` or, when
that is unset, from ``secret_key``. They are set once per process by whatever opens the
database (``server.app.create_app``, ``server.db.migrate`` and so the CLI):
``configure(settings)``. Reading or writing a sealed column before that raises
``FieldKeysMissing`` rather than guessing a key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Dialect, Text, TypeDecorator
from sqlalchemy.sql import operators

if TYPE_CHECKING:
    from server.config import Settings

# The key version written today. A later key is added under a new version; values sealed
# under this one keep opening as long as its key is kept.
VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
INDEX_BYTES = 16
# What the database holds: no digits but these, and one leading "+".
E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_SEPARATORS = str.maketrans("", "", " ()-.\t")


class FieldKeysMissing(RuntimeError):
    """A sealed column was used before the process was given its keys: a programming
    error in a new entry point."""


class UnreadableField(RuntimeError):
    """A sealed value that does not open: sealed for another column, under another key,
    or altered. Never garbage: the caller gets this instead."""


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode("utf-8")
    )


@dataclass(frozen=True, repr=False)
class FieldKeys:
    """The two keys of one server: sealing, and the blind index. Independent: knowing
    one index value tells nothing about the sealing key, and the other way round."""

    sealing: bytes
    index: bytes
    _aead: AESGCM = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_aead", AESGCM(self.sealing))  # made once: the feed opens many

    @classmethod
    def from_settings(cls, settings: Settings) -> FieldKeys:
        if settings.field_key is not None:
            secret, source = settings.field_key.get_secret_value(), b"field-key"
        else:
            # A distinct info: the same string given as both settings gives other keys.
            secret, source = settings.secret_key, b"secret-key"
        return cls(
            sealing=_derive(secret, b"clinicdesk/" + source + b"/seal/v1"),
            index=_derive(secret, b"clinicdesk/" + source + b"/phone-index/v1"),
        )

    def seal(self, text: str, *, table: str, column: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        header = bytes([VERSION])
        sealed = self._aead.encrypt(nonce, text.encode("utf-8"), _associated(header, table, column))
        return base64.b64encode(header + nonce + sealed).decode("ascii")

    def open(self, stored: str, *, table: str, column: str) -> str:
        try:
            raw = base64.b64decode(stored.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise _unreadable(table, column) from None
        header, nonce, sealed = raw[:1], raw[1 : 1 + NONCE_BYTES], raw[1 + NONCE_BYTES :]
        if header != bytes([VERSION]) or len(sealed) < TAG_BYTES:
            raise _unreadable(table, column)
        try:
            text = self._aead.decrypt(nonce, sealed, _associated(header, table, column))
        except InvalidTag:
            raise _unreadable(table, column) from None
        return text.decode("utf-8")

    def phone_index(self, e164: str) -> str:
        if not E164.fullmatch(e164):
            # The number itself is not repeated: messages end up in logs.
            raise ValueError("a phone index is made from a number in E.164 form (+4420…)")
        digest = hmac.new(self.index, e164.encode("ascii"), hashlib.sha256).digest()
        return digest[:INDEX_BYTES].hex()

    def index_of_stored_phone(self, stored: str | None) -> str | None:
        """The index of a number as a patient's file holds it, or None when it has no
        country code (typed before numbers were kept in E.164): such a number cannot be
        matched to an inbound message's sender until it is retyped."""
        e164 = e164_form(stored)
        return None if e164 is None else self.phone_index(e164)


def _unreadable(table: str, column: str) -> UnreadableField:
    return UnreadableField(
        f"A value in {table}.{column} cannot be read with this server's field key: it was "
        "sealed for another column, under another key (CLINICDESK_FIELD_KEY, or "
        "CLINICDESK_SECRET_KEY when that is unset), or altered."
    )


def _associated(header: bytes, table: str, column: str) -> bytes:
    return b"clinicdesk|" + header + b"|" + f"{table}.{column}".encode()


def e164_form(stored: str | None) -> str | None:
    """``stored`` as E.164 once spaces, dashes, dots and brackets are taken out, else
    None. Numbers saved through ``common.patients`` already are E.164."""
    if not stored:
        return None
    compact = stored.translate(_SEPARATORS)
    return compact if E164.fullmatch(compact) else None


# --- the process's keys ----------------------------------------------------------------

_keys: FieldKeys | None = None


def configure(settings: Settings) -> FieldKeys:
    """Give this process the keys of ``settings``. Called by ``create_app`` and
    ``migrate``; a new entry point that opens the database without either calls it
    first. Calling it again (another app in the same process, as tests do) replaces
    them."""
    global _keys
    _keys = FieldKeys.from_settings(settings)
    return _keys


def field_keys() -> FieldKeys:
    if _keys is None:
        raise FieldKeysMissing(
            "The field encryption keys are not set in this process: call "
            "server.crypto.configure(settings) before reading or writing patients (the "
            "app, migrations and the clinicdesk command do)."
        )
    return _keys


def phone_index(e164: str) -> str:
    """The blind index of a number in E.164 form (``+447700900123``): equal numbers give
    equal indexes under one server's keys, and nothing else can be read from it."""
    return field_keys().phone_index(e164)


def index_of_stored_phone(stored: str | None) -> str | None:
    """What ``Patient.phone_index`` holds for ``stored`` (see ``FieldKeys``); no key is
    needed for a file without a phone."""
    return None if e164_form(stored) is None else field_keys().index_of_stored_phone(stored)


# --- the column type -------------------------------------------------------------------


class EncryptedText(TypeDecorator[str]):
    """A text column stored sealed, read back as the text it was.

    The table and column are named here, not discovered, because they are the associated
    data: they must stay what they were when the values were sealed. Comparing the column
    in SQL is refused: a fresh nonce makes every ciphertext different, so ``phone == x``
    would quietly match nothing. Compare the blind index instead."""

    impl = Text
    cache_ok = True

    class Comparator(TypeDecorator.Comparator[str]):
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            _only_null_tests(op)
            return super().operate(op, *other, **kwargs)

        def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
            _only_null_tests(op)
            return super().reverse_operate(op, other, **kwargs)

    comparator_factory = Comparator

    def __init__(self, table: str, column: str) -> None:
        super().__init__()
        self.table = table
        self.column = column

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return field_keys().seal(value, table=self.table, column=self.column)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return field_keys().open(value, table=self.table, column=self.column)


def _only_null_tests(op: Any) -> None:
    if op not in (operators.is_, operators.is_not):
        raise TypeError(
            "An encrypted column cannot be compared or sorted in SQL (each value is sealed "
            "with a fresh nonce); compare its blind index instead."
        )
