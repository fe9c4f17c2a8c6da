"""Reservations of people and equipment for a case's activity window, refused on a clash.

PostgreSQL holds the rule: `scheduling_bookings` has an exclusion constraint over
(resource, reserved window) for confirmed bookings made without an override, so two
transactions can never both reserve one resource for overlapping windows. The statement
that writes the bookings also leaves out a row overlapping another case's booking (one made
with an override too); a row not written, for either reason, is then named (who or what,
which case, when) from the other case's row. Only an override looks for clashes first, to
know which rows it overrides. A booking costs three statements: read, write, place.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.exceptions import ExclusionViolationError
from prokopim_events.contracts import Booking
from prokopim_events.db import Connection
from prokopim_kit.errors import CommandRejected, InvalidCommand

from .commands import WIB
from .resources import UnknownResource

BOOKING_NS = uuid.UUID("5b0c1d2e-7f3a-4c8b-9d6e-1a2b3c4d5e6f")


class BookingClash(CommandRejected):
    """409: the person or item is already booked for an overlapping window of another case."""

    status = 409
    code = "booking_clash"

    def __init__(self, clash: asyncpg.Record) -> None:
        what = "crew member" if clash["type"] == "crew" else clash["kind"] or "item"
        start, end = clash["reserved_from"], clash["reserved_until"]
        super().__init__(
            f"{clash['name']} ({what}) is already booked for case {clash['case_id']}"
            f" ({clash['summary']}) from {_wib(start)} to {_wib(end)}; choose another time or"
            " another resource, or book anyway with an override_reason",
            resource_id=str(clash["resource_id"]),
            resource=clash["name"],
            resource_type=clash["type"],
            clashing_case_id=str(clash["case_id"]),
            clashing_activity=clash["summary"],
            clashing_from=start.astimezone(WIB).isoformat(),
            clashing_until=end.astimezone(WIB).isoformat(),
        )


class ResourceInRepair(CommandRejected):
    status = 409
    code = "resource_in_repair"

    def __init__(self, resource_id: UUID, label: str) -> None:
        super().__init__(
            f"{label} is in repair and cannot be booked; mark it available first",
            resource_id=str(resource_id),
            resource=label,
        )


def _wib(at: datetime) -> str:
    return at.astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB")


@dataclass(frozen=True)
class Window:
    """An activity's start and end; the reservation adds the buffer on both sides."""

    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        if self.ends_at <= self.starts_at:
            raise InvalidCommand("the activity must end after it starts", field="ends_at")

    def reserved(self, buffer: timedelta) -> tuple[datetime, datetime]:
        return self.starts_at - buffer, self.ends_at + buffer


@dataclass(frozen=True)
class Want:
    """A resource a command wants reserved for the case (crew in a role, or an item)."""

    resource_id: UUID
    role: str | None = None


@dataclass(frozen=True)
class CaseRef:
    """The case a reservation is for: what the feeds show of it."""

    case_id: UUID
    office: str
    summary: str


@dataclass(frozen=True)
class Change:
    """What a reservation did: bookings made or moved, and bookings released."""

    booked: list[Booking]
    released: list[UUID]


def booking_id(case_id: UUID, resource_id: UUID) -> UUID:
    """Return the id of a case's booking of a resource: the same every time (the feeds' UID)."""
    return uuid.uuid5(BOOKING_NS, f"{case_id}/{resource_id}")


CLASH_QUERY = """
SELECT DISTINCT ON (r.resource_id) b.case_id, b.summary, lower(b.during) AS reserved_from,
       upper(b.during) AS reserved_until, r.resource_id, r.name, r.type, r.kind
  FROM scheduling_bookings b JOIN scheduling_resources r USING (resource_id)
 WHERE b.resource_id = ANY($1) AND b.status = 'confirmed' AND b.case_id <> $2
   AND b.during && tstzrange($3, $4)
 ORDER BY r.resource_id, lower(b.during)
"""
BOOKING_ROWS = """
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::text[])
    AS n (booking_id, resource_id, role, sequence, override_reason)
"""
# A row is written only if no other case's confirmed booking overlaps it (one made with an
# override included, which the constraint leaves out), unless it carries an override itself;
# the constraint catches what a racing transaction commits meanwhile.
FREE = """(n.override_reason IS NOT NULL OR NOT EXISTS (
    SELECT 1 FROM scheduling_bookings o
     WHERE o.resource_id = n.resource_id AND o.status = 'confirmed' AND o.case_id <> $6
       AND o.during && tstzrange($10, $11)))"""
INSERT = f"""
INSERT INTO scheduling_bookings (booking_id, case_id, resource_id, office, role, starts_at,
    ends_at, during, summary, location, sequence, status, override_reason, updated_at)
SELECT n.booking_id, $6, n.resource_id, $7, n.role, $8, $9, tstzrange($10, $11), $12, $13,
       n.sequence, 'confirmed', n.override_reason, $14
  FROM ({BOOKING_ROWS}) n
 WHERE {FREE}
ON CONFLICT DO NOTHING
RETURNING resource_id
"""
MOVE = f"""
UPDATE scheduling_bookings b SET role = n.role, starts_at = $8, ends_at = $9,
       during = tstzrange($10, $11), summary = $12, location = $13, sequence = n.sequence,
       status = 'confirmed', override_reason = n.override_reason, updated_at = $14
  FROM ({BOOKING_ROWS}) n
 WHERE b.booking_id = n.booking_id AND b.case_id = $6 AND b.office = $7 AND {FREE}
RETURNING b.resource_id
"""


async def arrange(
    conn: Connection,
    case: CaseRef,
    window: Window,
    location: str | None,
    wants: Sequence[Want],
    *,
    keep: Callable[[asyncpg.Record], bool],
    buffer: timedelta,
    now: datetime,
    override_reason: str | None = None,
    release_reason: str = "no longer part of the case's team",
) -> Change:
    """Make the case's confirmed bookings: `wants` plus the existing ones `keep` accepts,
    all at `window`; release the others. Raise BookingClash on an overlap (unless
    overridden), UnknownResource/ResourceInRepair/InvalidCommand for a bad resource."""
    existing, resources = await _read(conn, case, wants)
    desired: dict[UUID, Want] = {
        rid: Want(rid, row["role"])
        for rid, row in existing.items()
        if row["status"] == "confirmed" and keep(row)
    }
    for want in wants:
        desired[want.resource_id] = want
    reserved = window.reserved(buffer)
    changed: list[tuple[Want, asyncpg.Record | None]] = []
    for rid, want in desired.items():
        old = existing.get(rid)
        unchanged = (
            old is not None
            and old["status"] == "confirmed"
            and (old["starts_at"], old["ends_at"]) == (window.starts_at, window.ends_at)
            and (old["during"].lower, old["during"].upper) == reserved
            and (old["role"], old["location"], old["summary"])
            == (want.role, location, case.summary)
        )
        if not unchanged:
            changed.append((want, old))
    # Without an override the exclusion constraint finds a clash as the rows are written
    # (`_write` then names it): looking first would cost a round trip on every booking.
    clashes: dict[UUID, asyncpg.Record] = {}
    if override_reason:
        clashes = await _clashes(conn, case.case_id, [w.resource_id for w, _ in changed], reserved)
    rows = [
        [
            booking_id(case.case_id, want.resource_id),
            want.resource_id,
            want.role,
            0 if old is None else old["sequence"] + 1,
            override_reason if want.resource_id in clashes else None,
        ]
        for want, old in changed
    ]
    details = (case.case_id, case.office, *window_args(window, reserved), case.summary, location)
    fresh = [old is None for _, old in changed]
    await _write(conn, [r for r, new in zip(rows, fresh, strict=True) if new], details, now, True)
    await _write(conn, [r for r, new in zip(rows, fresh, strict=True) if not new], details, now)
    labels = {rid: (row["type"], row["name"]) for rid, row in {**existing, **resources}.items()}
    booked = [
        Booking(
            booking_id=row[0],
            resource_id=want.resource_id,
            resource_type=labels[want.resource_id][0],
            label=labels[want.resource_id][1],
            role=want.role,
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            reserved_from=reserved[0],
            reserved_until=reserved[1],
            sequence=row[3],
            override_reason=row[4],
        )
        for row, (want, _) in zip(rows, changed, strict=True)
    ]
    dropped = [
        row["booking_id"]
        for rid, row in existing.items()
        if row["status"] == "confirmed" and rid not in desired
    ]
    await release(conn, dropped, now)
    return Change(booked, dropped)


async def release(conn: Connection, booking_ids: Sequence[UUID], now: datetime) -> None:
    """Cancel bookings (kept, with a raised sequence, so the feeds send STATUS:CANCELLED)."""
    if booking_ids:
        await conn.execute(
            "UPDATE scheduling_bookings SET status = 'cancelled', sequence = sequence + 1,"
            " updated_at = $2 WHERE booking_id = ANY($1)",
            list(booking_ids),
            now,
        )


async def confirmed_of(conn: Connection, case_id: UUID) -> list[UUID]:
    """Return the ids of a case's confirmed bookings."""
    rows = await conn.fetch(
        "SELECT booking_id FROM scheduling_bookings WHERE case_id = $1 AND status = 'confirmed'",
        case_id,
    )
    return [row["booking_id"] for row in rows]


def window_args(window: Window, reserved: tuple[datetime, datetime]) -> tuple[datetime, ...]:
    return (window.starts_at, window.ends_at, *reserved)


async def _clashes(
    conn: Connection, case_id: UUID, resource_ids: list[UUID], reserved: tuple[datetime, datetime]
) -> dict[UUID, asyncpg.Record]:
    """Return, per resource, the first other case's booking overlapping `reserved`."""
    if not resource_ids:
        return {}
    rows = await conn.fetch(CLASH_QUERY, resource_ids, case_id, *reserved)
    return {row["resource_id"]: row for row in rows}


async def _write(
    conn: Connection,
    rows: list[list[Any]],
    details: tuple[Any, ...],
    now: datetime,
    new: bool = False,
) -> None:
    """Insert new bookings or move existing ones, in one statement, the constraint guarding.

    A row that overlaps another case's booking is not written (`FREE`); new ones are
    inserted with ON CONFLICT DO NOTHING, which waits for a racing transaction and skips a
    row its commit made overlap. A row not written is a clash, named from the other case's
    row in this still-usable transaction. Moved ones are updated in a savepoint.
    """
    if not rows:
        return
    ids, resource_ids, roles, sequences, overrides = (
        list(column) for column in zip(*rows, strict=True)
    )
    args = (ids, resource_ids, roles, sequences, overrides, *details, now)
    case_id, reserved = details[0], (details[4], details[5])
    if new:
        written = await conn.fetch(INSERT, *args)
    else:
        try:
            async with conn.transaction():
                written = await conn.fetch(MOVE, *args)
        except ExclusionViolationError:
            written = []
    lost = set(resource_ids) - {row["resource_id"] for row in written}
    if lost:
        clashes = await _clashes(conn, case_id, sorted(lost), reserved)
        if not clashes:  # pragma: no cover - the other case's row is committed by now
            raise RuntimeError("a booking was not written but no clash is visible")
        raise BookingClash(next(iter(clashes.values())))


READ = """
SELECT r.resource_id, r.office, r.type, r.name, r.roles, r.kind, r.condition,
       b.booking_id, b.status, b.role, b.starts_at, b.ends_at, b.during, b.location, b.summary,
       b.sequence
  FROM scheduling_resources r
  LEFT JOIN scheduling_bookings b ON b.resource_id = r.resource_id AND b.case_id = $1
 WHERE r.resource_id = ANY($2)
    OR r.resource_id IN (SELECT resource_id FROM scheduling_bookings WHERE case_id = $1)
"""


async def _read(
    conn: Connection, case: CaseRef, wants: Sequence[Want]
) -> tuple[dict[UUID, asyncpg.Record], dict[UUID, asyncpg.Record]]:
    """Return, in one round trip, the case's bookings and the wanted resources, checked:
    in the case's office, roles that fit, not in repair (both keyed by resource)."""
    rows = await conn.fetch(READ, case.case_id, [want.resource_id for want in wants])
    existing = {row["resource_id"]: row for row in rows if row["booking_id"] is not None}
    wanted = {row["resource_id"]: row for row in rows if row["office"] == case.office}
    resources: dict[UUID, asyncpg.Record] = {}
    for want in wants:
        row = wanted.get(want.resource_id)
        if row is None:
            raise UnknownResource(want.resource_id, case.office)
        if row["type"] == "equipment" and row["condition"] != "available":
            raise ResourceInRepair(want.resource_id, row["name"])
        if row["type"] == "crew" and want.role is not None and want.role not in row["roles"]:
            raise InvalidCommand(
                f"{row['name']} cannot fill role {want.role!r}"
                f" (their roles: {', '.join(row['roles'])})",
                field="assignments",
            )
        if row["type"] == "equipment" and want.role is not None:
            raise InvalidCommand(f"{row['name']} is an equipment item, not crew", field="crew")
        resources[want.resource_id] = row
    return existing, resources
