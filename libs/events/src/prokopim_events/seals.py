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

Seals are made by count (each complete range of `range_size` positions) and by time: once
the newest seal is `partial_after` seconds old, whatever is settled beyond it is sealed
too, however few events that is, so no event stays unsealed for long in a quiet office.
Each seal hash is keyed with the chain key (HMAC, see `chain.keyed_seal_hash`), and each
seal's head can be appended to a file outside the database (`seal_export`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from .chain import ChainKey, fingerprints, keyed_seal_hash, seal_hash
from .db import Connection
from .seal_export import SealHead, append_heads

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
# How far the store is sealed, and how many seconds ago the newest seal was made.
_SEALED = (
    "SELECT coalesce(max(last_position), 0),"
    " coalesce(extract(epoch FROM now() - max(sealed_at))::float8, 'Infinity')"
    " FROM (SELECT last_position, sealed_at FROM event_seals"
    " ORDER BY seal_number DESC LIMIT 1) AS newest"
)
_ROWS = (
    "SELECT global_position, chain_hash FROM events"
    " WHERE global_position BETWEEN $1 AND $2 ORDER BY global_position"
)
_INSERT = """
INSERT INTO event_seals (seal_number, first_position, last_position, gaps, fingerprints,
                         previous_hash, seal_hash, key_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
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
    key_id: str | None = None

    def head(self) -> SealHead:
        """Return what is exported of this seal."""
        return SealHead(
            self.seal_number, self.first_position, self.last_position, self.seal_hash, self.key_id
        )


def build_seal(
    seal_number: int,
    previous_hash: bytes,
    first_position: int,
    last_position: int,
    entries: list[tuple[int, bytes]],
    key: ChainKey | None = None,
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
        seal_hash=keyed_seal_hash(
            key, seal_hash(previous_hash, first_position, last_position, entries)
        ),
        key_id=None if key is None else key.key_id,
    )


async def seal_pending(
    conn: Connection,
    *,
    range_size: int = 1000,
    max_wait: float = 1.0,
    key: ChainKey | None = None,
    partial_after: float | None = None,
    export: Path | None = None,
) -> int:
    """Seal every complete, settled range of `range_size` positions; return how many.

    With `partial_after`, once the newest seal is that many seconds old, the settled
    positions beyond the last complete range are sealed as well (a shorter range). `key`
    keys the seal hashes; `export` is a file each new seal's head is appended to.

    Call it outside a transaction, from as many processes as you like: one seals while the
    others find the lock taken and return 0. It waits up to `max_wait` seconds for the
    transactions that may still hold a position in a range to end; when they outlast it,
    nothing is sealed this time.
    """
    if range_size < 1:
        raise ValueError("range_size must be at least 1")
    last_drawn: int = await conn.fetchval(_LAST_DRAWN)  # before noting the writers
    newest = await conn.fetchrow(_SEALED)
    assert newest is not None
    sealed_up_to, age = newest
    partial = partial_after is not None and age >= partial_after
    if last_drawn - sealed_up_to < (1 if partial else range_size):
        return 0
    if not await _writers_finished(conn, await conn.fetchval(_WRITERS), max_wait):
        return 0
    sealed: list[Seal] = []
    while True:
        async with conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", SEAL_LOCK_KEY):
                break  # another process is sealing
            written = await _seal_some(conn, last_drawn, range_size, key, partial)
        if not written:
            break
        sealed += written
        if export is not None:  # after commit: an exported head is always in the database
            await asyncio.to_thread(append_heads, export, [s.head() for s in written])
    return len(sealed)


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


async def _seal_some(
    conn: Connection, settled_up_to: int, range_size: int, key: ChainKey | None, partial: bool
) -> list[Seal]:
    """Seal the next ranges up to `settled_up_to` (as many as one read allows): complete
    ones, and with `partial` the settled rest as a shorter one."""
    last = await conn.fetchrow(_LAST_SEAL)
    number, previous_end, previous_hash = (0, 0, b"") if last is None else tuple(last)
    cap = max(1, _ROWS_PER_TRANSACTION // range_size)
    bounds = [
        (previous_end + i * range_size + 1, previous_end + (i + 1) * range_size)
        for i in range(min((settled_up_to - previous_end) // range_size, cap))
    ]
    end = bounds[-1][1] if bounds else previous_end
    if partial and len(bounds) < cap and settled_up_to > end:
        bounds.append((end + 1, settled_up_to))
    if not bounds:
        return []
    rows = await conn.fetch(_ROWS, bounds[0][0], bounds[-1][1])
    entries = [(row[0], row[1]) for row in rows]
    seals: list[Seal] = []
    start = 0
    for index, (range_first, range_last) in enumerate(bounds):
        stop = start
        while stop < len(entries) and entries[stop][0] <= range_last:
            stop += 1
        seal = build_seal(
            number + index + 1, previous_hash, range_first, range_last, entries[start:stop], key
        )
        seals.append(seal)
        previous_hash = seal.seal_hash
        start = stop
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
                s.key_id,
            )
            for s in seals
        ],
    )
    return seals
