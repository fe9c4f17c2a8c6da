"""Start the system as processes (as tests/e2e does), with settings a test chooses."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from prokopim_cli.system import SERVICES, RunningSystem, start_process, start_system, wait_ready
from prokopim_devstack.infra import Infra
from prokopim_events.topology import Topology
from prokopim_testing.ports import free_port


@dataclass
class Launched:
    """A running system and what a test needs to talk to it."""

    running: RunningSystem
    secret: str
    relay_metrics_url: str
    database_url: str
    env: dict[str, str]
    log_dir: Path

    def terminate(self, name: str, within: float = 60.0) -> bool:
        """SIGTERM one process; return whether it shut down cleanly by itself in time."""
        process = self.running.processes[name]
        log = self.running.logs[name]
        before = log.stat().st_size
        process.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once it has shut down, so -SIGTERM is a clean exit too
        code = process.wait(within)
        with log.open("rb") as text:
            text.seek(before)
            said = text.read().decode(errors="replace")
        return code in (0, -signal.SIGTERM) and "Application shutdown complete" in said

    def restart(self, *names: str) -> None:
        """Start new instances of stopped services on their ports; wait until all are ready."""
        for name in names:
            port = self.running.urls[name].rpartition(":")[2]
            env = {**os.environ, **self.env, "PORT": port, "HOST": "127.0.0.1"}
            command = [str(Path(sys.executable).parent / f"prokopim-{name}")]
            start_process(self.running, name, command, env, self.log_dir)
        wait_ready(self.running, 60.0)


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
        log_dir = tmp_path / "logs"
        running = await asyncio.to_thread(start_system, env, log_dir, ports=ports)
        started.append(running)
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        return Launched(running, secret, metrics_url, database_url, env, log_dir)

    yield start
    for running in started:
        await asyncio.to_thread(running.stop)
