"""Who creates what on the bus: streams and the services' durables, by a privileged identity.

A service's NATS user may only read and ack its own durable consumer: it can create no
stream and no consumer (docs/security.md). So the streams and every service's durable are
created before the services need them, by the relay when it starts (its user may create
exactly these, nothing else) or by the operator (`prokopim up`, the test fixtures). A
service waits for its durable at start-up and names the missing piece if it never comes.

Durables are created with the legacy `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>`
request, which nats-server 2.9 and 2.14 both serve and which puts no filter subject (with
its wildcards) into the permission-checked subject. An existing durable is left as it is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from .consumer import RetryPolicy
from .topology import CONSUMERS, Topology, ensure_streams

_DEFAULT_RETRY = RetryPolicy()  # what services register their consumers with


class BusNotProvisioned(RuntimeError):
    """A service's durable consumer does not exist and the service may not create it."""


def durable_config(durable: str, topology: Topology, retry: RetryPolicy) -> ConsumerConfig:
    """The configuration of a service's durable, as ExactlyOnceConsumer registers it."""
    return ConsumerConfig(
        durable_name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        # Unlimited, as ExactlyOnceConsumer.consumer_config says: JetStream must never stop
        # redelivering a message that waits for the database; the consumer itself
        # dead-letters what no retry can fix.
        max_deliver=-1,
        ack_wait=retry.ack_wait,
        max_ack_pending=1000,
        filter_subject=topology.all_events,
    )


async def ensure_durables(
    js: JetStreamContext,
    topology: Topology,
    services: Iterable[str] = CONSUMERS,
    retry: RetryPolicy = _DEFAULT_RETRY,
) -> None:
    """Create each service's durable consumer on the event stream unless it exists."""
    for service in services:
        durable = topology.durable(service)
        try:
            await js.consumer_info(topology.stream, durable)
        except NotFoundError:
            await js.add_consumer(topology.stream, durable_config(durable, topology, retry))


async def provision_bus(js: JetStreamContext, topology: Topology) -> None:
    """Create (or update) the streams, then create the services' durables."""
    await ensure_streams(js, topology)
    await ensure_durables(js, topology)


async def await_durable(
    js: JetStreamContext, topology: Topology, durable: str, within: float
) -> None:
    """Wait until `durable` exists on the event stream, or raise BusNotProvisioned."""
    deadline = time.monotonic() + within
    while True:
        try:
            await js.consumer_info(topology.stream, durable)
            return
        except NotFoundError:
            pass
        if time.monotonic() >= deadline:
            raise BusNotProvisioned(
                f"durable consumer {durable} on stream {topology.stream} does not exist after"
                f" {within:g} s (NATS_CONNECT_TIMEOUT_SECONDS): the relay creates it when it"
                " starts (or an operator: see docs/security.md)"
            )
        await asyncio.sleep(0.2)
