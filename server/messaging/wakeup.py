"""A message composed in this process wakes this process's dispatcher as soon as it is
committed, so a reply is handed over within moments rather than at the next poll.

Only the outermost commit counts: SQLAlchemy calls ``after_commit`` when a savepoint is
released too, and the message is not there for the dispatcher until the real commit.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

COMPOSED = "clinicdesk.composed"
composed = threading.Event()  # what ``DispatcherThread`` waits on between rounds


def note_composed(session: Session) -> None:
    session.info[COMPOSED] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if not session.in_nested_transaction() and session.info.pop(COMPOSED, False):
        composed.set()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session, *_args: Any) -> None:
    session.info.pop(COMPOSED, None)
