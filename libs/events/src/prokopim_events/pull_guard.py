"""Keep a service's durable pull consumers working through NATS outages and stream rebuilds.

Two gaps of FastStream 0.7 and nats-py, closed here from the outside:

- FastStream's pull loop (`_consume_pull`) swallows `ConnectionClosedError` and fetches
  again at once, and its task supervisor restarts a loop that raised at once: a closed
  connection or a failing fetch turns into a busy loop at 100 % CPU (ag2ai/faststream
  #2632). `guard_pull_loops` wraps each subscription's `fetch` so that it pauses instead.
- A consumer deleted under a running subscription (its stream deleted and recreated, NATS
  restarted with an empty store) is not an error to the fetching side: on nats-server 2.9
  the fetch just times out, forever. `ConsumerKeeper` checks that every durable consumer
  exists and recreates it (and its stream) when it is gone; the subscription picks up again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import nats.errors
from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError

from .topology import Topology, ensure_streams

log = logging.getLogger(__name__)


def guard_pull_loops(broker: NatsBroker, pause: float) -> int:
    """Make every started pull subscriber pause `pause` s where it would spin; return how many."""
    guarded = 0
    for subscriber in broker.subscribers:
        subscription = getattr(subscriber, "subscription", None)
        fetch = getattr(subscription, "fetch", None)
        if fetch is None or getattr(fetch, "_prokopim_guard", False):
            continue
        subscription.fetch = _guarded(fetch, subscription._nc, pause)  # type: ignore[union-attr]
        guarded += 1
    return guarded


def _guarded(
    fetch: Callable[..., Awaitable[list[Any]]], nc: Client, pause: float
) -> Callable[..., Awaitable[list[Any]]]:
    async def guarded_fetch(*args: Any, **kwargs: Any) -> list[Any]:
        if nc.is_closed:
            # FastStream suppresses this "nothing fetched"; without the pause it asks again
            # at once, for ever.
            await asyncio.sleep(pause)
            raise nats.errors.TimeoutError
        try:
            return await fetch(*args, **kwargs)
        except (nats.errors.TimeoutError, asyncio.CancelledError):
            raise
        except TimeoutError:  # a plain one (a flush during a reconnect): nothing fetched
            raise nats.errors.TimeoutError from None
        except Exception as error:
            log.warning(
                "pull fetch failed (%s: %s); pausing %.1f s", type(error).__name__, error, pause
            )
            await asyncio.sleep(pause)
            raise

    guarded_fetch._prokopim_guard = True  # type: ignore[attr-defined]
    return guarded_fetch


class ConsumerKeeper:
    """Recreates this process's durable consumers (and their stream) when they are gone."""

    def __init__(
        self,
        js: JetStreamContext,
        topology: Topology,
        configs: Sequence[ConsumerConfig],
        *,
        interval: float,
    ) -> None:
        self._js = js
        self._topology = topology
        self._configs = list(configs)
        self._interval = interval
        self.recreated = 0

    async def apply(self) -> None:
        """Create or update every consumer with its current configuration (at start-up).

        An older build created them with a finite MaxDeliver; JetStream would stop
        redelivering a message that waits for the database.
        """
        for config in self._configs:
            await self._add(config)

    async def check(self) -> None:
        """Recreate any consumer that no longer exists."""
        for config in self._configs:
            assert config.durable_name is not None
            try:
                await self._js.consumer_info(self._topology.stream, config.durable_name)
            except NotFoundError:
                log.warning(
                    "consumer %s of stream %s is gone; recreating it",
                    config.durable_name,
                    self._topology.stream,
                )
                await self._add(config)
                self.recreated += 1

    async def run(self, stop: asyncio.Event) -> None:
        """Check every `interval` seconds until `stop` is set; NATS being away is waited out."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
            if stop.is_set():
                return
            try:
                await self.check()
            except (nats.errors.Error, OSError) as error:
                log.debug("consumer check skipped: %s", error)

    async def _add(self, config: ConsumerConfig) -> None:
        try:
            await self._js.add_consumer(self._topology.stream, config)
        except NotFoundError:  # the stream itself is gone: the relay re-publishes into it
            await ensure_streams(self._js, self._topology)
            await self._js.add_consumer(self._topology.stream, config)
