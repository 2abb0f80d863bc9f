"""The desk's pushes fit under the server's body limit however large its changes are."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from pathlib import Path

from server.config import Settings
from sync import account
from sync.engine import PUSH_BATCH, PUSH_MAX_BYTES, SyncEngine, batches_by_size
from sync.protocol import CheckIn, Mutation, PushRequest, SaveAppointmentType
from tests.support.live_server import LiveServer

ADMIN = ("admin@demo.clinic", "admin-demo-1")


def big_type_change(providers: int = 500) -> SaveAppointmentType:
    """The largest kind of change a desk makes: a type offered by hundreds of providers."""
    return SaveAppointmentType(
        appointment_type_id=uuid.uuid4(),
        base_version=None,
        name="Everyone's check-up",
        colour="#3366cc",
        duration_minutes=30,
        provider_ids=[uuid.uuid4() for _ in range(providers)],
    )


def mutation(command: SaveAppointmentType | CheckIn, seq: int) -> Mutation:
    return Mutation(
        mutation_id=uuid.uuid4(),
        seq=seq,
        staff_id=uuid.uuid4(),
        made_at=datetime(2026, 5, 4, 8, tzinfo=UTC),
        command=command,
    )


def encoded_size(batch: list[Mutation]) -> int:
    return len(PushRequest(mutations=batch).model_dump_json().encode())


def test_batches_keep_the_order_and_each_fits_the_byte_budget() -> None:
    small = [mutation(CheckIn(appointment_id=uuid.uuid4(), base_version=3), n) for n in range(40)]
    big = [mutation(big_type_change(), 100 + n) for n in range(PUSH_BATCH)]
    mixed = [m for pair in zip(small, big, strict=False) for m in pair] + big[len(small) :]

    batches = list(batches_by_size(mixed, PUSH_MAX_BYTES))

    assert [m for batch in batches for m in batch] == mixed
    assert len(batches) > 1
    assert all(encoded_size(batch) <= PUSH_MAX_BYTES for batch in batches)
    # Each batch is as full as the budget allows: the next mutation would not have fitted.
    for batch, following in itertools.pairwise(batches):
        assert encoded_size([*batch, following[0]]) > PUSH_MAX_BYTES


def test_small_changes_go_in_one_batch_and_an_outsized_one_alone() -> None:
    small = [mutation(CheckIn(appointment_id=uuid.uuid4(), base_version=3), n) for n in range(5)]
    assert list(batches_by_size(small, PUSH_MAX_BYTES)) == [small]
    assert list(batches_by_size([], PUSH_MAX_BYTES)) == []
    huge = mutation(big_type_change(), 9)
    assert encoded_size(small) < 4000 < encoded_size([huge])
    assert list(batches_by_size([huge, *small], 4000)) == [[huge], small]


def test_the_budget_is_well_under_the_servers_limit() -> None:
    assert Settings().max_body_bytes >= 2 * PUSH_MAX_BYTES
    # The largest single change is far below the budget.
    assert encoded_size([mutation(big_type_change(), 1)]) * 5 < PUSH_MAX_BYTES


def test_a_backlog_of_large_changes_reaches_the_server_without_a_413(
    live_server: LiveServer, tmp_path: Path
) -> None:
    """Sent as one push, these would be over a megabyte and refused unread."""
    desk = account.sign_in(tmp_path, live_server.url, "demo", *ADMIN)
    engine = SyncEngine(desk.store, account.sync_client(desk))
    engine.sync()
    changes = 60
    for _ in range(changes):
        desk.store.change_settings(desk.author, big_type_change())
    backlog = desk.store.pending_mutations(PUSH_BATCH)
    assert encoded_size(backlog) > Settings().max_body_bytes

    report = engine.sync()

    # Answered, every one (the providers are made up, so the server turns each down).
    assert report.applied + report.rejected == changes
    assert desk.store.outbox_counts()["pending"] == 0
    desk.store.close()
