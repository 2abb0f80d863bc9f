"""Background work for the desk, so the UI thread only ever paints and answers clicks.

Two single-worker lanes, as in Anki's task manager: ``db`` for what the screens read from
the local store, ``net`` for anything that talks to the server (sign-in, and the sync
cycle, which also writes what it fetched), so a slow network never holds up a diary read.
Results come back to the UI thread through a queued Qt signal, and are dropped if the
widget they were meant for has been closed and deleted meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal

import shiboken6
from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)
Lane = Literal["db", "net"]
OnDone = Callable[[Any], None]
OnError = Callable[[BaseException], None]


class TaskRunner(QObject):
    _finished = Signal(object, object, object, object)  # on_done, on_error, result, error

    def __init__(self) -> None:
        super().__init__()
        self._lanes: dict[Lane, ThreadPoolExecutor] = {
            "db": ThreadPoolExecutor(1, thread_name_prefix="clinicdesk-db"),
            "net": ThreadPoolExecutor(1, thread_name_prefix="clinicdesk-net"),
        }
        self._finished.connect(self._deliver)
        self.running = 0
        self._closed = False

    def run(
        self,
        lane: Lane,
        work: Callable[[], Any],
        on_done: OnDone,
        on_error: OnError | None = None,
    ) -> None:
        """Run ``work`` on ``lane``; call ``on_done(result)`` or ``on_error(exc)`` on the UI
        thread afterwards. After ``shutdown`` (the window is closing) work is refused."""
        if self._closed:
            log.debug("task refused: the runner is shut down")
            return
        self.running += 1
        future = self._lanes[lane].submit(work)

        def finished(done: Future[Any]) -> None:
            error = done.exception()
            self._finished.emit(on_done, on_error, None if error else done.result(), error)

        future.add_done_callback(finished)

    def _deliver(
        self, on_done: OnDone, on_error: OnError | None, result: Any, error: BaseException | None
    ) -> None:
        self.running -= 1
        receiver = getattr(on_done, "__self__", None)
        if isinstance(receiver, QObject) and not shiboken6.isValid(receiver):
            return  # its window is gone
        if error is None:
            on_done(result)
        elif on_error is not None:
            on_error(error)
        else:
            log.error("background task failed", exc_info=error)

    def shutdown(self) -> None:
        self._closed = True
        for lane in self._lanes.values():
            lane.shutdown(wait=True, cancel_futures=True)
