"""Seal the global order: a hash over each complete, settled range of global positions.

Each stream's events are chained (`events.chain_hash`), which protects a stream's content
and order but not how streams interleave, nor an event deleted from a stream's end. Seals
cover that: seal n hashes every event of positions [first, last] (position and chain hash,
in position order) together with seal n-1's hash, and is stored in `event_seals`.

A range may be sealed only once no transaction can still add an event inside it. The
store's catch-up horizon (`transaction_id < prokopim_read_horizon()`) does not answer that for
positions: a transaction takes its position and only then its transaction id (the column
defaults are evaluated in that order), so a transaction holding an early position can carry
a later id than a committed event after it. What does bound it: every statement that
inserts into `events` holds a RowExclusiveLock on the table from before it draws a position
until its transaction ends. So: read the last position handed out, note the transactions
holding that lock, and once all of them have ended every position up to it is final,
committed or rolled back for good (a gap, sealed as such).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from .chain import fingerprints, seal_hash
from .db import Connection

# Serialises sealers (transaction-scoped, so a pooled connection never keeps it).
SEAL_LOCK_KEY = 0x70726F6B5345  # "prokSE"
# Rows read per sealing transaction at most (whole ranges), to bound memory and lock time.
_ROWS_PER_TRANSACTION = 50_000

_LAST_DRAWN = (
    "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('events',"
    " 'global_position')), 0)"
)
_WRITERS = """
SELECT coalesce(array_agg(DISTINCT virtualtransaction), '{}') FROM pg_locks
 WHERE locktype = 'relation' AND mode = 'RowExclusiveLock' AND pid <> pg_backend_pid()
   AND relation = 'events'::regclass
   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
_STILL_RUNNING = "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE virtualtransaction = ANY($1))"
_LAST_SEAL = (
    "SELECT seal_number, last_position, seal_hash FROM event_seals"
    " ORDER BY seal_number DESC LIMIT 1"
)
_ROWS = (
    "SELECT global_position, chain_hash FROM events"
    " WHERE global_position BETWEEN $1 AND $2 ORDER BY global_position"
)
_INSERT = """
INSERT INTO event_seals (seal_number, first_position, last_position, gaps, fingerprints,
                         previous_hash, seal_hash)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


@dataclass(frozen=True)
class Seal:
    """One sealed range of global positions."""

    seal_number: int
    first_position: int
    last_position: int
    gaps: list[int]
    fingerprints: bytes
    previous_hash: bytes
    seal_hash: bytes


def build_seal(
    seal_number: int,
    previous_hash: bytes,
    first_position: int,
    last_position: int,
    entries: list[tuple[int, bytes]],
) -> Seal:
    """Seal a range from its events' (position, chain_hash), in position order."""
    present = {position for position, _ in entries}
    return Seal(
        seal_number=seal_number,
        first_position=first_position,
        last_position=last_position,
        gaps=[p for p in range(first_position, last_position + 1) if p not in present],
        fingerprints=fingerprints(entries),
        previous_hash=previous_hash,
        seal_hash=seal_hash(previous_hash, first_position, last_position, entries),
    )


async def seal_pending(conn: Connection, *, range_size: int = 1000, max_wait: float = 1.0) -> int:
    """Seal every complete, settled range of `range_size` positions; return how many.

    Call it outside a transaction, from as many processes as you like: one seals while the
    others find the lock taken and return 0. It waits up to `max_wait` seconds for the
    transactions that may still hold a position in a range to end; when they outlast it,
    nothing is sealed this time.
    """
    if range_size < 1:
        raise ValueError("range_size must be at least 1")
    last_drawn: int = await conn.fetchval(_LAST_DRAWN)  # before noting the writers
    sealed_up_to = await conn.fetchval("SELECT coalesce(max(last_position), 0) FROM event_seals")
    if last_drawn - sealed_up_to < range_size:
        return 0
    if not await _writers_finished(conn, await conn.fetchval(_WRITERS), max_wait):
        return 0
    sealed = 0
    while True:
        async with conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", SEAL_LOCK_KEY):
                return sealed  # another process is sealing
            written = await _seal_some(conn, last_drawn, range_size)
        if not written:
            return sealed
        sealed += written


async def _writers_finished(conn: Connection, writers: list[str], max_wait: float) -> bool:
    """Wait until every transaction in `writers` has ended; False if one outlasts `max_wait`."""
    deadline = time.monotonic() + max_wait
    pause = 0.005
    while writers and await conn.fetchval(_STILL_RUNNING, writers):
        if time.monotonic() + pause > deadline:
            return False
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.1)
    return True


async def _seal_some(conn: Connection, settled_up_to: int, range_size: int) -> int:
    """Seal the next complete ranges up to `settled_up_to` (as many as one read allows)."""
    last = await conn.fetchrow(_LAST_SEAL)
    number, previous_end, previous_hash = (0, 0, b"") if last is None else tuple(last)
    ranges = min(
        (settled_up_to - previous_end) // range_size, max(1, _ROWS_PER_TRANSACTION // range_size)
    )
    if ranges <= 0:
        return 0
    first = previous_end + 1
    rows = await conn.fetch(_ROWS, first, previous_end + ranges * range_size)
    entries = [(row[0], row[1]) for row in rows]
    seals: list[Seal] = []
    start = 0
    for index in range(ranges):
        range_first = first + index * range_size
        range_last = range_first + range_size - 1
        end = start
        while end < len(entries) and entries[end][0] <= range_last:
            end += 1
        seal = build_seal(
            number + index + 1, previous_hash, range_first, range_last, entries[start:end]
        )
        seals.append(seal)
        previous_hash = seal.seal_hash
        start = end
    await conn.executemany(
        _INSERT,
        [
            (
                s.seal_number,
                s.first_position,
                s.last_position,
                s.gaps,
                s.fingerprints,
                s.previous_hash,
                s.seal_hash,
            )
            for s in seals
        ],
    )
    return len(seals)
