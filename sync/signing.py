"""Proof of who made a change: a signing key per (staff member, workstation).

A device token proves only *which workstation* is calling. Each change in the outbox is
therefore signed, when it is made, with a key that belongs to the person signed in: an
Ed25519 key made on this desk at an online sign-in, whose public half the server keeps
(the private half never leaves the desk). On the desk the private key is kept wrapped —
AES-GCM under a key derived from that person's password with argon2id — so only someone
who knows the password can sign, offline too, and a copy of the store file alone signs
nothing.

What is signed is ``sync.protocol.signed_bytes(mutation)``: the mutation's fields in a
canonical JSON form, so the desk and the server compute the same bytes from one message.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sync.protocol import Mutation, b64, signed_bytes, unb64

# argon2id for the wrapping key: the library's recommended cost, as for passwords.
KDF_TIME_COST, KDF_MEMORY_KIB, KDF_PARALLELISM = 3, 64 * 1024, 4
_WRAP_CONTEXT = b"clinicdesk signing key v1"


class WrongPassword(Exception):
    """The password does not unwrap this key."""


@dataclass(frozen=True)
class Author:
    """The person making changes at this desk, able to sign them.

    ``key_id`` is the server's name for the public key; ``private_key`` is the raw
    32-byte Ed25519 seed, held in memory only while the person is signed in.
    """

    staff_id: uuid.UUID
    key_id: uuid.UUID
    private_key: bytes

    @property
    def public_key(self) -> bytes:
        return public_key_of(self.private_key)

    def sign(self, mutation: Mutation) -> Mutation:
        """``mutation`` made by this person, with their key's id and signature."""
        if mutation.staff_id != self.staff_id:
            raise ValueError("a person signs only their own changes")
        named = mutation.model_copy(update={"key_id": self.key_id, "signature": None})
        signature = Ed25519PrivateKey.from_private_bytes(self.private_key).sign(signed_bytes(named))
        return named.model_copy(update={"signature": b64(signature)})

    def wrap(self, password: str) -> str:
        """The private key encrypted under ``password``, as text for the store."""
        salt, nonce = os.urandom(16), os.urandom(12)
        sealed = AESGCM(_kek(password, salt)).encrypt(nonce, self.private_key, _WRAP_CONTEXT)
        return json.dumps(
            {"v": 1, "key_id": str(self.key_id), "salt": b64(salt), "nonce": b64(nonce)}
            | {"sealed": b64(sealed)}
        )

    @classmethod
    def unwrap(cls, staff_id: uuid.UUID, wrapped: str, password: str) -> Author:
        """The key wrapped by ``wrap``; ``WrongPassword`` if ``password`` does not open it."""
        box = json.loads(wrapped)
        try:
            seed = AESGCM(_kek(password, unb64(box["salt"]))).decrypt(
                unb64(box["nonce"]), unb64(box["sealed"]), _WRAP_CONTEXT
            )
        except InvalidTag as exc:
            raise WrongPassword from exc
        return cls(staff_id, uuid.UUID(box["key_id"]), seed)


def new_private_key() -> bytes:
    """A fresh Ed25519 private key (its raw 32-byte seed), made at an online sign-in."""
    return Ed25519PrivateKey.generate().private_bytes_raw()


def public_key_of(private_key: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes_raw()


def _kek(password: str, salt: bytes) -> bytes:
    return hash_secret_raw(
        password.encode(),
        salt,
        time_cost=KDF_TIME_COST,
        memory_cost=KDF_MEMORY_KIB,
        parallelism=KDF_PARALLELISM,
        hash_len=32,
        type=Type.ID,
    )
