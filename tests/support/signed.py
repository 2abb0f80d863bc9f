"""Desk mutations signed as a real desk signs them, for server tests that push JSON.

A workstation's headers carry the signing keys registered for the people signed in on it;
``sign`` signs a mutation (a plain dict, as the tests write them) with the key of the staff
member it names, or with a key the server never saw when nobody by that id signed in.
"""

from __future__ import annotations

import uuid
from typing import Any

from sync.protocol import Mutation
from sync.signing import Author, new_private_key


class DeskHeaders(dict[str, str]):
    """A workstation's request headers, and the authors signed in on it."""

    def __init__(self, headers: dict[str, str], authors: dict[uuid.UUID, Author]) -> None:
        super().__init__(headers)
        self.authors = authors


def sign(headers: dict[str, str], mutation: dict[str, Any]) -> dict[str, Any]:
    """``mutation`` signed by the author it names on this desk (or by a stranger's key)."""
    parsed = Mutation.model_validate(mutation)
    authors: dict[uuid.UUID, Author] = getattr(headers, "authors", {})
    author = authors.get(parsed.staff_id) or Author(
        parsed.staff_id, uuid.uuid4(), new_private_key()
    )
    dumped: dict[str, Any] = author.sign(parsed).model_dump(mode="json")
    return dumped


def sign_all(headers: dict[str, str], mutations: Any) -> list[Any]:
    """Sign what parses as a mutation; leave the rest (deliberately malformed) alone."""
    signed = []
    for mutation in mutations:
        try:
            signed.append(sign(headers, mutation))
        except ValueError:
            signed.append(mutation)
    return signed
