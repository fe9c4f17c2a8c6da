"""`prokopim users`: console accounts from the command line, stored as argon2id hashes."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from prokopim_cli.main import app
from typer.testing import CliRunner

pytestmark = pytest.mark.integration


def _stored_hash(database_url: str, name: str) -> str | None:
    async def read() -> str | None:
        conn = await asyncpg.connect(database_url)
        try:
            value: str | None = await conn.fetchval(
                "SELECT password_hash FROM console_users WHERE name = $1", name
            )
            return value
        finally:
            await conn.close()

    return asyncio.run(read())


def test_users_add_and_list(database_url: str) -> None:
    runner = CliRunner()
    db = ["--database-url", database_url]
    added = runner.invoke(
        app, ["users", "add", "siti", "--role", "ka-bagian", "--password", "rahasia-sekali", *db]
    )
    assert added.exit_code == 0, added.output
    assert "siti may sign in as ka-bagian" in added.output
    stored = _stored_hash(database_url, "siti")
    assert stored is not None and stored.startswith("$argon2id$")

    again = runner.invoke(
        app, ["users", "add", "siti", "--role", "ka-bagian", "--password", "lain-lagi-123", *db]
    )
    assert again.exit_code == 2 and "exists already" in again.output
    unknown = runner.invoke(
        app, ["users", "add", "budi", "--role", "camat", "--password", "rahasia-sekali", *db]
    )
    assert unknown.exit_code == 2 and "unknown role" in unknown.output
    assert _stored_hash(database_url, "budi") is None

    listed = runner.invoke(app, ["users", "list", *db])
    assert listed.exit_code == 0, listed.output
    assert listed.output.split()[:2] == ["siti", "ka-bagian"]
