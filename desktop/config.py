"""Where the desk keeps its files and which server it talks to, declared once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from desktop.kit import state
from sync.engine import WindowPolicy

DEFAULT_SERVER = "http://127.0.0.1:8765"
SYNC_INTERVAL_SECONDS = 15
# Last sign-in's answers, remembered on this workstation (never the password).
SERVER = state.text("signin/server_url")
CLINIC = state.text("signin/clinic")
EMAIL = state.text("signin/email")


@dataclass
class SignInDefaults:
    """What the sign-in dialog starts with: last time's answers, minus the password."""

    server_url: str = DEFAULT_SERVER
    clinic: str = ""
    email: str = ""

    @classmethod
    def load(cls) -> SignInDefaults:
        return cls(
            server_url=SERVER.get()
            or os.environ.get("CLINICDESK_SERVER_URL", "")
            or DEFAULT_SERVER,
            clinic=CLINIC.get(),
            email=EMAIL.get(),
        )

    def save(self) -> None:
        SERVER.set(self.server_url)
        CLINIC.set(self.clinic)
        EMAIL.set(self.email)


def window_policy() -> WindowPolicy:
    """How many days of appointments the desk keeps: ``CLINICDESK_WINDOW_PAST_DAYS`` back
    (default 30) and ``CLINICDESK_WINDOW_FUTURE_DAYS`` ahead (default 180)."""
    defaults = WindowPolicy()
    return WindowPolicy(
        past_days=_days("CLINICDESK_WINDOW_PAST_DAYS", defaults.past_days),
        future_days=_days("CLINICDESK_WINDOW_FUTURE_DAYS", defaults.future_days),
    )


def _days(name: str, default: int) -> int:
    text = os.environ.get(name, "")
    return int(text) if text.isdigit() and 0 <= int(text) <= 3650 else default


def data_dir() -> Path:
    """``CLINICDESK_DESK_DIR`` if set, else the platform's per-user application folder."""
    override = os.environ.get("CLINICDESK_DESK_DIR")
    if override:
        return Path(override)
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(location or Path.home() / ".clinicdesk")
