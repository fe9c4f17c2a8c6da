"""Keep a service's durable pull consumers working through NATS outages and stream rebuilds.

Two gaps of FastStream 0.7 and nats-py, closed here from the outside:

- FastStream's pull loop (`_consume_pull`) swallows `ConnectionClosedError` and fetches
  again at once, and its task supervisor restarts a loop that raised at once: a closed
  connection or a failing fetch turns into a busy loop at 100 % CPU (ag2ai/faststream
  #2632). `guard_pull_loops` wraps each subscription's `fetch` so that it pauses instead.
- A consumer deleted under a running subscription (its stream deleted and recreated, NATS
  restarted with an empty store) is not an error to the fetching side: on nats-server 2.9
  the fetch just times out, forever. The relay, whose NATS user may create the services'
  durables (a service's may not), recreates a durable that is gone at its next stream
  check (`Relay._check_stream`); the subscription then picks up again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors
from faststream.nats import NatsBroker
from nats.aio.client import Client

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
