"""In-process clients of the service apps (see apps.py), and the system run as processes."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
import httpx
import nats
import pytest
from prokopim_cli.system import SERVICES as PROCESSES
from prokopim_cli.system import RunningSystem, start_system
from prokopim_devstack.infra import Infra
from prokopim_events.db import connect
from prokopim_events.migrations import backbone_migrations, migrate
from prokopim_events.topology import Topology, ensure_streams
from prokopim_testing.ports import free_port

from .apps import stub_app

Client = Callable[[str], httpx.AsyncClient]


@pytest.fixture
async def stub() -> AsyncIterator[Client]:
    """Return a maker of clients of a service's app with a stand-in runtime."""
    clients: list[httpx.AsyncClient] = []

    def client(service: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=stub_app(service), raise_app_exceptions=False)
        made = httpx.AsyncClient(transport=transport, base_url=f"http://{service}")
        clients.append(made)
        return made

    yield client
    for made in clients:
        await made.aclose()


@dataclass
class System:
    """The relay and the six services as processes, on a database and namespace of their own."""

    running: RunningSystem
    secret: str
    database_url: str


@pytest.fixture(scope="module")
async def system(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    """Start the whole system once for a module (as tests/e2e does for one test)."""
    name = f"prokopim_http_{uuid.uuid4().hex[:12]}"
    topology = Topology(namespace=f"h{uuid.uuid4().hex[:10]}")
    admin = await asyncpg.connect(infra.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{infra.database_url.rpartition('/')[0]}/{name}"
    conn = await connect(url)
    try:
        await migrate(conn, backbone_migrations())
    finally:
        await conn.close()
    nc = await nats.connect(infra.nats_url)
    await ensure_streams(nc.jetstream(), topology)
    secret = secrets.token_urlsafe(40)
    logs = tmp_path_factory.mktemp("logs")
    env = {
        "DATABASE_URL": url,
        "NATS_URL": infra.nats_url,
        "PROKOPIM_NAMESPACE": topology.namespace,
        "JWT_SECRET": secret,
        "ARCHIVE_DIR": str(logs / "archive"),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(free_port()),  # nothing listens: publication is 502, hand-over works
    }
    ports = {process: free_port() for process in PROCESSES}  # the console too
    running = await asyncio.to_thread(start_system, env, logs, ports=ports, ready_within=240)
    try:
        yield System(running, secret, url)
    finally:
        await asyncio.to_thread(running.stop)
        for stream in (topology.stream, topology.dead_letter_stream):
            with contextlib.suppress(Exception):
                await nc.jetstream().delete_stream(stream)
        await nc.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
