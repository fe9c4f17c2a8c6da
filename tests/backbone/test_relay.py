"""The outbox relay as a real process: crash-safe, exactly one active, woken by NOTIFY."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import cast

import asyncpg
import nats.js.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from prokopim_events.db import connect
from prokopim_events.envelope import NewEvent, StoredEvent
from prokopim_events.relay import Relay
from prokopim_events.store import Checkpoint, EventStore
from prokopim_events.topology import Topology, ensure_streams
from prometheus_client import REGISTRY

pytestmark = pytest.mark.integration

NewEventFactory = Callable[..., NewEvent]
WaitUntil = Callable[..., Awaitable[None]]
RELAY_NAME = "default"  # relay_main's name unless PROKOPIM_RELAY_NAME says otherwise


class RelayProcess:
    """`python -m prokopim_events.relay_main` in a process of its own, logging to a file."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, in-flight publishes and acks are lost."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                await self.kill()


StartRelay = Callable[..., Awaitable[RelayProcess]]


@pytest.fixture
async def start_relay(
    nats_url: str, database_url: str, topology: Topology, tmp_path: Path
) -> AsyncIterator[StartRelay]:
    """Start relay processes for this test's database and namespace; stop them after."""
    started: list[RelayProcess] = []

    async def start(application_name: str, **settings: str) -> RelayProcess:
        log = tmp_path / f"{application_name}.log"
        env = {
            **os.environ,
            # asyncpg passes unknown DSN parameters on as server settings: this names the
            # process's sessions in pg_stat_activity.
            "DATABASE_URL": f"{database_url}?application_name={application_name}",
            "NATS_URL": nats_url,
            "PROKOPIM_NAMESPACE": topology.namespace,
            "LOG_LEVEL": "INFO",
            "METRICS_PORT": "0",
            **settings,
        }
        env.pop("PROKOPIM_RELAY_NAME", None)
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "prokopim_events.relay_main",
                env=env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        relay = RelayProcess(process, log)
        started.append(relay)
        return relay

    yield start
    for relay in started:
        await relay.stop()


async def published(js: JetStreamContext, topology: Topology) -> int:
    return (await js.stream_info(topology.stream)).state.messages


async def read_log(store: EventStore, expected: int) -> tuple[list[StoredEvent], Checkpoint]:
    """All `expected` events in commit order, and the checkpoint after the last.

    An empty page is not the end: another transaction in this database (autovacuum's
    analyze of the events table, say) may hold the readable horizon back for a moment.
    """
    events: list[StoredEvent] = []
    checkpoint = Checkpoint()
    deadline = time.monotonic() + 30
    while len(events) < expected:
        page = await store.read_all(checkpoint, limit=5000)
        events.extend(page.events)
        checkpoint = page.checkpoint
        if not page.events:
            assert time.monotonic() < deadline, f"read {len(events)} of {expected} events"
            await asyncio.sleep(0.02)
    assert len(events) == expected
    return events, checkpoint


async def relay_checkpoint(pool: asyncpg.Pool) -> Checkpoint:
    row = await pool.fetchrow(
        "SELECT transaction_id::text::bigint AS tx, global_position FROM relay_checkpoints"
        " WHERE relay_name = $1",
        RELAY_NAME,
    )
    return Checkpoint(row["tx"], row["global_position"]) if row else Checkpoint()


async def lock_holder(pool: asyncpg.Pool) -> str | None:
    """The application name of the session holding the relay's unexpired lease, if any."""
    holder: str | None = await pool.fetchval(
        "SELECT a.application_name FROM relay_leases l JOIN pg_stat_activity a"
        " ON a.pid = l.backend_pid WHERE l.relay_name = $1 AND l.expires_at > now()",
        RELAY_NAME,
    )
    return holder


def held_by(pool: asyncpg.Pool, name: str) -> Callable[[], Awaitable[bool]]:
    """A condition for `wait_until`: the relay `name` holds the unexpired lease."""

    async def check() -> bool:
        return await lock_holder(pool) == name

    return check


async def assert_published_exactly_once_in_commit_order(
    js: JetStreamContext, topology: Topology, events: list[StoredEvent]
) -> None:
    assert await published(js, topology) == len(events)
    on_the_wire: list[StoredEvent] = []
    for seq in range(1, len(events) + 1):
        msg = await js.get_msg(topology.stream, seq)
        assert msg.data is not None and msg.headers is not None
        event = StoredEvent.from_json(msg.data)
        assert msg.headers["Nats-Msg-Id"] == str(event.event_id)
        on_the_wire.append(event)
    ids = [e.event_id for e in on_the_wire]
    assert len(set(ids)) == len(ids), "an event was published twice"
    assert ids == [e.event_id for e in events], "not in commit order"
    versions: dict[str, int] = {}
    for event in on_the_wire:
        assert event.stream_version == versions.get(event.stream_id, 0) + 1
        versions[event.stream_id] = event.stream_version


async def append_many(
    store: EventStore,
    new_event: NewEventFactory,
    count: int,
    *,
    prefix: str,
    writers: int = 4,
    streams_per_writer: int = 10,
) -> None:
    """Append `count` events from concurrent writers, alternating single events and batches."""

    async def writer(w: int) -> None:
        versions = dict.fromkeys((f"{prefix}-{w}-{s}" for s in range(streams_per_writer)), 0)
        todo, turn = count // writers, 0
        while todo:
            stream = f"{prefix}-{w}-{turn % streams_per_writer}"
            size = min(todo, 1 if turn % 2 else 10)
            events = [new_event({"writer": w, "turn": turn, "i": i}) for i in range(size)]
            await store.append(stream, versions[stream], events)
            versions[stream] += size
            todo -= size
            turn += 1

    assert count % writers == 0
    await asyncio.gather(*(writer(w) for w in range(writers)))


async def test_a_relay_killed_mid_stream_resumes_and_publishes_each_event_once(
    store: EventStore,
    pool: asyncpg.Pool,
    nats_client: NatsClient,
    topology: Topology,
    start_relay: StartRelay,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    js = nats_client.jetstream()
    total, before_kill = 3000, 2000
    first = await start_relay("relay-1")

    await wait_until(held_by(pool, "relay-1"), "relay-1 leads", 30)  # then append while it runs
    killed = asyncio.Event()

    async def appender() -> None:
        await append_many(store, new_event, before_kill, prefix="a")
        await killed.wait()  # the rest only after the kill: the restart must resume
        await append_many(store, new_event, total - before_kill, prefix="b")

    appending = asyncio.create_task(appender())
    try:

        async def some_published() -> bool:
            assert not appending.done() or appending.exception() is None
            return await published(js, topology) >= 500

        await wait_until(some_published, "the first relay published 500 events", 60)
        await first.kill()
        killed.set()
        assert first.process.returncode == -signal.SIGKILL
        await appending
    finally:
        killed.set()
        await appending

    await start_relay("relay-2")
    events, end = await read_log(store, total)

    async def caught_up() -> bool:
        return await relay_checkpoint(pool) == end

    await wait_until(caught_up, "the restarted relay checkpointed the last event", 60)
    await assert_published_exactly_once_in_commit_order(js, topology, events)


async def test_a_standby_relay_stays_passive_then_takes_over_when_the_leader_dies(
    store: EventStore,
    pool: asyncpg.Pool,
    nats_client: NatsClient,
    topology: Topology,
    start_relay: StartRelay,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    js = nats_client.jetstream()
    leader = await start_relay("relay-a")

    await wait_until(held_by(pool, "relay-a"), "relay-a leads", 30)
    standby = await start_relay("relay-b")

    async def standby_tried_the_lock() -> bool:
        tried: bool = await pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'relay-b'"
            " AND query LIKE '%INSERT INTO relay_leases%')"
        )
        return tried

    await wait_until(standby_tried_the_lock, "relay-b asked for the lock", 30)
    await append_many(store, new_event, 200, prefix="first")

    def all_published(count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return await published(js, topology) >= count

        return check

    await wait_until(all_published(200), "200 events published", 30)
    assert await lock_holder(pool) == "relay-a"
    assert "is active" in leader.log_text()
    assert "is active" not in standby.log_text()

    await leader.kill()
    await append_many(store, new_event, 200, prefix="second")  # during the failover
    await wait_until(held_by(pool, "relay-b"), "relay-b took over", 30)
    events, end = await read_log(store, 400)

    async def caught_up() -> bool:
        return await relay_checkpoint(pool) == end

    await wait_until(caught_up, "relay-b checkpointed the last event", 30)
    assert "is active" in standby.log_text()
    await assert_published_exactly_once_in_commit_order(js, topology, events)


async def test_the_relay_is_woken_by_notify(
    store: EventStore,
    database_url: str,
    nats_client: NatsClient,
    topology: Topology,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    js = nats_client.jetstream()
    stop = asyncio.Event()
    # Polling once an hour: only a NOTIFY can make it publish within the test's deadline.
    relay = Relay(store, js, topology, dsn=database_url, name="notify", poll_interval=3600)
    task = asyncio.create_task(relay.run(stop))
    try:
        for version in range(5):
            await store.append("s", version, [new_event()])

            async def delivered(count: int = version + 1) -> bool:
                assert not task.done(), task
                return await published(js, topology) == count

            await wait_until(delivered, f"event {version + 1} was published", 20)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
    assert task.done() and task.exception() is None  # and it stops promptly when told


class WatchedStore(EventStore):
    """A store that tells when a relay found events hidden behind an older transaction."""

    def __init__(self, store: EventStore) -> None:
        super().__init__(store.pool)
        self.found_held_back = asyncio.Event()

    async def held_back(self, after: Checkpoint) -> bool:
        held = await super().held_back(after)
        if held:
            self.found_held_back.set()
        return held


async def test_an_event_hidden_by_an_older_transaction_is_published_when_it_ends(
    store: EventStore,
    database_url: str,
    nats_client: NatsClient,
    topology: Topology,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    js = nats_client.jetstream()
    watched = WatchedStore(store)
    stop = asyncio.Event()
    relay = Relay(watched, js, topology, dsn=database_url, name="held", poll_interval=3600)
    task = asyncio.create_task(relay.run(stop))

    def published_count(count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            assert not task.done(), task
            return await published(js, topology) == count

        return check

    try:
        await store.append("first", 0, [new_event()])
        await wait_until(published_count(1), "the relay is up", 20)
        older = await connect(database_url)
        try:
            tx = older.transaction()
            await tx.start()
            await older.execute("SELECT pg_current_xact_id()")  # older than the next event
            await store.append("hidden", 0, [new_event()])  # commits, wakes the relay
            await asyncio.wait_for(watched.found_held_back.wait(), 20)
            await tx.commit()  # a commit that wakes nobody
        finally:
            await older.close()
        await wait_until(published_count(2), "the hidden event was published", 20)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    await store.drain()


async def test_a_hung_relay_loses_its_lease_and_cannot_move_the_checkpoint_after(
    store: EventStore,
    pool: asyncpg.Pool,
    nats_client: NatsClient,
    topology: Topology,
    start_relay: StartRelay,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    js = nats_client.jetstream()
    lease = {"RELAY_LEASE_SECONDS": "2", "RELAY_ACK_TIMEOUT_SECONDS": "1"}
    leader = await start_relay("relay-hung", **lease)

    await wait_until(held_by(pool, "relay-hung"), "relay-hung leads", 30)
    standby = await start_relay("relay-standby", **lease)
    await append_many(store, new_event, 100, prefix="before")
    await wait_until(lambda: _at_least(js, topology, 100), "100 published", 30)

    leader.process.send_signal(signal.SIGSTOP)  # hung, not dead: its connections stay open
    try:
        await append_many(store, new_event, 100, prefix="during")
        await wait_until(held_by(pool, "relay-standby"), "the standby took the lease over", 30)
        events, end = await read_log(store, 200)

        async def caught_up() -> bool:
            return await relay_checkpoint(pool) == end

        await wait_until(caught_up, "the standby published what the hung one could not", 30)
    finally:
        leader.process.send_signal(signal.SIGCONT)
    # The old leader wakes up: it must step down, not publish or move the checkpoint.
    await wait_until(
        lambda: _logged(leader, "is no longer active"), "the old leader stepped down", 30
    )
    await append_many(store, new_event, 100, prefix="after")
    events, end = await read_log(store, 300)

    async def all_caught_up() -> bool:
        return await relay_checkpoint(pool) == end

    await wait_until(all_caught_up, "every event checkpointed", 30)
    assert await lock_holder(pool) == "relay-standby"
    await assert_published_exactly_once_in_commit_order(js, topology, events)
    assert standby.process.returncode is None


async def test_a_relay_publishing_steadily_keeps_its_lease(
    store: EventStore,
    pool: asyncpg.Pool,
    nats_client: NatsClient,
    topology: Topology,
    start_relay: StartRelay,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    """Each checkpoint save counted as a renewal of the lease without extending it: a relay
    that published at least every third of a lease never renewed, lost its lease once it
    ran out, stepped down and sat out a poll interval (a hand-over stalled ~1 s) every
    RELAY_LEASE_SECONDS (15 s by default), under any steady load."""
    js = nats_client.jetstream()
    relay = await start_relay("relay-steady", RELAY_LEASE_SECONDS="1.5")

    await wait_until(held_by(pool, "relay-steady"), "relay-steady leads", 30)
    for n in range(30):  # 6 s: four leases' worth, a page every 0.2 s
        await store.append(f"steady-{n}", 0, [new_event()])
        await asyncio.sleep(0.2)
    await wait_until(lambda: _at_least(js, topology, 30), "30 published", 30)
    assert "stepped down" not in relay.log_text()
    token = await pool.fetchval("SELECT token FROM relay_leases WHERE relay_name = $1", RELAY_NAME)
    assert token == 1  # the lease it took first, never taken again
    await store.drain()


async def _at_least(js: JetStreamContext, topology: Topology, count: int) -> bool:
    return await published(js, topology) >= count


async def _logged(relay: RelayProcess, text: str) -> bool:
    return text in relay.log_text()


async def test_a_deleted_service_durable_is_recreated_and_replays_the_stream(
    store: EventStore,
    database_url: str,
    nats_client: NatsClient,
    topology: Topology,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    """Issue 12: a deleted durable left its service's cases stuck for good. Only an operator
    may still delete one (tests/security/test_bus.py); the relay puts it back, unread."""
    js = nats_client.jetstream()
    stop = asyncio.Event()
    relay = Relay(store, js, topology, dsn=database_url, name=RELAY_NAME, stream_check_interval=0.2)
    task = asyncio.create_task(relay.run(stop))
    durable = Topology.durable("review")
    try:
        await append_many(store, new_event, 3, prefix="d", writers=1, streams_per_writer=1)
        await wait_until(lambda: _at_least(js, topology, 3), "3 published", 20)
        await js.delete_consumer(topology.stream, durable)

        async def recreated() -> bool:
            assert not task.done(), task
            try:
                await js.consumer_info(topology.stream, durable)
            except nats.js.errors.NotFoundError:
                return False
            return True

        await wait_until(recreated, f"{durable} exists again", 30)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    info = await js.consumer_info(topology.stream, durable)
    assert info.num_pending == 3 and info.delivered.stream_seq == 0  # the service replays all


async def test_a_deleted_and_recreated_stream_is_rebuilt_from_the_store(
    store: EventStore,
    pool: asyncpg.Pool,
    database_url: str,
    nats_client: NatsClient,
    topology: Topology,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    js = nats_client.jetstream()
    stop = asyncio.Event()
    relay = Relay(store, js, topology, dsn=database_url, name=RELAY_NAME, stream_check_interval=0.2)
    task = asyncio.create_task(relay.run(stop))
    try:
        await append_many(store, new_event, 40, prefix="a")
        await wait_until(lambda: _at_least(js, topology, 40), "40 published", 20)
        # JetStream lost its data: the stream is deleted and created again, empty.
        await js.delete_stream(topology.stream)
        await ensure_streams(js, topology)
        await append_many(store, new_event, 40, prefix="b")
        events, end = await read_log(store, 80)

        async def rebuilt() -> bool:
            assert not task.done(), task
            return await published(js, topology) == 80 and await relay_checkpoint(pool) == end

        await wait_until(rebuilt, "every stored event is in the new stream", 30)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    # Each event once (what the relay published into the new stream before it noticed
    # came first: the order is commit order only from the rebuild on).
    on_the_wire = []
    for seq in range(1, 81):
        msg = await js.get_msg(topology.stream, seq)
        assert msg.headers is not None
        on_the_wire.append(msg.headers["Nats-Msg-Id"])
    assert sorted(on_the_wire) == sorted(str(e.event_id) for e in events)


async def test_an_event_the_bus_refuses_is_quarantined_and_later_events_go_on(
    store: EventStore,
    pool: asyncpg.Pool,
    database_url: str,
    nats_client: NatsClient,
    topology: Topology,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    js = nats_client.jetstream()
    quarantined_before = _metric("prokopim_relay_quarantined_events_total")
    await store.append("small-1", 0, [new_event()])
    huge = new_event({"note": "x" * (nats_client.max_payload + 1)})
    await store.append("huge", 0, [huge])
    await store.append("small-2", 0, [new_event()])
    stop = asyncio.Event()
    relay = Relay(store, js, topology, dsn=database_url, name=RELAY_NAME)
    task = asyncio.create_task(relay.run(stop))
    try:
        _, end = await read_log(store, 3)

        async def past_it() -> bool:
            assert not task.done(), task
            return await relay_checkpoint(pool) == end

        await wait_until(past_it, "the relay went past the oversized event", 30)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    await store.append("small-1", 1, [new_event()])  # and it keeps going afterwards

    assert await published(js, topology) == 2
    row = await pool.fetchrow("SELECT * FROM relay_quarantine")
    assert row is not None
    assert (row["event_id"], row["stream_id"]) == (huge.event_id, "huge")
    assert row["error"].startswith("MaxPayloadError")
    assert _metric("prokopim_relay_quarantined_events_total") == quarantined_before + 1
    listed = await asyncio.to_thread(
        subprocess.run,
        [str(Path(sys.executable).parent / "prokopim"), "relay", "quarantine", "--json"],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 1, listed.stderr  # a finding
    assert [item["event_id"] for item in json.loads(listed.stdout)] == [str(huge.event_id)]


async def test_an_operator_rewind_makes_the_running_relay_re_publish(
    store: EventStore,
    pool: asyncpg.Pool,
    database_url: str,
    nats_client: NatsClient,
    topology: Topology,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    js = nats_client.jetstream()
    await append_many(store, new_event, 20, prefix="a")
    events, end = await read_log(store, 20)
    stop = asyncio.Event()
    relay = Relay(store, js, topology, dsn=database_url, name=RELAY_NAME)
    task = asyncio.create_task(relay.run(stop))
    try:

        async def caught_up() -> bool:
            assert not task.done(), task
            return await relay_checkpoint(pool) == end

        await wait_until(caught_up, "the relay published all 20", 30)
        assert relay.published == 20
        rewound = await asyncio.to_thread(
            subprocess.run,
            [
                str(Path(sys.executable).parent / "prokopim"),
                "relay",
                "rewind",
                "--after",
                str(events[9].global_position),
            ],
            env={**os.environ, "DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            check=False,
        )
        assert rewound.returncode == 0, rewound.stderr

        async def republished() -> bool:
            return relay.published == 30 and await relay_checkpoint(pool) == end

        await wait_until(republished, "the ten events after the position re-published", 30)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    # JetStream's duplicate window dropped the repeats: still each event once on the stream.
    await assert_published_exactly_once_in_commit_order(js, topology, events)


def _metric(name: str) -> float:
    total = 0.0
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name == name:
                total += sample.value
    return total


class StalledJetStream:
    """A JetStream context whose stream checks hang once told to, as a NATS request does
    for the bus's whole request timeout while the server is away."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self.stalling = False
        self.stalled = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self._js, name)

    async def stream_info(self, name: str) -> object:
        if self.stalling:
            self.stalled.set()
            await asyncio.Event().wait()  # until cancelled
        return await self._js.stream_info(name)


def relay_lag() -> float | None:
    return REGISTRY.get_sample_value("prokopim_relay_lag_events")


async def test_the_lag_gauge_counts_events_stored_while_the_leader_is_stalled(
    database_url: str,
    nats_client: NatsClient,
    topology: Topology,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    js = StalledJetStream(nats_client.jetstream())
    store = await EventStore.connect(database_url, max_size=4)  # reads relay_checkpoints
    stop = asyncio.Event()
    relay = Relay(
        store,
        cast(JetStreamContext, js),
        topology,
        dsn=database_url,
        name="stalled",
        stream_check_interval=0.05,
        lag_interval=0.1,
    )
    task = asyncio.create_task(relay.run(stop))
    try:
        await store.append("before", 0, [new_event()])

        async def caught_up() -> bool:
            assert not task.done(), task
            return await published(js._js, topology) == 1 and relay_lag() == 0

        await wait_until(caught_up, "the relay published the first event", 20)
        js.stalling = True
        await asyncio.wait_for(js.stalled.wait(), 20)  # the leader now waits on NATS
        for version in range(5):
            await store.append("during", version, [new_event()])

        async def shows_backlog() -> bool:
            return relay_lag() == 5

        await wait_until(shows_backlog, "the lag gauge shows the 5 unpublished events", 20)
        assert await published(js._js, topology) == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()
