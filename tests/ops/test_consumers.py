"""`prokopim consumers`: each durable's lag, pending acks and redeliveries, from JetStream."""

from __future__ import annotations

import json

import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig
from prokopim_events.topology import Topology

from .conftest import prokopim

pytestmark = pytest.mark.integration


async def test_consumers_shows_what_each_durable_has_not_received_or_acked(
    nats_url: str, topology: Topology, nats_client: NatsClient
) -> None:
    js = nats_client.jetstream()
    for n in range(5):
        await js.publish(topology.subject("prokopim.ops.thing-happened.v1"), f"{n}".encode())
    for name in ("ops-behind", "ops-fetched"):
        config = ConsumerConfig(durable_name=name, ack_policy=AckPolicy.EXPLICIT)
        await js.add_consumer(topology.stream, config)
    subscription = await js.pull_subscribe_bind("ops-fetched", topology.stream)
    fetched = await subscription.fetch(3, timeout=5)
    await fetched[0].ack()  # two delivered and not acked

    env = {"NATS_URL": nats_url, "PROKOPIM_NAMESPACE": topology.namespace}
    ran = await prokopim("consumers", "--json", env=env)
    assert ran.code == 0, ran
    # the services' own durables (provisioned with the stream) are listed too
    rows = {row["consumer"]: row for row in json.loads(ran.out)}
    assert {"ops-behind", "ops-fetched"} <= set(rows)
    behind, fetching = rows["ops-behind"], rows["ops-fetched"]
    assert (behind["pending"], behind["ack_pending"], behind["acked_up_to"]) == (5, 0, 0)
    assert (fetching["pending"], fetching["ack_pending"]) == (2, 2)
    assert fetching["delivered_up_to"] == 3 and behind["stream_last"] == 5

    table = await prokopim("consumers", env=env)
    assert table.code == 0 and "ops-behind" in table.out.splitlines()[1]


async def test_a_namespace_without_a_stream_names_the_fix(nats_url: str) -> None:
    env = {"NATS_URL": nats_url, "PROKOPIM_NAMESPACE": "nosuchinstallation"}
    ran = await prokopim("consumers", env=env)
    assert ran.code == 3, ran
    assert "no stream PROKOPIM_NOSUCHINSTALLATION on NATS" in ran.err
    assert "PROKOPIM_NAMESPACE" in ran.err
