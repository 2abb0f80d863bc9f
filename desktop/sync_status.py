"""Runs the sync cycle in the background and says, in the status bar, where the desk is."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from PySide6.QtCore import QObject, QTimer, Signal

from common.errors import DeviceRevoked, DeviceTokenExpired, DomainError, NotAuthenticated
from desktop.kit.tasks import TaskRunner
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
    pending: int = 0
    attention: int = 0
    # When the server was last tried and not reached: shown, so pressing "Sync now"
    # offline visibly does something.
    tried_at: datetime | None = None

    def describe(self, zone: ZoneInfo) -> str:
        when = f"{self.last_sync.astimezone(zone):%d %b %H:%M}" if self.last_sync else "never"
        if self.connection is Connection.SYNCING:
            text = f"Syncing… · last synced {when}"
        elif self.connection is Connection.ONLINE:
            text = f"Online · synced {when}"
        elif self.connection is Connection.SIGNED_OUT:
            text = f"Not connected · last synced {when}"
        else:
            text = f"Offline · last synced {when} · working from the local copy"
            if self.tried_at is not None:
                text += f" · last tried {self.tried_at.astimezone(zone):%H:%M:%S}"
        if self.pending:
            text += f" · {self.pending} pending"
        if self.attention:
            text += f" · {self.attention} need{'s' if self.attention == 1 else ''} attention"
        return f"{text} — {self.problem}" if self.problem else text


MAX_BACKOFF_SECONDS = 120


class SyncController(QObject):
    """Syncs on start, then every ``interval`` seconds, one run at a time. While the
    server cannot be reached the wait doubles (up to two minutes), so a desk offline all
    afternoon does not hammer the line. Any sign of the server (the live stream
    connecting, a request answered) ends the wait and syncs at once: the desk must not
    say "Offline" for minutes after the line is back. "Sync now" does the same by hand."""

    state_changed = Signal(object)  # SyncState
    synced = Signal(object)  # SyncReport
    revoked = Signal()  # an admin removed this workstation

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
        self._again = False
        self._stopped = True  # until start()
        self.interval_ms = interval_seconds * 1000
        self.timer = QTimer(self)
        self.timer.setInterval(self.interval_ms)
        self.timer.timeout.connect(self.sync_now)

    def start(self) -> None:
        self._stopped = False
        self.timer.start()
        self.sync_now()

    def resume(self, engine: SyncEngine) -> None:
        """Carry on with a freshly authenticated engine, e.g. after re-enrollment."""
        self.engine = engine
        self.timer.setInterval(self.interval_ms)
        self.start()

    def _run_ended(self) -> None:
        self._running = False
        if self._again:
            self._again = False
            QTimer.singleShot(0, self.sync_now)

    def stop(self) -> None:
        self._stopped = True
        self.timer.stop()

    def retry_now(self) -> None:
        """Sync at once and start the waiting over ("Sync now", or the server is back)."""
        if self._stopped:
            return
        self.timer.setInterval(self.interval_ms)
        self.timer.start()  # the next tick counts from now, at the usual interval
        self.sync_now()

    def server_seen(self) -> None:
        """The server answered something (the live stream connected, a request got a
        reply): if the desk was waiting out a back-off, stop waiting and sync now."""
        if self._stopped or self.state.connection is Connection.SIGNED_OUT:
            return
        backed_off = self.timer.interval() != self.interval_ms
        if backed_off or self.state.connection is Connection.OFFLINE:
            self.retry_now()

    def sync_now(self) -> None:
        if self._stopped:
            return
        if self._running:
            # Something happened meanwhile (a change here, a poke from the server, a new
            # line): run again as soon as this run ends, not at the next tick.
            self._again = True
            return
        self._running = True
        self._set(replace(self.state, connection=Connection.SYNCING, problem=None))
        self.runner.run("net", self.engine.sync, self._done, self._failed)

    def set_counts(self, counts: dict[str, int]) -> None:
        """The outbox changed at this desk: show the new numbers at once."""
        self._set(replace(self.state, pending=counts["pending"], attention=counts["attention"]))

    def _done(self, report: SyncReport) -> None:
        self._run_ended()
        self.timer.setInterval(self.interval_ms)
        self._set(
            SyncState(
                Connection.ONLINE,
                report.finished_at,
                pending=report.pending,
                attention=report.attention,
            )
        )
        self.synced.emit(report)

    def _failed(self, error: BaseException) -> None:
        self._run_ended()
        if isinstance(error, ServerUnreachable):
            longer = min(max(self.timer.interval(), 1000) * 2, MAX_BACKOFF_SECONDS * 1000)
            self.timer.setInterval(max(longer, self.interval_ms))
            tried = datetime.now(UTC)
            self._set(
                replace(self.state, connection=Connection.OFFLINE, problem=None, tried_at=tried)
            )
        elif isinstance(error, DeviceTokenExpired | NotAuthenticated):
            self.timer.stop()  # retrying cannot help until someone signs in again
            self._set(replace(self.state, connection=Connection.SIGNED_OUT, problem=error.message))
            if isinstance(error, DeviceRevoked):
                self.revoked.emit()
        else:
            problem = error.message if isinstance(error, DomainError) else f"sync failed: {error}"
            self._set(replace(self.state, connection=Connection.OFFLINE, problem=problem))

    def _set(self, state: SyncState) -> None:
        self.state = state
        self.state_changed.emit(state)
