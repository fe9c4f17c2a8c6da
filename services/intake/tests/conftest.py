"""Intake's own fixtures: the started app, a client and the test database's store (PostgreSQL
and NATS come from the shared prokopim_testing fixtures)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from prokopim_devstack.infra import Infra
from prokopim_events.db import create_pool
from prokopim_events.store import EventStore
from prokopim_events.topology import Topology
from prokopim_intake.app import create_app
from prokopim_kit.auth import issue_token
from prokopim_kit.runtime import ServiceSettings

SECRET = "intake-tests-secret-0123456789abcdef"

Auth = Callable[..., dict[str, str]]


@pytest.fixture
def auth() -> Auth:
    """Return a maker of Authorization headers signed with the app's secret."""

    def headers(role: str, subject: str = "user-1", secret: str = SECRET) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(secret, subject=subject, role=role)}"}

    return headers


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    """The test database's event store, to check what the service wrote."""
    pool = await create_pool(database_url, max_size=2)
    yield EventStore(pool)
    await pool.close()


@pytest.fixture
async def app(
    infra: Infra, database_url: str, topology: Topology, nats_client: NatsClient
) -> AsyncIterator[FastAPI]:
    """The intake app with its lifespan running (pool, migrations, NATS broker)."""
    settings = ServiceSettings(
        database_url=database_url,
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=SECRET,
    )
    service = create_app(settings)
    async with service.router.lifespan_context(service):
        yield service


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        yield http
