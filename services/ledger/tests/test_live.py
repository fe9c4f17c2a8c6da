"""The ledger in-process against real PostgreSQL and NATS: live SLA alerts and the routes.

The SLA clock is the test's: no sleeping through half an hour of working time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from prokopim_devstack.infra import Infra
from prokopim_events.contracts import CaseFile, Requester, RequestReceived
from prokopim_events.db import create_pool
from prokopim_events.envelope import Actor, StoredEvent
from prokopim_events.relay import Relay
from prokopim_events.store import EventStore
from prokopim_events.topology import Topology
from prokopim_kit.auth import issue_token
from prokopim_kit.commands import to_new_events
from prokopim_ledger.alerts import alert_id
from prokopim_ledger.app import create_app
from prokopim_ledger.config import Settings

pytestmark = pytest.mark.integration

SECRET = "ledger-tests-secret-0123456789abcdef"
WIB = ZoneInfo("Asia/Jakarta")
T0 = datetime(2025, 5, 7, 9, 0, tzinfo=WIB)  # a Wednesday, inside office hours


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


async def eventually(check: Callable[[], Awaitable[object]], what: str) -> object:
    for _ in range(400):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    pool = await create_pool(database_url, max_size=4)
    yield EventStore(pool)
    await pool.close()


@pytest.fixture
async def relay(
    store: EventStore, database_url: str, topology: Topology, nats_client: NatsClient
) -> AsyncIterator[None]:
    relay = Relay(
        store, nats_client.jetstream(), topology, dsn=database_url, name=topology.namespace,
        poll_interval=0.1,
    )  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    yield
    stop.set()
    await asyncio.wait_for(task, 10)


def ledger_app(infra: Infra, database_url: str, topology: Topology, clock: Clock) -> FastAPI:
    settings = Settings(
        database_url=database_url,
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=SECRET,
        ledger_alert_interval=0.05,
        ledger_seal_interval=0.1,
        ledger_seal_range=1,
    )
    return create_app(settings, clock=clock)


async def register_case(store: EventStore, at: datetime) -> StoredEvent:
    case_id = uuid.uuid4()
    contract = RequestReceived(
        case_id=case_id,
        sop_id="tgr-58-2025",
        sop_version="2025.1",
        step=1,
        next_step=2,
        inputs={"request-letter": "ref://surat-17.pdf"},
        outputs=["disposition-sheet"],
        case=CaseFile(
            letter_number="017/PRK/2025",
            requester=Requester(name="Bappeda", agency="Bappeda"),
            subject="Liputan rapat",
            activity_name="Rapat koordinasi",
            activity_date=at.date(),
        ),
    )
    actor = Actor(id="ani", role="pengadministrasi-perkantoran", name="Ani")
    [event] = to_new_events([contract], actor=actor, now=at)
    await store.append(f"intake-{case_id}", 0, [event])
    [stored] = await store.read_stream(f"intake-{case_id}")
    return stored


async def alerts_on_nats(nats_client: NatsClient, topology: Topology) -> list[str]:
    """Every SLA message JetStream holds, by message id."""
    js = nats_client.jetstream()
    sub = await js.subscribe(topology.subject("prokopim.sla.>"), ordered_consumer=True)
    ids = []
    while True:
        try:
            msg = await sub.next_msg(timeout=1.0)
        except TimeoutError:
            break
        ids.append(msg.headers["Nats-Msg-Id"] if msg.headers else "")
    await sub.unsubscribe()
    return ids


async def test_alerts_are_published_once_across_a_restart(
    infra: Infra,
    database_url: str,
    topology: Topology,
    nats_client: NatsClient,
    store: EventStore,
    relay: None,
) -> None:
    registered = await register_case(store, T0)
    case_id = uuid.UUID(registered.data["case_id"])
    clock = Clock(T0 + timedelta(minutes=1))
    pool = store.pool

    async def alerts() -> list[str]:
        rows = await pool.fetch(
            "SELECT threshold FROM ledger_sla_alerts WHERE case_id = $1 ORDER BY 1", case_id
        )
        return [r[0] for r in rows]

    app = ledger_app(infra, database_url, topology, clock)
    async with app.router.lifespan_context(app):
        await eventually(
            lambda: pool.fetchval(
                "SELECT 1 FROM ledger_step_attempts WHERE case_id = $1 AND step = 2", case_id
            ),
            "step 2 to open in the projection",
        )
        await asyncio.sleep(0.2)
        assert await alerts() == []  # 1 of 30 minutes used
        clock.now = T0 + timedelta(minutes=23)  # 23 of 30 minutes: past 75 %
        await eventually(alerts, "the at-risk alert")
        assert await alerts() == ["at-risk"]
    # restarted with time moving on: the deadlines come back from the projection
    clock.now = T0 + timedelta(minutes=31)
    app = ledger_app(infra, database_url, topology, clock)
    async with app.router.lifespan_context(app):
        await eventually(lambda: _has(alerts, "breached"), "the breached alert")
        transport = httpx.ASGITransport(app=app)
        token = issue_token(SECRET, subject="kabag", role="kepala-bagian")
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://ledger") as client:
            sla = (await client.get(f"/sla/cases/{case_id}", headers=headers)).json()
            step2 = next(a for a in sla["attempts"] if a["step"] == 2)
            assert (step2["running"], step2["status"]) == (True, "breached")
            assert step2["working_seconds"] == 31 * 60 and step2["role"] == "kepala-bagian"
            metrics = (await client.get("/metrics")).text
            assert (
                'prokopim_sla_breaches_total{role="kepala-bagian",sop="tgr-58-2025",step="2"}'
                in (metrics)
            )
        # the ledger seals the global order as it goes (tamper evidence)
        await eventually(lambda: pool.fetchval("SELECT count(*) FROM event_seals"), "a seal")
    assert await alerts() == ["at-risk", "breached"]
    expected = {str(alert_id(case_id, 2, 1, t)) for t in ("at-risk", "breached")}

    async def published() -> bool:
        return sorted(await alerts_on_nats(nats_client, topology)) == sorted(expected)

    await eventually(published, "both alerts on NATS, once each")
    stored = await pool.fetch(
        "SELECT type, occurred_at FROM events WHERE stream_id = $1 ORDER BY 2", f"ledger-{case_id}"
    )
    assert [(r["type"], r["occurred_at"]) for r in stored] == [
        ("prokopim.sla.at-risk.v1", T0 + timedelta(minutes=22, seconds=30)),
        ("prokopim.sla.breached.v1", T0 + timedelta(minutes=30)),
    ]


async def _has(alerts: Callable[[], Awaitable[list[str]]], threshold: str) -> bool:
    return threshold in await alerts()


async def test_a_ledger_finding_its_projections_empty_rebuilds_them(
    infra: Infra, database_url: str, topology: Topology, nats_client: NatsClient, store: EventStore
) -> None:
    # No relay runs: nothing reaches the ledger over NATS, as after a crash that emptied
    # its unlogged tables while the consumer's processed-event rows survived.
    registered = await register_case(store, T0)
    app = ledger_app(infra, database_url, topology, Clock(T0))
    async with app.router.lifespan_context(app):
        cases = await store.pool.fetch("SELECT case_id FROM ledger_cases")
    assert [str(row["case_id"]) for row in cases] == [registered.data["case_id"]]
