"""The desk's sync cycle: push the outbox, pull the change feed, replay what is still
pending on top.

Pull pages are applied with their cursor in one local transaction; push answers are
recorded in one local transaction per batch. A crash anywhere repeats work, never loses
or doubles it: the server answers a replayed mutation from its record of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sync.client import ServerClient
from sync.crash import crashpoint
from sync.protocol import ChangesPage, Cursor, Mutation
from sync.store import Store

MAX_PAGES_PER_RUN = 10_000  # a guard against a server that never says "no more"
PUSH_BATCH = 100
# The most bytes one push request carries. The server refuses bodies over its limit (1 MiB
# by default) unread; a batch stays well under it even when its mutations are large (a
# working week of many ranges, a type offered by hundreds of providers).
PUSH_MAX_BYTES = 256 * 1024
_PUSH_ENVELOPE = len(b'{"mutations":[]}')


def batches_by_size(mutations: list[Mutation], max_bytes: int) -> Iterator[list[Mutation]]:
    """``mutations`` in order, in consecutive batches whose push request body (as
    ``ServerClient.push`` encodes it) is at most ``max_bytes``. A mutation larger than
    that on its own (none is: every field is bounded) would still go, alone."""
    batch: list[Mutation] = []
    size = _PUSH_ENVELOPE
    for mutation in mutations:
        encoded = len(mutation.model_dump_json().encode()) + (1 if batch else 0)  # a comma
        if batch and size + encoded > max_bytes:
            yield batch
            batch, size = [], _PUSH_ENVELOPE
            encoded -= 1
        batch.append(mutation)
        size += encoded
    if batch:
        yield batch


def forms_in(page: ChangesPage) -> int:
    """The forms a page changes: those it brings, those it drops, and (a reset) all."""
    dropped = sum(1 for t in page.tombstones if t.entity == "form_requests")
    return len(page.form_requests) + dropped + (1 if page.reset else 0)


@dataclass(frozen=True)
class WindowPolicy:
    """Which appointments a desk keeps: ``past_days`` back and ``future_days`` ahead of
    today. Whole UTC days, so the window moves once a day."""

    past_days: int = 30
    future_days: int = 180

    def around(self, now: datetime) -> tuple[datetime, datetime]:
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return (
            midnight - timedelta(days=self.past_days),
            midnight + timedelta(days=self.future_days + 1),
        )


@dataclass(frozen=True, slots=True)
class SyncReport:
    pages: int
    rows: int
    finished_at: datetime
    applied: int = 0
    rejected: int = 0
    pending: int = 0  # left in the outbox after the cycle
    attention: int = 0  # waiting in "Needs attention"
    # Forms sent to patients that came in (or left): the feed says this one by entity,
    # so the pages of forms reload only when a form changed.
    forms: int = 0


class SyncEngine:
    def __init__(
        self,
        store: Store,
        client: ServerClient,
        page_size: int | None = None,
        window: WindowPolicy | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.page_size = page_size
        self.window = window or WindowPolicy()

    def sync(self) -> SyncReport:
        """One full cycle. Raises the client's errors unchanged (``ServerUnreachable``
        when offline); whatever was already acknowledged or applied stays so."""
        applied, rejected = self.push()
        pulled = self.pull()
        left = self.store.outbox_counts()
        return SyncReport(
            pages=pulled.pages,
            rows=pulled.rows + applied + rejected,
            finished_at=pulled.finished_at,
            applied=applied,
            rejected=rejected,
            pending=left["pending"],
            attention=left["attention"],
            forms=pulled.forms,
        )

    def push(self) -> tuple[int, int]:
        """Send pending changes oldest first, in batches, until none are left."""
        applied = rejected = 0
        while True:
            pending = self.store.pending_mutations(PUSH_BATCH)
            if not pending:
                return applied, rejected
            for batch in batches_by_size(pending, PUSH_MAX_BYTES):
                answer = self.client.push(batch)
                crashpoint("after_push_response")  # the server has committed; we have not
                self.store.record_results(batch, answer.results)
                answered = {r.mutation_id for r in answer.results}
                if not answered & {m.mutation_id for m in batch}:
                    return applied, rejected  # nothing acknowledged: try again next cycle
                applied += sum(r.status == "applied" for r in answer.results)
                rejected += sum(r.status == "rejected" for r in answer.results)

    def pull(self) -> SyncReport:
        """Pull until the server has nothing newer; pages already applied stay applied.

        The next page is fetched while this one is written (its cursor is in the page), so
        on a first download the server's work and the desk's overlap. Only the applied
        page's cursor is ever stored, so a crash still resumes from the right place.
        """
        window = self.window.around(datetime.now(UTC))
        rows = self._move_window(window)
        pages = forms = 0
        with ThreadPoolExecutor(1, thread_name_prefix="clinicdesk-prefetch") as ahead:
            fetch = self.client.changes
            upcoming = ahead.submit(fetch, self.store.cursor(), self.page_size, window)
            while pages < MAX_PAGES_PER_RUN:
                page = upcoming.result()
                if page.has_more:
                    following = Cursor.parse(page.next_cursor)
                    upcoming = ahead.submit(fetch, following, self.page_size, window)
                self.store.apply_page(page, synced_at=datetime.now(UTC))
                pages += 1
                rows += page.row_count
                forms += forms_in(page)
                if not page.has_more:
                    break
        return SyncReport(pages=pages, rows=rows, finished_at=datetime.now(UTC), forms=forms)

    def _move_window(self, window: tuple[datetime, datetime]) -> int:
        """When the dates kept have moved on, drop what left and fetch what came in.

        Days that newly entered the window hold appointments the desk never had (the feed
        only sends changes), so they are fetched as a range. Fetch first, then write the
        records, the drop and the new window in one transaction.
        """
        kept = self.store.kept_window()
        if kept == window:
            return 0
        records = []
        if kept is not None:
            if window[1] > kept[1]:
                records += self.client.appointments(max(kept[1], window[0]), window[1])
            if window[0] < kept[0]:
                records += self.client.appointments(window[0], min(kept[0], window[1]))
        self.store.keep_window(window, records)
        return len(records)
