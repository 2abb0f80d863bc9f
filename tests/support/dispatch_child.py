"""A dispatcher process for the tests: ``python -m tests.support.dispatch_child URL NAME``.

Sends through the development outbox with a short lease, pausing ``--pause`` seconds per
delivery between claiming and recording, so a test can kill it with
work claimed and not yet recorded. Prints what it did as JSON when it runs out of work.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import timedelta

import server.models  # noqa: F401  - version stamping
from common.messaging import Channel
from server.config import Settings
from server.crypto import configure
from server.db import Database, make_engine
from server.messaging.dispatcher import Dispatcher, Round, _Outcome


class SlowDispatcher(Dispatcher):
    """A slow provider: each delivery of a batch takes ``pause`` between the claim and
    the recording of the outcome."""

    pause: float = 0.0

    def _record(self, outcomes: list[_Outcome]) -> Round:
        time.sleep(self.pause * len(outcomes))
        return super()._record(outcomes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("name")
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--idle-rounds", type=int, default=20)
    args = parser.parse_args()
    configure(Settings(database_url=args.url, environment="test"))  # sealed addresses
    db = Database(make_engine(args.url))
    dispatcher = SlowDispatcher(
        db,
        {Channel.SMS: None, Channel.EMAIL: None},
        name=args.name,
        batch=25,
        lease=timedelta(seconds=args.lease),
    )
    dispatcher.pause = args.pause
    total, idle = Round(), 0
    while idle < args.idle_rounds:
        done = dispatcher.run_once()
        total = total + done
        idle = 0 if done.claimed else idle + 1
        if not done.claimed:
            time.sleep(0.2)
    print(json.dumps({"claimed": total.claimed, "sent": total.sent}), flush=True)


if __name__ == "__main__":
    main()
