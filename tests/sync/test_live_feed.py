"""The live stream keeps trying to reconnect every few seconds however long the server is
away: its coming back is how a desk learns the line is up again."""

from __future__ import annotations

import threading

import httpx

from sync.live import LiveFeed


def test_a_server_away_for_long_is_retried_every_few_seconds_not_minutes() -> None:
    tries = 0

    def refuse(request: httpx.Request) -> httpx.Response:
        nonlocal tries
        tries += 1
        raise httpx.ConnectError("connection refused", request=request)

    feed = LiveFeed("http://clinic.invalid", "token", lambda: None, httpx.MockTransport(refuse))
    waits: list[float] = []
    done = threading.Event()

    class Clock(threading.Event):
        """Records each wait instead of sleeping; stops the feed after twelve tries."""

        def wait(self, timeout: float | None = None) -> bool:
            waits.append(float(timeout or 0))
            if len(waits) >= 12:
                self.set()
                done.set()
            return self.is_set()

    feed._stop = Clock()
    feed._run()
    assert done.is_set()
    assert tries == 12
    assert waits[0] <= 2.0  # the first retry is quick
    assert max(waits) <= 5.0  # and none waits longer, however many failed before
    assert waits[-1] == max(waits)


def test_every_connection_pulls_once_for_what_it_may_have_missed() -> None:
    """A change committed while the stream was down (a delivery receipt in the moment
    after a push, say) is never announced again: the stream's hello is a cue to pull."""
    pulls: list[str] = []

    def stream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="event: hello\ndata: 768\n\n: still here\n\n")

    feed = LiveFeed(
        "http://clinic.invalid", "token", lambda: pulls.append("pull"), httpx.MockTransport(stream)
    )
    feed._listen()
    assert pulls == ["pull"]
