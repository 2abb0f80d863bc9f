"""One way to change something on the desk: run the change on the database lane, then tell
every page what changed, and let each page decide for itself whether to reload.

Pages never wire themselves to each other. A page that writes says which topics its change
touched (``hub.change(self, work, {Topic.APPOINTMENTS})``); the sync engine announces what
it brought in; every page listens to ``hub.changed`` and reloads only when a topic it shows
is in the set. A new page plugs in by listening, and nothing else needs to know it exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from desktop.kit import errors
from desktop.kit.tasks import TaskRunner
from sync.engine import SyncReport


class Topic(StrEnum):
    """What a change touched, as pages see it."""

    APPOINTMENTS = "appointments"
    PATIENTS = "patients"
    SCHEDULE = "schedule"  # providers, working weeks, closures, types, rooms, booking rules
    STAFF = "staff"
    BOOKING_REQUESTS = "booking_requests"
    LEADS = "leads"  # enquiries from the web form (listed live, like booking requests)
    MESSAGES = "messages"  # messages, consent decisions, the clinic's wordings
    OUTBOX = "outbox"  # something was queued for the server (every local change)
    ATTENTION = "attention"  # what waits in Needs attention
    FORMS = "forms"  # forms sent to patients: their status, a withdrawal


# What a sync that brought rows in may have touched: the feed does not say which entities.
SYNCED = frozenset(
    {
        Topic.APPOINTMENTS,
        Topic.PATIENTS,
        Topic.SCHEDULE,
        Topic.STAFF,
        Topic.BOOKING_REQUESTS,
        Topic.MESSAGES,
    }
)


def synced(report: SyncReport) -> set[Topic]:
    """What a finished sync may have changed: everything the feed carries when it
    brought rows, and the forms only when forms came in (the report counts them)."""
    topics = set(SYNCED) if report.rows else set()
    if report.forms:
        topics.add(Topic.FORMS)
    return topics


@dataclass(frozen=True)
class Changes:
    """A set of topics and who made the change (a page, or ``SYNC``), so the page that
    made a change can skip the reload it already did."""

    topics: frozenset[Topic]
    origin: object | None = None

    def touch(self, *topics: Topic) -> bool:
        return not self.topics.isdisjoint(topics)


SYNC = "sync"  # the origin of changes the sync engine brought in


class ChangeHub(QObject):
    """The desk's change notifications, and the one way pages write."""

    changed = Signal(object)  # Changes

    def __init__(self, runner: TaskRunner) -> None:
        super().__init__()
        self.runner = runner

    def announce(self, topics: Iterable[Topic], origin: object | None = None) -> None:
        found = frozenset(topics)
        if found:
            self.changed.emit(Changes(found, origin))

    def change(
        self,
        parent: QWidget,
        work: Callable[[], Any],
        topics: Iterable[Topic],
        *,
        then: Callable[[Any], None] | None = None,
        failed: Callable[[BaseException], None] | None = None,
        title: str = "The change was not made",
    ) -> None:
        """Run ``work`` (a local row and its outbox entry, written together) on the db
        lane. Afterwards every page hears ``topics`` plus ``OUTBOX``, even if ``parent``
        was closed meanwhile (the change was made all the same), and ``then(result)`` runs
        if ``parent`` is still there. A failure goes to ``failed``, or to a message box."""
        touched = frozenset(topics) | {Topic.OUTBOX}

        def done(result: Any) -> None:
            self.announce(touched, origin=parent)
            if then is not None and shiboken6.isValid(parent):
                then(result)

        def refused(error: BaseException) -> None:
            if not shiboken6.isValid(parent):
                errors.words(error)  # logged if unexpected; nobody is left to tell
            elif failed is not None:
                failed(error)
            else:
                errors.show(parent, title, error)

        self.runner.run("db", work, done, refused)
