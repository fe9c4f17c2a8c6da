"""Least-privilege database roles: an owner that migrates, and one role per process.

The tables belong to `<prefix>_owner`, a role nobody logs in as: the migrating process
(a superuser's connection) provisions the roles, migrates under `SET ROLE <prefix>_owner`
and then grants each process role what it needs and nothing else. The relay, each service
and the ledger log in as `<prefix>_<process>`, own nothing, and so cannot disable the
append-only triggers, alter a table, or UPDATE/DELETE/TRUNCATE events or seals:

- relay: read events; write its checkpoint row;
- each service: read events; append (INSERT of the columns an append sets, or the
  batch function); its own rows of processed_events and dead_letters (row-level security
  on the consumer name, `<namespace>-<service>`);
- ledger, besides: append seals and read the position sequence (sealing), and its own
  projections (`ledger_*`), which belong to `<prefix>_ledger_projections`, a role the
  ledger role inherits: rebuilding them drops and recreates their indexes, which takes
  ownership. They are rebuilt from events, so full control of them threatens no record;
- console: its own accounts (`console_users`: read, add, change, never delete) and which
  migrations are applied; not a row of the store (it asks the services for what it shows).

Roles are cluster-wide, grants per database: several databases may share one prefix.
`provision` and `grant` are idempotent and run at every migration.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .db import Connection
from .migrations import Migration, migrate

RELAY = "relay"
CONSOLE = "console"
SERVICES = ("intake", "scheduling", "production", "review", "publishing", "ledger")
PROCESSES = (RELAY, *SERVICES, CONSOLE)
# Processes that read the event store (the console reads none of it).
READERS = (RELAY, *SERVICES)
# Processes whose own tables, views and functions are named `<process>_...`.
OWN_OBJECTS = ("ledger",)

# Tables a process keeps for itself (created by its own migrations, entry-point group
# `prokopim.migrations`): only that process's role may read and write them.
SERVICE_TABLES: dict[str, tuple[str, ...]] = {
    "console": ("console_users",),
    "publishing": ("publishing_deliveries",),
    "scheduling": (
        "scheduling_deliveries",
        "scheduling_resources",
        "scheduling_bookings",
        "scheduling_agenda",
        "scheduling_feeds",
        "scheduling_milestones",
    ),
    "intake": ("intake_idempotency_keys", "intake_letters"),
}

# What a process may do with its own tables when not everything but changing them: the
# console deactivates an account, never deletes one.
OWN_TABLE_PRIVILEGES = {CONSOLE: "SELECT, INSERT, UPDATE"}

EXTENSIONS = ("btree_gist",)

_STORE_TABLES = (
    "events",
    "event_seals",
    "relay_checkpoints",
    "relay_leases",
    "relay_quarantine",
    "processed_events",
    "dead_letters",
    "schema_migrations",
)
_OWN_ROWS = ("processed_events", "dead_letters")
# What an append writes; the database assigns the rest (position, transaction id, time).
_APPEND_COLUMNS = (
    "event_id, stream_id, stream_version, type, data, metadata, occurred_at,"
    " chain_key_id, chain_hash"
)
_APPEND_FUNCTION = (
    "prokopim_append(text, bigint, jsonb, timestamptz[], bytea[], text, bytea, bytea)"
)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class DatabaseRoles:
    """The role names of one installation (`prefix`) and each process role's password."""

    prefix: str
    passwords: Mapping[str, str]

    def __post_init__(self) -> None:
        if not self.prefix.replace("_", "").isalnum() or not self.prefix[:1].isalpha():
            raise ValueError("a role prefix holds letters, digits and _, starting with a letter")
        missing = [p for p in PROCESSES if not self.passwords.get(p)]
        if missing:
            raise ValueError(f"no database password for {', '.join(missing)}")

    @property
    def owner(self) -> str:
        return f"{self.prefix}_owner"

    def role(self, process: str) -> str:
        """Return the login role of a process (relay, intake, ..., ledger)."""
        if process not in PROCESSES:
            raise ValueError(f"no database role for {process!r}")
        return f"{self.prefix}_{process}"

    def objects_role(self, process: str) -> str:
        """Return the role owning a process's own tables (see OWN_OBJECTS)."""
        return f"{self.prefix}_{process}_projections"

    def all_roles(self) -> list[str]:
        """Every role of this installation, owners last (the order to drop them in)."""
        return [
            *(self.role(p) for p in PROCESSES),
            *(self.objects_role(p) for p in OWN_OBJECTS),
            self.owner,
        ]

    def url(self, base_url: str, process: str) -> str:
        """Return `base_url` (host, port, database) with the process role's credentials."""
        parts = urllib.parse.urlsplit(base_url)
        user = urllib.parse.quote(self.role(process), safe="")
        password = urllib.parse.quote(self.passwords[process], safe="")
        host = parts.hostname or ""
        netloc = f"{user}:{password}@{f'[{host}]' if ':' in host else host}"
        if parts.port is not None:
            netloc += f":{parts.port}"
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


async def _exists(conn: Connection, role: str) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role
    )
    return found


async def provision(conn: Connection, roles: DatabaseRoles) -> None:
    """Create (or update the passwords of) the roles and hand existing objects to the owner.

    Run as a superuser, on the installation's database.
    """
    for role in (roles.owner, *(roles.objects_role(p) for p in OWN_OBJECTS)):
        if not await _exists(conn, role):
            await _create_role(conn, f"CREATE ROLE {_ident(role)} NOLOGIN")
    for process in PROCESSES:
        role = roles.role(process)
        # NOINHERIT: a role granted to it later gives it nothing unless it says SET ROLE
        inherit = "INHERIT" if process in OWN_OBJECTS else "NOINHERIT"
        attributes = f"LOGIN {inherit} PASSWORD {_literal(roles.passwords[process])}"
        if await _exists(conn, role):
            await conn.execute(f"ALTER ROLE {_ident(role)} {attributes}")
        else:
            await _create_role(conn, f"CREATE ROLE {_ident(role)} {attributes}")
    for process in OWN_OBJECTS:
        objects = _ident(roles.objects_role(process))
        await conn.execute(
            f"GRANT {objects} TO {_ident(roles.owner)}, {_ident(roles.role(process))}"
        )
    owner = _ident(roles.owner)
    # Extensions the packages' migrations use (scheduling's exclusion constraint needs
    # btree_gist): creating one takes more than the owner role has, so the superuser does.
    for extension in EXTENSIONS:
        await conn.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    await conn.execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {owner}")
    # Objects made before roles existed (migrated as the superuser): the owner's now.
    own_tables = [t for tables in SERVICE_TABLES.values() for t in tables]
    for kind, name in await conn.fetch(_MINE, [*_STORE_TABLES, *own_tables]):
        await conn.execute(f"ALTER {kind} {name} OWNER TO {owner}")


async def _create_role(conn: Connection, statement: str) -> None:
    try:
        await conn.execute(statement)
    except Exception as error:  # another database of the cluster created it meanwhile
        if getattr(error, "sqlstate", None) != "42710":
            raise


# prokopim's objects in schema public still owned by the connected (super)user
_MINE = """
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END,
       format('%I', c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
   AND c.relkind IN ('r', 'v', 'p')
   AND (c.relname = ANY($1::text[]) OR c.relname LIKE 'ledger\\_%')
UNION ALL
SELECT 'FUNCTION', format('%I(%s)', p.proname, pg_get_function_identity_arguments(p.oid))
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public' AND p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
   AND (p.proname LIKE 'prokopim\\_%' OR p.proname LIKE 'ledger\\_%')
"""


async def grant(conn: Connection, roles: DatabaseRoles) -> None:
    """Give each process role exactly its privileges on the migrated schema (as a superuser)."""
    tables = ", ".join(_STORE_TABLES)
    logins = ", ".join(_ident(roles.role(p)) for p in PROCESSES)
    readers = ", ".join(_ident(roles.role(p)) for p in READERS)
    services = ", ".join(_ident(roles.role(p)) for p in SERVICES)
    relay, ledger = _ident(roles.role(RELAY)), _ident(roles.role("ledger"))
    statements = [
        f"REVOKE ALL ON {tables} FROM PUBLIC, {logins}",
        f"REVOKE ALL ON FUNCTION {_APPEND_FUNCTION}, prokopim_read_horizon() FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA public TO {logins}",
        f"GRANT SELECT ON schema_migrations TO {logins}",
        f"GRANT SELECT ON events TO {readers}",
        f"GRANT EXECUTE ON FUNCTION prokopim_read_horizon() TO {readers}",
        f"GRANT SELECT, INSERT, UPDATE ON relay_checkpoints, relay_leases TO {relay}",
        f"GRANT SELECT, INSERT ON relay_quarantine TO {relay}",
        f"GRANT INSERT ({_APPEND_COLUMNS}) ON events TO {services}",
        f"GRANT EXECUTE ON FUNCTION {_APPEND_FUNCTION} TO {services}",
        f"GRANT SELECT, INSERT, UPDATE ON {', '.join(_OWN_ROWS)} TO {services}",
        f"GRANT SELECT, INSERT ON event_seals TO {ledger}",
        f"GRANT SELECT ON SEQUENCE {await conn.fetchval(_SEQUENCE)} TO {ledger}",
    ]
    for table in _OWN_ROWS:
        statements.append(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        for service in SERVICES:
            policy = _ident(f"{table}_{roles.role(service)}")
            mine = f"(consumer = {_literal(service)} OR consumer LIKE {_literal('%-' + service)})"
            statements += [
                f"DROP POLICY IF EXISTS {policy} ON {table}",
                f"CREATE POLICY {policy} ON {table} TO {_ident(roles.role(service))}"
                f" USING {mine} WITH CHECK {mine}",
            ]
    for process in OWN_OBJECTS:
        statements += await _hand_over_own_objects(conn, roles, process)
    for process, own in SERVICE_TABLES.items():
        may = OWN_TABLE_PRIVILEGES.get(process, "SELECT, INSERT, UPDATE, DELETE")
        for table in own:
            if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
                statements += [
                    f"REVOKE ALL ON {table} FROM PUBLIC, {logins}",
                    f"GRANT {may} ON {table} TO {_ident(roles.role(process))}",
                ]
    for statement in statements:
        await conn.execute(statement)


_SEQUENCE = "SELECT pg_get_serial_sequence('events', 'global_position')"
_OWN = """
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END, format('%I', c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'p') AND c.relname LIKE $1
UNION ALL
SELECT 'FUNCTION', format('%I(%s)', p.proname, pg_get_function_identity_arguments(p.oid))
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public' AND p.proname LIKE $1
"""


async def _hand_over_own_objects(conn: Connection, roles: DatabaseRoles, process: str) -> list[str]:
    """Statements making a process's own tables, views and functions its objects role's;
    that role reads events too, as its views do (a view reads with its owner's rights)."""
    owner = _ident(roles.objects_role(process))
    pattern = process.replace("_", "\\_") + "\\_%"
    # CREATE on the schema: recreating an index takes it. It lets the role add tables and
    # functions of its own too, never change the store's (see docs/tamper-evidence.md).
    statements = [
        f"GRANT SELECT ON events TO {owner}",
        f"GRANT USAGE, CREATE ON SCHEMA public TO {owner}",
    ]
    for kind, name in await conn.fetch(_OWN, pattern):
        statements.append(f"ALTER {kind} {name} OWNER TO {owner}")
    return statements


async def migrate_as_owner(
    conn: Connection, roles: DatabaseRoles, migrations: Sequence[Migration]
) -> list[str]:
    """Provision the roles, apply `migrations` as the owner, grant; return what was applied.

    `conn` is a superuser's connection to the installation's database.
    """
    await provision(conn, roles)
    await conn.execute(f"SET ROLE {_ident(roles.owner)}")
    try:
        applied = await migrate(conn, migrations)
    finally:
        await conn.execute("RESET ROLE")
    await grant(conn, roles)
    return applied


async def drop_roles(conn: Connection, roles: DatabaseRoles) -> None:
    """Drop every role of the installation (tests: after dropping their databases)."""
    for role in roles.all_roles():
        await conn.execute(f"DROP ROLE IF EXISTS {_ident(role)}")
