"""Apply the event store's migrations once and exit: the `prokopim-migrate` command.

Run as a one-shot job before the relay and the services start (docker compose's `migrate`
service, a Kubernetes Job, a release step). It takes the same advisory lock as every
process that migrates at start-up, so running it next to already-started replicas is safe.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time

import asyncpg

from .db import connect
from .migrations import backbone_migrations, migrate
from .settings import BackboneSettings, load_settings

log = logging.getLogger("prokopim.migrate")

# Errors that mean "the server is not accepting connections yet", worth waiting out.
_NOT_YET = (OSError, asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError)


async def _connect_within(dsn: str, wait_seconds: float) -> asyncpg.Connection:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return await connect(dsn)
        except _NOT_YET as error:
            if time.monotonic() >= deadline:
                raise
            log.info("database not reachable yet (%s); retrying", error)
            await asyncio.sleep(1.0)


async def run(settings: BackboneSettings, *, wait_seconds: float = 30.0) -> list[str]:
    """Connect (waiting up to `wait_seconds` for the server), migrate, return what was applied."""
    conn = await _connect_within(settings.database_url, wait_seconds)
    try:
        return await migrate(conn, backbone_migrations())
    finally:
        await conn.close()


def main() -> None:
    """Entry point: exit 0 once every backbone migration is applied, 1 if that failed."""
    settings = load_settings(BackboneSettings)
    logging.basicConfig(level=settings.log_level)
    wait_seconds = float(os.environ.get("MIGRATE_WAIT_SECONDS", "30"))
    try:
        applied = asyncio.run(run(settings, wait_seconds=wait_seconds))
    except Exception:
        log.exception("migrations failed")
        sys.exit(1)
    log.info("applied %s", ", ".join(applied) if applied else "nothing (already up to date)")


if __name__ == "__main__":
    main()
