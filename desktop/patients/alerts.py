"""Staff alerts on a patient's file ("needs wheelchair access") as every page shows them:
one line each, marked, so they read the same on the diary, in the waiting room, in the
booking dialog and in the file."""

from __future__ import annotations

from collections.abc import Iterable


def alert_lines(alerts: Iterable[str]) -> str:
    """ "⚠ Latex allergy", one line per alert ("" for none)."""
    return "\n".join(f"⚠ {alert}" for alert in alerts)
