"""Outside effects: an outcome the database could not take is recorded, never called again."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from prokopim_events.db import create_pool
from prokopim_kit.effects import SENT, deliver_once, deliveries_sql

pytestmark = pytest.mark.integration

TABLE = "kittest_deliveries"


class FlakyPool:
    """A pool whose `acquire` fails while `down` (PostgreSQL away), as a real pool does."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.down = False

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        if self.down:
            raise ConnectionRefusedError("PostgreSQL is away")
        async with self.pool.acquire() as conn:
            yield conn


class Runtime:
    def __init__(self, pool: FlakyPool) -> None:
        self.pool = pool


async def test_a_mail_sent_as_the_database_went_away_is_recorded_not_sent_again(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        await pool.execute(deliveries_sql("kittest"))
        flaky = FlakyPool(pool)
        runtime: Any = Runtime(flaky)
        cause, case = uuid.uuid4(), uuid.uuid4()
        calls: list[UUID] = []

        async def send(key: UUID) -> str:
            calls.append(key)
            flaky.down = True  # the outside system answered; the database is gone meanwhile
            return f"<{key}@prokopim>"

        async def deliver() -> Any:
            return await deliver_once(
                runtime,
                table=TABLE,
                case_id=case,
                cause_event_id=cause,
                target="req@example.org",
                send=send,
                permanent=lambda _: False,
                retryable=(OSError,),
                attempts_allowed=3,
            )

        with pytest.raises(ConnectionRefusedError):  # the consumer retries the event later
            await deliver()
        flaky.down = False
        outcome = await deliver()  # the redelivery, the database back

        assert len(calls) == 1, "the mail was sent again"
        assert outcome.state == SENT and outcome.result == f"<{calls[0]}@prokopim>"
        row = await pool.fetchrow(f"SELECT state, attempts, result FROM {TABLE}")
        assert row is not None and dict(row) == {
            "state": SENT,
            "attempts": 1,
            "result": outcome.result,
        }
        assert (await deliver()).state == SENT and len(calls) == 1  # and stays so
    finally:
        await pool.close()
