"""Reservations of people and equipment for a case's activity window, refused on a clash.

PostgreSQL holds the rule: `scheduling_bookings` has an exclusion constraint over
(resource, reserved window) for confirmed bookings made without an override, so two
transactions can never both reserve one resource for overlapping windows. Python looks for
the clash first only to name it (who or what, which case, when); under a race, the loser's
insert fails on the constraint and the clash is named from the winner's committed row.
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
SELECT b.case_id, b.summary, lower(b.during) AS reserved_from, upper(b.during) AS reserved_until,
       r.resource_id, r.name, r.type, r.kind
  FROM scheduling_bookings b JOIN scheduling_resources r USING (resource_id)
 WHERE b.resource_id = $1 AND b.status = 'confirmed' AND b.case_id <> $2
   AND b.during && tstzrange($3, $4)
 ORDER BY lower(b.during)
 LIMIT 1
"""
UPSERT = """
INSERT INTO scheduling_bookings (booking_id, case_id, resource_id, office, role, starts_at,
    ends_at, during, summary, location, sequence, status, override_reason, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, tstzrange($8, $9), $10, $11, $12, 'confirmed', $13, $14)
ON CONFLICT (booking_id) DO UPDATE SET role = $5, starts_at = $6, ends_at = $7,
    during = tstzrange($8, $9), summary = $10, location = $11, sequence = $12,
    status = 'confirmed', override_reason = $13, updated_at = $14
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
    existing = {
        row["resource_id"]: row
        for row in await conn.fetch(
            "SELECT b.*, r.type, r.name FROM scheduling_bookings b"
            " JOIN scheduling_resources r USING (resource_id) WHERE b.case_id = $1",
            case.case_id,
        )
    }
    desired: dict[UUID, Want] = {
        rid: Want(rid, row["role"])
        for rid, row in existing.items()
        if row["status"] == "confirmed" and keep(row)
    }
    for want in wants:
        desired[want.resource_id] = want
    resources = await _resources(conn, case.office, [w for w in wants])
    reserved_from, reserved_until = window.reserved(buffer)
    booked: list[Booking] = []
    for rid, want in desired.items():
        old = existing.get(rid)
        resource = resources.get(rid) or old
        assert resource is not None
        unchanged = (
            old is not None
            and old["status"] == "confirmed"
            and old["starts_at"] == window.starts_at
            and old["ends_at"] == window.ends_at
            and old["during"].lower == reserved_from
            and old["during"].upper == reserved_until
            and old["role"] == want.role
            and old["location"] == location
            and old["summary"] == case.summary
        )
        if unchanged:
            continue
        sequence = 0 if old is None else old["sequence"] + 1
        overridden = await _reserve(
            conn,
            case,
            rid,
            want.role,
            window,
            (reserved_from, reserved_until),
            location,
            sequence,
            override_reason,
            now,
        )
        booked.append(
            Booking(
                booking_id=booking_id(case.case_id, rid),
                resource_id=rid,
                resource_type=resource["type"],
                label=resource["name"],
                role=want.role,
                starts_at=window.starts_at,
                ends_at=window.ends_at,
                reserved_from=reserved_from,
                reserved_until=reserved_until,
                sequence=sequence,
                override_reason=override_reason if overridden else None,
            )
        )
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


async def _reserve(
    conn: Connection,
    case: CaseRef,
    resource_id: UUID,
    role: str | None,
    window: Window,
    reserved: tuple[datetime, datetime],
    location: str | None,
    sequence: int,
    override_reason: str | None,
    now: datetime,
) -> bool:
    """Write one booking; return True when it was booked over a clash by override."""
    clash = await conn.fetchrow(CLASH_QUERY, resource_id, case.case_id, *reserved)
    if clash is not None and not override_reason:
        raise BookingClash(clash)
    overridden = clash is not None
    args: list[Any] = [
        booking_id(case.case_id, resource_id),
        case.case_id,
        resource_id,
        case.office,
        role,
        window.starts_at,
        window.ends_at,
        *reserved,
        case.summary,
        location,
        sequence,
        override_reason if overridden else None,
        now,
    ]
    try:
        async with conn.transaction():  # a savepoint: the clash can still be read after it
            await conn.execute(UPSERT, *args)
    except ExclusionViolationError:
        # A racing transaction committed an overlapping booking after our look: name it.
        clash = await conn.fetchrow(CLASH_QUERY, resource_id, case.case_id, *reserved)
        if clash is None:  # pragma: no cover - the winner's row is committed by now
            raise
        raise BookingClash(clash) from None
    return overridden


async def _resources(
    conn: Connection, office: str, wants: Sequence[Want]
) -> dict[UUID, asyncpg.Record]:
    """Return the wanted resources, checked: in the office, roles fit, not in repair."""
    ids = [want.resource_id for want in wants]
    rows = {
        row["resource_id"]: row
        for row in await conn.fetch(
            "SELECT resource_id, type, name, roles, kind, condition FROM scheduling_resources"
            " WHERE resource_id = ANY($1) AND office = $2",
            ids,
            office,
        )
    }
    for want in wants:
        row = rows.get(want.resource_id)
        if row is None:
            raise UnknownResource(want.resource_id, office)
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
    return rows
