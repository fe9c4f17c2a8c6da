"""`prokopim-migrate`: compose's one-shot migration job, run as the process it is."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prokopim_events.migrations import backbone_migrations

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

MIGRATE = str(Path(sys.executable).parent / "prokopim-migrate")


def run_migrate(database_url: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": database_url, **extra}
    return subprocess.run(
        [MIGRATE], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
async def empty_database(infra: Any) -> AsyncIterator[str]:
    """A database with nothing in it, dropped afterwards."""
    name = f"prokopim_migrate_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(infra.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = infra.database_url.rpartition("/")
        yield f"{base}/{name}"
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def applied(database_url: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT name FROM schema_migrations ORDER BY name")
        return [row["name"] for row in rows]
    finally:
        await conn.close()


async def test_migrate_applies_the_backbone_once_and_exits_zero(empty_database: str) -> None:
    first = await asyncio.to_thread(run_migrate, empty_database)
    assert first.returncode == 0, first.stderr
    expected = [m.name for m in backbone_migrations()]
    assert await applied(empty_database) == expected
    assert all(name in first.stderr for name in expected)

    again = await asyncio.to_thread(run_migrate, empty_database)
    assert again.returncode == 0, again.stderr
    assert "already up to date" in again.stderr
    assert await applied(empty_database) == expected


async def test_migrate_exits_non_zero_when_the_database_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    url = f"postgresql://postgres@127.0.0.1:{closed_port}/postgres"
    result = await asyncio.to_thread(run_migrate, url, MIGRATE_WAIT_SECONDS="0")
    assert result.returncode == 1
    assert "migrations failed" in result.stderr
