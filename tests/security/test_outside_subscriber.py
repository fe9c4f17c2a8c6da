"""An outside subscriber following docs/security.md reads the events, and only that.

examples/subscriber.py runs as its own process with the read-only `subscriber` user, as a
city dashboard would: with its own durable it replays what the relay published; asking for a
service's durable (the issue's `--durable ledger`, now `prokopim-ledger`) gets it nothing.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from prokopim_devstack.infra import Infra
from prokopim_events.bus_auth import inbox_prefix
from prokopim_events.samples import sample_event
from prokopim_events.topology import Topology

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "subscriber.py"
EVENT_TYPE = "prokopim.intake.request-received.v1"


async def run_example(infra: Infra, topology: Topology, durable: str, state: Path) -> list[str]:
    """Run the example as the subscriber user until it is live (or exits); its output lines."""
    assert infra.bus is not None
    args = ["--nats", infra.bus.user_url("subscriber"), "--namespace", topology.namespace]
    args += ["--inbox-prefix", inbox_prefix("subscriber"), "--durable", durable]
    args += ["--state", str(state), "--wait", "0.2"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), *args, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        while raw := await asyncio.wait_for(process.stdout.readline(), 60):
            lines.append(raw.decode())
            if json.loads(raw)["event"] == "live":
                break
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
    return lines


async def test_the_subscriber_user_replays_events_with_its_own_durable_only(
    infra: Infra, nats_client: NatsClient, topology: Topology, tmp_path: Path
) -> None:
    if infra.bus is None:
        pytest.skip("NATS_URL was given: this session does not know the bus's users")
    event = sample_event(EVENT_TYPE)
    await nats_client.jetstream().publish(topology.subject(event.type), event.to_json())

    mine = await run_example(infra, topology, "subscriber", tmp_path / "a.db")
    processed = [json.loads(line) for line in mine if '"processed"' in line]
    assert [line["id"] for line in processed] == [str(event.event_id)]

    theirs = await run_example(infra, topology, "prokopim-ledger", tmp_path / "b.db")
    assert not any('"processed"' in line for line in theirs)
    info = await nats_client.jetstream().consumer_info(topology.stream, "prokopim-ledger")
    assert info.num_pending == 1 and info.delivered.stream_seq == 0  # still the ledger's
