"""Run the outbox relay as its own process: `python -m prokopim_events.relay_main`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from prometheus_client import start_http_server

from .db import connect, create_pool
from .logs import configure_logging
from .migrations import backbone_migrations, migrate
from .nats_connection import connect_nats, nats_options
from .provisioning import provision_bus
from .relay import Relay
from .settings import RelaySettings, load_settings
from .store import EventStore
from .telemetry import flush_tracing, setup_tracing
from .topology import Topology

log = logging.getLogger(__name__)


def serve_metrics(settings: RelaySettings) -> None:
    """Serve Prometheus `/metrics` on METRICS_PORT from a background thread."""
    if settings.metrics_port == 0:
        return
    try:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    except OSError as error:
        # Relaying matters more than its metrics: say so loudly, keep going.
        log.error("relay metrics not served: METRICS_PORT %s: %s", settings.metrics_port, error)
        return
    log.info("relay metrics on http://%s:%s/metrics", settings.metrics_host, settings.metrics_port)


async def run(settings: RelaySettings) -> None:
    """Migrate, provision the streams and durables, and relay until SIGTERM or SIGINT."""
    setup_tracing("prokopim-relay")
    serve_metrics(settings)
    conn = await connect(settings.database_url)
    try:
        await migrate(conn, backbone_migrations())
    finally:
        await conn.close()
    topology = Topology(namespace=settings.prokopim_namespace)
    nc = await connect_nats(
        settings.nats_url,
        settings.nats_connect_timeout_seconds,
        nats_options(settings),
        reconnect_wait=settings.nats_reconnect_wait_seconds,
        ping_interval=settings.nats_ping_interval_seconds,
    )
    js = nc.jetstream()
    # The relay's user may create the streams and the services' durables, nothing else.
    await provision_bus(js, topology)
    # The store's reads only (the lease and LISTEN have their own connection): released
    # without asyncpg's reset round trip, see `create_pool`.
    pool = await create_pool(settings.database_url, max_size=2, keep_session=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    relay = Relay(
        EventStore(pool),
        js,
        topology,
        dsn=settings.database_url,
        name=settings.prokopim_relay_name,
        batch_size=settings.relay_batch_size,
        ack_timeout=settings.relay_ack_timeout_seconds,
        lease_seconds=settings.relay_lease_seconds,
        stream_check_interval=settings.relay_stream_check_seconds,
    )
    try:
        await relay.run(stop)
    finally:
        # NATS may be away right now: a stopping relay must not wait for it forever.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.drain(), 5.0)
        with contextlib.suppress(Exception):
            await nc.close()
        await pool.close()
        flush_tracing()


def main() -> None:
    """Entry point of the `prokopim-relay` command."""
    settings = load_settings(RelaySettings)
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
