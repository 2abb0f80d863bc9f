"""``make bench``: every figure in one table — sync and store, availability, the diary,
and the server under load.

Nothing here asserts; the figures and their targets are for people to read.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.bench import (
    availability_bench,
    diary_bench,
    messaging_bench,
    portal_bench,
    server_bench,
    sync_bench,
    web_bench,
)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        rows = sync_bench.run(Path(folder))
    rows += availability_bench.rows()
    rows += diary_bench.rows()
    with tempfile.TemporaryDirectory() as folder:
        rows += server_bench.rows(Path(folder))
    with tempfile.TemporaryDirectory() as folder:
        rows += messaging_bench.rows(Path(folder))
    with tempfile.TemporaryDirectory() as folder:
        rows += web_bench.rows(Path(folder))
    with tempfile.TemporaryDirectory() as folder:
        rows += portal_bench.rows(Path(folder))
    sync_bench.print_table(rows)


if __name__ == "__main__":
    main()
