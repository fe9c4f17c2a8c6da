"""`prokopim up`'s database roles: every process, the console too, runs as its own role,
also in a data directory made before a process had one."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from prokopim_cli.dbroles import ROLE_PREFIX_ENV, local_roles, prepare_database
from prokopim_devstack.infra import Infra
from prokopim_events.roles import PROCESSES, drop_roles

pytestmark = pytest.mark.integration


def test_an_older_data_directory_gets_the_passwords_it_lacks(tmp_path: Path) -> None:
    older = {p: f"kept-{p}" for p in PROCESSES if p != "console"}
    path = tmp_path / "db-passwords.json"
    path.write_text(json.dumps(older))
    path.chmod(0o600)

    roles = local_roles(tmp_path)

    assert {p: roles.passwords[p] for p in older} == older  # the roles' passwords stay
    assert len(roles.passwords["console"]) >= 24
    assert json.loads(path.read_text()) == dict(roles.passwords)  # kept for the next start
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_roles(tmp_path).passwords == roles.passwords


@pytest.fixture
async def admin_url(infra: Infra, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A database of its own, and a role prefix of its own (roles are cluster-wide)."""
    monkeypatch.setenv(ROLE_PREFIX_ENV, f"pku{uuid.uuid4().hex[:10]}")
    name = f"prokopim_up_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(infra.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{infra.database_url.rpartition('/')[0]}/{name}"
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_up_starts_the_console_as_its_own_role_on_its_migrated_table(
    infra: Infra, admin_url: str, tmp_path: Path
) -> None:
    own = await prepare_database(admin_url, tmp_path)
    roles = local_roles(tmp_path)
    try:
        assert set(own) == set(PROCESSES)
        console = own["console"]["DATABASE_URL"]
        conn = await asyncpg.connect(console)
        try:
            assert await conn.fetchval("SELECT current_user") == roles.role("console")
            assert await conn.fetchval("SELECT count(*) FROM console_users") == 0
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetchval("SELECT count(*) FROM events")
        finally:
            await conn.close()
    finally:  # the roles are the cluster's: drop them once their database is gone
        admin = await asyncpg.connect(infra.database_url)
        try:
            name = admin_url.rpartition("/")[2]
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await drop_roles(admin, roles)
        finally:
            await admin.close()
