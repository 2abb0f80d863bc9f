"""Settings that live only on the server (workstations, staff, how the clinic sends
messages) are read and changed over the network lane, with the signed-in person's session.

A person who signed in offline has no session, so nothing is asked of the server for them:
the caller says so in words instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from desktop.kit.tasks import TaskRunner
from sync.account import Desk, sync_client
from sync.client import ServerClient

SIGNED_IN_OFFLINE = (
    "This needs the server: you signed in while offline. Sign out and in again once the "
    "connection is back."
)


def on_server(
    runner: TaskRunner,
    desk: Desk,
    work: Callable[[ServerClient], Any],
    then: Callable[[Any], None],
    failed: Callable[[BaseException], None],
) -> bool:
    """Run ``work(client)`` on the network lane; ``then`` or ``failed`` afterwards on the UI
    thread. False, and nothing run, when ``desk`` has no session to call with."""
    if desk.session_token is None:
        return False

    def call() -> Any:
        client = sync_client(desk)
        try:
            return work(client)
        finally:
            client.close()

    runner.run("net", call, then, failed)
    return True
