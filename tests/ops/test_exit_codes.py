"""Every operator command: 0 ok, 1 a finding, 2 usage, 3 unreachable or not migrated,
with one line naming what to fix instead of a traceback."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from prokopim_devstack.infra import Infra
from prokopim_events.envelope import NewEvent
from prokopim_events.store import EventStore

from .conftest import prokopim

pytestmark = pytest.mark.integration

# Nothing listens on port 1; the database name makes no difference then.
UNREACHABLE = {"DATABASE_URL": "postgresql://prokopim:secret@127.0.0.1:1/prokopim"}
# A fixed id (no such case or dead letter): the test ids stay the same from run to run.
NOBODY = str(uuid.UUID(int=1))
DATABASE_COMMANDS = [
    ("verify",),
    ("trail", NOBODY),
    ("replay",),
    ("dlq", "list"),
    ("dlq", "show", NOBODY),
    ("dlq", "redrive", "--all"),
    ("cases", "stuck"),
]


@pytest.fixture
async def unmigrated_url(infra: Infra) -> AsyncIterator[str]:
    """An empty database: what a command meets before the migrations ran."""
    name = f"prokopim_empty_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(infra.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield infra.database_url.rpartition("/")[0] + f"/{name}"
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
async def test_an_unreachable_database_is_one_line_and_exit_3(command: tuple[str, ...]) -> None:
    ran = await prokopim(*command, env=UNREACHABLE)
    assert ran.code == 3, ran
    line = one_line(ran.err)
    assert line.startswith("prokopim: cannot reach PostgreSQL at DATABASE_URL")
    assert "postgresql://prokopim:***@127.0.0.1:1/prokopim" in line  # the password masked
    assert ran.out == ""


@pytest.mark.parametrize(
    "command", [c for c in DATABASE_COMMANDS if c[0] != "replay"], ids=" ".join
)
async def test_an_unmigrated_database_says_to_migrate_and_exit_3(
    command: tuple[str, ...], unmigrated_url: str
) -> None:
    ran = await prokopim(*command, env={"DATABASE_URL": unmigrated_url})
    assert ran.code == 3, ran
    line = one_line(ran.err)
    assert "is not migrated" in line and "prokopim-migrate" in line


async def test_an_unreachable_nats_is_one_line_and_exit_3() -> None:
    ran = await prokopim("consumers", env={"NATS_URL": "nats://127.0.0.1:1"})
    assert ran.code == 3, ran
    assert one_line(ran.err).startswith(
        "prokopim: cannot reach NATS at NATS_URL nats://127.0.0.1:1"
    )


@pytest.mark.parametrize(
    "command",
    [("verify", "--no-such-option"), ("dlq", "redrive"), ("cases", "stuck", "--older-than", "x")],
    ids=" ".join,
)
async def test_a_wrong_command_line_is_exit_2(command: tuple[str, ...]) -> None:
    ran = await prokopim(*command, env=UNREACHABLE)  # refused before connecting anywhere
    assert ran.code == 2, ran


async def test_verify_ok_is_0_and_tampered_is_1_both_with_json(database_url: str) -> None:
    store = await EventStore.connect(database_url)
    try:
        event = NewEvent(
            event_id=uuid.uuid4(),
            type="prokopim.ops.thing-happened.v1",
            data={"n": 1},
            occurred_at=datetime.now(UTC),
        )
        await store.append("ops-1", 0, [event])
    finally:
        await store.close()
    env = {"DATABASE_URL": database_url}
    ok = await prokopim("verify", "--json", env=env)
    assert ok.code == 0, ok
    assert json.loads(ok.out)["ok"] is True and json.loads(ok.out)["events"] == 1

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
        await conn.execute("UPDATE events SET data = '{\"n\": 2}'")
    finally:
        await conn.close()
    tampered = await prokopim("verify", "--json", env=env)
    assert tampered.code == 1, tampered
    report = json.loads(tampered.out)
    assert report["ok"] is False and "ops-1" in report["first_problem"]
    text = await prokopim("verify", env=env)
    assert text.code == 1 and text.out.startswith("TAMPERED: ")


async def test_trail_of_an_unknown_case_is_exit_2(database_url: str) -> None:
    case = str(uuid.uuid4())
    ran = await prokopim("trail", case, env={"DATABASE_URL": database_url})
    assert ran.code == 2, ran
    assert one_line(ran.err) == f"prokopim: no events about case {case} in the store"
