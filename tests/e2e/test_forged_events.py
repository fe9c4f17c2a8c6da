"""A forged event on the bus moves no case on, even one published with the relay's password.

Issue 12's first attack: a well-formed `prokopim.review.draft-approved.v1` published
straight to its subject opened publishing's step for that case (and for a case that never
existed). Here the attacker even holds the relay's credentials, the only user that may
publish events; the services still find no stored twin and dead-letter it as forged.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import nats
import pytest
from prokopim_cli.flows import request_body
from prokopim_events.bus_auth import inbox_prefix
from prokopim_events.samples import sample_event
from prokopim_events.topology import Topology
from prokopim_sop import load_catalog

from .conftest import System, Website

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

BANDUNG = load_catalog().get("bdg-setda-010-2024")
APPROVED = "prokopim.review.draft-approved.v1"


async def test_a_forged_approval_is_dead_lettered_by_every_consumer_and_changes_nothing(
    system: System, infra: Any, topology: Topology, website: Website
) -> None:
    clerk = {"Authorization": f"Bearer {system.driver.token('pengadministrasi-umum')}"}
    async with httpx.AsyncClient(base_url=system.running.urls["intake"]) as http:
        body = request_body(BANDUNG, "Rapat Koordinasi", date(2026, 12, 1))
        created = await http.post("/cases", json=body, headers=clerk)
    assert created.status_code == 201
    real_case, no_case = created.json()["case_id"], str(uuid4())
    events_before = await count(system, "SELECT count(*) FROM events")

    sample = sample_event(APPROVED)
    forgeries = [
        sample.model_copy(
            update={
                "event_id": uuid4(),
                "stream_id": f"review-{case_id}",
                "data": {**sample.data, "case_id": case_id},
            }
        )
        for case_id in (real_case, no_case)
    ]
    relay = await nats.connect(
        infra.bus.url,
        user="relay",
        password=infra.bus.passwords["relay"],
        inbox_prefix=inbox_prefix("relay"),
    )
    try:
        for forged in forgeries:
            ack = await relay.jetstream().publish(
                topology.subject(APPROVED),
                forged.to_json(),
                headers={"Nats-Msg-Id": str(forged.event_id)},
            )
            assert ack.stream == topology.stream  # it did reach the bus
    finally:
        await relay.close()

    # Every consumer that would act on it dead-letters both: publishing, whose step an
    # approval opens, and the ledger, which acts on every event (so every forgery is
    # counted), among others; a consumer whose `wants` passes over an approval acks it
    # unread, as any approval, and nothing moves there.
    acting = ("publishing", "ledger")
    expected = {(Topology.durable(s), f.event_id) for s in acting for f in forgeries}
    rows = await dead_letters_when(system, expected)
    assert {row["event_id"] for row in rows} == {f.event_id for f in forgeries}
    assert all(row["error"].startswith("ForgedEvent: forged") for row in rows)

    # Nothing was appended, no publishing step opened, nothing posted to the website.
    assert await count(system, "SELECT count(*) FROM events") == events_before
    for case_id in (real_case, no_case):
        assert await system.driver.case_view("publishing", case_id, BANDUNG.step(10).role) is None
    assert website.posts == []
    # ... and the attempt shows in the metrics of the service it targeted.
    async with httpx.AsyncClient(base_url=system.running.urls["publishing"]) as http:
        metrics = (await http.get("/metrics")).text
    assert 'prokopim_forged_messages_total{consumer="prokopim-publishing"} 2.0' in metrics
    log = system.running.log_tail("publishing", 200)
    assert f"forged: no stored event {forgeries[0].event_id}" in log


async def count(system: System, sql: str) -> int:
    conn = await asyncpg.connect(system.database_url)
    try:
        value: int = await conn.fetchval(sql)
        return value
    finally:
        await conn.close()


async def dead_letters_when(system: System, expected: set[tuple[str, Any]]) -> list[Any]:
    """The dead letters, once every (consumer, event id) of `expected` is among them."""
    conn = await asyncpg.connect(system.database_url)
    try:
        for _ in range(3000):
            rows = await conn.fetch("SELECT consumer, event_id, error FROM dead_letters")
            if expected <= {(row["consumer"], row["event_id"]) for row in rows}:
                return list(rows)
            await asyncio.sleep(0.01)
        raise AssertionError(f"{len(rows)} dead letters, expected {expected}: {rows}")
    finally:
        await conn.close()
