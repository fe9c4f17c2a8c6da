"""Tamper evidence without a window: what a database superuser may do, `verify` names.

Each change is made as the superuser would (append-only triggers disabled, rows inserted
with hashes computed by hand); the seals are made as the ledger makes them: keyed, by
time as well as by count (here: at once, as if a seal interval had passed), with their
heads exported to a file outside the database.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from prokopim_events.chain import UNKEYED, ChainKey, content_digest, keyed_chain
from prokopim_events.db import connect
from prokopim_events.envelope import NewEvent
from prokopim_events.keys import Keyring
from prokopim_events.seal_export import read_heads
from prokopim_events.seals import seal_pending
from prokopim_events.store import EventStore
from prokopim_events.verify import VerifyReport, verify_store
from prokopim_ledger.integrity import IntegritySettings, integrity_metrics, verify_once

pytestmark = pytest.mark.integration

EVENT_TYPE = "prokopim.backbone.thing-happened.v1"
KEY = ChainKey.from_secret("the office's chain key, kept off the database server")
KEYS = Keyring(KEY)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def new_event(**data: Any) -> NewEvent:
    return NewEvent(event_id=uuid4(), type=EVENT_TYPE, data=data, occurred_at=datetime.now(UTC))


@pytest.fixture
async def store(role_urls: dict[str, str]) -> AsyncIterator[EventStore]:
    """The store as a service runs it: its own role, the chain key."""
    store = await EventStore.connect(role_urls["intake"], chain_key=KEY)
    yield store
    await store.close()


@pytest.fixture
async def superuser(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(database_url)
    yield conn
    await conn.close()


@pytest.fixture
async def sealer(role_urls: dict[str, str]) -> AsyncIterator[asyncpg.Connection]:
    """The ledger's connection, which seals."""
    conn = await connect(role_urls["ledger"])
    yield conn
    await conn.close()


@pytest.fixture
def heads_file(tmp_path: Path) -> Path:
    return tmp_path / "seal-heads.jsonl"


async def seal_now(sealer: asyncpg.Connection, heads_file: Path) -> int:
    """Seal as the ledger does once its seal interval has passed, however few events."""
    return await seal_pending(sealer, range_size=1000, key=KEY, partial_after=0, export=heads_file)


@pytest.fixture
async def office(
    store: EventStore, sealer: asyncpg.Connection, heads_file: Path
) -> asyncpg.Connection:
    """A quiet office: two cases, five events (far fewer than a seal range), all sealed."""
    await store.append("case-1", 0, [new_event(step=1), new_event(step=2)])
    await store.append("case-2", 0, [new_event(step=1)])
    await store.append("case-1", 2, [new_event(step=3)])
    await store.append("case-2", 1, [new_event(step=2)])
    assert await seal_now(sealer, heads_file) == 1
    return sealer


async def tamper(conn: asyncpg.Connection, sql: str, *args: Any) -> None:
    """Run `sql` as the superuser with the append-only triggers disabled."""
    async with conn.transaction():
        await conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
        await conn.execute("ALTER TABLE event_seals DISABLE TRIGGER USER")
        await conn.execute(sql, *args)
        await conn.execute("ALTER TABLE events ENABLE TRIGGER USER")
        await conn.execute("ALTER TABLE event_seals ENABLE TRIGGER USER")


async def position_of(conn: asyncpg.Connection, stream: str, version: int) -> int:
    position: int = await conn.fetchval(
        "SELECT global_position FROM events WHERE stream_id = $1 AND stream_version = $2",
        stream,
        version,
    )
    return position


async def verify(conn: asyncpg.Connection, heads_file: Path | None = None) -> VerifyReport:
    heads = list(read_heads(heads_file)) if heads_file is not None else None
    return await verify_store(conn, KEYS, heads)


def first(report: VerifyReport) -> tuple[str, int | None, str | None, int | None]:
    problem = report.first_problem
    assert problem is not None, report.summary()
    return problem.kind, problem.global_position, problem.stream_id, problem.stream_version


async def test_an_untouched_quiet_office_is_sealed_and_verifies(
    office: asyncpg.Connection, superuser: asyncpg.Connection, heads_file: Path
) -> None:
    report = await verify(superuser, heads_file)
    assert report.ok, report.summary()
    assert (report.events, report.sealed_up_to, report.unsealed_events) == (5, 5, 0)
    assert [(h.seal_number, h.last_position) for h in read_heads(heads_file)] == [(1, 5)]


async def test_sealing_by_time_waits_for_the_interval(
    store: EventStore, sealer: asyncpg.Connection, heads_file: Path
) -> None:
    await store.append("case-1", 0, [new_event()])
    assert await seal_now(sealer, heads_file) == 1
    await store.append("case-1", 1, [new_event()])
    assert await seal_pending(sealer, range_size=1000, key=KEY, partial_after=3600) == 0
    assert await seal_now(sealer, heads_file) == 1


async def test_altered_data_is_named(
    office: asyncpg.Connection, superuser: asyncpg.Connection
) -> None:
    position = await position_of(superuser, "case-2", 2)
    await tamper(
        superuser,
        "UPDATE events SET data = '{\"step\": 9}' WHERE global_position = $1",
        position,
    )
    assert first(await verify(superuser)) == ("content changed", position, "case-2", 2)


async def test_a_deleted_newest_event_of_a_stream_is_named(
    office: asyncpg.Connection, superuser: asyncpg.Connection
) -> None:
    position = await position_of(superuser, "case-1", 3)  # case-1's newest
    await tamper(superuser, "DELETE FROM events WHERE global_position = $1", position)
    report = await verify(superuser)
    assert first(report) == ("missing", position, None, None), report.summary()


ROW = (
    "event_id, stream_id, stream_version, type, data, metadata, occurred_at, chain_hash,"
    " transaction_id, recorded_at, chain_key_id"
)


async def test_events_swapped_across_streams_are_named(
    office: asyncpg.Connection, superuser: asyncpg.Connection
) -> None:
    """The events at two positions, of two streams, trade places: every column moves."""
    a, b = await position_of(superuser, "case-1", 2), await position_of(superuser, "case-2", 1)
    rows = {
        r["global_position"]: r
        for r in await superuser.fetch(
            f"SELECT global_position, {ROW} FROM events WHERE global_position IN ($1, $2)", a, b
        )
    }
    columns = ROW.split(", ")
    update = (
        f"UPDATE events SET {', '.join(f'{c} = ${i + 2}' for i, c in enumerate(columns))}"
        " WHERE global_position = $1"
    )
    await tamper(
        superuser,
        "UPDATE events SET event_id = gen_random_uuid(), stream_id = 'x'"
        " WHERE global_position = $1",
        a,
    )
    await tamper(superuser, update, b, *list(rows[a])[1:])
    await tamper(superuser, update, a, *list(rows[b])[1:])

    report = await verify(superuser)
    assert first(report) == ("order changed", a, "case-2", 1), report.summary()


async def forge(conn: asyncpg.Connection, stream: str, key: ChainKey | None, key_id: str) -> int:
    """Insert the next event of `stream` with a chain hash computed by hand under `key`,
    with a transaction id and time of the forger's choosing; return its position."""
    previous = await conn.fetchrow(
        "SELECT stream_version, chain_hash FROM events WHERE stream_id = $1"
        " ORDER BY stream_version DESC LIMIT 1",
        stream,
    )
    assert previous is not None
    event = new_event(step="approved by nobody")
    version, metadata = previous["stream_version"] + 1, event.metadata()
    digest = content_digest(
        event.event_id, stream, version, event.type, event.data, metadata, event.occurred_at
    )
    recorded = datetime.now(UTC).replace(microsecond=0)
    tx = await conn.fetchval("SELECT pg_current_xact_id()::text::bigint")
    micros = (recorded - _EPOCH) // timedelta(microseconds=1)
    chain_hash = keyed_chain(key, previous["chain_hash"], digest, tx, micros)
    position: int = await conn.fetchval(
        "INSERT INTO events (event_id, stream_id, stream_version, type, data, metadata,"
        " occurred_at, chain_key_id, chain_hash, transaction_id, recorded_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::xid8, $11)"
        " RETURNING global_position",
        event.event_id,
        stream,
        version,
        event.type,
        event.data,
        metadata,
        event.occurred_at,
        key_id,
        chain_hash,
        str(tx),
        recorded,
    )
    return position


async def test_a_forged_insert_with_an_unkeyed_hash_is_named(
    office: asyncpg.Connection, superuser: asyncpg.Connection
) -> None:
    position = await forge(superuser, "case-1", None, UNKEYED)
    report = await verify(superuser)
    assert first(report) == ("not keyed", position, "case-1", 4), report.summary()


async def test_a_forged_insert_keyed_without_the_key_is_named(
    office: asyncpg.Connection, superuser: asyncpg.Connection
) -> None:
    """The forger writes the real key's id but, lacking the key, hashes under another."""
    guess = ChainKey.from_secret("a guess at the office's chain key, wrong")
    position = await forge(superuser, "case-2", guess, KEY.key_id)
    report = await verify(superuser)
    assert first(report) == ("content changed", position, "case-2", 3), report.summary()


async def test_a_dropped_last_seal_with_its_events_is_named_from_the_exported_heads(
    office: asyncpg.Connection,
    store: EventStore,
    superuser: asyncpg.Connection,
    heads_file: Path,
    database_url: str,
) -> None:
    await store.append("case-3", 0, [new_event(step=1), new_event(step=2)])  # 6, 7
    assert await seal_now(office, heads_file) == 1  # seal 2: 6-7
    await tamper(superuser, "DELETE FROM events WHERE global_position >= 6")
    await tamper(superuser, "DELETE FROM event_seals WHERE seal_number = 2")

    report = await verify(superuser, heads_file)
    assert first(report) == ("seal gone", 6, None, None), report.summary()

    code, output = await run_verify(database_url, heads_file)
    assert code == 1
    assert output.startswith("TAMPERED: seal gone at global position 6: seal 2 (positions 6-7)")


async def test_an_edited_transaction_id_is_named(
    office: asyncpg.Connection, superuser: asyncpg.Connection
) -> None:
    position = await position_of(superuser, "case-1", 1)
    await tamper(
        superuser,
        "UPDATE events SET transaction_id = '3'::xid8 WHERE global_position = $1",
        position,
    )
    assert first(await verify(superuser)) == ("content changed", position, "case-1", 1)


async def test_an_edited_recorded_at_is_named(
    office: asyncpg.Connection, superuser: asyncpg.Connection
) -> None:
    position = await position_of(superuser, "case-2", 1)
    await tamper(
        superuser,
        "UPDATE events SET recorded_at = recorded_at - interval '1 day' WHERE global_position = $1",
        position,
    )
    assert first(await verify(superuser)) == ("content changed", position, "case-2", 1)


async def test_a_seal_rehashed_without_the_key_is_named(
    office: asyncpg.Connection, superuser: asyncpg.Connection
) -> None:
    """After deleting an event the superuser re-seals the range with sha256: no key, no use."""
    await tamper(superuser, "DELETE FROM events WHERE global_position = 5")
    await tamper(superuser, "DELETE FROM event_seals")
    assert await seal_pending(superuser, range_size=1000, partial_after=0) == 1  # unkeyed
    report = await verify(superuser)
    assert first(report) == ("not keyed", 1, None, None), report.summary()


async def test_the_ledger_verifies_continuously_and_raises_its_metric(
    office: asyncpg.Connection,
    superuser: asyncpg.Connection,
    role_urls: dict[str, str],
    heads_file: Path,
) -> None:
    settings = IntegritySettings(
        key=KEY,
        keys=KEYS,
        seal_interval=5.0,
        seal_range=1000,
        seal_max_age=0.0,
        export=heads_file,
        verify_interval=60.0,
    )
    metrics = integrity_metrics()
    failures = metrics.failures._value.get()
    pool = await asyncpg.create_pool(role_urls["ledger"], min_size=1, max_size=1)
    assert pool is not None
    try:
        report = await verify_once(pool, settings, metrics)
        assert report is not None and report.ok
        assert metrics.ok._value.get() == 1
        assert metrics.verified_position._value.get() == 5

        await tamper(superuser, "DELETE FROM events WHERE global_position = 3")
        report = await verify_once(pool, settings, metrics)
        assert report is not None and not report.ok
        assert metrics.ok._value.get() == 0
        assert metrics.failures._value.get() == failures + 1
    finally:
        await pool.close()


async def run_verify(database_url: str, heads_file: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "prokopim"),
        "verify",
        "--seal-heads",
        str(heads_file),
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "PROKOPIM_CHAIN_KEY": KEY.secret.decode(),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()
