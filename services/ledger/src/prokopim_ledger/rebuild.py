"""Drop and rebuild every ledger projection from the events table, in bulk.

One writing transaction: the projections are locked (the live consumer waits, then carries
on from where the rebuild's snapshot ended), emptied, their secondary indexes dropped, and
refilled set-wise. Audit rows are copied server-side from the `ledger_audit_source` view in
position ranges (no row crosses the wire). Meanwhile a second connection, reading the very
same snapshot, streams the step-completing rows of that view out, and the SLA fold turns
them case by case into attempt and case rows with the functions the live path uses; they
are COPYed in once the audit copy is done. The indexes are rebuilt last, each in one sort.
"""

from __future__ import annotations

import asyncio
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
AUDIT_CHUNK = 100_000
FOLD_CHUNK = 20_000
COPY_BATCH = 20_000
# The fold reads what the audit rows will say, straight from the events (same view).
_SOURCE_FACTS = FACT_QUERY.replace("FROM ledger_audit ", "FROM ledger_audit_source ")


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
    *,
    reader: Connection | None = None,
) -> RebuildStats:
    """Rebuild the audit, attempt and case projections from the store; return figures.

    With `reader` (a second connection), the SLA fold runs while the audit rows are copied.
    """
    started = time.perf_counter()
    async with conn.transaction(isolation="repeatable_read"):
        await conn.execute(f"LOCK TABLE {', '.join(PROJECTIONS)} IN ACCESS EXCLUSIVE MODE")
        await conn.execute(f"TRUNCATE {', '.join(PROJECTIONS)}")
        indexes = await _drop_indexes(conn)
        bounds = await conn.fetchrow(
            "SELECT coalesce(min(global_position), 1), coalesce(max(global_position), 0),"
            " count(*) FROM events"
        )
        assert bounds is not None
        low, high, total = bounds
        writer = _Writer(conn)
        if reader is None:
            await _copy_audit(conn, low, high, total, progress)
            await _fold_all(conn, _SOURCE_FACTS, catalog, calendar, total, writer, progress)
        else:
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            async with reader.transaction(isolation="repeatable_read", readonly=True):
                await reader.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                audit = asyncio.create_task(_copy_audit(conn, low, high, total, progress))
                writer.hold_until(audit)
                await _fold_all(reader, _SOURCE_FACTS, catalog, calendar, total, writer, progress)
                await audit
        await writer.flush()
        await _refold_late(conn, writer, catalog, calendar)
        for statement in indexes:
            await conn.execute(statement)
    return RebuildStats(total, writer.cases, writer.attempts, time.perf_counter() - started)


async def _drop_indexes(conn: Connection) -> list[str]:
    """Drop the projections' secondary indexes; return the statements that recreate them."""
    rows = await conn.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i"
        " JOIN pg_class c ON c.relname = i.indexname"
        " JOIN pg_index x ON x.indexrelid = c.oid"
        " WHERE i.schemaname = current_schema() AND i.tablename = ANY($1::text[])"
        " AND NOT x.indisprimary AND NOT x.indisunique",
        list(PROJECTIONS),
    )
    for row in rows:
        await conn.execute(f'DROP INDEX "{row["indexname"]}"')
    return [row["indexdef"] for row in rows]


async def _copy_audit(conn: Connection, low: int, high: int, total: int, progress: Progress) -> int:
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
    return done


async def _fold_all(
    source: Connection,
    query: str,
    catalog: SopCatalog,
    calendar: WorkingCalendar,
    events: int,
    writer: _Writer,
    progress: Progress,
) -> None:
    """Fold every case; a case is folded once its last step completes, or at the end."""
    pending: dict[UUID, list[Fact]] = {}
    folded: set[UUID] = set()
    done = 0
    progress("sla", 0, events)
    cursor = await source.cursor(f"{query} ORDER BY global_position")
    while rows := await cursor.fetch(FOLD_CHUNK):
        for row in rows:
            fact = fact_from_row(row)
            case_id = fact.case_id
            if case_id in folded:  # an event after the case closed: refolded at the end
                writer.late.add(case_id)
                continue
            facts = pending.get(case_id)
            if facts is None:
                facts = pending[case_id] = []
            facts.append(fact)
            if fact.next_step is None:
                folded.add(case_id)
                await writer.add(fold_case(pending.pop(case_id), catalog, calendar))
        done += len(rows)
        progress("sla", rows[-1][0], events)
    for facts in pending.values():
        await writer.add(fold_case(facts, catalog, calendar))
    progress("sla", events, events)


async def _refold_late(
    conn: Connection, writer: _Writer, catalog: SopCatalog, calendar: WorkingCalendar
) -> None:
    for case_id in writer.late:
        rows = await conn.fetch(f"{FACT_QUERY} AND case_id = $1 ORDER BY global_position", case_id)
        await conn.execute("DELETE FROM ledger_step_attempts WHERE case_id = $1", case_id)
        await conn.execute("DELETE FROM ledger_cases WHERE case_id = $1", case_id)
        await writer.add(fold_case([fact_from_row(r) for r in rows], catalog, calendar))
        writer.cases -= 1  # counted once already
    await writer.flush()


class _Writer:
    """Buffers attempt and case rows and COPYs them in batches (once `hold_until` is done)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._attempts: list[Any] = []
        self._cases: list[tuple[Any, ...]] = []
        self._held: asyncio.Task[int] | None = None
        self.late: set[UUID] = set()
        self.cases = 0
        self.attempts = 0

    def hold_until(self, task: asyncio.Task[int]) -> None:
        """Write nothing before `task` is done (it uses the connection meanwhile)."""
        self._held = task

    async def add(self, sla: CaseSla) -> None:
        self._attempts.extend(attempt_row(a) for a in sla.attempts)
        self._cases.append(case_row(sla))
        if len(self._attempts) >= COPY_BATCH and (self._held is None or self._held.done()):
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
