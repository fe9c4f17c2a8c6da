"""Outside effects (a mail, a post) carried out once per stored event, with a delivery record.

A service's consumer calls `deliver_once` for each effect a stored event asks for. The
effect's row (table `<service>_deliveries`, the service's own, see `DELIVERIES_SQL`) is
keyed by a stable `effect_id` (uuid5 of the event's id and the target), which is also the
idempotency key / Message-ID the outside system sees. Each attempt is counted before the
call and its outcome committed right after, on a connection of its own, so a crash after
the call, a client retry or a redelivery finds `sent` (or `failed`) and does not repeat it.
If that commit fails (the database away), the process keeps the outcome in memory and a
redelivery records it without calling again. The one window left is between the outside
system's answer and that commit when the process dies there: the call is repeated with the
same key, which receivers use to drop the repeat.

States: `sending` (attempt in flight or interrupted), `sent`, `retrying` (a retry may help:
the caller raises so the consumer redelivers the event later), `failed` (for good, or after
`attempts_allowed`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

from prokopim_events.db import Connection

from .runtime import Runtime

SENT, FAILED, RETRYING = "sent", "failed", "retrying"


def deliveries_sql(service: str) -> str:
    """The DDL of a service's delivery record (put it in the service's own migration)."""
    return f"""
CREATE TABLE IF NOT EXISTS {service}_deliveries (
    effect_id      uuid PRIMARY KEY,
    case_id        uuid NOT NULL,
    cause_event_id uuid NOT NULL,
    target         text NOT NULL,
    state          text NOT NULL CHECK (state IN ('sending', 'sent', 'retrying', 'failed')),
    attempts       integer NOT NULL DEFAULT 0,
    last_error     text,
    result         text,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (cause_event_id, target)
);
CREATE INDEX IF NOT EXISTS {service}_deliveries_case ON {service}_deliveries (case_id);
"""


class EffectPending(Exception):
    """An effect is to be tried again: raised so the consumer redelivers its event later."""


@dataclass(frozen=True)
class Outcome:
    """An effect's state after `deliver_once`."""

    effect_id: UUID
    state: str
    attempts: int
    result: str | None = None
    error: str | None = None


# Outcomes this process got from the outside system but could not record yet (the database
# away as it answered), by (table, effect id): the retry records them instead of calling
# again. An entry lives until recorded; only effects attempted during an outage add one.
_unrecorded: dict[tuple[str, UUID], Outcome] = {}


def effect_id(cause_event_id: UUID, target: str) -> UUID:
    """The stable id of one effect of an event: its idempotency key."""
    return uuid.uuid5(cause_event_id, target)


async def deliver_once(
    runtime: Runtime,
    *,
    table: str,
    case_id: UUID,
    cause_event_id: UUID,
    target: str,
    send: Callable[[UUID], Awaitable[str]],
    permanent: Callable[[Exception], bool],
    retryable: tuple[type[Exception], ...],
    attempts_allowed: int,
) -> Outcome:
    """Carry out one effect unless recorded `sent`/`failed`; return its state.

    `send(effect_id)` performs the call and returns what to record (a URL, a Message-ID);
    an exception in `retryable` is recorded `failed` when `permanent(error)` or the attempts
    are used up, otherwise `retrying`. Other exceptions propagate (the row stays `sending`).
    """
    key = effect_id(cause_event_id, target)
    known = _unrecorded.get((table, key))
    if known is not None:  # called already: only the record is missing
        await _record(runtime, table, known)
        return known
    async with runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT state, attempts, result, last_error FROM {table} WHERE effect_id = $1", key
        )
    if row is not None and row["state"] in (SENT, FAILED):
        return Outcome(key, row["state"], row["attempts"], row["result"], row["last_error"])
    async with runtime.pool.acquire() as conn:
        attempts: int = await conn.fetchval(
            f"INSERT INTO {table} (effect_id, case_id, cause_event_id, target, state, attempts)"
            " VALUES ($1, $2, $3, $4, 'sending', 1) ON CONFLICT (effect_id) DO UPDATE SET"
            f" state = 'sending', attempts = {table}.attempts + 1, updated_at = now()"
            " RETURNING attempts",
            key,
            case_id,
            cause_event_id,
            target,
        )
    try:
        result = await send(key)
    except retryable as error:
        reason = f"{type(error).__name__}: {error}"
        state = FAILED if permanent(error) or attempts >= attempts_allowed else RETRYING
        outcome = Outcome(key, state, attempts, None, reason)
    else:
        outcome = Outcome(key, SENT, attempts, result, None)
    _unrecorded[(table, key)] = outcome
    await _record(runtime, table, outcome)
    return outcome


async def _record(runtime: Runtime, table: str, outcome: Outcome) -> None:
    """Commit an outcome to the delivery record; on failure it stays in memory and the
    error propagates (the consumer retries the event, and the retry records it)."""
    async with runtime.pool.acquire() as conn:
        await _update(
            conn,
            table,
            outcome.effect_id,
            outcome.state,
            outcome.attempts,
            outcome.error,
            outcome.result,
        )
    _unrecorded.pop((table, outcome.effect_id), None)


async def _update(
    conn: Connection,
    table: str,
    key: UUID,
    state: str,
    attempts: int,
    error: str | None,
    result: str | None,
) -> None:
    await conn.execute(
        f"UPDATE {table} SET state = $2, attempts = $3, last_error = $4, result = $5,"
        " updated_at = now() WHERE effect_id = $1",
        key,
        state,
        attempts,
        error,
        result,
    )
