"""Remembered view state, declared once with its type and default.

Each remembered choice (the diary's mode, the hidden providers, the last server) is one
``Remembered`` declared next to the feature that uses it. QSettings hands back a string, a
list, a single string where a list was stored, or nothing, depending on the platform's
backend and on what an older version wrote; ``get`` turns any of that into the declared
type or the default, so no page parses settings itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from PySide6.QtCore import QSettings

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)

_declared: dict[str, Remembered[object]] = {}


@dataclass(frozen=True)
class Remembered(Generic[T]):
    key: str
    default: T
    parse: Callable[[object], T | None]  # None: not a value this version knows
    dump: Callable[[T], object]

    def __post_init__(self) -> None:
        if self.key in _declared:
            raise ValueError(f"{self.key} is remembered twice")
        _declared[self.key] = self  # type: ignore[assignment]

    def get(self) -> T:
        raw = QSettings().value(self.key)
        if raw is None:
            return self.default
        parsed = self.parse(raw)
        return self.default if parsed is None else parsed

    def set(self, value: T) -> None:
        QSettings().setValue(self.key, self.dump(value))


def declared() -> dict[str, Remembered[object]]:
    """Every remembered choice, by key (for tests and for resetting the view)."""
    return dict(_declared)


def choice(key: str, default: E) -> Remembered[E]:
    kind = type(default)

    def parse(raw: object) -> E | None:
        return kind(str(raw)) if str(raw) in {m.value for m in kind} else None

    return Remembered(key, default, parse, lambda value: value.value)


def number(key: str, default: int, allowed: frozenset[int]) -> Remembered[int]:
    def parse(raw: object) -> int | None:
        text = str(raw)
        return int(text) if text.isdigit() and int(text) in allowed else None

    return Remembered(key, default, parse, lambda value: value)


def text(key: str, default: str = "") -> Remembered[str]:
    return Remembered(key, default, lambda raw: raw if isinstance(raw, str) else None, str)


def ids(key: str) -> Remembered[frozenset[uuid.UUID]]:
    """A set of ids; unreadable entries are dropped, the rest kept."""

    def parse(raw: object) -> frozenset[uuid.UUID]:
        found = set()
        for item in _strings(raw):
            try:
                found.add(uuid.UUID(item))
            except ValueError:
                continue
        return frozenset(found)

    return Remembered(key, frozenset(), parse, lambda value: sorted(str(v) for v in value))


def _strings(raw: object) -> list[str]:
    if isinstance(raw, str):
        return [raw] if raw else []
    if isinstance(raw, list | tuple):
        return [str(item) for item in raw]
    return []
