"""Named crash points, for the crash-safety tests.

A test arms one point (``arm("local_write", after=3)``) in a child process; the third
time the desk passes it, the process dies on the spot with ``os._exit``, as a ``kill -9``
or a power cut would. Unarmed, a crash point costs one comparison.
"""

from __future__ import annotations

import os

CRASH_EXIT_CODE = 77
_armed: dict[str, int] = {}


def arm(name: str, after: int = 1) -> None:
    _armed.clear()
    _armed[name] = after


def crashpoint(name: str) -> None:
    if not _armed or name not in _armed:
        return
    _armed[name] -= 1
    if _armed[name] <= 0:
        os._exit(CRASH_EXIT_CODE)
