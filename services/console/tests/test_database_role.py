"""The console logs in as its own least-privilege role: the owner migrates its table, the
console only checks that it is there (as every service does), and says so in /readyz."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from prokopim_console.accounts import console_migrations
from prokopim_console.app import create_app
from prokopim_console.config import Settings
from prokopim_devstack.infra import Infra
from prokopim_events.db import connect
from prokopim_events.migrations import installed_migrations
from prokopim_events.topology import Topology

pytestmark = pytest.mark.integration
SECRET = "console-role-secret-0123456789abcdefgh"


def settings(infra: Infra, database_url: str, topology: Topology) -> Settings:
    return Settings(
        database_url=database_url,
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=SECRET,
    )


def test_the_console_migrations_are_the_owners_to_apply() -> None:
    """Declared under `prokopim.migrations`: prokopim-migrate, `prokopim up` and the test
    fixtures apply them as the owner, before the console starts."""
    installed = {m.name for m in installed_migrations()}
    assert {m.name for m in console_migrations()} <= installed


async def test_the_console_is_ready_as_its_own_role_and_checks_its_migrations(
    infra: Infra, role_urls: dict[str, str], database_url: str, topology: Topology
) -> None:
    app = create_app(settings(infra, role_urls["console"], topology))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://console.test"
        ) as client,
    ):
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"ready": True, "database": True, "migrations": True, "nats": True}

        # an operator who takes a console migration back makes the console not ready
        admin = await connect(database_url)
        try:
            await admin.execute(
                "DELETE FROM schema_migrations WHERE name = $1", console_migrations()[0].name
            )
        finally:
            await admin.close()
        not_ready = await client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["migrations"] is False


async def test_the_console_cannot_migrate_for_itself(
    infra: Infra, role_urls: dict[str, str], database_url: str, topology: Topology
) -> None:
    """A database the owner has not migrated for the console: its role may create nothing,
    so it stops at start-up instead of serving without its accounts."""
    admin = await connect(database_url)
    try:
        await admin.execute("DROP TABLE console_users")
        await admin.execute("DELETE FROM schema_migrations WHERE name LIKE 'console/%'")
    finally:
        await admin.close()
    app = create_app(settings(infra, role_urls["console"], topology))
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with app.router.lifespan_context(app):
            pass
