"""Tamper evidence: seals over the global order, and `prokopim verify` catching changes.

Tampering is done as a superuser with the append-only triggers disabled, as an insider
with database access would; each change must be caught and named precisely.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from prokopim_events.chain import ChainKey
from prokopim_events.db import connect
from prokopim_events.envelope import Actor, NewEvent
from prokopim_events.keys import Keyring
from prokopim_events.seals import Seal, build_seal, seal_pending
from prokopim_events.store import EventStore
from prokopim_events.verify import VerifyReport, verify_store

pytestmark = pytest.mark.integration

NewEventFactory = Callable[..., NewEvent]


class _Keys:
    """The test's chain key, which every seal and verify of this module uses."""

    key: ChainKey | None = None


@pytest.fixture(autouse=True)
def _use_chain_key(chain_key: ChainKey) -> None:
    _Keys.key = chain_key


async def seal_pending_keyed(conn: asyncpg.Connection, **options: Any) -> int:
    """`seal_pending` as the ledger runs it: with the chain key."""
    return await seal_pending(conn, key=_Keys.key, **options)


async def verify_keyed(conn: asyncpg.Connection) -> VerifyReport:
    """`verify_store` as `prokopim verify` runs it: holding the chain key."""
    return await verify_store(conn, Keyring(_Keys.key))


def build_keyed_seal(
    number: int, previous: bytes, first: int, last: int, entries: list[tuple[int, bytes]]
) -> Seal:
    return build_seal(number, previous, first, last, entries, _Keys.key)


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
        expected = build_keyed_seal(
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

    assert await seal_pending_keyed(conn, range_size=5) == 2  # 1-5, 6-10; 11-12 incomplete
    assert await seal_pending_keyed(conn, range_size=5) == 0

    await append_cases(store, new_event, cases=3, steps=1, prefix="more")  # 13..15
    assert await seal_pending_keyed(conn, range_size=5) == 1
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

    assert await seal_pending_keyed(conn, range_size=5) == 1
    (seal,) = await seals_of(conn)
    assert list(seal["gaps"]) == [3]
    await assert_seals_match_events(conn)


async def test_concurrent_sealers_seal_each_range_once(
    store: EventStore, database_url: str, new_event: NewEventFactory
) -> None:
    await store.append("bulk", 0, [new_event({"i": i}) for i in range(95)])
    sealers = [await connect(database_url) for _ in range(6)]
    try:
        counts = await asyncio.gather(*(seal_pending_keyed(c, range_size=10) for c in sealers))
        counts.append(await seal_pending_keyed(sealers[0], range_size=10))  # whatever a race left
        assert sum(counts) == 9
        await assert_seals_match_events(sealers[0])
        assert len(await seals_of(sealers[0])) == 9
        assert (await verify_keyed(sealers[0])).ok
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

            assert await seal_pending_keyed(conn, range_size=5, max_wait=0.2) == 0
            assert await seals_of(conn) == []
        finally:
            await transaction.commit()

    assert await seal_pending_keyed(conn, range_size=5) == 2
    (first, _) = await seals_of(conn)
    assert list(first["gaps"]) == []  # position 4 is sealed with its event
    await assert_seals_match_events(conn)


# --- tampering ----------------------------------------------------------------------------

# Every column of an event row but its position (an identity column cannot be updated).
ROW = (
    "event_id, stream_id, stream_version, type, data, metadata, occurred_at, chain_hash,"
    " transaction_id, recorded_at, chain_key_id"
)


async def tamper(conn: asyncpg.Connection, sql: str, *args: Any) -> None:
    """Run `sql` as a superuser with the append-only trigger disabled, as an insider could."""
    async with conn.transaction():
        await conn.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
        await conn.execute(sql, *args)
        await conn.execute("ALTER TABLE events ENABLE TRIGGER events_append_only")


async def position_of(conn: asyncpg.Connection, stream_id: str, version: int) -> int:
    position: int = await conn.fetchval(
        "SELECT global_position FROM events WHERE stream_id = $1 AND stream_version = $2",
        stream_id,
        version,
    )
    return position


async def swap_rows(conn: asyncpg.Connection, first: int, second: int) -> None:
    """Make the events at two positions trade places (every column but the position)."""
    rows = {
        r["global_position"]: r
        for r in await conn.fetch(
            f"SELECT global_position, {ROW} FROM events WHERE global_position = ANY($1)",
            [first, second],
        )
    }
    assignment = ", ".join(f"{column} = ${i + 2}" for i, column in enumerate(ROW.split(", ")))
    update = f"UPDATE events SET {assignment} WHERE global_position = $1"
    # Out of the way first: event ids and (stream, version) are unique.
    await tamper(
        conn,
        "UPDATE events SET event_id = gen_random_uuid(), stream_id = 'swapping'"
        " WHERE global_position = $1",
        first,
    )
    await tamper(conn, update, second, *list(rows[first])[1:])
    await tamper(conn, update, first, *list(rows[second])[1:])


@pytest.fixture
async def sealed_store(
    store: EventStore, conn: asyncpg.Connection, new_event: NewEventFactory
) -> asyncpg.Connection:
    """Four cases of four events, interleaved (positions 1..16) and sealed in ranges of 8;
    then a rolled-back position (17) and two cases of three events (18..23), not sealed."""
    await append_cases(store, new_event, cases=4, steps=4)
    assert await seal_pending_keyed(conn, range_size=8) == 2
    async with store.pool.acquire() as writer:
        transaction = writer.transaction()
        await transaction.start()
        await store.append("never", 0, [new_event()], conn=writer)
        await transaction.rollback()
    await append_cases(store, new_event, cases=2, steps=3, prefix="late")
    assert await seal_pending_keyed(conn, range_size=8) == 0
    return conn


def assert_first_problem(
    report: VerifyReport, kind: str, position: int | None, stream: str | None, version: int | None
) -> None:
    problem = report.first_problem
    assert problem is not None, report.summary()
    assert (problem.kind, problem.global_position, problem.stream_id, problem.stream_version) == (
        kind,
        position,
        stream,
        version,
    ), report.summary()
    assert report.summary().startswith(f"TAMPERED: {kind} at ")


async def test_an_untouched_store_verifies_ok(sealed_store: asyncpg.Connection) -> None:
    report = await verify_keyed(sealed_store)

    assert report.ok, report.summary()
    assert (report.events, report.streams, report.seals) == (22, 6, 2)
    assert (report.sealed_up_to, report.unsealed_events, report.problems) == (16, 6, 0)
    assert report.summary().startswith("OK: 22 events in 6 streams")


async def test_events_of_every_shape_verify_ok(
    store: EventStore, conn: asyncpg.Connection, new_event: NewEventFactory
) -> None:
    """The digest recomputed from stored JSON equals the one computed at append."""
    data = {
        "judul": "Peliputan kegiatan Wali Kota — “Sabtu Bersih” ✓",
        "nested": {"z": [1, 2.5, 0.1, 1e-7, -3, None, True], "a": {"": "", 'x\n\t"': 0}},
        "minutes": 12.5,
        "big": 2**62,
    }
    cause = new_event()
    shapes = [
        new_event(data),
        new_event({}, actor=Actor(id="u-7", role="ka-bagian", name="Drs. Dédé")),
        new_event(data, causation_id=cause.event_id, correlation_id=cause.event_id),
        new_event(data, traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        new_event(data, occurred_at=datetime(2025, 3, 1, 7, 30, 0, 123456, tzinfo=UTC)),
    ]
    await store.append("one-by-one", 0, [cause])
    for version, event in enumerate(shapes, start=1):
        await store.append("one-by-one", version, [event.model_copy(update={"event_id": uuid4()})])
    await store.append("batch", 0, shapes)
    await seal_pending_keyed(conn, range_size=4)

    report = await verify_keyed(conn)
    assert report.ok, report.summary()
    assert (report.events, report.seals) == (11, 2)


async def test_numbers_jsonb_gives_back_in_another_form_verify_ok(
    store: EventStore, conn: asyncpg.Connection, new_event: NewEventFactory
) -> None:
    """jsonb keeps numbers as decimals: 1e16 comes back as the integer 10000000000000000
    and -0.0 as 0.0. The digest is of the event as stored, so such data still verifies,
    and strings that merely look like those numbers are left alone."""
    data = {
        "integral": [1e16, -2.5e17, 1.2345678901234567e18, 9.2e18],
        "beyond_int64": [1.5e20, -1e300],
        "zeros": [-0.0, 0.0, {"deep": -0.0}],
        "small": [1e-7, 5e-324, 1e15],
        "text": ["1e+16", "-0.0", "e+"],
    }
    await store.append("numbers", 0, [new_event(data), new_event({"only": -0.0})])
    await seal_pending_keyed(conn, range_size=1)

    stored = await conn.fetchval("SELECT data FROM events WHERE stream_version = 1")
    assert stored["integral"][0] == 10**16 and isinstance(stored["integral"][0], int)
    report = await verify_keyed(conn)
    assert report.ok, report.summary()
    assert (report.events, report.seals) == (2, 2)


@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "unsealed"])
async def test_changed_data_is_named(sealed_store: asyncpg.Connection, sealed: bool) -> None:
    stream, version = ("case-2", 2) if sealed else ("late-1", 3)
    position = await position_of(sealed_store, stream, version)
    assert (position <= 16) == sealed

    await tamper(
        sealed_store,
        "UPDATE events SET data = data || '{\"step\": 99}' WHERE global_position = $1",
        position,
    )

    report = await verify_keyed(sealed_store)
    assert_first_problem(report, "content changed", position, stream, version)
    assert report.problems == 1


@pytest.mark.parametrize("column", ["actor_id", "correlation_id"])
async def test_an_envelope_column_written_apart_from_its_metadata_is_named(
    sealed_store: asyncpg.Connection, column: str
) -> None:
    """Reads take the actor and ids from columns generated from the covered metadata: an
    insider who drops the expression to write one of them is found out."""
    stream, version = "case-2", 2
    position = await position_of(sealed_store, stream, version)
    forged = "'forged'" if column == "actor_id" else "gen_random_uuid()"
    async with sealed_store.transaction():
        await sealed_store.execute(f"ALTER TABLE events ALTER COLUMN {column} DROP EXPRESSION")
        await tamper(
            sealed_store,
            f"UPDATE events SET {column} = {forged} WHERE global_position = $1",
            position,
        )

    report = await verify_keyed(sealed_store)
    assert_first_problem(report, "content changed", position, stream, version)
    assert report.problems == 1


async def test_a_deleted_event_is_named_with_its_position(
    sealed_store: asyncpg.Connection,
) -> None:
    position = await position_of(sealed_store, "case-3", 2)  # sealed, mid-stream

    await tamper(sealed_store, "DELETE FROM events WHERE global_position = $1", position)

    report = await verify_keyed(sealed_store)
    assert_first_problem(report, "missing", position, "case-3", 2)
    assert report.problems == 1


async def test_a_deleted_unsealed_event_is_named_by_stream_and_neighbours(
    sealed_store: asyncpg.Connection,
) -> None:
    before, position, after = [await position_of(sealed_store, "late-0", v) for v in (1, 2, 3)]
    assert before > 16  # after the last seal

    await tamper(sealed_store, "DELETE FROM events WHERE global_position = $1", position)

    report = await verify_keyed(sealed_store)
    assert_first_problem(report, "missing", None, "late-0", 2)
    assert f"between global positions {before} and {after}" in report.summary()


async def test_a_deleted_newest_event_of_a_stream_is_caught_by_its_seal(
    store: EventStore, conn: asyncpg.Connection, new_event: NewEventFactory
) -> None:
    await append_cases(store, new_event, cases=2, steps=3)  # 1..6: case-1's last is 6
    await seal_pending_keyed(conn, range_size=6)

    await tamper(conn, "DELETE FROM events WHERE global_position = 6")

    report = await verify_keyed(conn)
    assert_first_problem(report, "missing", 6, None, None)
    assert "seal 1 recorded an event here" in report.summary()


async def test_two_events_of_different_streams_swapped_are_named(
    sealed_store: asyncpg.Connection,
) -> None:
    first = await position_of(sealed_store, "case-1", 2)  # 6
    second = await position_of(sealed_store, "case-3", 3)  # 12: another seal's range

    await swap_rows(sealed_store, first, second)

    report = await verify_keyed(sealed_store)
    # The event each seal finds in its range is a stranger to it (seals hold no event ids),
    # and each stream now has an event before its predecessor: four findings.
    assert_first_problem(report, "content changed", first, "case-3", 3)
    assert report.problems == 4


async def test_two_events_swapped_inside_one_seal_are_named_as_reordered(
    sealed_store: asyncpg.Connection,
) -> None:
    first = await position_of(sealed_store, "case-0", 1)  # 1
    second = await position_of(sealed_store, "case-2", 1)  # 3

    await swap_rows(sealed_store, first, second)

    report = await verify_keyed(sealed_store)
    # Both streams' chains and orders still hold: only the seal sees it.
    assert_first_problem(report, "order changed", first, "case-2", 1)
    assert f"recorded this event at position {second}" in report.summary()
    assert report.problems == 2


async def test_two_events_of_one_stream_swapped_are_named_without_seals(
    sealed_store: asyncpg.Connection,
) -> None:
    first = await position_of(sealed_store, "late-1", 2)
    second = await position_of(sealed_store, "late-1", 3)
    assert first > 16

    await swap_rows(sealed_store, first, second)

    report = await verify_keyed(sealed_store)
    assert_first_problem(report, "order changed", first, "late-1", 3)


async def test_swapped_contents_are_named_at_the_earlier_position(
    sealed_store: asyncpg.Connection,
) -> None:
    first = await position_of(sealed_store, "case-0", 2)
    second = await position_of(sealed_store, "case-1", 2)

    await tamper(
        sealed_store,
        "UPDATE events e SET data = o.data FROM events o"
        " WHERE (e.global_position, o.global_position) IN (($1, $2), ($2, $1))",
        first,
        second,
    )

    report = await verify_keyed(sealed_store)
    assert_first_problem(report, "content changed", first, "case-0", 2)
    assert report.problems == 2


async def test_an_altered_seal_is_caught(sealed_store: asyncpg.Connection) -> None:
    async with sealed_store.transaction():
        await sealed_store.execute("ALTER TABLE event_seals DISABLE TRIGGER USER")
        await sealed_store.execute(
            "UPDATE event_seals SET seal_hash = sha256(seal_hash) WHERE seal_number = 1"
        )
        await sealed_store.execute("ALTER TABLE event_seals ENABLE TRIGGER USER")

    report = await verify_keyed(sealed_store)
    assert_first_problem(report, "seal broken", 1, None, None)


# --- the command ----------------------------------------------------------------------------


async def run_verify(database_url: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "prokopim"),
        "verify",
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "PROKOPIM_CHAIN_KEY": (_Keys.key.secret if _Keys.key else b"").decode(),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_prokopim_verify_exits_non_zero_naming_the_changed_event(
    sealed_store: asyncpg.Connection, database_url: str
) -> None:
    code, output = await run_verify(database_url)
    assert code == 0, output
    assert output.startswith("OK: 22 events in 6 streams") and output.count("\n") == 1

    position = await position_of(sealed_store, "case-1", 3)
    await tamper(
        sealed_store,
        "UPDATE events SET metadata = jsonb_set(metadata, '{actor,id}', '\"someone-else\"')"
        " WHERE global_position = $1",
        position,
    )

    code, output = await run_verify(database_url)
    assert code == 1, output
    assert output.startswith(
        f"TAMPERED: content changed at global position {position}, stream 'case-1' version 3:"
    ), output
