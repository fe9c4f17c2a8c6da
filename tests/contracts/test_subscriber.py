"""examples/subscriber.py against real NATS JetStream: replay, live, dedup, resume.

The example runs as its own process with this test's namespace, as a subscriber outside
prokopim would. Events are published the way the relay publishes them (CloudEvents JSON,
`Nats-Msg-Id` = event id).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from prokopim_devstack.infra import Infra
from prokopim_events.contracts import CONTRACTS
from prokopim_events.envelope import StoredEvent
from prokopim_events.samples import sample_event
from prokopim_events.topology import Topology, ensure_streams

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "subscriber.py"
TYPES = list(CONTRACTS)


def _event(n: int) -> StoredEvent:
    """The n-th event of this test: a sample of some type, with a fresh id and position."""
    sample = sample_event(TYPES[n % len(TYPES)])
    return sample.model_copy(update={"event_id": uuid.uuid4(), "global_position": n + 1})


async def _publish(nc: NatsClient, topology: Topology, event: StoredEvent) -> bool:
    """Publish as the relay does; return whether JetStream dropped it as a duplicate."""
    ack = await nc.jetstream().publish(
        topology.subject(event.type),
        event.to_json(),
        headers={"Nats-Msg-Id": str(event.event_id)},
    )
    return bool(ack.duplicate)


class Subscriber:
    """The example as a child process, read one JSON line at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, *args: str) -> Subscriber:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(EXAMPLE), *args, stdout=asyncio.subprocess.PIPE
        )
        return cls(process)

    async def until(self, kind: str, count: int = 1) -> list[dict[str, Any]]:
        """Collect lines until `count` of kind `kind` arrived; return every line read."""
        lines: list[dict[str, Any]] = []
        assert self.process.stdout is not None
        while sum(line["event"] == kind for line in lines) < count:
            raw = await asyncio.wait_for(self.process.stdout.readline(), 30)
            assert raw, f"subscriber exited ({self.process.returncode}) before {count} {kind}"
            lines.append(json.loads(raw))
        return lines

    async def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 30)


@pytest.fixture
async def subscribers() -> AsyncIterator[list[Subscriber]]:
    started: list[Subscriber] = []
    yield started
    for subscriber in started:
        if subscriber.process.returncode is None:
            subscriber.process.kill()
            await subscriber.process.wait()


def _ids(lines: list[dict[str, Any]], kind: str) -> list[str]:
    return [line["id"] for line in lines if line["event"] == kind]


async def test_replays_then_follows_live_dedupes_and_resumes(
    infra: Infra,
    nats_client: NatsClient,
    topology: Topology,
    tmp_path: Path,
    subscribers: list[Subscriber],
) -> None:
    # A short duplicate window, so a re-publish can land outside it as after a relay restart.
    await ensure_streams(nats_client.jetstream(), replace(topology, duplicate_window_seconds=1))
    args = ["--nats", infra.nats_url, "--namespace", topology.namespace]
    args += ["--durable", f"example-{uuid.uuid4().hex[:8]}", "--state", str(tmp_path / "s.db")]
    args += ["--wait", "0.2"]
    events = [_event(n) for n in range(6)]
    for event in events[:3]:
        assert not await _publish(nats_client, topology, event)

    subscriber = await Subscriber.start(*args)
    subscribers.append(subscriber)
    replayed = await subscriber.until("live")
    assert _ids(replayed, "processed") == [str(e.event_id) for e in events[:3]]

    for event in events[3:5]:
        assert not await _publish(nats_client, topology, event)
    live = await subscriber.until("processed", 2)
    assert _ids(live, "processed") == [str(e.event_id) for e in events[3:5]]

    # Inside the window JetStream drops the repeat; once past it, the repeat is stored and
    # delivered, and the subscriber must skip it. (Whether the first repeat still falls in
    # the shortened window depends on the server: 2.9 keeps the old window for ids it has
    # seen, 2.14 applies the new one at once; the test session's server is 2.14.)
    for _ in range(150):  # the window is 1 s; this gives up after about 30 s
        if not await _publish(nats_client, topology, events[0]):
            break
        await asyncio.sleep(0.2)
    else:
        pytest.fail("JetStream kept dropping the re-publish as inside its duplicate window")
    repeat = await subscriber.until("duplicate")
    assert _ids(repeat, "duplicate") == [str(events[0].event_id)]
    assert _ids(repeat, "processed") == []
    assert await subscriber.stop() == 0

    # A restart with the same durable name goes on after the last ack: nothing replayed twice.
    assert not await _publish(nats_client, topology, events[5])
    restarted = await Subscriber.start(*args)
    subscribers.append(restarted)
    resumed = await restarted.until("live")
    if not _ids(resumed, "processed"):
        resumed += await restarted.until("processed")
    assert _ids(resumed, "processed") == [str(events[5].event_id)]
    assert _ids(resumed, "duplicate") == []
    assert await restarted.stop() == 0
