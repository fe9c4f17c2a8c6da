"""Contract tests of the PostgreSQL event store: concurrency, commit order, immutability."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from cloudevents.core.formats.json import JSONFormat
from nats.aio.client import Client as NatsClient
from prokopim_events.chain import ChainKey, content_digest, keyed_chain
from prokopim_events.db import connect, create_pool, create_store_pool
from prokopim_events.envelope import Actor, NewEvent, StoredEvent
from prokopim_events.errors import DuplicateEventId, WrongExpectedVersion
from prokopim_events.keys import Keyring
from prokopim_events.migrations import backbone_migrations, migrate
from prokopim_events.relay import Relay
from prokopim_events.rows import event_from_row
from prokopim_events.store import Checkpoint, EventStore
from prokopim_events.topology import Topology
from prokopim_events.verify import verify_store
from pydantic import ValidationError

pytestmark = pytest.mark.integration

NewEventFactory = Callable[..., NewEvent]
APPEND_ONLY = "PK002"


async def read_everything(
    store: EventStore, expected: int, *, limit: int = 1000, within: float = 30.0
) -> list[StoredEvent]:
    """Read the log in commit order until `expected` events arrived (or fail at a deadline).

    An empty page is not the end: another transaction in this database may hold the
    readable horizon back for a moment.
    """
    events: list[StoredEvent] = []
    checkpoint = Checkpoint()
    deadline = time.monotonic() + within
    while len(events) < expected:
        page = await store.read_all(checkpoint, limit=limit)
        assert page.checkpoint >= checkpoint
        events.extend(page.events)
        checkpoint = page.checkpoint
        if not page.events:
            assert time.monotonic() < deadline, f"read {len(events)} of {expected} events"
            await asyncio.sleep(0.02)
    page = await store.read_all(checkpoint, limit=limit)
    assert page.events == [], "more events than were appended"
    return events


async def warm(pool: asyncpg.Pool, size: int) -> None:
    """Open `size` connections now, so that concurrent appends really run concurrently."""
    held = [await pool.acquire() for _ in range(size)]
    for conn in held:
        await pool.release(conn)


# --- optimistic concurrency -------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 3], ids=["single", "batch"])
async def test_concurrent_appends_at_one_expected_version_exactly_one_wins(
    store: EventStore, pool: asyncpg.Pool, new_event: NewEventFactory, batch: int
) -> None:
    stream = "meeting-1"
    await store.append(stream, 0, [new_event(), new_event()])
    await warm(pool, 20)
    contenders = [[new_event({"writer": w}) for _ in range(batch)] for w in range(20)]

    results = await asyncio.gather(
        *(store.append(stream, 2, events) for events in contenders), return_exceptions=True
    )

    winners = [i for i, r in enumerate(results) if isinstance(r, list)]
    assert len(winners) == 1, results
    losers = [r for r in results if not isinstance(r, list)]
    assert all(isinstance(r, WrongExpectedVersion) for r in losers), losers
    assert {
        (r.stream_id, r.expected, r.actual) for r in losers if isinstance(r, WrongExpectedVersion)
    } == {(stream, 2, 2 + batch)}
    stored = await store.read_stream(stream)
    assert [e.stream_version for e in stored] == list(range(1, 3 + batch))
    assert [e.event_id for e in stored[2:]] == [e.event_id for e in contenders[winners[0]]]
    assert await store.stream_version(stream) == 2 + batch


async def test_append_at_a_stale_version_names_both_versions(
    store: EventStore, new_event: NewEventFactory
) -> None:
    await store.append("s", 0, [new_event(), new_event(), new_event()])
    for events in ([new_event()], [new_event(), new_event()]):
        with pytest.raises(WrongExpectedVersion) as raised:
            await store.append("s", 1, events)
        assert (raised.value.stream_id, raised.value.expected, raised.value.actual) == ("s", 1, 3)
        with pytest.raises(WrongExpectedVersion) as raised:
            await store.append("s", 5, events)
        assert (raised.value.expected, raised.value.actual) == (5, 3)
    assert await store.stream_version("s") == 3


async def test_concurrent_batches_to_different_streams_never_interleave(
    store: EventStore, pool: asyncpg.Pool, new_event: NewEventFactory
) -> None:
    streams, batches, size = 8, 5, 20
    await warm(pool, streams)

    async def writer(stream: str) -> None:
        for b in range(batches):
            events = [new_event({"stream": stream, "batch": b, "i": i}) for i in range(size)]
            await store.append(stream, b * size, events)

    await asyncio.gather(*(writer(f"s-{n}") for n in range(streams)))

    events = await read_everything(store, streams * batches * size, limit=7)
    chunks = [events[k : k + size] for k in range(0, len(events), size)]
    for chunk in chunks:
        assert len({(e.stream_id, e.data["batch"]) for e in chunk}) == 1, "batches interleaved"
        assert [e.data["i"] for e in chunk] == list(range(size))
        assert [e.stream_version for e in chunk] == list(
            range(chunk[0].stream_version, chunk[0].stream_version + size)
        )
    for n in range(streams):
        mine = [e.data["batch"] for e in events if e.stream_id == f"s-{n}" and e.data["i"] == 0]
        assert mine == list(range(batches))


# --- commit order ------------------------------------------------------------------------


@pytest.mark.parametrize("late_takes_xid_first", [False, True], ids=["insert-first", "xid-first"])
async def test_a_reader_never_skips_a_transaction_that_commits_late(
    store: EventStore,
    pool: asyncpg.Pool,
    database_url: str,
    new_event: NewEventFactory,
    late_takes_xid_first: bool,
) -> None:
    seen: list[StoredEvent] = []
    checkpoint = Checkpoint()

    async def poll() -> None:
        nonlocal checkpoint
        page = await store.read_all(checkpoint)
        assert page.checkpoint >= checkpoint
        seen.extend(page.events)
        checkpoint = page.checkpoint

    early = new_event()
    await store.append("early", 0, [early])
    while not seen:
        await poll()

    late, later = new_event(), new_event()
    conn = await connect(database_url)
    try:
        tx = conn.transaction()
        await tx.start()
        if late_takes_xid_first:  # the late transaction is older, its row gets a higher position
            await conn.execute("SELECT pg_current_xact_id()")
            [later_position] = await store.append("later", 0, [later])
            [late_position] = await store.append("late", 0, [late], conn=conn)
            assert late_position > later_position
        else:  # the classic gap: a lower position becomes visible after a higher one
            [late_position] = await store.append("late", 0, [late], conn=conn)
            [later_position] = await store.append("later", 0, [later])
            assert later_position > late_position

        # `later` is committed and visible to plain queries...
        assert await pool.fetchval("SELECT count(*) FROM events") == 2
        # ...but no reader may pass the open transaction, or it would skip `late` for good.
        for _ in range(5):
            await poll()
        assert [e.event_id for e in seen] == [early.event_id]
        assert await store.held_back(checkpoint)  # what tells a relay to look again soon
        await tx.commit()
    finally:
        await conn.close()

    deadline = time.monotonic() + 30
    while len(seen) < 3 and time.monotonic() < deadline:
        await poll()
    assert [e.event_id for e in seen] == [early.event_id, late.event_id, later.event_id]
    assert not await store.held_back(checkpoint)


async def test_replay_pages_through_the_log_like_read_all(
    store: EventStore, new_event: NewEventFactory
) -> None:
    for n in range(5):
        await store.append(f"s-{n}", 0, [new_event({"n": n, "i": i}) for i in range(5)])
    expected = await read_everything(store, 25)

    pages = [page async for page in store.replay(page_size=4)]

    assert [len(page.events) for page in pages] == [4, 4, 4, 4, 4, 4, 1]
    assert [e for page in pages for e in page.events] == expected
    assert [page.checkpoint for page in pages] == [
        (await store.read_all(limit=4 * k)).checkpoint for k in range(1, 8)
    ]
    after_third = [page async for page in store.replay(pages[2].checkpoint, page_size=10)]
    assert [e for page in after_third for e in page.events] == expected[12:]
    assert [page async for page in store.replay(pages[-1].checkpoint)] == []

    # A reader that stops early and closes the generator leaves no fetch running behind it.
    async with contextlib.aclosing(store.replay(page_size=2)) as reading:
        async for _ in reading:
            break
    deadline = time.monotonic() + 10
    while store.pool.get_idle_size() < store.pool.get_size():
        assert time.monotonic() < deadline, "the prefetch still holds a connection"
        await asyncio.sleep(0.01)


async def test_an_open_transaction_of_another_database_does_not_hold_readers_back(
    store: EventStore, database_url: str, admin_database_url: str, new_event: NewEventFactory
) -> None:
    """xids are server-wide, but a transaction shown in another database cannot append
    here: a session left open there must not stall this store's relay. One left open in
    this database still holds readers back (it might be appending)."""
    first, second = new_event(), new_event()
    elsewhere = await asyncpg.connect(admin_database_url)  # another database, same server
    here = await connect(database_url)
    try:
        async with elsewhere.transaction():
            await elsewhere.execute("SELECT pg_current_xact_id()")  # now it holds an xid
            await store.append("first", 0, [first])

            page = await store.read_all(Checkpoint())
            assert [e.event_id for e in page.events] == [first.event_id]

            async with here.transaction():
                await here.execute("SELECT pg_current_xact_id()")
                await store.append("second", 0, [second])
                assert (await store.read_all(page.checkpoint)).events == []
                assert await store.held_back(page.checkpoint)
            after = await store.read_all(page.checkpoint)
            assert [e.event_id for e in after.events] == [second.event_id]
    finally:
        await here.close()
        await elsewhere.close()


async def test_a_rolled_back_append_does_not_stall_readers(
    store: EventStore, database_url: str, new_event: NewEventFactory
) -> None:
    conn = await connect(database_url)
    try:
        tx = conn.transaction()
        await tx.start()
        [ghost_position] = await store.append("ghost", 0, [new_event()], conn=conn)
        await tx.rollback()
    finally:
        await conn.close()
    kept = new_event()
    [kept_position] = await store.append("kept", 0, [kept])
    assert kept_position > ghost_position  # the rollback left a hole in the positions

    events = await read_everything(store, 1)

    assert [e.event_id for e in events] == [kept.event_id]
    assert await store.read_stream("ghost") == []
    assert await store.append("ghost", 0, [new_event()])  # the stream is still at version 0


# --- idempotence and identity ------------------------------------------------------------


async def test_re_appending_stored_events_returns_their_positions_and_stores_nothing(
    store: EventStore, pool: asyncpg.Pool, new_event: NewEventFactory
) -> None:
    batch = [new_event(), new_event(), new_event()]
    positions = await store.append("s", 0, batch)
    single = new_event()
    [single_position] = await store.append("s", 3, [single])

    assert await store.append("s", 0, batch) == positions  # at its original version
    assert await store.append("s", 3, [single]) == [single_position]
    assert await store.append("s", 4, batch) == positions  # after the stream moved on
    assert await store.append("s", 4, [single]) == [single_position]

    assert await pool.fetchval("SELECT count(*) FROM events") == 4
    assert [e.event_id for e in await store.read_stream("s")] == [
        *(e.event_id for e in batch),
        single.event_id,
    ]


async def test_an_event_id_reused_in_another_stream_is_refused(
    store: EventStore, new_event: NewEventFactory
) -> None:
    taken = new_event()
    await store.append("a", 0, [taken])

    with pytest.raises(DuplicateEventId) as raised:
        await store.append("b", 0, [taken])
    assert raised.value.event_ids == [str(taken.event_id)]
    with pytest.raises(DuplicateEventId) as raised:
        await store.append("b", 0, [new_event(), taken])
    assert raised.value.event_ids == [str(taken.event_id)]

    assert await store.read_stream("b") == []  # the batch was refused as a whole
    assert [e.event_id for e in await store.read_stream("a")] == [taken.event_id]


# --- immutability -------------------------------------------------------------------------

CHANGES = (
    "UPDATE events SET type = 'prokopim.forged.thing.v1'",
    "DELETE FROM events",
    "TRUNCATE events",
    "TRUNCATE events CASCADE",
)


async def _assert_refused(conn: asyncpg.Connection | asyncpg.Pool, sql: str) -> None:
    with pytest.raises(asyncpg.PostgresError) as raised:
        await conn.execute(sql)
    assert raised.value.sqlstate == APPEND_ONLY, f"{sql}: {raised.value!r}"


async def test_updates_deletes_and_truncates_are_refused(
    store: EventStore, pool: asyncpg.Pool, new_event: NewEventFactory
) -> None:
    await store.append("s", 0, [new_event(), new_event()])
    before = await store.read_stream("s")
    for sql in CHANGES:
        await _assert_refused(pool, sql)
    assert await store.read_stream("s") == before


@pytest.fixture
async def writer_role(admin_database_url: str, database_url: str) -> AsyncIterator[str]:
    """A login role that owns nothing but may read, write, update, delete and truncate."""
    role = f"prokopim_writer_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_database_url)
    owner = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS')
        await owner.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON events TO "{role}"')
        await owner.execute(
            "GRANT EXECUTE ON FUNCTION prokopim_read_horizon(), prokopim_append(text, bigint,"
            f' jsonb, timestamptz[], bytea[], text, bytea, bytea) TO "{role}"'
        )
        yield role
    finally:
        await owner.execute(f'DROP OWNED BY "{role}"')  # revokes its privileges
        await owner.close()
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()


def _as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


async def test_a_role_with_every_privilege_but_ownership_cannot_change_events(
    database_url: str, writer_role: str, new_event: NewEventFactory
) -> None:
    pool = await create_pool(_as_role(database_url, writer_role), max_size=2)
    try:
        store = EventStore(pool)
        # The privileges are real: this role can append.
        await store.append("s", 0, [new_event(), new_event()])
        before = await store.read_stream("s")
        assert not await pool.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        for sql in CHANGES:
            await _assert_refused(pool, sql)
        for sql in (
            "ALTER TABLE events DISABLE TRIGGER events_append_only",
            "DROP TRIGGER events_no_truncate ON events",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await pool.execute(sql)
        assert await store.read_stream("s") == before
        await store.drain()
    finally:
        await pool.close()


# --- replay -------------------------------------------------------------------------------


async def test_replay_returns_exactly_what_was_appended_in_order(
    store: EventStore, new_event: NewEventFactory
) -> None:
    kyiv = timezone(timedelta(hours=2))
    correlation, cause = uuid.uuid4(), uuid.uuid4()
    appended: list[tuple[str, int, int, NewEvent]] = []  # stream, version, position, event
    plan: list[tuple[str, list[NewEvent]]] = [
        ("meeting-1", [new_event({"title": "Zasidannia", "n": 1})]),
        (
            "meeting-2",
            [
                new_event(
                    {"nested": {"list": [1, 2.5, None, True, "ї"]}, "big": 2**62, "tiny": 1e-7},
                    actor=Actor(id="u-7", role="protocol-officer", name="Olena"),
                    correlation_id=correlation,
                    causation_id=cause,
                    traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                    occurred_at=datetime(2024, 5, 1, 9, 30, 0, 123456, tzinfo=kyiv),
                ),
                new_event({}, type="prokopim.backbone.other-thing.v2"),
            ],
        ),
        ("meeting-1", [new_event({"n": i}) for i in range(2, 12)]),
        ("meeting-1", [new_event({"emoji": "🎙️", "quote": "\"'\\"})]),
    ]
    for stream, events in plan:
        version = sum(1 for s, *_ in appended if s == stream)
        positions = await store.append(stream, version, events)
        appended += [
            (stream, version + i, pos, e)
            for i, (pos, e) in enumerate(zip(positions, events, strict=True), 1)
        ]

    replayed = await read_everything(store, len(appended), limit=3)

    assert len(replayed) == len(appended)
    for got, (stream, version, position, sent) in zip(replayed, appended, strict=True):
        assert got.event_id == sent.event_id
        assert (got.stream_id, got.stream_version, got.global_position) == (
            stream,
            version,
            position,
        )
        assert got.type == sent.type
        assert got.data == sent.data
        assert got.occurred_at == sent.occurred_at
        assert got.actor == sent.actor
        assert got.correlation_id == (sent.correlation_id or sent.event_id)
        assert got.causation_id == sent.causation_id
        assert got.traceparent == sent.traceparent
        assert isinstance(got.correlation_id, uuid.UUID)
        assert got.recorded_at.tzinfo is not None
    assert replayed[1].actor.name == "Olena"
    assert replayed[1].causation_id == cause

    assert await read_everything(store, len(appended), limit=1000) == replayed  # twice: same
    for stream in ("meeting-1", "meeting-2"):
        assert await store.read_stream(stream) == [e for e in replayed if e.stream_id == stream]
    assert await store.read_stream("meeting-1", after_version=10) == [
        e for e in replayed if e.stream_id == "meeting-1" and e.stream_version > 10
    ]


async def test_events_read_back_behave_as_validated_models(
    store: EventStore, pool: asyncpg.Pool, new_event: NewEventFactory
) -> None:
    await store.append("s", 0, [new_event({"n": 1}), new_event({"n": 2})])
    first, second = await store.read_stream("s")

    assert StoredEvent.model_validate(first.model_dump()) == first
    assert StoredEvent.model_validate_json(first.model_dump_json()) == first
    assert first.model_dump(exclude_unset=True) == first.model_dump()
    changed = first.model_copy(update={"stream_id": "other"})
    assert (changed.stream_id, first.stream_id) == ("other", "s")
    assert second.stream_id == "s" and second.model_fields_set == set(StoredEvent.model_fields)
    with pytest.raises(ValidationError):
        first.stream_id = "forged"  # type: ignore[misc]  # frozen: the refusal is tested

    # event_from_row, for callers selecting the plain columns themselves (the CLI's trail)
    rows = await pool.fetch(
        "SELECT event_id, stream_id, stream_version, global_position, type, data, metadata,"
        " occurred_at, recorded_at FROM events ORDER BY global_position"
    )
    assert [event_from_row(row) for row in rows] == [first, second]


async def test_the_hash_chain_of_each_stream_verifies(
    store: EventStore, pool: asyncpg.Pool, new_event: NewEventFactory, chain_key: ChainKey
) -> None:
    """Each chain hash is HMAC(key, previous || digest || transaction id || recorded_at),
    computed by the database from the key blocks the append passes (see `chain`)."""
    await store.append("a", 0, [new_event({"n": 1})])  # the single-event statement
    await store.append("a", 1, [new_event({"n": i}) for i in range(2, 6)])  # the batch function
    await store.append("a", 5, [new_event({"n": 6})])
    await store.append("b", 0, [new_event({"n": 1}), new_event({"n": 2})])

    rows = await pool.fetch(
        "SELECT event_id, stream_id, stream_version, type, data, metadata, occurred_at,"
        " chain_hash, chain_key_id, transaction_id::text::bigint AS tx,"
        " (extract(epoch FROM recorded_at) * 1000000)::bigint AS recorded"
        " FROM events ORDER BY stream_id, stream_version"
    )
    previous: dict[str, bytes] = {}
    for row in rows:
        digest = content_digest(
            row["event_id"],
            row["stream_id"],
            row["stream_version"],
            row["type"],
            row["data"],
            row["metadata"],
            row["occurred_at"],
        )
        before = previous.get(row["stream_id"], b"")
        expected = keyed_chain(chain_key, before, digest, row["tx"], row["recorded"])
        assert row["chain_key_id"] == chain_key.key_id
        assert row["chain_hash"] == expected, f"{row['stream_id']}@{row['stream_version']}"
        previous[row["stream_id"]] = expected
    assert len(previous) == 2


# --- the envelope on the wire -------------------------------------------------------------


async def test_published_events_are_valid_cloudevents(
    store: EventStore,
    database_url: str,
    nats_client: NatsClient,
    topology: Topology,
    new_event: NewEventFactory,
) -> None:
    plain = new_event({"title": "Press briefing", "seats": 40})
    rich = new_event(
        {"nested": {"ok": True}},
        actor=Actor(id="u-1", role="head-of-office", name="Taras"),
        causation_id=plain.event_id,
        correlation_id=plain.event_id,
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    await store.append("briefing-1", 0, [plain])
    await store.append("briefing-1", 1, [rich])
    stored = await store.read_stream("briefing-1")

    js = nats_client.jetstream()
    stop = asyncio.Event()
    relay = Relay(store, js, topology, dsn=database_url, name=f"ce-{uuid.uuid4().hex[:8]}")
    task = asyncio.create_task(relay.run(stop))
    try:
        deadline = time.monotonic() + 30
        while (await js.stream_info(topology.stream)).state.messages < 2:
            assert time.monotonic() < deadline and not task.done(), "relay did not publish"
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task

    for seq, event in enumerate(stored, 1):
        msg = await js.get_msg(topology.stream, seq)
        assert msg.subject == topology.subject(event.type)
        assert msg.headers is not None
        assert msg.headers["Nats-Msg-Id"] == str(event.event_id)
        assert msg.data is not None
        cloud = JSONFormat().read(None, msg.data)  # validates required and extension attributes
        assert cloud.get_specversion() == "1.0"
        assert cloud.get_id() == str(event.event_id)
        assert cloud.get_source() == "/prokopim/backbone"
        assert cloud.get_type() == "prokopim.backbone.thing-happened.v1"
        assert cloud.get_subject() == "briefing-1"
        assert cloud.get_time() == event.occurred_at
        assert cloud.get_datacontenttype() == "application/json"
        assert cloud.get_data() == event.data
        assert cloud.get_extension("streamversion") == seq
        assert cloud.get_extension("position") == event.global_position
        assert cloud.get_extension("actorid") == event.actor.id
        assert cloud.get_extension("correlationid") == str(event.correlation_id)
        assert StoredEvent.from_json(msg.data) == event  # and back into the envelope

    last = JSONFormat().read(None, (await js.get_msg(topology.stream, 2)).data or b"")
    assert last.get_extension("actorname") == "Taras"
    assert last.get_extension("causationid") == str(plain.event_id)
    assert last.get_extension("traceparent") == rich.traceparent
    last_headers = (await js.get_msg(topology.stream, 2)).headers or {}
    assert last_headers.get("traceparent") == rich.traceparent


# --- migrations ---------------------------------------------------------------------------


async def test_migrations_run_concurrently_apply_once(admin_database_url: str) -> None:
    name = f"prokopim_test_mig_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = admin_database_url.rpartition("/")
        conns = [await connect(f"{base}/{name}") for _ in range(6)]
        try:
            results = await asyncio.gather(*(migrate(c, backbone_migrations()) for c in conns))
            names = [m.name for m in backbone_migrations()]
            assert sorted(results) == [[]] * 5 + [names]
            recorded = await conns[0].fetch("SELECT name FROM schema_migrations ORDER BY name")
            assert [r["name"] for r in recorded] == names
            assert await conns[0].fetchval("SELECT to_regclass('events') IS NOT NULL")
            assert await migrate(conns[0], backbone_migrations()) == []  # and again: nothing
        finally:
            for conn in conns:
                await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_the_store_pool_returns_connections_without_an_open_transaction(
    store: EventStore, new_event: NewEventFactory
) -> None:
    """Its pool skips asyncpg's reset query, yet what a caller left open is rolled back."""
    async with store.pool.acquire() as conn:
        await conn.transaction().start()  # never committed: a caller's bug
        await store.append("left-open", 0, [new_event()], conn=conn)
    async with store.pool.acquire() as conn:
        assert not conn.is_in_transaction()
    assert await store.read_stream("left-open") == []
    await store.append("left-open", 0, [new_event()])
    assert [e.stream_version for e in await store.read_stream("left-open")] == [1]


def test_an_event_type_outside_the_published_root_is_refused() -> None:
    """The relay publishes `prokopim.` subjects only; another type could never leave."""
    with pytest.raises(ValidationError, match="type"):
        NewEvent(
            event_id=uuid.uuid4(),
            type="acme.intake.request-received.v1",
            data={},
            occurred_at=datetime.now(UTC),
        )


async def test_a_store_written_before_the_envelope_columns_reads_the_same_and_verifies(
    admin_database_url: str, new_event: NewEventFactory, chain_key: ChainKey
) -> None:
    """sql/007 adds the envelope fields as generated columns to an existing store: the
    events appended before read back as they did, and the store still verifies."""
    name = f"prokopim_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{admin_database_url.rpartition('/')[0]}/{name}"
    try:
        migrations = backbone_migrations()
        (columns,) = [m for m in migrations if m.name.endswith("007_envelope_columns.sql")]
        conn = await connect(url)
        await migrate(conn, [m for m in migrations if m is not columns])
        store = await EventStore.connect(url, chain_key=chain_key)
        cause = new_event()
        events = [
            cause,
            new_event(actor=Actor(id="u-1", role="staf", name="Dédé")),
            new_event(correlation_id=cause.event_id, causation_id=cause.event_id),
            new_event(traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ]
        await store.append("before", 0, events[:1])
        await store.append("before", 1, events[1:])
        old_code_reads = [
            event_from_row(row)
            for row in await conn.fetch(
                "SELECT event_id, stream_id, stream_version, global_position, type, data,"
                " metadata, occurred_at, recorded_at FROM events ORDER BY global_position"
            )
        ]

        await migrate(conn, migrations)
        assert await store.read_stream("before") == old_code_reads
        assert await read_everything(store, len(events)) == old_code_reads
        await store.append("after", 0, [new_event(correlation_id=cause.event_id)])
        after = await store.read_stream("after")
        assert after[0].correlation_id == cause.event_id
        report = await verify_store(conn, Keyring(chain_key))
        assert report.ok and report.events == len(events) + 1, report.summary()
        await store.close()
        await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.mark.parametrize("count", [1, 3])
async def test_an_append_wakes_the_relays_by_itself(
    database_url: str,
    role_urls: dict[str, str],
    chain_key: ChainKey,
    new_event: NewEventFactory,
    count: int,
) -> None:
    # The wake-up rides in the append's own statement: delivered at its commit, even when
    # the appending process does nothing more (here its pool closes at once, which would
    # fail a wake-up sent afterwards by a task, as it was), and with no round trip of its own.
    channel = f"woken_{uuid.uuid4().hex}"
    listener = await connect(database_url)
    woken: asyncio.Queue[str] = asyncio.Queue()
    try:
        await listener.add_listener(channel, lambda *args: woken.put_nowait(args[2]))
        store = EventStore(
            await create_store_pool(role_urls["intake"], max_size=1),
            notify_channel=channel,
            notify_interval=3600,
            chain_key=chain_key,
        )
        await store.append("s", 0, [new_event() for _ in range(count)])
        await store.pool.close()
        assert await asyncio.wait_for(woken.get(), 10) == channel
        # an append failing its version check appended nothing and woke nobody
        other = EventStore(await create_pool(database_url, max_size=1), notify_channel=channel)
        with pytest.raises(WrongExpectedVersion):
            await other.append("s", 0, [new_event() for _ in range(count)])
        await other.pool.close()
        await asyncio.sleep(0.5)
        assert woken.empty()
    finally:
        await listener.close()
