"""Start the system as processes (as tests/e2e does), with settings a test chooses."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from prokopim_cli.infra import Infra
from prokopim_cli.system import SERVICES, RunningSystem, start_system
from prokopim_events.topology import Topology


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Launched:
    """A running system and what a test needs to talk to it."""

    running: RunningSystem
    secret: str
    relay_metrics_url: str
    database_url: str


Launch = Callable[[dict[str, str]], Awaitable[Launched]]


@pytest.fixture
async def launch(
    infra: Infra,
    database_url: str,
    topology: Topology,
    nats_client: NatsClient,
    tmp_path: Path,
) -> AsyncIterator[Launch]:
    """Return a starter of relay + five services on this test's database and namespace."""
    started: list[RunningSystem] = []

    async def start(extra_env: dict[str, str]) -> Launched:
        secret = secrets.token_urlsafe(40)
        metrics_port = free_port()
        env = {
            "DATABASE_URL": database_url,
            "NATS_URL": infra.nats_url,
            "PROKOPIM_NAMESPACE": topology.namespace,
            "JWT_SECRET": secret,
            "ARCHIVE_DIR": str(tmp_path / "archive"),
            "METRICS_PORT": str(metrics_port),
            "METRICS_HOST": "127.0.0.1",
            **extra_env,
        }
        ports = {name: free_port() for name in SERVICES}
        running = await asyncio.to_thread(start_system, env, tmp_path / "logs", ports=ports)
        started.append(running)
        return Launched(running, secret, f"http://127.0.0.1:{metrics_port}/metrics", database_url)

    yield start
    for running in started:
        await asyncio.to_thread(running.stop)
