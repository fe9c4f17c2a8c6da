"""The event store: an append-only PostgreSQL table, read per stream or in commit order."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

import asyncpg

from .chain import UNKEYED, ChainKey, canonical_form, content_digest
from .db import Connection, create_store_pool
from .envelope import NewEvent, StoredEvent
from .errors import DuplicateEventId, WrongExpectedVersion
from .rows import COLUMNS, events_from_rows

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "prokopim_events"
_WRONG_VERSION = "PK409"


@dataclass(frozen=True, order=True)
class Checkpoint:
    """A place in the commit-ordered log: after this transaction id and position."""

    transaction_id: int = 0
    global_position: int = 0


@dataclass(frozen=True)
class Page:
    """A batch of events read in commit order and the checkpoint after the last one."""

    events: list[StoredEvent]
    checkpoint: Checkpoint


# One event (the common case) is one plain INSERT: the version check and the keyed hash chain
# ride along in a lateral join, which is measurably faster than a PL/pgSQL call. Zero rows
# back means the stream was not at the expected version. The chain hash is HMAC-SHA256 under
# the chain key ($10/$11 are its outer and inner blocks, see `chain`) of the previous hash,
# the digest, and what the column defaults hold: the transaction id and now() (one value
# per transaction), so the columns the database assigns are covered too.
_APPEND_ONE = """
INSERT INTO events (event_id, stream_id, stream_version, type, data, metadata, occurred_at,
                    chain_key_id, chain_hash)
SELECT $1, $2, $3 + 1, $4, $5, $6, $7, $9,
       sha256($10 || sha256($11 || coalesce(prev.chain_hash, ''::bytea) || $8
              || int8send(pg_current_xact_id()::text::bigint)
              || int8send((extract(epoch FROM now()) * 1000000)::bigint)))
  FROM (SELECT 1) AS one
  LEFT JOIN LATERAL (
        SELECT e.stream_version, e.chain_hash FROM events e
         WHERE e.stream_id = $2 ORDER BY e.stream_version DESC LIMIT 1
  ) AS prev ON true
 WHERE coalesce(prev.stream_version, 0) = $3
RETURNING global_position
"""
# The same, waking the relays itself (see `EventStore.wake_relay`): the notification is
# delivered at the append's commit and only if it appended.
_APPEND_ONE_NOTIFY = (
    f"WITH appended AS ({_APPEND_ONE}) SELECT global_position, pg_notify($12, '') FROM appended"
)
# The batch travels as one JSON array of the events' canonical forms, the very bytes their
# digests cover: each event is serialised once, and the server parses one document.
_APPEND_MANY = "SELECT prokopim_append($1, $2, $3::text::jsonb, $4, $5, $6, $7, $8)"
_APPEND_MANY_NOTIFY = f"{_APPEND_MANY}, pg_notify($9, '')"


_READ_COMMITTED = (
    f"SELECT {COLUMNS}, transaction_id AS tx FROM events"
    " WHERE (transaction_id, global_position) > ($1::xid8, $2)"
    "   AND transaction_id < %s"
    " ORDER BY transaction_id, global_position LIMIT $3"
)
# Commit order, only below the read horizon (sql/003_read_horizon.sql): taken by the
# statement itself, or given as $4 when a replay took it once for all its pages. asyncpg
# passes xid8 as an integer both ways, sparing the server a text round trip per row.
_READ_ALL = _READ_COMMITTED % "(SELECT prokopim_read_horizon())"
_READ_BELOW = _READ_COMMITTED % "$4::xid8"


def _key_args(key: ChainKey | None) -> tuple[str, bytes, bytes]:
    return (UNKEYED, b"", b"") if key is None else (key.key_id, key.outer, key.inner)


def _append_statement(
    stream_id: str,
    expected_version: int,
    events: Sequence[NewEvent],
    key: ChainKey | None,
    notify: str | None = None,
) -> tuple[str, tuple[Any, ...]]:
    """The statement appending `events` and its arguments; given a channel `notify`, it
    also notifies that channel (at commit, if it appended)."""
    query, args = _append_statement_args(stream_id, expected_version, events, key)
    if notify is None:
        return query, args
    return (_APPEND_ONE_NOTIFY if len(events) == 1 else _APPEND_MANY_NOTIFY), (*args, notify)


def _append_statement_args(
    stream_id: str, expected_version: int, events: Sequence[NewEvent], key: ChainKey | None
) -> tuple[str, tuple[Any, ...]]:
    if len(events) == 1:
        e = events[0]
        metadata = e.metadata()
        digest = content_digest(
            e.event_id, stream_id, expected_version + 1, e.type, e.data, metadata, e.occurred_at
        )
        return _APPEND_ONE, (
            e.event_id,
            stream_id,
            expected_version,
            e.type,
            e.data,
            metadata,
            e.occurred_at,
            digest,
            *_key_args(key),
        )
    forms = [
        canonical_form(e.event_id, stream_id, version, e.type, e.data, e.metadata(), e.occurred_at)
        for version, e in enumerate(events, start=expected_version + 1)
    ]
    return _APPEND_MANY, (
        stream_id,
        expected_version,
        (b"[%b]" % b",".join(forms)).decode(),
        [e.occurred_at for e in events],
        [sha256(form).digest() for form in forms],
        *_key_args(key),
    )


def _page(rows: list[asyncpg.Record], after: Checkpoint) -> Page:
    if not rows:
        return Page([], after)
    last = rows[-1]
    return Page(events_from_rows(rows), Checkpoint(last["tx"], last["global_position"]))


class EventStore:
    """Append to and read from the `events` table."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        notify_channel: str = NOTIFY_CHANNEL,
        notify_interval: float = 0.005,
        chain_key: ChainKey | None = None,
    ) -> None:
        self._pool = pool
        # Without a key the chain is one anybody can recompute: verify flags such events.
        self._chain_key = chain_key
        self._channel = notify_channel
        self._notify_interval = notify_interval
        self._notify_task: asyncio.Task[None] | None = None
        # Loop time of the last wake-up sent or carried by an append; commits counted (with
        # carrying appends) to tell which ones a wake-up covers; the count at the latest
        # commit no wake-up is known to cover yet (0: none).
        self._notified_at = -math.inf
        self._commits = 0
        self._uncovered = 0
        self._owns_pool = False

    @classmethod
    async def connect(
        cls,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        notify_interval: float = 0.005,
        chain_key: ChainKey | None = None,
    ) -> EventStore:
        """Open a store on a private pool of its own (see `create_store_pool`); `close` it."""
        pool = await create_store_pool(dsn, min_size=min_size, max_size=max_size)
        store = cls(pool, notify_interval=notify_interval, chain_key=chain_key)
        store._owns_pool = True
        return store

    async def close(self) -> None:
        """Send a pending relay wake-up, then close the pool if the store opened it."""
        await self.drain()
        if self._owns_pool:
            await self._pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        """The pool the store uses, for callers that join an append to their transaction."""
        return self._pool

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        conn: Connection | None = None,
    ) -> list[int]:
        """Append events to a stream at `expected_version`; return their global positions.

        Re-appending events whose ids are already stored in that stream returns their
        original positions and stores nothing. Given `conn`, the append joins the caller's
        transaction and the caller must call `wake_relay()` after committing.
        """
        if not events:
            return []
        mark = self._claim_wake_up() if conn is None else None
        query, args = _append_statement(
            stream_id,
            expected_version,
            events,
            self._chain_key,
            None if mark is None else self._channel,
        )
        try:
            if conn is None:
                result = await self._pool.fetchval(query, *args)
            else:
                async with conn.transaction():  # a savepoint: the caller's tx survives
                    result = await conn.fetchval(query, *args)
        except (asyncpg.UniqueViolationError, asyncpg.PostgresError) as error:
            if not isinstance(error, asyncpg.UniqueViolationError) and (
                getattr(error, "sqlstate", None) != _WRONG_VERSION
            ):
                raise
            return await self._resolve_conflict(stream_id, expected_version, events, conn)
        if result is None:  # the single-event statement found the stream elsewhere
            return await self._resolve_conflict(stream_id, expected_version, events, conn)
        if mark is not None:
            self._covered(mark)
        elif conn is None:
            self.wake_relay()
        return result if isinstance(result, list) else [result]

    async def _resolve_conflict(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        conn: Connection | None,
    ) -> list[int]:
        executor = conn if conn is not None else self._pool
        ids = [e.event_id for e in events]
        rows = await executor.fetch(
            "SELECT event_id, stream_id, global_position FROM events WHERE event_id = ANY($1)",
            ids,
        )
        found = {row["event_id"]: row for row in rows}
        if len(found) == len(ids) and all(r["stream_id"] == stream_id for r in rows):
            return [found[event_id]["global_position"] for event_id in ids]
        if found:
            raise DuplicateEventId([str(event_id) for event_id in found])
        actual = await executor.fetchval(
            "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1",
            stream_id,
        )
        raise WrongExpectedVersion(stream_id, expected_version, actual)

    async def read_stream(
        self, stream_id: str, *, after_version: int = 0, conn: Connection | None = None
    ) -> list[StoredEvent]:
        """Return a stream's events in version order."""
        executor = conn if conn is not None else self._pool
        rows = await executor.fetch(
            f"SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND stream_version > $2"
            " ORDER BY stream_version",
            stream_id,
            after_version,
        )
        return events_from_rows(rows)

    async def stream_version(self, stream_id: str) -> int:
        """Return a stream's current version (0 when it has no events)."""
        version: int = await self._pool.fetchval(
            "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1",
            stream_id,
        )
        return version

    async def read_all(self, after: Checkpoint = Checkpoint(), *, limit: int = 1000) -> Page:
        """Return up to `limit` events committed after `after`, in commit order.

        Only transactions older than every still-running transaction are read, so an event
        whose transaction commits later can never land behind a checkpoint already given out.
        """
        rows = await self._rows_after(after, limit)
        return _page(rows, after)

    async def replay(
        self, after: Checkpoint = Checkpoint(), *, page_size: int = 1000
    ) -> AsyncGenerator[Page, None]:
        """Yield every event readable now after `after`, page by page, as `read_all` would.

        The next page is fetched while the caller works on the current one; a caller that
        stops early should close the generator (`contextlib.aclosing`) to cancel that fetch.
        """
        # The horizon is taken once: every transaction below it had ended then, so it stays a
        # safe bound for every page, and the pages skip recomputing it (~0.5 ms a page).
        horizon: int = await self._pool.fetchval("SELECT prokopim_read_horizon()")
        rows = await self._rows_after(after, page_size, horizon)
        while rows:
            last = rows[-1]
            after = Checkpoint(last["tx"], last["global_position"])
            ahead = asyncio.ensure_future(self._rows_after(after, page_size, horizon))
            try:
                await asyncio.sleep(0)  # let it send the query before converting this page
                page = Page(events_from_rows(rows), after)
                # The records (and, once the caller is done, the page) go before the next
                # page is decoded: the collector's passes meanwhile have fewer objects to walk.
                rows = []
                yield page
                del page
                rows = await ahead
            finally:
                ahead.cancel()

    async def _rows_after(
        self, after: Checkpoint, limit: int, horizon: int | None = None
    ) -> list[asyncpg.Record]:
        if horizon is None:
            return await self._pool.fetch(
                _READ_ALL, after.transaction_id, after.global_position, limit
            )
        return await self._pool.fetch(
            _READ_BELOW, after.transaction_id, after.global_position, limit, horizon
        )

    async def held_back(self, after: Checkpoint) -> bool:
        """Tell whether events committed after `after` wait behind an older open transaction.

        Ask after `read_all` returned nothing: such events become readable when that
        transaction ends, which may wake no relay.
        """
        found: bool = await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM events"
            " WHERE (transaction_id, global_position) > ($1::text::xid8, $2))",
            str(after.transaction_id),
            after.global_position,
        )
        return found

    def wake_relay(self) -> None:
        """Tell listening relays that events were committed (coalesced, off the hot path).

        A NOTIFY inside every append's transaction would serialise every commit on the
        notification queue lock, so relays are woken at most about twice per
        `notify_interval`, and within one `notify_interval` of any commit: an append made
        without `conn` half an interval or more after the last wake-up carries the next one
        in its own statement (no round trip of its own: ~15% of a single-event append's
        CPU); a wake-up no such append covered is sent after commit, by a task.
        """
        self._commits += 1
        self._uncovered = self._commits
        if self._notify_task is None or self._notify_task.done():
            self._notify_task = asyncio.get_running_loop().create_task(self._notify())

    def _claim_wake_up(self) -> int | None:
        """Return a mark when the coming append should carry the relays' wake-up."""
        now = asyncio.get_running_loop().time()
        if now - self._notified_at < self._notify_interval / 2:
            return None
        self._notified_at = now
        self._commits += 1
        return self._commits

    def _covered(self, mark: int) -> None:
        """A wake-up was delivered after every commit counted up to `mark`."""
        if self._uncovered <= mark:
            self._uncovered = 0

    async def _notify(self) -> None:
        loop = asyncio.get_running_loop()
        while self._uncovered:
            wait = self._notified_at + self._notify_interval - loop.time()
            if wait > 0:  # an append may carry it meanwhile
                await asyncio.sleep(wait)
                continue
            mark = self._commits
            self._notified_at = loop.time()
            try:
                await self._pool.execute("SELECT pg_notify($1, '')", self._channel)
            except Exception:  # the relay's polling fallback covers a lost wake-up
                log.warning("could not notify relays", exc_info=True)
                return
            self._covered(mark)

    async def drain(self) -> None:
        """Wait for a pending wake-up to be sent (before closing the pool)."""
        if self._notify_task is not None:
            await asyncio.gather(self._notify_task, return_exceptions=True)
