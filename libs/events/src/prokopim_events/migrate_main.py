"""Apply the event store's migrations once and exit: the `prokopim-migrate` command.

Run as a one-shot job before the relay and the services start (docker compose's `migrate`
service, a Kubernetes Job, a release step). It takes the same advisory lock as every
process that migrates at start-up, so running it next to already-started replicas is safe.

With MIGRATION_DATABASE_URL (a superuser's DSN) it also sets up the least-privilege roles
(`prokopim_events.roles`): it creates `<PROKOPIM_DB_ROLE_PREFIX>_owner` and one login role
per process with the passwords PROKOPIM_DB_PASSWORD_<PROCESS> (RELAY, INTAKE, ...,
LEDGER, CONSOLE), applies every installed package's migrations as the owner, and grants each
process role its privileges. The processes then connect with their own role's DSN.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time

import asyncpg
from pydantic import Field, SecretStr

from .db import connect
from .migrations import backbone_migrations, installed_migrations, migrate
from .roles import PROCESSES, DatabaseRoles, migrate_as_owner
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


class MigrateSettings(BackboneSettings):
    """The owner's connection and the process roles' passwords (all or none)."""

    migration_database_url: SecretStr | None = Field(
        default=None,
        description=(
            "MIGRATION_DATABASE_URL: a superuser's DSN; set, roles are provisioned and"
            " migrations run as <prefix>_owner (unset: DATABASE_URL migrates, no roles)"
        ),
    )
    prokopim_db_role_prefix: str = Field(
        default="prokopim", description="PROKOPIM_DB_ROLE_PREFIX: the roles' name prefix"
    )
    prokopim_db_password_relay: SecretStr | None = None
    prokopim_db_password_intake: SecretStr | None = None
    prokopim_db_password_scheduling: SecretStr | None = None
    prokopim_db_password_production: SecretStr | None = None
    prokopim_db_password_review: SecretStr | None = None
    prokopim_db_password_publishing: SecretStr | None = None
    prokopim_db_password_ledger: SecretStr | None = None
    prokopim_db_password_console: SecretStr | None = None

    def roles(self) -> DatabaseRoles:
        """Return the roles to provision (refused when a password is missing)."""
        passwords = {}
        for process in PROCESSES:
            secret = getattr(self, f"prokopim_db_password_{process}")
            passwords[process] = secret.get_secret_value() if secret is not None else ""
        return DatabaseRoles(self.prokopim_db_role_prefix, passwords)


async def run(settings: BackboneSettings, *, wait_seconds: float = 30.0) -> list[str]:
    """Connect (waiting up to `wait_seconds` for the server), migrate, return what was applied."""
    owner = getattr(settings, "migration_database_url", None)
    if isinstance(settings, MigrateSettings) and owner is not None:
        roles = settings.roles()
        conn = await _connect_within(owner.get_secret_value(), wait_seconds)
        try:
            return await migrate_as_owner(conn, roles, installed_migrations())
        finally:
            await conn.close()
    conn = await _connect_within(settings.database_url, wait_seconds)
    try:
        return await migrate(conn, backbone_migrations())
    finally:
        await conn.close()


def main() -> None:
    """Entry point: exit 0 once every backbone migration is applied, 1 if that failed."""
    settings = load_settings(MigrateSettings)
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
