"""The leader's agenda: where each case's activity sits, and warnings when two overlap.

A case enters the agenda at intake with only its activity date (tentative: the whole day)
and gets its window and venue when scheduled. Two active cases of one office overlapping
for the same leader, or at the same venue, raise `AgendaOverlapFlagged` (a warning that
blocks nothing) in the stream `scheduling-agenda-<case_id>` of the case that raised it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from uuid import UUID

import asyncpg
from prokopim_events.contracts import (
    AgendaEntry,
    AgendaOverlapFlagged,
    Contract,
    RequestReceived,
    parse,
)
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor, NewEvent, StoredEvent
from prokopim_kit.commands import append, to_new_events
from prokopim_kit.runtime import Runtime
from prokopim_sop import UnknownSop

from .booking_config import booking_settings
from .commands import WIB
from .resources import office_of

Detected = Literal["intake", "scheduling"]
SYSTEM = Actor(id="scheduling", role="system")


@dataclass(frozen=True)
class Placement:
    """Where a case's activity sits on its office's agenda."""

    case_id: UUID
    office: str
    sop_id: str
    sop_version: str
    leader: str
    venue: str | None
    activity_name: str
    starts_at: datetime
    ends_at: datetime
    tentative: bool


def day_of(activity_date: date) -> tuple[datetime, datetime]:
    """Return an activity date as the whole office day (Asia/Jakarta)."""
    start = datetime(activity_date.year, activity_date.month, activity_date.day, tzinfo=WIB)
    return start, start + timedelta(days=1)


async def lock(conn: Connection, case_id: UUID) -> asyncpg.Record | None:
    """Lock a case's agenda row for this transaction (commands on one case queue here)."""
    return await conn.fetchrow(
        "SELECT * FROM scheduling_agenda WHERE case_id = $1 FOR UPDATE", case_id
    )


_PLACE = (
    "INSERT INTO scheduling_agenda (case_id, office, sop_id, sop_version, leader, venue,"
    " activity_name, starts_at, ends_at, tentative, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    " ON CONFLICT (case_id) DO UPDATE SET leader = $5, venue = $6, activity_name = $7,"
    " starts_at = $8, ends_at = $9, tentative = $10, sequence = scheduling_agenda.sequence + 1,"
    " updated_at = $11"
)


def _place_args(placement: Placement, now: datetime) -> tuple[object, ...]:
    return (
        placement.case_id,
        placement.office,
        placement.sop_id,
        placement.sop_version,
        placement.leader,
        placement.venue,
        placement.activity_name,
        placement.starts_at,
        placement.ends_at,
        placement.tentative,
        now,
    )


async def place(
    conn: Connection, placement: Placement, now: datetime, *, keep_scheduled: bool = False
) -> None:
    """Write a case's agenda row; with `keep_scheduled`, a window already set stays."""
    keep = " WHERE scheduling_agenda.tentative" if keep_scheduled else ""
    await conn.execute(_PLACE + keep, *_place_args(placement, now))


async def cancel(conn: Connection, case_id: UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE scheduling_agenda SET status = 'cancelled', sequence = sequence + 1,"
        " updated_at = $2 WHERE case_id = $1",
        case_id,
        now,
    )


# The other active cases of the office overlapping a window, for the same leader or at the
# same venue (the gist index scheduling_agenda_during finds the window's neighbours). Run
# with the placement in one statement (`place_and_flag`), its parameters `_place_args`: the
# statement's snapshot, taken before the insert, leaves out only the case's own row anyway.
OVERLAPS = """
SELECT case_id, activity_name, starts_at, ends_at, venue, tentative, leader
  FROM scheduling_agenda
 WHERE office = $2 AND case_id <> $1 AND status = 'active'
   AND tstzrange(starts_at, ends_at) && tstzrange($8, $9)
   AND (leader = $5 OR (venue IS NOT NULL AND lower(venue) = lower($6)))
 ORDER BY starts_at, case_id
"""


async def place_and_flag(
    conn: Connection,
    placement: Placement,
    now: datetime,
    detected_at: Detected,
    *,
    keep_scheduled: bool = False,
) -> list[AgendaOverlapFlagged]:
    """Write a case's agenda row (see `place`) and return a warning for each other active
    case overlapping the placement, in one round trip."""
    keep = " WHERE scheduling_agenda.tentative" if keep_scheduled else ""
    query = f"WITH placed AS ({_PLACE}{keep}) {OVERLAPS}"
    rows = await conn.fetch(query, *_place_args(placement, now))
    return _flags(placement, rows, detected_at)


def _flags(
    placement: Placement, rows: Sequence[asyncpg.Record], detected_at: Detected
) -> list[AgendaOverlapFlagged]:
    mine = AgendaEntry(
        case_id=placement.case_id,
        activity_name=placement.activity_name,
        starts_at=placement.starts_at,
        ends_at=placement.ends_at,
        location=placement.venue,
        tentative=placement.tentative,
    )
    return [
        AgendaOverlapFlagged(
            office=placement.office,
            basis="leader" if row["leader"] == placement.leader else "venue",
            leader=placement.leader,
            venue=placement.venue if row["leader"] != placement.leader else row["venue"],
            detected_at=detected_at,
            cases=[
                mine,
                AgendaEntry(
                    case_id=row["case_id"],
                    activity_name=row["activity_name"],
                    starts_at=row["starts_at"],
                    ends_at=row["ends_at"],
                    location=row["venue"],
                    tentative=row["tentative"],
                ),
            ],
        )
        for row in rows
    ]


def stream_of_agenda(case_id: UUID) -> str:
    return f"scheduling-agenda-{case_id}"


async def append_flags(
    runtime: Runtime, conn: Connection, case_id: UUID, events: Sequence[NewEvent]
) -> None:
    """Append warnings to the case's agenda stream (its agenda row is locked by the caller)."""
    if not events:
        return
    stream = stream_of_agenda(case_id)
    version = await conn.fetchval(
        "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1", stream
    )
    await append(runtime.store, stream, version, events, case_id=case_id, conn=conn)


async def on_intake(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
    """Put a newly registered case on its office's agenda (its date) and flag overlaps."""
    if event.type != RequestReceived.TYPE:
        return
    received = parse(event.type, event.data)
    assert isinstance(received, RequestReceived)
    try:
        sop = runtime.catalog.get(received.sop_id, received.sop_version)
    except UnknownSop:
        return  # the hand-over path names the missing SOP where an operator sees it
    starts, ends = day_of(received.case.activity_date)
    placement = Placement(
        case_id=received.case_id,
        office=office_of(sop),
        sop_id=sop.id,
        sop_version=sop.version,
        leader=booking_settings(runtime).agenda_leader,
        venue=None,
        activity_name=received.case.activity_name,
        starts_at=starts,
        ends_at=ends,
        tentative=True,
    )
    await lock(conn, received.case_id)
    now = datetime.now(UTC)
    flags: list[Contract] = list(
        await place_and_flag(conn, placement, now, "intake", keep_scheduled=True)
    )
    ids = [uuid.uuid5(event.event_id, f"agenda/{f.cases[1].case_id}") for f in flags]  # type: ignore[attr-defined]
    events = to_new_events(flags, actor=SYSTEM, cause=event, event_ids=ids)
    await append_flags(runtime, conn, received.case_id, events)
