"""Schema migrations: applied at start-up, once each, under an advisory lock.

Several replicas may start at once; the lock makes the second wait for the first and then
find nothing left to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata, resources

from .db import Connection

# An arbitrary constant shared by every prokopim process migrating the same database.
MIGRATION_LOCK_KEY = 0x70726F6B6F70  # "prokop"


@dataclass(frozen=True)
class Migration:
    """One named, idempotent SQL script."""

    name: str
    sql: str


def package_migrations(package: str, prefix: str) -> list[Migration]:
    """Return the `sql/*.sql` scripts shipped in `package`, in name order, as `prefix/<file>`."""
    folder = resources.files(package) / "sql"
    scripts = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    return [Migration(f"{prefix}/{entry.name}", entry.read_text("utf-8")) for entry in scripts]


def backbone_migrations() -> list[Migration]:
    """Return the event store's own migrations, in order."""
    return package_migrations("prokopim_events", "events")


# Packages that own tables of their own (the ledger's projections) name a function returning
# their migrations under this entry-point group, so that whoever migrates as the owner
# (`prokopim-migrate`, `prokopim up`, the test fixtures) applies them before services start.
ENTRY_POINT_GROUP = "prokopim.migrations"


def installed_migrations() -> list[Migration]:
    """Return the backbone's migrations, then those of every installed package that
    declares some (entry-point group `prokopim.migrations`), by package name."""
    found: list[Migration] = backbone_migrations()
    for entry in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        found.extend(entry.load()())
    return found


async def migrate(conn: Connection, migrations: Sequence[Migration]) -> list[str]:
    """Apply the migrations not yet applied; return the names applied now.

    When every one is applied already it only reads: a role that may not create tables
    (every process but the migrating owner, see `roles`) starts after the owner migrated.
    """
    if await migrations_done(conn, migrations):
        return []
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row["name"] for row in await conn.fetch("SELECT name FROM schema_migrations")}
        for migration in migrations:
            if migration.name in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (name) VALUES ($1)", migration.name
                )
            applied_now.append(migration.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return applied_now


async def migrations_done(conn: Connection, migrations: Sequence[Migration]) -> bool:
    """Tell whether every migration has been applied (for readiness probes)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return False
    done = {row["name"] for row in await conn.fetch("SELECT name FROM schema_migrations")}
    return all(m.name in done for m in migrations)
