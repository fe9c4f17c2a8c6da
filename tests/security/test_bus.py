"""The closed bus: every attack on NATS of issue 12, tried with each user, has no effect.

Runs against the test session's own nats-server, started with the generated users and
permissions (prokopim_events.bus_auth, written for any namespace). Each forbidden thing is
asserted twice: the server reports `Permissions Violation` to the client, and nothing
changed (no message in the stream, the durable still there and still holding its message).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig
from prokopim_devstack.bus import BusCredentials
from prokopim_devstack.infra import Infra
from prokopim_events.bus_auth import inbox_prefix
from prokopim_events.samples import sample_event
from prokopim_events.topology import Topology

pytestmark = pytest.mark.integration

FORGED_TYPE = "prokopim.review.draft-approved.v1"
DENIED_REQUEST = 1.0  # a denied JetStream API request gets no answer: the client gives up


@pytest.fixture
def bus(infra: Infra) -> BusCredentials:
    if infra.bus is None:
        pytest.skip("NATS_URL was given: this session does not know the bus's users")
    return infra.bus


class Session:
    """A connection as one user, with the errors the server sent it."""

    def __init__(self, nc: NatsClient, errors: list[str]) -> None:
        self.nc = nc
        self.js = nc.jetstream(timeout=DENIED_REQUEST)
        self.errors = errors

    async def violation(self, what: str) -> str:
        """Wait for the server's `Permissions Violation` naming `what`, and return it."""
        await self.nc.flush()
        for _ in range(200):  # the -ERR follows the offending message on the same socket
            for error in self.errors:  # nats-py lower-cases the server's -ERR text
                if "permissions violation" in error.lower() and what.lower() in error.lower():
                    return error
            await asyncio.sleep(0.01)
        raise AssertionError(f"no Permissions Violation for {what}: {self.errors}")


Connect = Callable[[str], Awaitable[Session]]


@pytest.fixture
async def connect_as(bus: BusCredentials) -> AsyncIterator[Connect]:
    async with AsyncExitStack() as stack:

        async def connect(user: str) -> Session:
            errors: list[str] = []

            async def on_error(error: Exception) -> None:
                errors.append(str(error))

            nc = await nats.connect(
                bus.url,
                user=user,
                password=bus.passwords[user],
                inbox_prefix=inbox_prefix(user),
                error_cb=on_error,
                allow_reconnect=False,
            )
            stack.push_async_callback(nc.close)
            return Session(nc, errors)

        yield connect


async def messages_in(nats_client: NatsClient, stream: str) -> int:
    info = await nats_client.jetstream().stream_info(stream)
    return int(info.state.messages)


async def test_an_anonymous_client_cannot_connect(bus: BusCredentials) -> None:
    errors: list[str] = []

    async def on_error(error: Exception) -> None:
        errors.append(str(error))

    with pytest.raises(nats.errors.Error):
        await nats.connect(bus.url, error_cb=on_error, allow_reconnect=False, connect_timeout=2)
    assert any("Authorization Violation" in e for e in errors), errors


async def test_a_wrong_password_cannot_connect(bus: BusCredentials) -> None:
    with pytest.raises(nats.errors.Error):
        await nats.connect(
            bus.url, user="relay", password="guessed", allow_reconnect=False, connect_timeout=2
        )


@pytest.mark.parametrize("user", ["review", "publishing", "intake", "ledger", "subscriber"])
async def test_no_user_but_the_relay_can_publish_an_event(
    connect_as: Connect, nats_client: NatsClient, topology: Topology, user: str
) -> None:
    session = await connect_as(user)
    forged = sample_event(FORGED_TYPE)
    subject = topology.subject(FORGED_TYPE)

    await session.nc.publish(subject, forged.to_json(), headers={"Nats-Msg-Id": "forged"})

    await session.violation(f'Publish to "{subject}"')
    assert await messages_in(nats_client, topology.stream) == 0
    # The relay may: the same publish lands in the stream.
    relay = await connect_as("relay")
    ack = await relay.js.publish(subject, forged.to_json(), headers={"Nats-Msg-Id": "relayed"})
    assert ack.stream == topology.stream and await messages_in(nats_client, topology.stream) == 1


async def relayed(connect_as: Connect, topology: Topology) -> None:
    """One event in the stream, published as the relay does."""
    relay = await connect_as("relay")
    event = sample_event(FORGED_TYPE)
    await relay.js.publish(topology.subject(event.type), event.to_json())


async def test_a_service_pulls_and_acks_its_own_durable(
    connect_as: Connect, nats_client: NatsClient, topology: Topology
) -> None:
    await relayed(connect_as, topology)
    review = await connect_as("review")
    subscription = await review.js.pull_subscribe_bind(
        Topology.durable("review"), stream=topology.stream
    )
    (msg,) = await subscription.fetch(1, timeout=10)
    await msg.ack_sync()
    info = await nats_client.jetstream().consumer_info(topology.stream, "prokopim-review")
    assert info.num_ack_pending == 0 and info.ack_floor.stream_seq == 1
    assert review.errors == []


async def test_a_service_cannot_take_or_ack_another_services_messages(
    connect_as: Connect, nats_client: NatsClient, topology: Topology
) -> None:
    await relayed(connect_as, topology)
    review = await connect_as("review")
    theirs = Topology.durable("publishing")

    with pytest.raises((TimeoutError, nats.errors.Error)):
        await review.js.consumer_info(topology.stream, theirs)
    await review.violation(f"$JS.API.CONSUMER.INFO.{topology.stream}.{theirs}")
    # Binding needs no request; pulling is refused, and a guessed ack subject too.
    stolen = await review.js.pull_subscribe_bind(theirs, stream=topology.stream)
    with pytest.raises((TimeoutError, nats.errors.Error)):
        await stolen.fetch(1, timeout=DENIED_REQUEST)
    await review.violation(f"$JS.API.CONSUMER.MSG.NEXT.{topology.stream}.{theirs}")
    ack_subject = f"$JS.ACK.{topology.stream}.{theirs}.1.1.1.0.0"
    await review.nc.publish(ack_subject, b"+ACK")
    await review.violation(ack_subject)
    # Publishing's durable still holds its message, unacked and undelivered.
    info = await nats_client.jetstream().consumer_info(topology.stream, theirs)
    assert info.num_pending == 1 and info.delivered.stream_seq == 0


async def test_a_service_cannot_delete_or_create_durables_or_streams(
    connect_as: Connect, nats_client: NatsClient, topology: Topology
) -> None:
    review = await connect_as("review")
    stream, theirs = topology.stream, Topology.durable("publishing")

    with pytest.raises((TimeoutError, nats.errors.Error)):
        await review.js.delete_consumer(stream, theirs)
    await review.violation(f"$JS.API.CONSUMER.DELETE.{stream}.{theirs}")
    with pytest.raises((TimeoutError, nats.errors.Error)):
        await review.js.delete_consumer(stream, Topology.durable("review"))
    await review.violation(f"$JS.API.CONSUMER.DELETE.{stream}.prokopim-review")
    with pytest.raises((TimeoutError, nats.errors.Error)):
        await review.js.delete_stream(stream)
    await review.violation(f"$JS.API.STREAM.DELETE.{stream}")
    with pytest.raises((TimeoutError, nats.errors.Error)):
        await review.js.add_consumer(stream, ConsumerConfig(durable_name="review-spy"))
    await review.violation(f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.review-spy")

    admin = nats_client.jetstream()
    assert (await admin.consumer_info(stream, theirs)).name == theirs
    assert (await admin.stream_info(stream)).config.name == stream


async def test_nobody_reads_the_replies_another_user_receives(connect_as: Connect) -> None:
    subscriber = await connect_as("subscriber")
    for inbox in ("_INBOX.>", f"{inbox_prefix('review')}.>", ">"):
        await subscriber.nc.subscribe(inbox)
        await subscriber.violation(f'Subscription to "{inbox}"')


async def test_the_read_only_subscriber_reads_with_its_own_durable_only(
    connect_as: Connect, nats_client: NatsClient, topology: Topology
) -> None:
    await relayed(connect_as, topology)
    subscriber = await connect_as("subscriber")
    config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT)

    # Its own durable (named after the user): replay and ack.
    mine = await subscriber.js.pull_subscribe(
        topology.all_events, durable="subscriber", stream=topology.stream, config=config
    )
    (msg,) = await mine.fetch(1, timeout=10)
    await msg.ack_sync()
    assert subscriber.errors == []

    # A prokopim durable name: neither taken over nor created.
    for durable in ("prokopim-review", "prokopim-audit"):
        with pytest.raises((TimeoutError, nats.errors.Error)):
            await subscriber.js.pull_subscribe(
                topology.all_events, durable=durable, stream=topology.stream, config=config
            )
        await subscriber.violation(f"$JS.API.CONSUMER.INFO.{topology.stream}.{durable}")
    # Nor any other name than the ones it was granted.
    with pytest.raises((TimeoutError, nats.errors.Error)):
        await subscriber.js.add_consumer(topology.stream, ConsumerConfig(durable_name="other"))
    await subscriber.violation(f"{topology.stream}.other")
    # The service's durable was not touched: its message still waits for it.
    info = await nats_client.jetstream().consumer_info(topology.stream, "prokopim-review")
    assert info.num_pending == 1
    names = [c.name for c in await nats_client.jetstream().consumers_info(topology.stream)]
    assert "prokopim-audit" not in names and "other" not in names


async def test_the_subscriber_cannot_publish(connect_as: Connect, topology: Topology) -> None:
    subscriber = await connect_as("subscriber")
    subject = topology.subject(FORGED_TYPE)
    await subscriber.nc.publish(subject, b"{}")
    await subscriber.violation(f'Publish to "{subject}"')
    dead = topology.dead_letter_subject(Topology.durable("review"))
    await subscriber.nc.publish(dead, b"{}")
    await subscriber.violation(f'Publish to "{dead}"')


def test_durable_names_always_carry_the_prokopim_prefix() -> None:
    for namespace in ("", "office-a"):
        topology = Topology(namespace=namespace)
        assert topology.durable("ledger") == "prokopim-ledger"
        assert topology.durable("review") != "review"
