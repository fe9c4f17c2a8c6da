"""Benchmark the event store against two peers on one server: pyeventsourcing's PostgreSQL
recorder and message-db (Eventide's PostgreSQL message store, see messagedb.py).

    python bench/store.py --events 5000 [--rounds 3] [--page 1000]

Uses DATABASE_URL / NATS_URL when set, else the local servers (or embedded ones, see
prokopim_devstack.infra). Creates its own two databases and NATS namespace and drops them after.

Each store gets the same work: single-event appends from 4 concurrent writers (each cycling
over its own streams, so versions increase), batches of 100 from 4 writers, an ordered
replay of everything, all with the same ~200-byte JSON body. The rounds alternate between
the three stores, so all meet the same background load; each figure is the median over the
rounds. The last line printed is one JSON object with every figure.

Two ceilings of prokopim's own are measured in the same run, to tell how much of each
figure the client could still give back: `batch_prebuilt_eps`, the batches with every
statement's arguments built before the clock starts (no event objects, ids, canonical
forms or digests made while timed: the server, the driver and the commit only), and
`replay_rows_eps`, the ordered replay's pages fetched and decoded by asyncpg but no event
built from them (measured after the replays). Their ratios to message-db (`mdb_batch_ceiling_ratio`,
`mdb_replay_ceiling_ratio`) are what prokopim would reach if building its events cost
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import messagedb
import nats
import orjson
from eventsourcing.persistence import StoredEvent as PeerEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from messagedb import MessageDb
from prokopim_devstack.infra import running_infra
from prokopim_events.db import connect
from prokopim_events.envelope import NewEvent
from prokopim_events.migrations import backbone_migrations, migrate
from prokopim_events.relay import Relay
from prokopim_events.store import _READ_BELOW, EventStore, _append_statement
from prokopim_events.topology import Topology, ensure_streams

WRITERS = 4
BATCH = 100
STREAMS_PER_WRITER = 100
EVENT_TYPE = "prokopim.bench.thing-happened.v1"
PEER_TOPIC = "bench:ThingHappened"


def body(n: int) -> dict[str, Any]:
    """The event body both stores carry: about 200 bytes of JSON."""
    return {"n": n, "title": "Press briefing on the city budget", "text": "x" * 140}


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1)


def per_writer(events: int) -> int:
    return events // WRITERS


def batches_per_writer(events: int) -> int:
    return max(1, events // WRITERS // BATCH)


# --- prokopim ------------------------------------------------------------------------------


def new_event(n: int) -> NewEvent:
    return NewEvent(
        event_id=uuid.uuid4(), type=EVENT_TYPE, data=body(n), occurred_at=datetime.now(UTC)
    )


async def ours_single(store: EventStore, events: int, round_: int) -> float:
    """Each writer appends one event per call, cycling over its streams."""

    async def writer(w: int) -> None:
        for i in range(per_writer(events)):
            stream = f"single-{round_}-{w}-{i % STREAMS_PER_WRITER}"
            await store.append(stream, i // STREAMS_PER_WRITER, [new_event(i)])

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    return rate(per_writer(events) * WRITERS, time.perf_counter() - started)


async def ours_batch(store: EventStore, events: int, round_: int) -> float:
    """Each writer appends batches of BATCH events, each batch opening a new stream."""

    async def writer(w: int) -> None:
        for b in range(batches_per_writer(events)):
            stream = f"batch-{round_}-{w}-{b}"
            await store.append(stream, 0, [new_event(i) for i in range(BATCH)])

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    return rate(batches_per_writer(events) * BATCH * WRITERS, time.perf_counter() - started)


async def ours_batch_prebuilt(store: EventStore, events: int, round_: int) -> float:
    """`ours_batch` with every statement built before the clock starts: its ceiling."""
    statements = {
        (w, b): _append_statement(
            f"prebuilt-{round_}-{w}-{b}", 0, [new_event(i) for i in range(BATCH)], None
        )
        for w in range(WRITERS)
        for b in range(batches_per_writer(events))
    }

    async def writer(w: int) -> None:
        for b in range(batches_per_writer(events)):
            query, args = statements[(w, b)]
            await store.pool.fetchval(query, *args)

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    return rate(batches_per_writer(events) * BATCH * WRITERS, time.perf_counter() - started)


async def ours_replay_rows(store: EventStore, page_size: int) -> tuple[int, float]:
    """The replay's pages, fetched as `replay` fetches them, no event built: its ceiling."""
    count = 0
    started = time.perf_counter()
    horizon = await store.pool.fetchval("SELECT prokopim_read_horizon()")
    tx, position = 0, 0
    while rows := await store.pool.fetch(_READ_BELOW, tx, position, page_size, horizon):
        count += len(rows)
        tx, position = rows[-1]["tx"], rows[-1]["global_position"]
    return count, rate(count, time.perf_counter() - started)


async def ours_replay(store: EventStore, page_size: int) -> tuple[int, float]:
    """Read the whole log in commit order; return the count and events/s."""
    count = 0
    started = time.perf_counter()
    async for page in store.replay(page_size=page_size):
        count += len(page.events)
    return count, rate(count, time.perf_counter() - started)


async def readable(store: EventStore, expected: int, within: float = 120.0) -> None:
    """Wait until commit-order reads see all `expected` events.

    They see only transactions older than every writing transaction still open in this
    database, so another session's long transaction would shorten the replay measured.
    """
    deadline = time.monotonic() + within
    while (count := sum([len(p.events) async for p in store.replay()])) < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {count} of {expected} events readable after {within}s")
        print(f"{count} of {expected} events readable: waiting for an open transaction")
        await asyncio.sleep(1.0)


async def ours_relay(
    store: EventStore, database_url: str, nats_url: str, topology: Topology, total: int
) -> float:
    """Relay every stored event to JetStream, acked and checkpointed."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        await ensure_streams(js, topology)
        stop = asyncio.Event()
        relay = Relay(store, js, topology, dsn=database_url, name="bench")
        started = time.perf_counter()
        task = asyncio.create_task(relay.run(stop))
        while relay.published < total:
            if task.done():
                task.result()
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - started
        stop.set()
        await task
        stored = (await js.stream_info(topology.stream)).state.messages
        assert stored == total, f"JetStream holds {stored} of {total} events"
        return rate(total, elapsed)
    finally:
        for stream in (topology.stream, topology.dead_letter_stream):
            try:
                await js.delete_stream(stream)
            except Exception as error:  # never created
                print(f"could not delete stream {stream}: {error!r}")
        await nc.close()


# --- pyeventsourcing -----------------------------------------------------------------------


@contextmanager
def peer_recorder(database_url: str) -> Iterator[PostgresApplicationRecorder]:
    url = urlsplit(database_url)
    datastore = PostgresDatastore(
        dbname=url.path.lstrip("/"),
        host=url.hostname or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password or "",
        pool_size=WRITERS,
    )
    try:
        recorder = PostgresApplicationRecorder(datastore)
        recorder.create_table()
        yield recorder
    finally:
        datastore.close()


def peer_event(originator: uuid.UUID, version: int, n: int) -> PeerEvent:
    return PeerEvent(originator, version, PEER_TOPIC, orjson.dumps(body(n)))


def in_threads(work: Callable[[int], None]) -> float:
    """Run `work(w)` in WRITERS threads at once; return the seconds it took."""
    threads = [threading.Thread(target=work, args=(w,)) for w in range(WRITERS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def peer_single(recorder: PostgresApplicationRecorder, events: int) -> float:
    def writer(w: int) -> None:
        streams = [uuid.uuid4() for _ in range(STREAMS_PER_WRITER)]
        for i in range(per_writer(events)):
            stream = streams[i % STREAMS_PER_WRITER]
            recorder.insert_events([peer_event(stream, i // STREAMS_PER_WRITER + 1, i)])

    return rate(per_writer(events) * WRITERS, in_threads(writer))


def peer_batch(recorder: PostgresApplicationRecorder, events: int) -> float:
    def writer(w: int) -> None:
        for _ in range(batches_per_writer(events)):
            stream = uuid.uuid4()
            recorder.insert_events([peer_event(stream, i + 1, i) for i in range(BATCH)])

    return rate(batches_per_writer(events) * BATCH * WRITERS, in_threads(writer))


def peer_replay(recorder: PostgresApplicationRecorder, page_size: int) -> tuple[int, float]:
    count, start = 0, 1
    started = time.perf_counter()
    while notifications := recorder.select_notifications(start, page_size):
        count += len(notifications)
        start = notifications[-1].id + 1
    return count, rate(count, time.perf_counter() - started)


# --- message-db ----------------------------------------------------------------------------


async def mdb_single(mdb: MessageDb, events: int, round_: int) -> float:
    """Each writer writes one message per call, cycling over its streams."""

    async def writer(w: int) -> None:
        streams = [messagedb.stream_name(uuid.uuid4().hex) for _ in range(STREAMS_PER_WRITER)]
        for i in range(per_writer(events)):
            await mdb.write(streams[i % STREAMS_PER_WRITER], i // STREAMS_PER_WRITER - 1, body(i))

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    return rate(per_writer(events) * WRITERS, time.perf_counter() - started)


async def mdb_batch(mdb: MessageDb, events: int) -> float:
    """Each writer writes batches of BATCH messages, each batch opening a new stream."""

    async def writer(w: int) -> None:
        for _ in range(batches_per_writer(events)):
            stream = messagedb.stream_name(uuid.uuid4().hex)
            await mdb.write_batch(stream, (body(i) for i in range(BATCH)))

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    return rate(batches_per_writer(events) * BATCH * WRITERS, time.perf_counter() - started)


# --- harness -------------------------------------------------------------------------------


@asynccontextmanager
async def fresh_database(admin_url: str, name: str) -> AsyncIterator[str]:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def vacuum(database_url: str, table: str) -> None:
    """Settle hint bits and statistics, so replays measure reading rather than cleanup."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()


def report(label: str, what: str, samples: list[float]) -> None:
    spread = f"{min(samples):,.0f}..{max(samples):,.0f}"
    print(f"{label:<14}{what:<34}{statistics.median(samples):>10,.0f}/s   ({spread})")


async def run(
    database_url: str, nats_url: str, events: int, page_size: int, rounds: int
) -> dict[str, float]:
    tag = uuid.uuid4().hex[:8]
    samples: dict[str, list[float]] = defaultdict(list)
    async with (
        fresh_database(database_url, f"prokopim_bench_{tag}") as ours_url,
        fresh_database(database_url, f"prokopim_bench_peer_{tag}") as peer_url,
        fresh_database(database_url, f"prokopim_bench_mdb_{tag}") as mdb_url,
        fresh_database(database_url, f"prokopim_bench_ceiling_{tag}") as ceiling_url,
    ):
        await messagedb.install(mdb_url)
        mdb = await MessageDb.connect(mdb_url, WRITERS)
        for url in (ours_url, ceiling_url):
            conn = await connect(url)
            try:
                await migrate(conn, backbone_migrations())
            finally:
                await conn.close()
        store = await EventStore.connect(ours_url, min_size=WRITERS, max_size=WRITERS)
        # the prebuilt batches go to a database of their own: the replays read the same
        # events in every store
        ceiling = await EventStore.connect(ceiling_url, min_size=WRITERS, max_size=WRITERS)
        try:
            with peer_recorder(peer_url) as recorder:
                for r in range(rounds):
                    samples["single_eps"].append(await ours_single(store, events, r))
                    samples["peer_single_eps"].append(
                        await asyncio.to_thread(peer_single, recorder, events)
                    )
                    samples["mdb_single_eps"].append(await mdb_single(mdb, events, r))
                    samples["batch_eps"].append(await ours_batch(store, events, r))
                    samples["batch_prebuilt_eps"].append(
                        await ours_batch_prebuilt(ceiling, events, r)
                    )
                    samples["peer_batch_eps"].append(
                        await asyncio.to_thread(peer_batch, recorder, events)
                    )
                    samples["mdb_batch_eps"].append(await mdb_batch(mdb, events))
                await store.drain()
                await vacuum(ours_url, "events")
                await vacuum(peer_url, "stored_events")
                await vacuum(mdb_url, "message_store.messages")
                expected, _ = await asyncio.to_thread(peer_replay, recorder, page_size)
                await readable(store, expected)
                for _ in range(max(rounds, 5)):
                    total, eps = await ours_replay(store, page_size)
                    samples["replay_eps"].append(eps)
                    peer_total, eps = await asyncio.to_thread(peer_replay, recorder, page_size)
                    samples["peer_replay_eps"].append(eps)
                    assert peer_total == total, (peer_total, total)
                    mdb_total, eps = await mdb.replay(page_size)
                    samples["mdb_replay_eps"].append(eps)
                    assert mdb_total == total, (mdb_total, total)
                # after the replays: the pages of records it leaves to the collector would
                # weigh on whichever replay came next
                for _ in range(max(rounds, 5)):
                    rows_total, eps = await ours_replay_rows(store, page_size)
                    samples["replay_rows_eps"].append(eps)
                    assert rows_total == total, (rows_total, total)
            topology = Topology(namespace=f"bench{tag}")
            samples["relay_eps"].append(
                await ours_relay(store, ours_url, nats_url, topology, total)
            )
        finally:
            await store.close()
            await ceiling.close()
            await mdb.close()

    writes = f"{WRITERS} writers, {rounds} rounds of {events}"
    for key, label, what in (
        ("single", "single appends", writes),
        ("batch", f"batches of {BATCH}", writes),
        ("replay", "ordered replay", f"{total} events, pages of {page_size}"),
    ):
        report("prokopim", f"{label}, {what}", samples[f"{key}_eps"])
        report("eventsourcing", f"{label}, {what}", samples[f"peer_{key}_eps"])
        report("message-db", f"{label}, {what}", samples[f"mdb_{key}_eps"])
    report("prokopim", "batches, statements prebuilt (ceiling)", samples["batch_prebuilt_eps"])
    report("prokopim", "replay, rows only (ceiling)", samples["replay_rows_eps"])
    report("prokopim", f"relay to JetStream (acked), {total} events", samples["relay_eps"])

    results = {key: statistics.median(values) for key, values in samples.items()}
    for key in ("single", "batch", "replay"):
        results[f"{key}_ratio"] = round(results[f"{key}_eps"] / results[f"peer_{key}_eps"], 2)
        results[f"mdb_{key}_ratio"] = round(results[f"{key}_eps"] / results[f"mdb_{key}_eps"], 2)
    for key, measured in (("batch", "batch_prebuilt"), ("replay", "replay_rows")):
        ratio = results[f"{measured}_eps"] / results[f"mdb_{key}_eps"]
        results[f"mdb_{key}_ceiling_ratio"] = round(ratio, 2)
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="events per write test")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per test")
    parser.add_argument("--page", type=int, default=1000, help="replay page size (both stores)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prokopim-bench-") as data_dir:
        async with running_infra(
            Path(data_dir), os.environ.get("DATABASE_URL"), os.environ.get("NATS_URL")
        ) as infra:
            print(f"PostgreSQL {infra.database_url}, NATS {infra.nats_url}")
            results = await run(
                infra.database_url, infra.nats_url, args.events, args.page, args.rounds
            )
    print(json.dumps({"events": args.events, "rounds": args.rounds, **results}))


if __name__ == "__main__":
    asyncio.run(main())
