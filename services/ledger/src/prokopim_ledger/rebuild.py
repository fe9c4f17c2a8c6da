"""Drop and rebuild every ledger projection from the events table, in bulk.

One transaction: the projections are locked (the live consumer waits, then carries on from
where the rebuild's snapshot ended), emptied, and refilled set-wise. Audit rows are copied
server-side from the `ledger_audit_source` view in position ranges (no row crosses the
wire); the SLA fold then streams the step-completing rows out, folds them case by case with
the same functions the live path uses, and COPYs the attempts and cases back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prokopim_events.db import Connection
from prokopim_sop import SopCatalog

from .calendar import WorkingCalendar
from .projection import (
    ATTEMPT_COLUMNS,
    ATTEMPTS_TABLE,
    CASE_COLUMNS,
    CASES_TABLE,
    FACT_QUERY,
    PROJECTIONS,
    attempt_row,
    case_row,
    fact_from_row,
)
from .sla import CaseSla, Fact, fold_case

Progress = Callable[[str, int, int], None]  # phase, done, total
AUDIT_CHUNK = 200_000
FOLD_CHUNK = 20_000
COPY_BATCH = 50_000


@dataclass(frozen=True)
class RebuildStats:
    events: int
    cases: int
    attempts: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def _quiet(phase: str, done: int, total: int) -> None:
    pass


async def rebuild(
    conn: Connection,
    catalog: SopCatalog,
    calendar: WorkingCalendar,
    progress: Progress = _quiet,
) -> RebuildStats:
    """Rebuild the audit, attempt and case projections from the store; return figures."""
    started = time.perf_counter()
    async with conn.transaction():
        await conn.execute(f"LOCK TABLE {', '.join(PROJECTIONS)} IN ACCESS EXCLUSIVE MODE")
        await conn.execute(f"TRUNCATE {', '.join(PROJECTIONS)}")
        events = await _copy_audit(conn, progress)
        cases, attempts = await _fold_all(conn, catalog, calendar, events, progress)
    return RebuildStats(events, cases, attempts, time.perf_counter() - started)


async def _copy_audit(conn: Connection, progress: Progress) -> int:
    bounds = await conn.fetchrow(
        "SELECT coalesce(min(global_position), 1), coalesce(max(global_position), 0),"
        " count(*) FROM events"
    )
    assert bounds is not None
    low, high, total = bounds
    done = 0
    progress("audit", 0, total)
    start = low - 1
    while start < high:
        end = start + AUDIT_CHUNK
        status = await conn.execute(
            "INSERT INTO ledger_audit SELECT * FROM ledger_audit_source"
            " WHERE global_position > $1 AND global_position <= $2",
            start,
            end,
        )
        done += int(status.rsplit(" ", 1)[1])
        progress("audit", done, total)
        start = end
    return int(done)


async def _fold_all(
    conn: Connection,
    catalog: SopCatalog,
    calendar: WorkingCalendar,
    events: int,
    progress: Progress,
) -> tuple[int, int]:
    """Fold every case; a case is folded once its last step completes, or at the end."""
    pending: dict[UUID, list[Fact]] = {}
    folded: set[UUID] = set()
    late: set[UUID] = set()
    writer = _Writer(conn)
    done = 0
    progress("sla", 0, events)
    cursor = conn.cursor(f"{FACT_QUERY} ORDER BY global_position", prefetch=FOLD_CHUNK)
    async for row in cursor:
        fact = fact_from_row(row)
        done += 1
        if fact.case_id in folded:  # an event after the case closed: refold it at the end
            late.add(fact.case_id)
            continue
        facts = pending.setdefault(fact.case_id, [])
        facts.append(fact)
        if fact.next_step is None:
            folded.add(fact.case_id)
            await writer.add(fold_case(pending.pop(fact.case_id), catalog, calendar))
        if done % FOLD_CHUNK == 0:
            progress("sla", fact.position, events)
    for facts in pending.values():
        await writer.add(fold_case(facts, catalog, calendar))
    await writer.flush()
    for case_id in late:
        rows = await conn.fetch(f"{FACT_QUERY} AND case_id = $1 ORDER BY global_position", case_id)
        sla = fold_case([fact_from_row(r) for r in rows], catalog, calendar)
        await conn.execute("DELETE FROM ledger_step_attempts WHERE case_id = $1", case_id)
        await conn.execute("DELETE FROM ledger_cases WHERE case_id = $1", case_id)
        await writer.add(sla)
    await writer.flush()
    progress("sla", events, events)
    return writer.cases, writer.attempts


class _Writer:
    """Buffers attempt and case rows and COPYs them in batches."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._attempts: list[tuple[Any, ...]] = []
        self._cases: list[tuple[Any, ...]] = []
        self.cases = 0
        self.attempts = 0

    async def add(self, sla: CaseSla) -> None:
        self._attempts.extend(attempt_row(a) for a in sla.attempts)
        self._cases.append(case_row(sla))
        if len(self._attempts) >= COPY_BATCH:
            await self.flush()

    async def flush(self) -> None:
        if self._attempts:
            await self._conn.copy_records_to_table(
                ATTEMPTS_TABLE, records=self._attempts, columns=ATTEMPT_COLUMNS
            )
            self.attempts += len(self._attempts)
        if self._cases:
            await self._conn.copy_records_to_table(
                CASES_TABLE, records=self._cases, columns=CASE_COLUMNS
            )
            self.cases += len(self._cases)
        self._attempts, self._cases = [], []


_ORDER = {
    "ledger_audit": "global_position",
    "ledger_step_attempts": "case_id, step, attempt",
    "ledger_cases": "case_id",
}


async def snapshot(conn: Connection) -> dict[str, list[str]]:
    """Return every projection row as PostgreSQL's text of the row, in key order."""
    dump = {}
    for table in PROJECTIONS:
        rows = await conn.fetch(f"SELECT t::text FROM {table} t ORDER BY {_ORDER[table]}")
        dump[table] = [row[0] for row in rows]
    return dump
