"""`start_system`: the whole system as processes, as the e2e tests and `prokopim up` start it."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
from prokopim_cli.system import SERVICES, start_system
from prokopim_devstack.infra import Infra
from prokopim_events.topology import Topology
from prokopim_testing.ports import free_port


@pytest.mark.e2e
@pytest.mark.timeout(240)
async def test_a_relay_that_exits_at_start_fails_the_start_naming_it(
    infra: Infra, database_url: str, topology: Topology, tmp_path: Path
) -> None:
    # The relay has no /readyz: before, the services answered ready and the system was
    # handed over with nothing relaying, so every hand-over waited for ever.
    env = {
        "DATABASE_URL": database_url,
        "NATS_URL": infra.nats_url,
        "PROKOPIM_NAMESPACE": topology.namespace,
        "JWT_SECRET": secrets.token_urlsafe(40),
        "METRICS_PORT": "0",
    }
    ports = {name: free_port() for name in SERVICES}
    with pytest.raises(RuntimeError, match=r"^relay exited \(1\)") as failed:
        await asyncio.to_thread(
            start_system,
            env,
            tmp_path / "logs",
            ports=ports,
            ready_within=180,
            process_env={"relay": {"RELAY_BATCH_SIZE": "0"}},
        )
    assert "RELAY_BATCH_SIZE" in str(failed.value)  # the relay's own words, from its log
