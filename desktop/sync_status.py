"""Runs the sync cycle in the background and says, in the status bar, where the desk is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from PySide6.QtCore import QObject, QTimer, Signal

from common.errors import DeviceTokenExpired, DomainError, NotAuthenticated
from desktop.tasks import TaskRunner
from sync.client import ServerUnreachable
from sync.engine import SyncEngine, SyncReport


class Connection(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    SYNCING = "syncing"
    SIGNED_OUT = "signed out"


@dataclass(frozen=True)
class SyncState:
    connection: Connection
    last_sync: datetime | None
    problem: str | None = None

    def describe(self, zone: ZoneInfo) -> str:
        when = f"{self.last_sync.astimezone(zone):%d %b %H:%M}" if self.last_sync else "never"
        if self.connection is Connection.SYNCING:
            return f"Syncing… · last synced {when}"
        if self.connection is Connection.ONLINE:
            return f"Online · synced {when}"
        text = f"Offline · last synced {when} · working from the local copy"
        if self.connection is Connection.SIGNED_OUT:
            text = f"Not connected · last synced {when}"
        return f"{text} — {self.problem}" if self.problem else text


class SyncController(QObject):
    """Pulls on start, then every ``interval`` seconds, one run at a time."""

    state_changed = Signal(object)  # SyncState
    synced = Signal(object)  # SyncReport

    def __init__(
        self,
        runner: TaskRunner,
        engine: SyncEngine,
        last_sync: datetime | None,
        interval_seconds: int,
    ) -> None:
        super().__init__()
        self.runner = runner
        self.engine = engine
        self.state = SyncState(Connection.OFFLINE, last_sync)
        self._running = False
        self.timer = QTimer(self)
        self.timer.setInterval(interval_seconds * 1000)
        self.timer.timeout.connect(self.sync_now)

    def start(self) -> None:
        self.timer.start()
        self.sync_now()

    def resume(self, engine: SyncEngine) -> None:
        """Carry on with a freshly authenticated engine, e.g. after re-enrollment."""
        self.engine = engine
        self.start()

    def stop(self) -> None:
        self.timer.stop()

    def sync_now(self) -> None:
        if self._running:
            return
        self._running = True
        self._set(SyncState(Connection.SYNCING, self.state.last_sync))
        self.runner.run("net", self.engine.sync, self._done, self._failed)

    def _done(self, report: SyncReport) -> None:
        self._running = False
        self._set(SyncState(Connection.ONLINE, report.finished_at))
        self.synced.emit(report)

    def _failed(self, error: BaseException) -> None:
        self._running = False
        last = self.state.last_sync
        if isinstance(error, ServerUnreachable):
            self._set(SyncState(Connection.OFFLINE, last))
        elif isinstance(error, DeviceTokenExpired | NotAuthenticated):
            self.timer.stop()  # retrying cannot help until someone signs in again
            self._set(SyncState(Connection.SIGNED_OUT, last, error.message))
        elif isinstance(error, DomainError):
            self._set(SyncState(Connection.OFFLINE, last, error.message))
        else:
            self._set(SyncState(Connection.OFFLINE, last, f"sync failed: {error}"))

    def _set(self, state: SyncState) -> None:
        self.state = state
        self.state_changed.emit(state)
