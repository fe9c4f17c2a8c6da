"""Drop and rebuild every ledger projection from the events table, in bulk.

One writing transaction: the projections are locked (the live consumer waits, then carries
on from where the rebuild's snapshot ended), emptied, their indexes and primary keys
dropped, and refilled set-wise, with no per-event work in Python. Audit rows are copied
server-side from the `ledger_audit_source` view in position ranges; step attempts and cases
come from the SQL fold (fold.py), the one the live path runs for a single case.

With a second connection reading the very same snapshot, the work is split so both cores
of the database work: that connection folds the cases in the upper part of the case-id
range straight from the events and sends its rows as binary COPY data, while the writer
copies the audit rows and folds the lower part. The indexes are rebuilt last, each in one
sort.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
from prokopim_events.db import Connection
from prokopim_sop import SopCatalog
from prokopim_sop.calendar import WorkingCalendar

from .fold import ATTEMPT_SELECT, CASE_ROWS, FOLD_FROM_SOURCE, HIGHEST, LOWEST, fold_cases
from .projection import (
    ATTEMPT_COLUMNS,
    ATTEMPTS_TABLE,
    AUDIT_TABLE,
    CASE_COLUMNS,
    CASES_TABLE,
    PROJECTIONS,
)
from .sql_config import CALENDAR_GAP, ensure_for_store

Progress = Callable[[str, int, int], None]  # phase, done, total
AUDIT_CHUNK = 250_000
# Share of the cases the second connection folds from the events: it has no audit rows
# to copy, so it takes most of the fold.
READER_SHARE = 0.7
# sorts and index builds in memory; no JIT (compiling the big fold costs more than it saves)
_SETTINGS = (
    "SET LOCAL work_mem = '256MB'; SET LOCAL maintenance_work_mem = '512MB'; SET LOCAL jit = off"
)
_FAR = "ledger_rebuild_far"


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

    With `reader` (a second connection), part of the fold runs there meanwhile.
    """
    started = time.perf_counter()
    # committed before the snapshot, so that the reader sees the same plan and calendar
    await ensure_for_store(conn, catalog, calendar, every_event=False)
    try:
        counts = await _rebuild(conn, progress, reader)
    except asyncpg.PostgresError as error:
        if error.sqlstate != CALENDAR_GAP:
            raise
        await ensure_for_store(conn, catalog, calendar)  # an event outside those years
        counts = await _rebuild(conn, progress, reader)
    return RebuildStats(*counts, time.perf_counter() - started)


async def _rebuild(
    conn: Connection, progress: Progress, reader: Connection | None
) -> tuple[int, int, int]:
    """One rebuild transaction; return (events, cases, attempts)."""
    async with conn.transaction(isolation="repeatable_read"):
        await conn.execute(_SETTINGS)
        await conn.execute(f"LOCK TABLE {', '.join(PROJECTIONS)} IN ACCESS EXCLUSIVE MODE")
        await conn.execute(f"TRUNCATE {', '.join(PROJECTIONS)}")
        restore = await _drop_indexes(conn)  # table -> statements recreating them
        bounds = await conn.fetchrow(
            "SELECT coalesce(min(global_position), 1), coalesce(max(global_position), 0),"
            " count(*) FROM events"
        )
        assert bounds is not None
        low, high, total = bounds
        if reader is None:
            await _copy_audit(conn, low, high, total, progress)
            await _restore(conn, restore.pop(AUDIT_TABLE, []))
            progress("sla", 0, total)
            attempts, cases = await fold_cases(conn, LOWEST, HIGHEST)
        else:
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            async with reader.transaction(isolation="repeatable_read"):
                await reader.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                await reader.execute(_SETTINGS)
                split = UUID(int=int((1 - READER_SHARE) * HIGHEST.int))
                far = asyncio.create_task(_fold_far(reader, split, HIGHEST))
                try:
                    await _copy_audit(conn, low, high, total, progress)
                    await _restore(conn, restore.pop(AUDIT_TABLE, []))
                    progress("sla", 0, total)
                    attempts, cases = await fold_cases(conn, LOWEST, UUID(int=split.int - 1))
                except BaseException:
                    far.cancel()
                    await asyncio.gather(far, return_exceptions=True)
                    raise
                more_attempts, more_cases = await _copy_far(conn, *await far)
                attempts, cases = attempts + more_attempts, cases + more_cases
        progress("sla", total, total)
        for statements in restore.values():
            await _restore(conn, statements)
    return total, cases, attempts


async def _drop_indexes(conn: Connection) -> dict[str, list[str]]:
    """Drop the projections' primary keys and indexes; return what recreates them, by
    table (keys first: each is built in one sort once its table is filled)."""
    keys = await conn.fetch(
        "SELECT c.conname, c.conrelid::regclass::text AS tab, pg_get_constraintdef(c.oid) AS def"
        " FROM pg_constraint c WHERE c.contype = 'p' AND c.conrelid = ANY($1::regclass[])",
        list(PROJECTIONS),
    )
    rows = await conn.fetch(
        "SELECT i.tablename, i.indexname, i.indexdef FROM pg_indexes i"
        " JOIN pg_class c ON c.relname = i.indexname"
        " JOIN pg_index x ON x.indexrelid = c.oid"
        " WHERE i.schemaname = current_schema() AND i.tablename = ANY($1::text[])"
        " AND NOT x.indisprimary AND NOT x.indisunique",
        list(PROJECTIONS),
    )
    for row in rows:
        await conn.execute(f'DROP INDEX "{row["indexname"]}"')
    for key in keys:
        await conn.execute(f'ALTER TABLE {key["tab"]} DROP CONSTRAINT "{key["conname"]}"')
    restore: dict[str, list[str]] = {table: [] for table in PROJECTIONS}
    for k in keys:
        restore[k["tab"]].append(
            f'ALTER TABLE {k["tab"]} ADD CONSTRAINT "{k["conname"]}" {k["def"]}'
        )
    for row in rows:
        restore[row["tablename"]].append(row["indexdef"])
    return restore


async def _restore(conn: Connection, statements: list[str]) -> None:
    for statement in statements:
        await conn.execute(statement)


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


async def _fold_far(reader: Connection, low: UUID, high: UUID) -> tuple[list[bytes], list[bytes]]:
    """Fold the cases low..high from the events on `reader`; return their rows as COPY data."""
    # literals, not parameters: CREATE TABLE AS takes none
    query = FOLD_FROM_SOURCE.format(table=_FAR).replace("$1", f"'{low}'::uuid")
    await reader.execute(query.replace("$2", f"'{high}'::uuid"))
    attempts: list[bytes] = []
    cases: list[bytes] = []

    await reader.copy_from_query(
        f"SELECT {ATTEMPT_SELECT} FROM {_FAR}", output=_collector(attempts), format="binary"
    )
    await reader.copy_from_query(
        CASE_ROWS.format(source=_FAR), output=_collector(cases), format="binary"
    )
    return attempts, cases


async def _copy_far(conn: Connection, attempts: list[bytes], cases: list[bytes]) -> tuple[int, int]:
    counts = []
    for table, columns, chunks in (
        (ATTEMPTS_TABLE, ATTEMPT_COLUMNS, attempts),
        (CASES_TABLE, CASE_COLUMNS, cases),
    ):
        status = await conn.copy_to_table(
            table, source=_iterate(chunks), columns=columns, format="binary"
        )
        counts.append(int(status.rsplit(" ", 1)[1]))
    return counts[0], counts[1]


def _collector(chunks: list[bytes]) -> Callable[[bytes], Coroutine[Any, Any, None]]:
    async def sink(data: bytes) -> None:
        chunks.append(data)

    return sink


async def _iterate(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


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
