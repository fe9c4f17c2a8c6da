"""iCalendar (RFC 5545) feeds of bookings: per crew member, per equipment item, per office.

A feed is read by calendar programs that cannot send a bearer token, so each feed has its
own secret in its URL. Only the secret's SHA-256 is kept; revoking a feed makes its URL
answer 404 like any unknown one. UIDs are the booking ids (per resource) or case ids (per
office), stable across changes; SEQUENCE is raised on every change and a released booking
or a cancelled case stays in the feed with STATUS:CANCELLED, so subscribed calendars drop it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor
from prokopim_kit.errors import CommandRejected, InvalidCommand
from prokopim_kit.runtime import Runtime
from pydantic import BaseModel, ConfigDict

from .booking_config import booking_settings
from .resources import get, offices

JAKARTA = ZoneInfo("Asia/Jakarta")
PRODID = "-//prokopim//scheduling//ID"
Scope = Literal["crew", "equipment", "office"]


class UnknownFeed(CommandRejected):
    """404 for an unknown feed, a wrong secret or a revoked feed alike (nothing to probe)."""

    status = 404
    code = "unknown_feed"

    def __init__(self) -> None:
        super().__init__("no such calendar feed (it may have been revoked)")


class NewFeed(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    scope: Scope
    office: str
    resource_id: UUID | None = None


class FeedView(BaseModel):
    feed_id: UUID
    scope: Scope
    office: str
    resource_id: UUID | None
    path: str
    token: str | None = None  # only in the answer that created it


@dataclass(frozen=True)
class Entry:
    """One VEVENT: a booking of a resource, or a case on the office's agenda."""

    uid: UUID
    summary: str
    starts_at: datetime
    ends_at: datetime
    location: str | None
    sequence: int
    cancelled: bool
    updated_at: datetime
    description: str


class EventCache:
    """The rendered VEVENTs of recent entries: icalendar takes about a millisecond per
    event, and a calendar program polls the same feed again and again. An entry is its own
    key (a change gives a new sequence and time), so nothing stale is ever served."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._rendered: OrderedDict[Entry, bytes] = OrderedDict()

    def get(self, entry: Entry) -> bytes:
        rendered = self._rendered.get(entry)
        if rendered is None:
            rendered = self._rendered[entry] = vevent(entry)
            if len(self._rendered) > self._size:
                self._rendered.popitem(last=False)
        else:
            self._rendered.move_to_end(entry)
        return rendered


def event_cache(runtime: Runtime) -> EventCache:
    cached = runtime.extras.get("feed_events")
    if not isinstance(cached, EventCache):
        size = booking_settings(runtime).feed_cache_events
        cached = runtime.extras["feed_events"] = EventCache(size)
    return cached


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def feed_path(feed_id: UUID, token: str) -> str:
    return f"/calendars/{feed_id}.ics?token={token}"


async def create_feed(runtime: Runtime, actor: Actor, body: NewFeed) -> FeedView:
    """Issue a feed and its secret (shown once)."""
    offices(runtime).require_scheduler(body.office, actor.role)
    if body.scope == "office":
        if body.resource_id is not None:
            raise InvalidCommand("an office feed names no resource", field="resource_id")
    else:
        if body.resource_id is None:
            raise InvalidCommand(f"a {body.scope} feed names its resource", field="resource_id")
        resource = await get(runtime, body.office, body.resource_id)
        if resource.type != body.scope:
            raise InvalidCommand(f"{resource.name} is not {body.scope}", field="resource_id")
    feed_id, token = uuid.uuid4(), secrets.token_urlsafe(32)
    await runtime.pool.execute(
        "INSERT INTO scheduling_feeds (feed_id, office, scope, resource_id, token_hash,"
        " created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        feed_id,
        body.office,
        body.scope,
        body.resource_id,
        _hash(token),
        actor.id,
        datetime.now(UTC),
    )
    return FeedView(
        feed_id=feed_id,
        scope=body.scope,
        office=body.office,
        resource_id=body.resource_id,
        path=feed_path(feed_id, token),
        token=token,
    )


async def revoke_feed(runtime: Runtime, actor: Actor, feed_id: UUID) -> None:
    """Revoke a feed: its URL stops answering."""
    row = await runtime.pool.fetchrow(
        "SELECT office FROM scheduling_feeds WHERE feed_id = $1 AND revoked_at IS NULL", feed_id
    )
    if row is None:
        raise UnknownFeed()
    offices(runtime).require_scheduler(row["office"], actor.role)
    await runtime.pool.execute(
        "UPDATE scheduling_feeds SET revoked_at = $2 WHERE feed_id = $1", feed_id, datetime.now(UTC)
    )


async def render_feed(runtime: Runtime, feed_id: UUID, token: str) -> bytes:
    """Return a feed's calendar if `token` is its live secret; UnknownFeed otherwise."""
    row = await runtime.pool.fetchrow(
        "SELECT * FROM scheduling_feeds WHERE feed_id = $1 AND revoked_at IS NULL", feed_id
    )
    if row is None or not hmac.compare_digest(bytes(row["token_hash"]), _hash(token)):
        raise UnknownFeed()
    limit = booking_settings(runtime).feed_max_events
    async with runtime.pool.acquire() as conn:
        if row["scope"] == "office":
            name = f"prokopim {row['office']}: agenda"
            entries = await office_entries(conn, row["office"], limit)
        else:
            label = await conn.fetchval(
                "SELECT name FROM scheduling_resources WHERE resource_id = $1", row["resource_id"]
            )
            name = f"prokopim {row['office']}: {label}"
            entries = await resource_entries(conn, row["resource_id"], limit)
    return calendar(name, entries, event_cache(runtime))


async def resource_entries(conn: Connection, resource_id: UUID, limit: int) -> list[Entry]:
    """Return a resource's bookings, latest first (at most `limit`)."""
    rows = await conn.fetch(
        "SELECT booking_id, summary, starts_at, ends_at, location, sequence, status,"
        " updated_at, role, override_reason, case_id FROM scheduling_bookings"
        " WHERE resource_id = $1 ORDER BY starts_at DESC LIMIT $2",
        resource_id,
        limit,
    )
    return [
        Entry(
            uid=row["booking_id"],
            summary=row["summary"],
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            location=row["location"],
            sequence=row["sequence"],
            cancelled=row["status"] == "cancelled",
            updated_at=row["updated_at"],
            description="\n".join(
                filter(
                    None,
                    [
                        f"Kasus {row['case_id']}",
                        f"Peran: {row['role']}" if row["role"] else None,
                        f"Override: {row['override_reason']}" if row["override_reason"] else None,
                    ],
                )
            ),
        )
        for row in rows
    ]


async def office_entries(conn: Connection, office: str, limit: int) -> list[Entry]:
    """Return the office's scheduled activities (one per case) with who and what is booked."""
    rows = await conn.fetch(
        "SELECT a.case_id, a.activity_name, a.starts_at, a.ends_at, a.venue, a.sequence,"
        " a.status, a.updated_at, a.leader,"
        " (SELECT string_agg(r.name, ', ' ORDER BY r.type, r.name)"
        "    FROM scheduling_bookings b JOIN scheduling_resources r USING (resource_id)"
        "   WHERE b.case_id = a.case_id AND b.status = 'confirmed') AS booked"
        " FROM scheduling_agenda a WHERE a.office = $1 AND NOT a.tentative"
        " ORDER BY a.starts_at DESC LIMIT $2",
        office,
        limit,
    )
    return [
        Entry(
            uid=row["case_id"],
            summary=row["activity_name"],
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            location=row["venue"],
            sequence=row["sequence"],
            cancelled=row["status"] == "cancelled",
            updated_at=row["updated_at"],
            description=f"Pimpinan: {row['leader']}\nTim: {row['booked'] or '-'}",
        )
        for row in rows
    ]


def vevent(entry: Entry) -> bytes:
    """Return one entry as a VEVENT, its times in Asia/Jakarta."""
    event = Event()
    event.add("uid", f"{entry.uid}@prokopim")
    event.add("dtstamp", entry.updated_at.astimezone(UTC))
    event.add("last-modified", entry.updated_at.astimezone(UTC))
    event.add("dtstart", entry.starts_at.astimezone(JAKARTA))
    event.add("dtend", entry.ends_at.astimezone(JAKARTA))
    event.add("summary", entry.summary)
    if entry.location:
        event.add("location", entry.location)
    event.add("description", entry.description)
    event.add("sequence", entry.sequence)
    event.add("status", "CANCELLED" if entry.cancelled else "CONFIRMED")
    rendered: bytes = event.to_ical()
    return rendered


def calendar(name: str, entries: Iterable[Entry], cache: EventCache | None = None) -> bytes:
    """Return an RFC 5545 calendar of `entries` (the VTIMEZONE of Asia/Jakarta included)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Asia/Jakarta")
    cal.add_component(Timezone.from_tzinfo(JAKARTA))
    end = b"END:VCALENDAR\r\n"
    head: bytes = cal.to_ical()
    assert head.endswith(end)
    render = cache.get if cache is not None else vevent
    return b"".join([head.removesuffix(end), *(render(entry) for entry in entries), end])
