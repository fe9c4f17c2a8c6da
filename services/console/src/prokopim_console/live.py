"""Live updates: a read-only core-NATS subscription, fanned out as server-sent events.

The console subscribes (plain core NATS, no consumer, nothing acked) to every domain
event subject. A page must not refresh before the ledger has projected the event, or it
would show the old state: so each event's case is announced once the ledger's position
(GET /position) has reached the event's, or after CONSOLE_LIVE_WAIT_SECONDS at most.
While no page listens the ledger is not asked: changes are still noted (a page that opens
its stream within the wait still hears of them) and forgotten at their deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from prokopim_events.topology import Topology

log = logging.getLogger(__name__)
KEEPALIVE_SECONDS = 15.0


class Live:
    """Fans case changes out to every open event stream."""

    def __init__(
        self, ledger_position: Callable[[], Awaitable[int]], wait_seconds: float, limit: int
    ) -> None:
        self._ledger_position = ledger_position
        self._wait = wait_seconds
        self._limit = limit
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self._pending: dict[str, tuple[int, float]] = {}
        self._wake = asyncio.Event()
        self.nats: Client | None = None

    async def start(
        self, url: str, topology: Topology, user: str | None, password: str | None
    ) -> None:
        """Connect to NATS (retrying for ever) and subscribe to every domain event."""
        options: dict[str, Any] = {"max_reconnect_attempts": -1, "allow_reconnect": True}
        if user:
            options |= {"user": user, "password": password or ""}
        self.nats = await nats.connect(url, **options)
        await self.nats.subscribe(topology.all_events, cb=self._on_message)

    async def stop(self) -> None:
        if self.nats is not None:
            with contextlib.suppress(Exception):
                await self.nats.drain()

    @property
    def connected(self) -> bool:
        return self.nats is not None and self.nats.is_connected

    async def _on_message(self, msg: Msg) -> None:
        try:
            event = json.loads(msg.data)
            case_id = str((event.get("data") or {}).get("case_id") or "")
            position = int(event.get("position") or 0)
        except (ValueError, TypeError, AttributeError):
            return
        self.note(case_id, position)

    def note(self, case_id: str, position: int) -> None:
        """Announce `case_id` once the ledger has projected `position`."""
        known = self._pending.get(case_id)
        if known is None or known[0] < position:
            self._pending[case_id] = (position, time.monotonic() + self._wait)
        self._wake.set()

    async def run(self) -> None:
        """Announce pending changes as the ledger catches up (a background task)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                if not self._queues:  # nobody to tell: no GET /position (each cost the
                    self._forget_expired()  # ledger a request per 100 ms per console)
                    with contextlib.suppress(TimeoutError):  # a listener wakes it at once
                        await asyncio.wait_for(self._wake.wait(), 0.1)
                    self._wake.clear()
                    continue
                try:
                    reached = await self._ledger_position()
                except Exception:  # the ledger restarting: announce on the deadline only
                    log.debug("ledger position unavailable", exc_info=True)
                    reached = -1
                now = time.monotonic()
                for case_id, (position, deadline) in list(self._pending.items()):
                    if position <= reached or now >= deadline:
                        del self._pending[case_id]
                        self._broadcast({"case_id": case_id, "position": position})
                if self._pending:
                    await asyncio.sleep(0.1)

    def _forget_expired(self) -> None:
        now = time.monotonic()
        for case_id, (_, deadline) in list(self._pending.items()):
            if now >= deadline:
                del self._pending[case_id]

    def _broadcast(self, change: dict[str, Any]) -> None:
        for queue in self._queues:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(change)

    @property
    def full(self) -> bool:
        """Whether CONSOLE_SSE_CLIENTS streams are open already."""
        return len(self._queues) >= self._limit

    @contextlib.contextmanager
    def listener(self) -> Any:
        if len(self._queues) >= self._limit:
            raise RuntimeError("too many live streams open")
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100)
        self._queues.add(queue)
        self._wake.set()  # changes noted meanwhile are announced to it
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    async def stream(self, is_disconnected: Callable[[], Awaitable[bool]]) -> AsyncIterator[str]:
        """Yield server-sent events: `change` per case changed, comments to keep alive."""
        with self.listener() as queue:
            yield "retry: 2000\n\n"
            while not await is_disconnected():
                try:
                    change = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"event: change\ndata: {json.dumps(change)}\n\n"
