"""`prokopim cases stuck` and `prokopim_cases_stuck`: a hand-over no service took up."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prokopim_events.db import connect, create_pool
from prokopim_events.envelope import NewEvent
from prokopim_events.samples import sample_data
from prokopim_events.store import EventStore
from prokopim_kit.ops_metrics import measure
from prokopim_kit.stuck import stuck_cases
from prokopim_sop import load_catalog
from prometheus_client import REGISTRY

from .conftest import prokopim

pytestmark = pytest.mark.integration

RECEIVED = "prokopim.intake.request-received.v1"  # step 1 -> 2, both intake's
DISPOSED = "prokopim.intake.disposition-given.v1"  # step 2 -> 3, scheduling's: a hand-over
OPENED = "prokopim.scheduling.step-opened.v1"  # scheduling took it up


async def record(store: EventStore, case_id: str, *types: str) -> None:
    stream = f"intake-{case_id}"
    for event_type in types:
        data = sample_data(event_type) | {"case_id": case_id}
        version = await store.stream_version(stream)
        event = NewEvent(
            event_id=uuid.uuid4(), type=event_type, data=data, occurred_at=datetime.now(UTC)
        )
        await store.append(stream, version, [event])


async def test_a_hand_over_nobody_took_is_stuck_until_the_next_service_opens_its_step(
    database_url: str,
) -> None:
    store = await EventStore.connect(database_url)
    waiting, handed, taken = (str(uuid.uuid4()) for _ in range(3))
    try:
        await record(store, waiting, RECEIVED)  # waits for a person at intake: not stuck
        await record(store, handed, RECEIVED, DISPOSED)
        await record(store, taken, RECEIVED, DISPOSED, OPENED)
    finally:
        await store.close()
    env = {"DATABASE_URL": database_url}

    ran = await prokopim("cases", "stuck", "--older-than", "0", "--json", env=env)
    assert ran.code == 1, ran
    [stuck] = json.loads(ran.out)
    assert (stuck["case_id"], stuck["step"], stuck["next_step"]) == (handed, 2, 3)
    assert (stuck["from_service"], stuck["to_service"]) == ("intake", "scheduling")
    text = await prokopim("cases", "stuck", "--older-than", "0", env=env)
    assert text.code == 1 and f"case {handed}" in text.out and "intake -> scheduling" in text.out

    ran = await prokopim("cases", "stuck", env=env)  # the default: 15 minutes
    assert (ran.code, ran.out.strip()) == (0, "no hand-over waiting longer than 15 minutes")

    conn = await connect(database_url)
    try:
        catalog = load_catalog()
        assert await stuck_cases(conn, catalog, timedelta(0), "review") == []
        assert [c.case_id for c in await stuck_cases(conn, catalog, timedelta(0))] == [handed]
        # the gauge's bounded pass: the last 4 events reach back to the hand-over, 3 do not
        in_last_4 = await stuck_cases(conn, catalog, timedelta(0), within_last=4)
        assert [c.case_id for c in in_last_4] == [handed]
        assert await stuck_cases(conn, catalog, timedelta(0), within_last=3) == []
    finally:
        await conn.close()


async def test_the_stuck_gauge_counts_the_hand_overs_to_each_service(database_url: str) -> None:
    store = await EventStore.connect(database_url)
    try:
        for _ in range(2):
            await record(store, str(uuid.uuid4()), RECEIVED, DISPOSED)
    finally:
        await store.close()
    pool = await create_pool(database_url, max_size=2)
    try:
        catalog = load_catalog()
        await measure(pool, catalog, "ops-scheduling", "scheduling", 0.0)
        await measure(pool, catalog, "ops-review", "review", 0.0)
        await measure(pool, catalog, "ops-ledger", "ledger", 0.0)  # owns no step
    finally:
        await pool.close()
    assert REGISTRY.get_sample_value("prokopim_cases_stuck", {"service": "scheduling"}) == 2
    assert REGISTRY.get_sample_value("prokopim_cases_stuck", {"service": "review"}) == 0
    assert REGISTRY.get_sample_value("prokopim_cases_stuck", {"service": "ledger"}) is None
