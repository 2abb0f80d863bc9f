"""Listening for "something changed" from the server, on a thread of its own.

The desk pulls as soon as it is told, so a booking made elsewhere shows within moments;
when the stream cannot be held open (a proxy that buffers, a flaky line) the sync timer
still pulls on its own. The stream reconnects within seconds of the server coming back,
so its opening is also the desk's first sign that the line is up again. Booking requests
are not synced: the stream says when they changed (and every (re)connection may have
missed that), and the desk lists them again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from sync.protocol import API_PREFIX, DEVICE_TOKEN_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION

READ_TIMEOUT = 30.0  # the server says something at least every 15 s
# Reconnect soon: the stream coming back is how the desk learns the line is up again, so
# a long wait here is a desk saying "Offline" while the server answers. A failed connect
# to a server that is down costs next to nothing.
BACKOFF = (1.0, 2.0, 3.0, 5.0)


class LiveFeed:
    def __init__(
        self,
        server_url: str,
        device_token: str | None,
        on_change: Callable[[], None],
        transport: httpx.BaseTransport | None = None,
        on_connect: Callable[[], None] | None = None,
        on_requests: Callable[[], None] | None = None,
    ) -> None:
        self.on_change = on_change
        # Called (on this feed's thread) whenever the stream opens: the server is back.
        self.on_connect = on_connect
        self.on_requests = on_requests
        self.device_token = device_token
        self._stop = threading.Event()
        self.connected = threading.Event()
        self._client = httpx.Client(
            base_url=server_url + API_PREFIX,
            timeout=httpx.Timeout(READ_TIMEOUT, connect=5.0),
            transport=transport,
            headers={PROTOCOL_HEADER: str(PROTOCOL_VERSION)},
        )
        self._thread = threading.Thread(target=self._run, name="clinicdesk-live", daemon=True)

    def start(self) -> None:
        if self.device_token:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._client.close()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
                failures = 0
            except (httpx.HTTPError, RuntimeError):
                failures += 1
            self.connected.clear()
            self._stop.wait(BACKOFF[min(failures, len(BACKOFF) - 1)])

    def _listen(self) -> None:
        headers = {DEVICE_TOKEN_HEADER: self.device_token or ""}
        with self._client.stream("GET", "/sync/events", headers=headers) as response:
            if response.status_code != 200:
                raise RuntimeError(f"event stream refused: HTTP {response.status_code}")
            self.connected.set()
            if self.on_connect is not None:
                self.on_connect()
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line in ("event: changed", "event: hello"):
                    # A (re)connection may have missed changes made while the stream was
                    # down (say, a delivery receipt in the moment after a push): pull.
                    self.on_change()
                if line in ("event: requests", "event: hello") and self.on_requests:
                    self.on_requests()
