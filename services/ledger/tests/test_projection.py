"""Projections against real PostgreSQL: live (event by event) equals rebuilt, byte for byte."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from prokopim_events.db import create_pool
from prokopim_events.migrations import migrate
from prokopim_events.store import EventStore
from prokopim_ledger.projection import PROJECTIONS, ledger_migrations, project_event
from prokopim_ledger.rebuild import rebuild, snapshot
from prokopim_ledger.samples import append_case, sample_case
from prokopim_sop import load_catalog
from prokopim_sop.calendar import WorkingCalendar

pytestmark = pytest.mark.integration

CATALOG = load_catalog()
CAL = WorkingCalendar()
START = datetime(2025, 5, 5, 8, 0, tzinfo=ZoneInfo("Asia/Jakarta"))


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=4)
    async with pool.acquire() as conn:
        await migrate(conn, ledger_migrations())
    yield pool
    await pool.close()


async def seed(pool: asyncpg.Pool, cases: int, seed: int = 1) -> int:
    store, rng, total = EventStore(pool), random.Random(seed), 0
    for n in range(cases):
        sop = CATALOG.get(["bdg-setda-010-2024", "tgr-58-2025"][n % 2])
        start = CAL.after_working(START, n * 1800.0)
        _, events = sample_case(sop, rng, start, CAL, reject_rate=0.4, late_rate=0.3)
        # the last case stays open halfway, as a running case would
        total += await append_case(store, events[: len(events) // 2 if n == cases - 1 else None])
    return total


async def test_live_projection_equals_the_rebuild_whatever_the_delivery_order(
    pool: asyncpg.Pool,
) -> None:
    total = await seed(pool, 12)
    positions = [r[0] for r in await pool.fetch("SELECT global_position FROM events")]
    random.Random(3).shuffle(positions)  # redeliveries and retries reorder the live feed
    async with pool.acquire() as conn:
        for position in positions:
            async with conn.transaction():
                await project_event(conn, position, CATALOG, CAL)
        live = await snapshot(conn)
        indexed = await _indexes(conn)
        stats = await rebuild(conn, CATALOG, CAL)
        rebuilt = await snapshot(conn)
        async with pool.acquire() as reader:  # the fold overlapping the audit copy
            overlapped = await rebuild(conn, CATALOG, CAL, reader=reader)
        rebuilt_overlapped = await snapshot(conn)
    assert stats.events == overlapped.events == total == len(live["ledger_audit"])
    assert stats.cases == overlapped.cases == 12 == len(live["ledger_cases"])
    assert len(live["ledger_step_attempts"]) > 12 * 7
    assert rebuilt == live
    assert rebuilt_overlapped == live
    indexes = await pool.fetch(
        "SELECT indexdef FROM pg_indexes WHERE tablename = ANY($1::text[])", list(PROJECTIONS)
    )
    # the rebuild recreated every key and index it dropped, the read API's among them
    assert sorted(row[0] for row in indexes) == indexed
    assert any("ledger_attempts_open_role" in row[0] for row in indexes)
    assert sum("UNIQUE" in row[0] for row in indexes) == 3
    assert any("ledger_audit_case" in row[0] for row in indexes)
    open_cases = await pool.fetchval("SELECT count(*) FROM ledger_cases WHERE closed_at IS NULL")
    assert open_cases == 1


async def test_events_of_one_case_projected_concurrently_neither_collide_nor_differ(
    pool: asyncpg.Pool,
) -> None:
    """The consumer handles a case's events in parallel transactions (four at once here,
    as a burst of hand-overs arrives): none fails for another, and the result is the
    rebuild's."""
    await seed(pool, 2, seed=9)
    positions = [r[0] for r in await pool.fetch("SELECT global_position FROM events")]

    async def project(position: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await project_event(conn, position, CATALOG, CAL)

    for start in range(0, len(positions), 4):
        await asyncio.gather(*(project(p) for p in positions[start : start + 4]))
    async with pool.acquire() as conn:
        live = await snapshot(conn)
        await rebuild(conn, CATALOG, CAL)
        assert await snapshot(conn) == live
    assert len(live["ledger_cases"]) == 2


async def test_a_case_rework_loop_shows_in_attempts_and_audit(pool: asyncpg.Pool) -> None:
    await seed(pool, 20, seed=5)
    async with pool.acquire() as conn:
        await rebuild(conn, CATALOG, CAL)
        rejected = await conn.fetch(
            "SELECT a.case_id, a.step, a.attempt, a.reason, au.reason AS audit_reason"
            " FROM ledger_step_attempts a JOIN ledger_audit au"
            "   ON au.global_position = a.completed_position"
            " WHERE a.outcome = 'rejected'"
        )
        assert rejected, "the seed has rejections"
        for row in rejected:
            assert row["reason"] == row["audit_reason"]
            sop_step = await conn.fetchrow(
                "SELECT next_step FROM ledger_audit au JOIN ledger_step_attempts a"
                " ON au.global_position = a.completed_position"
                " WHERE a.case_id = $1 AND a.step = $2 AND a.attempt = $3",
                row["case_id"],
                row["step"],
                row["attempt"],
            )
            assert sop_step is not None
            again = await conn.fetchval(
                "SELECT max(attempt) FROM ledger_step_attempts WHERE case_id = $1 AND step = $2",
                row["case_id"],
                sop_step["next_step"],
            )
            assert again >= 2  # the step it was sent back to ran again


async def _indexes(conn: Any) -> list[str]:
    rows = await conn.fetch(
        "SELECT indexdef FROM pg_indexes WHERE tablename = ANY($1::text[])", list(PROJECTIONS)
    )
    return sorted(row[0] for row in rows)
