"""The running ledger seals a quiet store by time, exports each seal head outside the
database, verifies continuously, and its metric turns when the store is tampered with.

tests/security/test_tamper.py checks each step alone (`seal_pending`, `verify_once`); here
the ledger app does them by itself, as it runs in production (issue 12, item 4).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from nats.aio.client import Client as NatsClient
from prokopim_devstack.infra import Infra
from prokopim_events.chain import ChainKey
from prokopim_events.db import connect
from prokopim_events.envelope import NewEvent
from prokopim_events.seal_export import read_heads
from prokopim_events.store import EventStore
from prokopim_events.topology import Topology
from prokopim_ledger.app import create_app
from prokopim_ledger.config import Settings
from prometheus_client import REGISTRY

pytestmark = pytest.mark.integration

SECRET = "ledger-tests-secret-0123456789abcdef"
CHAIN_SECRET = "the ledger tests' chain key, kept off the database"


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(600):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting until {what}")


def gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(name)


async def test_the_ledger_seals_by_time_exports_heads_and_verifies_continuously(
    infra: Infra,
    database_url: str,
    role_urls: dict[str, str],
    topology: Topology,
    nats_client: NatsClient,
    tmp_path: Path,
) -> None:
    heads = tmp_path / "seal-heads.jsonl"
    settings = Settings(
        database_url=role_urls["ledger"],
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=SECRET,
        prokopim_chain_key=CHAIN_SECRET,
        ledger_seal_interval=0.1,
        ledger_seal_max_age_seconds=0.0,  # a quiet office: seal whatever is there
        ledger_seal_export_file=heads,
        ledger_verify_interval_seconds=0.1,
    )
    store = await EventStore.connect(
        role_urls["intake"], chain_key=ChainKey.from_secret(CHAIN_SECRET)
    )
    app = create_app(settings)
    try:
        # Two events: far fewer than a seal range (1000).
        events = [
            NewEvent(
                event_id=uuid4(),
                type="prokopim.backbone.thing-happened.v1",
                data={"n": n},
                occurred_at=datetime.now(UTC),
            )
            for n in (1, 2)
        ]
        await store.append("quiet-1", 0, events)
        async with app.router.lifespan_context(app):

            async def sealed_and_verified() -> bool:
                exported = heads.exists() and any(h.last_position == 2 for h in read_heads(heads))
                return (
                    exported
                    and gauge("prokopim_verify_ok") == 1
                    and gauge("prokopim_verify_verified_position") == 2
                    and gauge("prokopim_sealed_position") == 2
                )

            await eventually(sealed_and_verified, "both events are sealed, exported, verified")

            superuser = await connect(database_url)
            try:
                async with superuser.transaction():
                    await superuser.execute("ALTER TABLE events DISABLE TRIGGER USER")
                    await superuser.execute("DELETE FROM events WHERE global_position = 2")
                    await superuser.execute("ALTER TABLE events ENABLE TRIGGER USER")
            finally:
                await superuser.close()

            async def failing() -> bool:
                return gauge("prokopim_verify_ok") == 0

            await eventually(failing, "the ledger's verification fails")
    finally:
        await store.close()
