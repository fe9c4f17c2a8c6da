"""Fixtures of the event backbone's contract tests: a pool, a store, an event factory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import uuid4

import asyncpg
import pytest
from prokopim_events.chain import ChainKey
from prokopim_events.db import create_pool
from prokopim_events.envelope import NewEvent
from prokopim_events.store import EventStore

EVENT_TYPE = "prokopim.backbone.thing-happened.v1"


def _new_event(data: dict[str, Any] | None = None, **fields: Any) -> NewEvent:
    fields.setdefault("type", EVENT_TYPE)
    fields.setdefault("occurred_at", datetime.now(UTC))
    return NewEvent(event_id=uuid4(), data={"n": 1} if data is None else data, **fields)


@pytest.fixture
def new_event() -> Callable[..., NewEvent]:
    """Build a NewEvent with a fresh id (data and envelope fields may be overridden)."""
    return _new_event


Condition = Callable[[], Awaitable[bool]]


async def _wait_until(condition: Condition, what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting until {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[None]]:
    """Poll an async condition until it holds; fail with `what` after a deadline."""
    return _wait_until


class _Servers(Protocol):  # prokopim_devstack.infra.Infra, which ships no type information
    database_url: str
    nats_url: str


@pytest.fixture
def admin_database_url(infra: _Servers) -> str:
    """The server's maintenance database, for creating databases and roles."""
    return infra.database_url


@pytest.fixture
def nats_url(infra: _Servers) -> str:
    """The test NATS server."""
    return infra.nats_url


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on this test's database, large enough for 20 concurrent writers."""
    pool = await create_pool(database_url, min_size=2, max_size=20)
    yield pool
    await pool.close()


@pytest.fixture
def chain_key() -> ChainKey:
    """This test's chain key, as PROKOPIM_CHAIN_KEY gives services theirs."""
    return ChainKey.from_secret(uuid4().hex + uuid4().hex)


@pytest.fixture
async def store(
    role_urls: dict[str, str], pool: asyncpg.Pool, chain_key: ChainKey
) -> AsyncIterator[EventStore]:
    """An event store on this test's database as a service runs it: on its own pool,
    logged in as a service's role (intake's), appending with the chain key."""
    store = await EventStore.connect(
        role_urls["intake"], min_size=2, max_size=20, chain_key=chain_key
    )
    yield store
    await store.close()
