"""Verify the store: every stream's hash chain and every seal of the global order.

Two passes inside one read-only, repeatable-read transaction (one consistent view), each
streamed through a cursor, so memory stays bounded however large the store:

1. seals, in seal order, each with the events of its range in position order: the seal
   chain holds, and each range hashes to its seal; where one does not, the seal's
   fingerprints name the position that changed, vanished or appeared;
2. streams, in (stream, version) order: each event's content digest, recomputed from its
   stored columns, chains to the hash before it; versions run without a hole; positions
   rise with versions.

Each chain hash and each seal is checked under the key it names (a `Keyring`); given the
seal heads exported outside the database (`seal_export`), each must still be in the
database as exported, which catches the newest seals removed together with their events.

The problems found are ranked by global position; the report names the first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import asyncpg
import orjson

from .db import Connection
from .keys import NO_KEYS, Keyring
from .seal_export import SealHead, check_heads
from .verify_checks import (
    CONTENT_CHANGED,
    Assigned,
    ChainLink,
    Findings,
    Problem,
    SealLink,
    check_seal,
    check_stream_event,
)

__all__ = ["Problem", "VerifyReport", "verify_store"]

_SEALS = (
    "SELECT seal_number, first_position, last_position, gaps, fingerprints, previous_hash,"
    " seal_hash, key_id FROM event_seals ORDER BY seal_number"
)
_SEALED_EVENTS = (
    "SELECT global_position, chain_hash, stream_id, stream_version FROM events"
    " WHERE global_position BETWEEN $1 AND $2 ORDER BY global_position"
)
# The store's reads take the envelope fields from columns generated from `metadata`
# (sql/007): whoever dropped a column's expression to write it apart from `metadata` would
# change what readers see without changing what the digest covers. Compared as text, so
# that no stored value can make the cast, and with it the verification, fail.
_ENVELOPE_AGREES = (
    "(actor_id, actor_role, actor_name, correlation_id::text, causation_id::text, traceparent)"
    " IS NOT DISTINCT FROM (metadata->'actor'->>'id', metadata->'actor'->>'role',"
    " metadata->'actor'->>'name', metadata->>'correlation_id', metadata->>'causation_id',"
    " metadata->>'traceparent')"
)
# The JSON as text, whatever codecs the connection has; the id as text and the time as
# microseconds since the epoch (exact: extract returns numeric), as the digest takes them.
# The order is the (stream_id, stream_version) index's.
_STREAM_EVENTS = (
    "SELECT stream_id, stream_version, global_position, chain_hash, event_id::text, type,"
    " data::text, metadata::text, (extract(epoch FROM occurred_at) * 1000000)::bigint,"
    " chain_key_id, transaction_id::text::bigint,"
    " (extract(epoch FROM recorded_at) * 1000000)::bigint, "
    + _ENVELOPE_AGREES
    + " FROM events ORDER BY stream_id, stream_version"
)
_SEALS_PER_READ = 20
_EVENTS_PER_READ = 5000


@dataclass(frozen=True)
class VerifyReport:
    """What `verify_store` checked, and the first problem it found (if any)."""

    events: int
    streams: int
    seals: int
    sealed_up_to: int
    last_seal_hash: bytes | None
    unsealed_events: int
    last_position: int
    problems: int
    first_problem: Problem | None
    seconds: float

    @property
    def ok(self) -> bool:
        """Whether every chain and every seal holds."""
        return self.first_problem is None

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """Return one line: OK with counts, or the first problem and how many there are."""
        if self.first_problem is not None:
            more = f"; {self.problems} problems found in all" if self.problems > 1 else ""
            return f"TAMPERED: {self.first_problem.describe()}{more}"
        last = f", last {self.last_seal_hash.hex()[:16]}" if self.last_seal_hash else ""
        return (
            f"OK: {self.events} events in {self.streams} streams, every chain intact;"
            f" {self.seals} seals up to position {self.sealed_up_to}{last};"
            f" {self.unsealed_events} events not sealed yet"
            f" ({self.events_per_second:,.0f} events/s)"
        )


async def verify_store(
    conn: Connection, keys: Keyring = NO_KEYS, heads: Iterable[SealHead] | None = None
) -> VerifyReport:
    """Check every stream's chain and every seal under `keys`, and that every exported seal
    head is still in the database; report the first problem by position."""
    started = time.perf_counter()
    findings = Findings()
    stored: dict[int, tuple[int, int, bytes]] = {}
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        seals, sealed_up_to, last_hash = await _check_seals(conn, findings, keys, stored)
        events, streams = await _check_streams(conn, findings, keys)
        tail = await conn.fetchrow(
            "SELECT count(*), coalesce(max(global_position), 0) FROM events"
            " WHERE global_position > $1",
            sealed_up_to,
        )
        assert tail is not None
        unsealed, last_position = tail
    if heads is not None:
        findings.add_all(check_heads(heads, stored))
    findings.close()
    return VerifyReport(
        events=events,
        streams=streams,
        seals=seals,
        sealed_up_to=sealed_up_to,
        last_seal_hash=last_hash,
        unsealed_events=unsealed,
        last_position=max(last_position, sealed_up_to),
        problems=findings.count,
        first_problem=findings.first,
        seconds=time.perf_counter() - started,
    )


async def _check_seals(
    conn: Connection,
    findings: Findings,
    keys: Keyring,
    stored: dict[int, tuple[int, int, bytes]],
) -> tuple[int, int, bytes | None]:
    """Check the seal chain and each sealed range; return (seals, sealed up to, last hash).
    Each seal's (first, last, hash) is noted in `stored` by number."""
    previous = SealLink(seal_number=0, last_position=0, seal_hash=b"")
    count = 0
    cursor = await conn.cursor(_SEALS)
    while batch := await cursor.fetch(_SEALS_PER_READ):
        rows = await conn.fetch(
            _SEALED_EVENTS, batch[0]["first_position"], batch[-1]["last_position"]
        )
        for seal, events in _split_by_range(batch, rows):
            findings.add_all(check_seal(seal, previous, events, keys))
            stored[seal["seal_number"]] = (
                seal["first_position"],
                seal["last_position"],
                seal["seal_hash"],
            )
            previous = SealLink(seal["seal_number"], seal["last_position"], seal["seal_hash"])
            count += 1
    return count, previous.last_position, previous.seal_hash or None


def _split_by_range(
    seals: list[asyncpg.Record], rows: list[asyncpg.Record]
) -> Iterator[tuple[asyncpg.Record, list[asyncpg.Record]]]:
    start = 0
    for seal in seals:
        while start < len(rows) and rows[start][0] < seal["first_position"]:
            start += 1  # only when seals overlap: check_seal reports that
        end = start
        while end < len(rows) and rows[end][0] <= seal["last_position"]:
            end += 1
        yield seal, rows[start:end]
        start = end


async def _check_streams(conn: Connection, findings: Findings, keys: Keyring) -> tuple[int, int]:
    """Check every stream's chain, event by event; return (events, streams)."""
    events = streams = 0
    previous: ChainLink | None = None
    cursor = await conn.cursor(_STREAM_EVENTS)
    rows = await cursor.fetch(_EVENTS_PER_READ)
    while rows:
        # The server reads the next batch while this one is checked.
        ahead = asyncio.ensure_future(cursor.fetch(_EVENTS_PER_READ))
        try:
            await asyncio.sleep(0)  # let it send the request
            previous, new_streams = _check_batch(rows, previous, findings, keys)
            events += len(rows)
            streams += new_streams
            rows = await ahead
        finally:
            ahead.cancel()
    return events, streams


def _check_batch(
    rows: list[asyncpg.Record], previous: ChainLink | None, findings: Findings, keys: Keyring
) -> tuple[ChainLink | None, int]:
    """Check a batch of `_STREAM_EVENTS` rows; return the last link and streams begun."""
    streams = 0
    loads = orjson.loads
    for row in rows:
        stream_id, version, position, chain_hash, event_id, type_, data, meta, micros = row[:9]
        if previous is None or previous.stream_id != stream_id:
            streams += 1
        content = (event_id, type_, loads(data), loads(meta), micros)
        previous, problems = check_stream_event(
            previous, stream_id, version, position, chain_hash, content, Assigned(*row[9:12]), keys
        )
        if not row[12]:
            problems.append(
                Problem(
                    CONTENT_CHANGED,
                    position,
                    stream_id,
                    version,
                    "its envelope columns (actor, correlation, causation, traceparent) differ"
                    " from the metadata its hash covers",
                )
            )
        if problems:
            findings.add_stream_problems(problems)
    return previous, streams
