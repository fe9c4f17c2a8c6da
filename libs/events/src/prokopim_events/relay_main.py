"""Run the outbox relay as its own process: `python -m prokopim_events.relay_main`."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import nats

from .db import connect, create_pool
from .migrations import backbone_migrations, migrate
from .relay import Relay
from .settings import BackboneSettings
from .store import EventStore
from .topology import Topology, ensure_streams


async def run(settings: BackboneSettings) -> None:
    """Migrate, ensure the streams, and relay until SIGTERM or SIGINT."""
    conn = await connect(settings.database_url)
    try:
        await migrate(conn, backbone_migrations())
    finally:
        await conn.close()
    topology = Topology(namespace=settings.prokopim_namespace)
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    await ensure_streams(js, topology)
    pool = await create_pool(settings.database_url, max_size=2)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    relay = Relay(
        EventStore(pool),
        js,
        topology,
        dsn=settings.database_url,
        name=os.environ.get("PROKOPIM_RELAY_NAME", "default"),
    )
    try:
        await relay.run(stop)
    finally:
        await nc.drain()
        await pool.close()


def main() -> None:
    """Entry point of the `prokopim-relay` command."""
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
    asyncio.run(run(BackboneSettings()))


if __name__ == "__main__":
    main()
