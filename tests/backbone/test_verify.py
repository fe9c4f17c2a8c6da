"""Tamper evidence: seals over the global order, and `prokopim verify` catching changes.

Tampering is done as a superuser with the append-only triggers disabled, as an insider
with database access would; each change must be caught and named precisely.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from prokopim_events.db import connect
from prokopim_events.envelope import NewEvent
from prokopim_events.seals import build_seal, seal_pending
from prokopim_events.store import EventStore

pytestmark = pytest.mark.integration

NewEventFactory = Callable[..., NewEvent]


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection on this test's database (a superuser's: tests tamper with it)."""
    connection = await connect(database_url)
    yield connection
    await connection.close()


async def append_cases(
    store: EventStore, new_event: NewEventFactory, *, cases: int, steps: int, prefix: str = "case"
) -> None:
    """Append `steps` events to each of `cases` new streams, interleaving the streams."""
    for step in range(steps):
        for case in range(cases):
            await store.append(f"{prefix}-{case}", step, [new_event({"case": case, "step": step})])


async def seals_of(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM event_seals ORDER BY seal_number")


async def assert_seals_match_events(conn: asyncpg.Connection) -> None:
    """Every seal recomputed from the events equals the stored one, and they form a chain."""
    previous_hash, previous_end = b"", 0
    for row in await seals_of(conn):
        assert row["first_position"] == previous_end + 1
        assert row["previous_hash"] == previous_hash
        entries = [
            (r[0], r[1])
            for r in await conn.fetch(
                "SELECT global_position, chain_hash FROM events"
                " WHERE global_position BETWEEN $1 AND $2 ORDER BY global_position",
                row["first_position"],
                row["last_position"],
            )
        ]
        expected = build_seal(
            row["seal_number"], previous_hash, row["first_position"], row["last_position"], entries
        )
        assert row["seal_hash"] == expected.seal_hash
        assert list(row["gaps"]) == expected.gaps
        previous_hash, previous_end = row["seal_hash"], row["last_position"]


# --- sealing ------------------------------------------------------------------------------


async def test_seals_cover_complete_ranges_only_and_chain(
    store: EventStore, conn: asyncpg.Connection, new_event: NewEventFactory
) -> None:
    await append_cases(store, new_event, cases=3, steps=4)  # positions 1..12

    assert await seal_pending(conn, range_size=5) == 2  # 1-5, 6-10; 11-12 incomplete
    assert await seal_pending(conn, range_size=5) == 0

    await append_cases(store, new_event, cases=3, steps=1, prefix="more")  # 13..15
    assert await seal_pending(conn, range_size=5) == 1
    assert [(r["first_position"], r["last_position"]) for r in await seals_of(conn)] == [
        (1, 5),
        (6, 10),
        (11, 15),
    ]
    await assert_seals_match_events(conn)


async def test_a_rolled_back_position_is_sealed_as_a_gap(
    store: EventStore, conn: asyncpg.Connection, new_event: NewEventFactory
) -> None:
    await append_cases(store, new_event, cases=1, steps=2)  # 1, 2
    async with store.pool.acquire() as writer:
        transaction = writer.transaction()
        await transaction.start()
        await store.append("rolled-back", 0, [new_event()], conn=writer)  # takes 3
        await transaction.rollback()
    await append_cases(store, new_event, cases=2, steps=2, prefix="after")  # 4..7

    assert await seal_pending(conn, range_size=5) == 1
    (seal,) = await seals_of(conn)
    assert list(seal["gaps"]) == [3]
    await assert_seals_match_events(conn)


async def test_concurrent_sealers_seal_each_range_once(
    store: EventStore, database_url: str, new_event: NewEventFactory
) -> None:
    await store.append("bulk", 0, [new_event({"i": i}) for i in range(95)])
    sealers = [await connect(database_url) for _ in range(6)]
    try:
        counts = await asyncio.gather(*(seal_pending(c, range_size=10) for c in sealers))
        counts.append(await seal_pending(sealers[0], range_size=10))  # whatever a race left
        assert sum(counts) == 9
        await assert_seals_match_events(sealers[0])
        assert len(await seals_of(sealers[0])) == 9
    finally:
        for sealer in sealers:
            await sealer.close()


async def test_a_range_with_an_uncommitted_event_waits_for_its_commit(
    store: EventStore, conn: asyncpg.Connection, new_event: NewEventFactory
) -> None:
    await append_cases(store, new_event, cases=1, steps=3)  # 1..3
    async with store.pool.acquire() as writer:
        transaction = writer.transaction()
        await transaction.start()
        try:
            await store.append("slow", 0, [new_event()], conn=writer)  # 4, in flight
            await append_cases(store, new_event, cases=3, steps=2, prefix="fast")  # 5..10

            assert await seal_pending(conn, range_size=5, max_wait=0.2) == 0
            assert await seals_of(conn) == []
        finally:
            await transaction.commit()

    assert await seal_pending(conn, range_size=5) == 2
    (first, _) = await seals_of(conn)
    assert list(first["gaps"]) == []  # position 4 is sealed with its event
    await assert_seals_match_events(conn)
