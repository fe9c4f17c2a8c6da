"""The SQL fold the ledger runs (fold.py) equals the specification, `sla.fold_case`.

Case by case over many generated cases: arbitrary fact sequences written as audit rows
(steps completed without being entered, entries overwritten, rework, staff reassigned,
cancellations, clocks going backwards, weekends, public holidays and joint leave, open cases), and
realistic cases of both SOPs appended as events and rebuilt with the second connection
folding from the events. Working seconds agree to 1e-6, everything else exactly.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from prokopim_events.db import Connection, create_pool
from prokopim_events.migrations import migrate
from prokopim_events.store import EventStore
from prokopim_ledger import sla_sql
from prokopim_ledger.fold import HIGHEST, LOWEST, fold_cases, read_case
from prokopim_ledger.projection import FACT_QUERY, fact_from_row, ledger_migrations
from prokopim_ledger.rebuild import rebuild
from prokopim_ledger.samples import append_case, sample_case
from prokopim_ledger.sla import AT_RISK_SHARE, CaseSla, Fact, fold_case, status_of
from prokopim_ledger.sla_sql import status_sql
from prokopim_ledger.sql_config import ensure_for_store, ensure_sla_config
from prokopim_sop import Sop, load_catalog
from prokopim_sop.calendar import WorkingCalendar

pytestmark = pytest.mark.integration

CATALOG = load_catalog()
CAL = WorkingCalendar()
WIB = ZoneInfo("Asia/Jakarta")
SOPS = [CATALOG.get("bdg-setda-010-2024"), CATALOG.get("tgr-58-2025")]
# around Nyepi, Eid al-Fitr and its joint leave, Vesak, Christmas; a Saturday night
STARTS = [
    datetime(2025, 3, 26, 14, 0, tzinfo=WIB),
    datetime(2025, 5, 9, 15, 30, tzinfo=WIB),
    datetime(2025, 12, 23, 10, 0, tzinfo=WIB),
    datetime(2025, 6, 14, 22, 0, tzinfo=WIB),
    datetime(2025, 8, 15, 7, 45, tzinfo=WIB),
]
AUDIT_INSERT = (
    "INSERT INTO ledger_audit (global_position, event_id, stream_id, type, occurred_at,"
    " recorded_at, actor_id, actor_role, case_id, sop_id, sop_version, step, next_step,"
    " completes, decision, reason, assignments)"
    " VALUES ($1, $2, $3, 'test', $4, $4, $5, 'x', $6, $7, $8, $9, $10, $11, $12, $13, $14)"
)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=4)
    async with pool.acquire() as conn:
        await migrate(conn, ledger_migrations())
    yield pool
    await pool.close()


def random_facts(rng: random.Random, sop: Sop, start: datetime, position: int) -> list[Fact]:
    """A case's step-completing facts, mostly walking the SOP, sometimes not at all."""
    steps = [s.number for s in sop.steps]
    roles = sorted({s.role for s in sop.steps})
    case_id, at, step = uuid.UUID(int=rng.getrandbits(128)), start, 1
    facts: list[Fact] = []
    for _ in range(rng.randint(1, 16)):
        at += rng.choice(
            [
                timedelta(minutes=rng.uniform(0, 40)),
                timedelta(hours=rng.uniform(0, 30)),
                timedelta(days=rng.uniform(0, 9)),
                timedelta(seconds=rng.randint(0, 600), microseconds=rng.randint(0, 999_999)),
                -timedelta(minutes=rng.uniform(0, 20)),  # another service's clock
            ]
        )
        if rng.random() < 0.15:
            step = rng.choice(steps)  # completed without being entered
        next_step = None if rng.random() < 0.1 else rng.choice([*steps, step + 1, step])
        decision = rng.choice([None, None, "approved", "rejected"])
        staff: tuple[tuple[str, str], ...] = ()
        if rng.random() < 0.25:
            staff = tuple((f"staff-{rng.randint(1, 5)}", rng.choice(roles)) for _ in range(3))
        position += rng.randint(1, 3)
        if facts and rng.random() < 0.08:  # cancelled (and, now and then, carried on anyway)
            reason = rng.choice([None, "Acara batal"])
            # Fact.step is typed int, yet a cancellation's is None (as the ledger reads it)
            cancel = Fact(position, case_id, "test", at, sop.id, sop.version, None, None)  # type: ignore[arg-type]
            facts.append(cancel._replace(decision="cancelled", reason=reason, actor_id="s-1"))
            continue
        facts.append(
            Fact(
                position,
                case_id,
                "test",
                at,
                sop.id,
                sop.version,
                step,
                next_step if next_step in steps else None,
                decision,
                rng.choice([None, "Naskah salah"]),
                f"actor-{rng.randint(1, 4)}",
                staff,
            )
        )
        step = next_step if next_step in steps else rng.choice(steps)
    return facts


async def write_facts(conn: Connection, facts: list[Fact]) -> None:
    for f in facts:
        staff = [{"name": n, "role": r, "team": "A"} for n, r in f.assignments] or None
        values = (f.occurred_at, f.actor_id, f.case_id, f.sop_id, f.sop_version, f.step)
        await conn.execute(
            AUDIT_INSERT,
            f.position,
            uuid.uuid4(),
            f"test-{f.case_id}",
            *values,
            f.next_step,
            True,
            f.decision,
            f.reason,
            staff,
        )
        # an event of the case that completes nothing, right after: ignored by both
        await conn.execute(
            AUDIT_INSERT,
            f.position + 1_000_000,
            uuid.uuid4(),
            "x",
            *values,
            None,
            False,
            None,
            None,
            None,
        )


def assert_same(sql: CaseSla, spec: CaseSla) -> None:
    assert len(sql.attempts) == len(spec.attempts), spec.case_id
    for got, want in zip(sql.attempts, spec.attempts, strict=True):
        if want.working_seconds is None:
            assert got.working_seconds is None
        else:
            assert got.working_seconds == pytest.approx(want.working_seconds, abs=1e-6)
        assert got._replace(working_seconds=None) == want._replace(working_seconds=None)
    assert sql.working_seconds == pytest.approx(spec.working_seconds, abs=1e-6)
    assert sql.status is spec.status and sql.rework_loops == spec.rework_loops
    assert (sql.opened_at, sql.closed_at) == (spec.opened_at, spec.closed_at)
    assert (sql.sop_id, sql.sop_version) == (spec.sop_id, spec.sop_version)
    assert sql.standard_seconds == spec.standard_seconds


async def test_the_sql_fold_equals_fold_case_over_arbitrary_fact_sequences(
    pool: asyncpg.Pool,
) -> None:
    rng = random.Random(20251122)
    cases = [random_facts(rng, SOPS[n % 2], STARTS[n % len(STARTS)], n * 100) for n in range(400)]
    async with pool.acquire() as conn:
        await ensure_sla_config(conn, CATALOG, CAL, STARTS[0], STARTS[0] + timedelta(days=400))
        for facts in cases:
            await write_facts(conn, facts)
        attempts, folded = await fold_cases(conn, LOWEST, HIGHEST)
        assert folded == len(cases)
        assert attempts == sum(len(fold_case(f, CATALOG, CAL).attempts) for f in cases)
        for facts in cases:
            assert_same(await read_case(conn, facts[0].case_id), fold_case(facts, CATALOG, CAL))


async def test_rebuilt_sample_cases_equal_fold_case(pool: asyncpg.Pool) -> None:
    store, rng = EventStore(pool), random.Random(11)
    for n in range(30):
        start = STARTS[n % len(STARTS)] + timedelta(hours=n)
        _, events = sample_case(SOPS[n % 2], rng, start, CAL, reject_rate=0.5, late_rate=0.4)
        # every third case stays open somewhere along the way
        await append_case(store, events[: rng.randint(1, len(events))] if n % 3 == 0 else events)
    async with pool.acquire() as conn, pool.acquire() as reader:
        stats = await rebuild(conn, CATALOG, CAL, reader=reader)
        assert stats.cases == 30
        case_ids = [r[0] for r in await conn.fetch("SELECT case_id FROM ledger_cases")]
        assert len(case_ids) == 30
        open_cases = 0
        for case_id in case_ids:
            rows = await conn.fetch(f"{FACT_QUERY} AND case_id = $1", case_id)
            spec = fold_case([fact_from_row(r) for r in rows], CATALOG, CAL)
            assert_same(await read_case(conn, case_id), spec)
            open_cases += spec.closed_at is None
    assert 5 <= open_cases < 30


async def test_a_rebuild_covers_an_event_outside_the_years_of_the_first_and_last(
    pool: asyncpg.Pool,
) -> None:
    # the rebuild first covers the years of the first and last events by position; the
    # fold refuses the 2031 case's days (never measures them as if absent), and the
    # rebuild covers every event's year and starts again
    store, rng = EventStore(pool), random.Random(3)
    years = (2025, 2031, 2025)
    for n, year in enumerate(years):
        start = datetime(year, 3, 4, 9, 0, tzinfo=WIB)
        _, events = sample_case(SOPS[n % 2], rng, start, CAL)
        await append_case(store, events)
    async with pool.acquire() as conn, pool.acquire() as reader:
        stats = await rebuild(conn, CATALOG, CAL, reader=reader)
        assert stats.cases == len(years)
        last_day = await conn.fetchval("SELECT last_day FROM ledger_sla_config")
        assert last_day.year == 2032
        for (case_id,) in await conn.fetch("SELECT case_id FROM ledger_cases"):
            rows = await conn.fetch(f"{FACT_QUERY} AND case_id = $1", case_id)
            spec = fold_case([fact_from_row(r) for r in rows], CATALOG, CAL)
            assert_same(await read_case(conn, case_id), spec)


async def test_the_sql_status_is_the_python_status_at_every_threshold(pool: asyncpg.Pool) -> None:
    # one definition of the thresholds (sla.py): the SQL arms are generated from it
    standard = 600.0
    shares = [0.0, 0.5, AT_RISK_SHARE - 1e-9, AT_RISK_SHARE, 0.9, 1.0, 1.0 + 1e-9, 2.0]
    used = [share * standard for share in shares]
    query = f"SELECT CASE {status_sql('u', '$2::float8')} END FROM unnest($1::float8[]) u"
    async with pool.acquire() as conn:
        in_sql = [row[0] for row in await conn.fetch(query, used, standard)]
    assert in_sql == [status_of(u, standard).value for u in used]


async def test_the_fold_functions_are_recreated_from_code_at_start_up(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await ensure_for_store(conn, CATALOG, CAL)  # configured: the fingerprint matches
        # a database left by an older version: its fold measures with another threshold
        stale = sla_sql.SLA_SQL.replace(
            f"{AT_RISK_SHARE!r} * p.standard_seconds", "0.5 * p.standard_seconds"
        )
        assert stale != sla_sql.SLA_SQL
        await conn.execute(stale)

        await ensure_for_store(conn, CATALOG, CAL)  # what the ledger runs at start-up

        body = await conn.fetchval(
            "SELECT prosrc FROM pg_proc WHERE proname = 'ledger_sla_attempt_rows'"
        )
        assert "0.5 * p.standard_seconds" not in body
        assert f"{AT_RISK_SHARE!r} * p.standard_seconds" in body
