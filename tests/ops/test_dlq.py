"""A forced dead letter, as on-call meets it: listed, shown, re-driven once its cause is fixed.

The dead letter is made by a real ExactlyOnceConsumer on JetStream (a handler that fails on
every attempt); the re-drive is carried out by a real service app (its lifespan starts the
re-drive worker); the operator's side is the `prokopim` command in its own process.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from fastapi import APIRouter
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from prokopim_events.consumer import ExactlyOnceConsumer, RetryPolicy
from prokopim_events.db import Connection, create_pool
from prokopim_events.envelope import NewEvent, StoredEvent
from prokopim_events.provisioning import ensure_durables
from prokopim_events.store import EventStore
from prokopim_events.topology import Topology
from prokopim_kit.runtime import Runtime, ServiceSettings, create_service_app
from prometheus_client import REGISTRY

from .conftest import prokopim, wait_until

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_deliver=2, backoff=(0.05,), ack_wait=10.0)


async def test_a_dead_letter_is_listed_shown_and_redriven_exactly_once_after_the_fix(
    database_url: str, nats_url: str, topology: Topology, nats_client: NatsClient
) -> None:
    pool = await create_pool(database_url, max_size=10)
    store = await EventStore.connect(database_url)
    service = f"ops{uuid.uuid4().hex[:6]}"
    consumer = topology.durable(service)  # prokopim-<service>: what the service consumes as
    env = {"DATABASE_URL": database_url}
    try:
        await pool.execute("CREATE TABLE fixes (event_id uuid PRIMARY KEY)")
        await pool.execute("CREATE TABLE effects (event_id uuid NOT NULL)")

        async def handle(event: StoredEvent, conn: Connection) -> None:
            await conn.execute("INSERT INTO effects (event_id) VALUES ($1)", event.event_id)
            fixed = "SELECT true FROM fixes WHERE event_id = $1"
            if not await conn.fetchval(fixed, event.event_id):
                raise LookupError(f"no fix for {event.event_id} yet")

        # 1. The consumer gives up on the event: a dead letter, as in production.
        case_id = str(uuid.uuid4())
        new = NewEvent(
            event_id=uuid.uuid4(),
            type="prokopim.ops.thing-happened.v1",
            data={"case_id": case_id, "step": 2},
            occurred_at=datetime.now(UTC),
        )
        await store.append(f"ops-{case_id}", 0, [new])
        event = (await store.read_stream(f"ops-{case_id}"))[0]
        broker = NatsBroker(nats_url)
        ExactlyOnceConsumer(
            name=consumer, pool=pool, handler=handle, topology=topology, broker=broker,
            retry=FAST_RETRY,
        ).register()  # fmt: skip
        await broker.start()
        js = nats_client.jetstream()
        await js.publish(
            topology.subject(event.type),
            event.to_json(),
            headers={"Nats-Msg-Id": str(event.event_id)},
        )

        async def dead() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM dead_letters"))

        await wait_until(dead, "the event was dead-lettered", 30)
        await broker.stop()
        # The stream forgets it: only a re-drive can bring the event back to the consumer.
        await js.delete_consumer(topology.stream, consumer)
        await js.purge_stream(topology.stream)

        # 2. On-call lists it (exit 1: something waits) and looks at it.
        listed = await prokopim("dlq", "list", env=env)
        assert listed.code == 1, listed
        assert str(event.event_id) in listed.out and consumer in listed.out
        [item] = json.loads((await prokopim("dlq", "list", "--json", env=env)).out)
        assert item["state"] == "waiting" and item["case_id"] == case_id and item["step"] == 2
        assert item["attempts"] == FAST_RETRY.max_deliver
        shown = await prokopim("dlq", "show", str(event.event_id), "--json", env=env)
        assert shown.code == 0, shown
        detail = json.loads(shown.out)
        assert "LookupError: no fix for" in detail["error"]
        assert detail["payload"]["id"] == str(event.event_id)

        # 3. The service runs; a re-drive before the fix fails again and leaves it waiting.
        async def on_event(_: Runtime, event: StoredEvent, conn: Connection) -> None:
            await handle(event, conn)

        settings = ServiceSettings(
            database_url=database_url,
            nats_url=nats_url,
            prokopim_namespace=topology.namespace,
            jwt_secret=secrets.token_urlsafe(40),
            redrive_poll_seconds=0.1,
            ops_metrics_interval_seconds=0.1,
        )
        # the relay (or an operator) creates a service's durable: a service may not
        await ensure_durables(nats_client.jetstream(), topology, [service])
        app = create_service_app(
            name=service, router=APIRouter(), settings=settings, on_event=on_event
        )
        async with app.router.lifespan_context(app):

            async def gauge_is(value: float) -> bool:
                labels = {"consumer": consumer}
                found = REGISTRY.get_sample_value("prokopim_dead_letters_waiting", labels)
                return found == value

            await wait_until(lambda: gauge_is(1), "the service counted the dead letter", 10)
            early = await prokopim("dlq", "redrive", str(event.event_id), "--json", env=env)
            assert early.code == 1, early
            [result] = json.loads(early.out)
            assert result["state"] == "failed" and "no fix for" in result["error"]
            assert await pool.fetchval("SELECT count(*) FROM effects") == 0
            assert (await prokopim("dlq", "list", env=env)).code == 1

            # 4. The cause is fixed; the re-drive takes effect, once.
            await pool.execute("INSERT INTO fixes (event_id) VALUES ($1)", event.event_id)
            redriven = await prokopim("dlq", "redrive", str(event.event_id), env=env)
            assert redriven.code == 0, redriven
            assert f"{consumer:<20} {event.event_id}  processed" in redriven.out
            again = await prokopim("dlq", "redrive", str(event.event_id), env=env)
            assert again.code == 0 and "already re-driven (processed)" in again.out, again
            await wait_until(lambda: gauge_is(0), "the gauge saw the re-drive", 10)

        assert await pool.fetchval("SELECT count(*) FROM effects") == 1
        processed = await pool.fetch("SELECT consumer, event_id FROM processed_events")
        assert [tuple(row) for row in processed] == [(consumer, event.event_id)]
        row = await pool.fetchrow("SELECT * FROM dead_letters")
        assert row is not None and row["redriven_at"] is not None
        assert row["redrive_outcome"] == "processed"
        assert (await prokopim("dlq", "list", env=env)).code == 0
        [after] = json.loads((await prokopim("dlq", "list", "--all", "--json", env=env)).out)
        assert after["state"] == "redriven"
    finally:
        await store.close()
        await pool.close()


async def test_dlq_commands_name_an_unknown_or_malformed_id_with_exit_2(database_url: str) -> None:
    env = {"DATABASE_URL": database_url}
    unknown = str(uuid.uuid4())
    for args in (("show", unknown), ("redrive", unknown)):
        ran = await prokopim("dlq", *args, env=env)
        assert ran.code == 2, ran
        assert ran.err.strip() == f"prokopim: no dead letter {unknown} (see `prokopim dlq list`)"
    malformed = await prokopim("dlq", "show", "not-a-uuid", env=env)
    assert malformed.code == 2 and "'not-a-uuid' is not a UUID" in malformed.err


async def test_dlq_list_on_an_empty_store_is_ok(database_url: str) -> None:
    ran = await prokopim("dlq", "list", env={"DATABASE_URL": database_url})
    assert (ran.code, ran.out.strip()) == (0, "no dead letters waiting")


async def test_redrive_of_an_unmigrated_dead_letters_table_says_to_migrate(
    database_url: str,
) -> None:
    conn = await asyncpg.connect(database_url)
    try:  # a store migrated by the release before this one: no re-drive columns yet
        await conn.execute("ALTER TABLE dead_letters DROP COLUMN redriven_at CASCADE")
    finally:
        await conn.close()
    ran = await prokopim("dlq", "list", env={"DATABASE_URL": database_url})
    assert ran.code == 3, ran
    assert "not fully migrated" in ran.err and "prokopim-migrate" in ran.err
    assert "Traceback" not in ran.err
