"""Least-privilege database roles: each process's role may do its work and nothing else.

The roles are the ones `prokopim up`, `prokopim-migrate` and the `database_url` fixture
provision (`prokopim_events.roles`); each forbidden statement is tried as the role itself
and must be refused by PostgreSQL's privileges, not merely by a trigger.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import uuid4

import asyncpg
import pytest
from prokopim_events.chain import ChainKey
from prokopim_events.db import Connection, connect
from prokopim_events.envelope import NewEvent
from prokopim_events.roles import PROCESSES, SERVICES, DatabaseRoles
from prokopim_events.seals import seal_pending
from prokopim_events.store import EventStore

pytestmark = pytest.mark.integration

EVENT_TYPE = "prokopim.backbone.thing-happened.v1"
KEY = ChainKey.from_secret("k" * 40)


def new_event(n: int = 1) -> NewEvent:
    return NewEvent(event_id=uuid4(), type=EVENT_TYPE, data={"n": n}, occurred_at=datetime.now(UTC))


@pytest.fixture
async def stored(role_urls: dict[str, str]) -> AsyncIterator[None]:
    """Two streams appended as the intake service does, so there is something to attack."""
    store = await EventStore.connect(role_urls["intake"], chain_key=KEY)
    try:
        await store.append("case-1", 0, [new_event(1), new_event(2)])
        await store.append("case-2", 0, [new_event(3)])
    finally:
        await store.close()
    yield


# Statements no application role may run, whatever it is: each changes history or the
# rules that keep it.
FORBIDDEN_TO_ALL = [
    "UPDATE events SET data = '{}'",
    "DELETE FROM events",
    "TRUNCATE events",
    "ALTER TABLE events DISABLE TRIGGER events_append_only",
    "ALTER TABLE events DISABLE TRIGGER USER",
    "ALTER TABLE events ADD COLUMN note text",
    "DROP TRIGGER events_append_only ON events",
    "DROP TABLE events",
    "UPDATE event_seals SET seal_hash = ''",
    "DELETE FROM event_seals",
    "TRUNCATE event_seals",
    "ALTER TABLE event_seals DISABLE TRIGGER USER",
    "CREATE OR REPLACE FUNCTION prokopim_refuse_change() RETURNS trigger"
    " LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
    "INSERT INTO schema_migrations (name) VALUES ('x')",
    "DELETE FROM schema_migrations",
]
# An append may set what the event says, never what the database assigns.
FORGED_COLUMNS = (
    "INSERT INTO events (event_id, stream_id, stream_version, type, data, metadata,"
    " occurred_at, chain_hash, {column}) OVERRIDING SYSTEM VALUE SELECT gen_random_uuid(),"
    " 'forged', 1, 't', '{{}}', '{{}}', now(), '', {value}"
)


async def assert_refused(conn: Connection, sql: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with conn.transaction():
            await conn.execute(sql)


@pytest.mark.parametrize("process", PROCESSES)
async def test_no_role_can_change_history_or_its_rules(
    role_urls: dict[str, str], stored: None, process: str, database_url: str
) -> None:
    conn = await connect(role_urls[process])
    try:
        statements = [
            *FORBIDDEN_TO_ALL,
            FORGED_COLUMNS.format(column="transaction_id", value="'1'::xid8"),
            FORGED_COLUMNS.format(column="recorded_at", value="now() - interval '1 year'"),
            FORGED_COLUMNS.format(column="global_position", value="1000"),
        ]
        if process != "ledger":  # the ledger may (re)create its projections' indexes
            statements.append("CREATE TABLE sneaky (x int)")
        if process not in SERVICES:  # the relay appends nothing at all
            statements.append(
                "INSERT INTO events (event_id, stream_id, stream_version, type, data, metadata,"
                " occurred_at, chain_hash) VALUES (gen_random_uuid(), 'r', 1, 't', '{}', '{}',"
                " now(), '')"
            )
        for sql in statements:
            await assert_refused(conn, sql)
    finally:
        await conn.close()
    admin = await connect(database_url)
    try:
        assert await admin.fetchval("SELECT count(*) FROM events") == 3
    finally:
        await admin.close()


async def test_the_application_roles_own_nothing_and_are_not_privileged(
    database_url: str, database_roles: DatabaseRoles
) -> None:
    logins = [database_roles.role(p) for p in PROCESSES]
    conn = await connect(database_url)
    try:
        owned = await conn.fetch(
            "SELECT r.rolname, c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
            " WHERE r.rolname = ANY($1)"
            " UNION ALL SELECT r.rolname, p.proname FROM pg_proc p"
            " JOIN pg_roles r ON r.oid = p.proowner WHERE r.rolname = ANY($1)",
            logins,
        )
        assert owned == []
        flags = await conn.fetch(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY($1) AND (rolsuper OR"
            " rolcreaterole OR rolcreatedb OR rolbypassrls OR rolreplication)",
            logins,
        )
        assert flags == []
        tables_owner = await conn.fetchval(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'events'"
        )
        assert tables_owner == database_roles.owner
    finally:
        await conn.close()


@pytest.mark.parametrize("process", SERVICES)
async def test_each_service_appends_and_writes_only_its_own_consumer_rows(
    role_urls: dict[str, str], stored: None, process: str
) -> None:
    store = await EventStore.connect(role_urls[process], chain_key=KEY)
    try:
        await store.append(f"{process}-s", 0, [new_event()])  # one statement
        await store.append(f"{process}-s", 1, [new_event(), new_event()])  # the function
        async with store.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)",
                f"ns-{process}",
                uuid4(),
            )
            other = next(s for s in SERVICES if s != process)
            for consumer in (f"ns-{other}", other):
                await assert_refused(
                    conn,
                    "INSERT INTO processed_events (consumer, event_id)"
                    f" VALUES ('{consumer}', gen_random_uuid())",
                )
                await assert_refused(
                    conn,
                    "INSERT INTO dead_letters (consumer, event_id, type, subject, payload,"
                    f" error, attempts) VALUES ('{consumer}', gen_random_uuid(), 't', 's',"
                    " '{}', 'e', 1)",
                )
            await assert_refused(conn, "INSERT INTO relay_checkpoints VALUES ('x', '1', 1)")
            await assert_refused(conn, "DELETE FROM processed_events")
            if process != "ledger":
                await assert_refused(conn, "DELETE FROM ledger_cases")
                await assert_refused(conn, "TRUNCATE ledger_audit")
                await assert_refused(
                    conn,
                    "INSERT INTO event_seals VALUES (1, 1, 1, '{}', '', '', '', now(), NULL)",
                )
    finally:
        await store.close()


async def test_a_service_sees_no_other_services_consumer_rows(
    role_urls: dict[str, str], database_url: str
) -> None:
    admin = await connect(database_url)
    try:
        await admin.execute(
            "INSERT INTO processed_events (consumer, event_id) VALUES ('ns-review', $1),"
            " ('ns-intake', $2)",
            uuid4(),
            uuid4(),
        )
    finally:
        await admin.close()
    conn = await connect(role_urls["intake"])
    try:
        seen = await conn.fetch("SELECT consumer FROM processed_events")
        assert [r["consumer"] for r in seen] == ["ns-intake"]
        updated = await conn.execute("UPDATE processed_events SET processed_at = now()")
        assert updated == "UPDATE 1"
    finally:
        await conn.close()


async def test_the_relay_reads_and_checkpoints(role_urls: dict[str, str], stored: None) -> None:
    conn = await connect(role_urls["relay"])
    try:
        assert await conn.fetchval("SELECT count(*) FROM events") == 3
        await conn.execute(
            "INSERT INTO relay_checkpoints (relay_name, transaction_id, global_position)"
            " VALUES ('default', '1', 1) ON CONFLICT (relay_name) DO UPDATE"
            " SET global_position = excluded.global_position"
        )
        assert await conn.fetchval("SELECT prokopim_read_horizon() IS NOT NULL")
        await assert_refused(conn, "DELETE FROM relay_checkpoints")
    finally:
        await conn.close()


async def test_the_ledger_seals_and_owns_only_its_projections(
    role_urls: dict[str, str], stored: None
) -> None:
    conn = await connect(role_urls["ledger"])
    try:
        assert await seal_pending(conn, range_size=100, key=KEY, partial_after=0) == 1
        # its projections it may rebuild, indexes and all
        await conn.execute("TRUNCATE ledger_audit")
        await conn.execute("DROP INDEX ledger_audit_time")
        await conn.execute("CREATE INDEX ledger_audit_time ON ledger_audit (occurred_at)")
        await assert_refused(conn, "ALTER TABLE events OWNER TO CURRENT_USER")
        await assert_refused(conn, "ALTER TABLE events DISABLE TRIGGER USER")
        await conn.execute("INSERT INTO ledger_audit SELECT * FROM ledger_audit_source")
        assert await conn.fetchval("SELECT count(*) FROM ledger_audit") == 3
    finally:
        await conn.close()


async def test_the_console_keeps_its_accounts_and_reads_nothing_of_the_store(
    role_urls: dict[str, str], stored: None
) -> None:
    """The console asks the services for everything it shows: its role reads and writes
    only its own accounts (never deletes one: it deactivates), and sees no event."""
    conn = await connect(role_urls["console"])
    try:
        await conn.execute(
            "INSERT INTO console_users (name, role, display_name) VALUES ('siti', 'r', 'Siti')"
        )
        await conn.execute("UPDATE console_users SET active = false WHERE name = 'siti'")
        assert await conn.fetchval("SELECT count(*) FROM console_users") == 1
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") > 0
        for sql in (
            "DELETE FROM console_users",
            "TRUNCATE console_users",
            "ALTER TABLE console_users ADD COLUMN x int",
            "SELECT count(*) FROM events",
            "SELECT prokopim_read_horizon()",
            "SELECT count(*) FROM processed_events",
            "SELECT count(*) FROM dead_letters",
            "SELECT count(*) FROM relay_checkpoints",
            "SELECT count(*) FROM event_seals",
            "SELECT count(*) FROM ledger_cases",
            "SELECT count(*) FROM intake_letters",
        ):
            await assert_refused(conn, sql)
    finally:
        await conn.close()
