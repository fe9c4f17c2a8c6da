"""Tables a service keeps for itself (`roles.SERVICE_TABLES`): only that service's role may
read or write them, and none of them may alter them."""

from __future__ import annotations

import asyncpg
import pytest
from prokopim_events.db import connect
from prokopim_events.roles import OWN_TABLE_PRIVILEGES, PROCESSES, SERVICE_TABLES

pytestmark = pytest.mark.integration

OWN = [(service, table) for service, tables in SERVICE_TABLES.items() for table in tables]


@pytest.mark.parametrize(("service", "table"), OWN)
async def test_a_service_table_is_its_services_alone(
    role_urls: dict[str, str], service: str, table: str
) -> None:
    mine = await connect(role_urls[service])
    try:
        await mine.fetch(f"SELECT * FROM {table} LIMIT 1")
        if "DELETE" in OWN_TABLE_PRIVILEGES.get(service, "DELETE"):
            await mine.execute(f"DELETE FROM {table}")
        else:  # the console deactivates an account, never deletes one
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await mine.execute(f"DELETE FROM {table}")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await mine.execute(f"ALTER TABLE {table} ADD COLUMN x int")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await mine.execute(f"DROP TABLE {table}")
    finally:
        await mine.close()
    for other in PROCESSES:
        if other == service:
            continue
        conn = await connect(role_urls[other])
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(f"SELECT * FROM {table} LIMIT 1")
        finally:
            await conn.close()
