"""What the relay keeps in PostgreSQL: its lease, its checkpoint, its quarantine.

The lease elects one active relay per name. It must be renewed within `seconds`; a relay
that stops making progress (hung, stopped with SIGSTOP, cut off) loses it, and a standby
takes it over with a new token. The checkpoint moves only inside a transaction that finds
the mover's token current and unexpired (fencing): a relay that wakes up after losing the
lease can no longer move the checkpoint or quarantine anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from .db import Connection
from .store import Checkpoint


class LeaseLost(Exception):
    """This relay's lease expired or was taken over: it must stop publishing."""


@dataclass(frozen=True)
class StreamMark:
    """What the relay last saw of the stream: when it was created and its last sequence."""

    created: datetime | None = None
    sequence: int = 0


@dataclass(frozen=True)
class Saved:
    """A relay's stored checkpoint and the stream mark saved with it."""

    checkpoint: Checkpoint
    mark: StreamMark


@dataclass(frozen=True)
class Refused:
    """An event the bus refused for good, and why."""

    event_id: UUID
    global_position: int
    type: str
    stream_id: str
    error: str


async def acquire(conn: Connection, name: str, holder: str, seconds: float) -> int | None:
    """Take the lease if it is free or expired; return the new token, or None."""
    token: int | None = await conn.fetchval(
        "INSERT INTO relay_leases AS l"
        " (relay_name, token, holder, backend_pid, renewed_at, expires_at)"
        " VALUES ($1, 1, $2, pg_backend_pid(), now(), now() + make_interval(secs => $3))"
        " ON CONFLICT (relay_name) DO UPDATE SET token = l.token + 1,"
        "   holder = excluded.holder, backend_pid = excluded.backend_pid,"
        "   renewed_at = now(), expires_at = excluded.expires_at"
        " WHERE l.expires_at < now()"
        " RETURNING token",
        name,
        holder,
        seconds,
    )
    return token


async def renew(conn: Connection, name: str, token: int, seconds: float) -> None:
    """Extend the lease, or raise LeaseLost when it is no longer ours."""
    renewed = await conn.fetchval(
        "UPDATE relay_leases SET renewed_at = now(),"
        "   expires_at = now() + make_interval(secs => $3)"
        " WHERE relay_name = $1 AND token = $2 AND expires_at > now() RETURNING true",
        name,
        token,
        seconds,
    )
    if not renewed:
        raise LeaseLost(f"relay {name}: lease {token} expired or taken over")


async def release(conn: Connection, name: str, token: int) -> None:
    """Give the lease up at once, so that a standby need not wait for it to expire."""
    await conn.execute(
        "UPDATE relay_leases SET expires_at = now() - interval '1 microsecond'"
        " WHERE relay_name = $1 AND token = $2",
        name,
        token,
    )


async def load(conn: Connection, name: str) -> Saved:
    """Return the relay's checkpoint and stream mark (the start when it has none)."""
    row = await conn.fetchrow(
        "SELECT transaction_id::text::bigint AS tx, global_position, stream_created,"
        " stream_sequence FROM relay_checkpoints WHERE relay_name = $1",
        name,
    )
    if row is None:
        return Saved(Checkpoint(), StreamMark())
    return Saved(
        Checkpoint(row["tx"], row["global_position"]),
        StreamMark(row["stream_created"], row["stream_sequence"] or 0),
    )


async def save(
    conn: Connection,
    name: str,
    token: int,
    seconds: float,
    checkpoint: Checkpoint,
    mark: StreamMark,
    refused: list[Refused] = [],  # noqa: B006 - never mutated
) -> None:
    """Quarantine `refused` and move the checkpoint, only while `token` holds the lease,
    and renew the lease for `seconds` (the leader counts a save as a renewal)."""
    async with conn.transaction():
        # The row stays locked to the end: a standby's take-over waits for this
        # transaction, then finds the lease renewed.
        await renew(conn, name, token, seconds)  # raises LeaseLost: nothing below happens
        if refused:
            await conn.executemany(
                "INSERT INTO relay_quarantine"
                " (relay_name, event_id, global_position, type, stream_id, error)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                [
                    (name, r.event_id, r.global_position, r.type, r.stream_id, r.error)
                    for r in refused
                ],
            )
        await conn.execute(
            "INSERT INTO relay_checkpoints (relay_name, transaction_id, global_position,"
            "   stream_created, stream_sequence)"
            " VALUES ($1, $2::text::xid8, $3, $4, $5) ON CONFLICT (relay_name) DO UPDATE"
            " SET transaction_id = excluded.transaction_id,"
            "     global_position = excluded.global_position,"
            "     stream_created = excluded.stream_created,"
            "     stream_sequence = excluded.stream_sequence, updated_at = now()",
            name,
            str(checkpoint.transaction_id),
            checkpoint.global_position,
            mark.created,
            mark.sequence,
        )


async def checkpoint_at(conn: Connection, global_position: int) -> Checkpoint | None:
    """Return the checkpoint just after the event at `global_position` (None: no such event)."""
    row = await conn.fetchrow(
        "SELECT transaction_id::text::bigint AS tx, global_position FROM events"
        " WHERE global_position = $1",
        global_position,
    )
    return Checkpoint(row["tx"], row["global_position"]) if row else None


async def checkpoint_of(conn: Connection, event_id: UUID) -> Checkpoint | None:
    """Return the checkpoint just after the event `event_id` (None: not in the store)."""
    row = await conn.fetchrow(
        "SELECT transaction_id::text::bigint AS tx, global_position FROM events"
        " WHERE event_id = $1",
        event_id,
    )
    return Checkpoint(row["tx"], row["global_position"]) if row else None


async def rewind(conn: Connection, name: str, checkpoint: Checkpoint) -> None:
    """Move the checkpoint back (an operator's order) and make the active relay reload it.

    The lease is ended in the same transaction: the active relay's next renewal fails, it
    steps down and whoever leads next starts from this checkpoint.
    """
    async with conn.transaction():
        await conn.execute(
            "UPDATE relay_leases SET token = token + 1,"
            "   expires_at = now() - interval '1 microsecond' WHERE relay_name = $1",
            name,
        )
        await conn.execute(
            "INSERT INTO relay_checkpoints (relay_name, transaction_id, global_position)"
            " VALUES ($1, $2::text::xid8, $3) ON CONFLICT (relay_name) DO UPDATE"
            " SET transaction_id = excluded.transaction_id,"
            "     global_position = excluded.global_position, updated_at = now()",
            name,
            str(checkpoint.transaction_id),
            checkpoint.global_position,
        )


async def lag(conn: Connection, checkpoint: Checkpoint) -> int:
    """Return the store's head position minus the checkpoint's (never negative)."""
    head: int = await conn.fetchval("SELECT coalesce(max(global_position), 0) FROM events")
    return max(0, head - checkpoint.global_position)
