"""The desk's sync cycle (pull-only in this milestone): page through the change feed,
applying each page and its cursor in one local transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sync.client import ServerClient
from sync.store import Store

MAX_PAGES_PER_RUN = 10_000  # a guard against a server that never says "no more"


@dataclass(frozen=True, slots=True)
class SyncReport:
    pages: int
    rows: int
    finished_at: datetime


class SyncEngine:
    def __init__(self, store: Store, client: ServerClient, page_size: int | None = None) -> None:
        self.store = store
        self.client = client
        self.page_size = page_size

    def pull(self) -> SyncReport:
        """Pull until the server has nothing newer. Raises the client's errors unchanged
        (``ServerUnreachable`` when offline); pages already applied stay applied."""
        pages = rows = 0
        while pages < MAX_PAGES_PER_RUN:
            page = self.client.changes(self.store.cursor(), self.page_size)
            now = datetime.now(UTC)
            self.store.apply_page(page, synced_at=now)
            pages += 1
            rows += page.row_count
            if not page.has_more:
                break
        return SyncReport(pages=pages, rows=rows, finished_at=datetime.now(UTC))
