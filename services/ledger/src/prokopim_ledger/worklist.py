"""Reads behind the read API: worklists, case search and timelines, from the projections.

Nothing here scans the event streams: the worklist is the running rows of
ledger_step_attempts (one per case waiting at a step), search is ledger_case_index
(sql/007), a timeline is the case's ledger_audit rows with each event's data.
Pages are keyset-paginated; a cursor is the sort key of the last row, base64url JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from prokopim_events.db import Connection
from prokopim_kit.errors import InvalidCommand
from prokopim_sop import SopCatalog
from prokopim_sop.calendar import WorkingCalendar
from prokopim_sop.errors import SopError

from .sla import Status, status_of

CASE_COLUMNS = (
    "c.letter_number, c.subject, c.requester_name, c.requester_agency,"
    " c.activity_name, c.activity_date, c.registered_at"
)


def encode_cursor(*key: Any) -> str:
    """Return an opaque cursor for a page that continues after `key`."""
    raw = json.dumps([k.isoformat() if isinstance(k, datetime | date) else str(k) for k in key])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[str]:
    """Return the sort key a cursor carries, or raise a 422 naming the cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise InvalidCommand("cursor is not one this API gave out", field="cursor") from error
    if not isinstance(key, list) or len(key) != size or not all(isinstance(k, str) for k in key):
        raise InvalidCommand("cursor is not one this API gave out", field="cursor")
    return key


@dataclass(frozen=True)
class Clock:
    """What one SLA reading needs: now, and the calendar that measures working time."""

    now: datetime
    calendar: WorkingCalendar


def sla_clock(row: Any, clock: Clock) -> dict[str, Any]:
    """Return the running attempt's SLA clock: working time used against the standard."""
    used = clock.calendar.working_seconds(row["entered_at"], clock.now)
    standard = row["standard_seconds"]
    status = status_of(used, standard)
    return {
        "working_seconds": used,
        "standard_seconds": standard,
        "used_share": used / standard if standard else None,
        "status": status.value,
        "at_risk": status is not Status.ON_TIME,
        "breached": status is Status.BREACHED,
        "at_risk_at": _iso(row["at_risk_at"]),
        "breach_at": _iso(row["breach_at"]),
    }


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def step_labels(catalog: SopCatalog, sop_id: str, version: str, step: int) -> dict[str, Any]:
    """Return the SOP's names for a step and its role (None when the SOP is not installed)."""
    try:
        sop = catalog.get(sop_id, version)
        found = sop.step(step)
    except SopError:
        return {"step_name": None, "role_name": None, "kind": None, "service": None}
    return {
        "step_name": {"id": found.name.id, "en": found.name.en},
        "role_name": sop.role(found.role).name,
        "kind": found.kind.value,
        "service": found.service.value,
    }


def case_fields(row: Any) -> dict[str, Any]:
    """Return what a person recognises a case by, from its ledger_case_index columns."""
    return {
        "letter_number": row["letter_number"],
        "subject": row["subject"],
        "requester": row["requester_name"],
        "agency": row["requester_agency"],
        "activity_name": row["activity_name"],
        "activity_date": _iso(row["activity_date"]),
        "registered_at": _iso(row["registered_at"]),
    }


def worklist_item(row: Any, catalog: SopCatalog, clock: Clock) -> dict[str, Any]:
    """Return one waiting case: its step, since when, and its SLA clock."""
    return {
        "case_id": str(row["case_id"]),
        "sop_id": row["sop_id"],
        "sop_version": row["sop_version"],
        "step": row["step"],
        "attempt": row["attempt"],
        "role": row["role"],
        "assignees": list(row["assignees"]),
        "since": row["entered_at"].isoformat(),
        **step_labels(catalog, row["sop_id"], row["sop_version"], row["step"]),
        **case_fields(row),
        "sla": sla_clock(row, clock),
    }


async def worklist_rows(
    conn: Connection,
    *,
    role: str | None,
    assignee: str | None,
    sla: str | None,
    now: datetime,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Any]:
    """Return running attempts (oldest first) for a role/assignee, optionally only late ones."""
    where = ["a.completed_at IS NULL"]
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if role is not None:
        where.append(f"a.role = {arg(role)}")
    if assignee is not None:
        where.append(f"{arg(assignee)} = ANY(a.assignees)")
    if sla == "late":  # at risk or breached now
        where.append(f"a.at_risk_at <= {arg(now)}")
    elif sla == "breached":
        where.append(f"a.breach_at <= {arg(now)}")
    elif sla == "at-risk":
        where.append(f"a.at_risk_at <= {arg(now)} AND a.breach_at > ${len(args)}")
    if after is not None:
        where.append(f"(a.entered_at, a.case_id) > ({arg(after[0])}, {arg(after[1])})")
    return await conn.fetch(
        f"SELECT a.*, {CASE_COLUMNS} FROM ledger_step_attempts a"
        " LEFT JOIN ledger_case_index c ON c.case_id = a.case_id"
        f" WHERE {' AND '.join(where)} ORDER BY a.entered_at, a.case_id LIMIT {arg(limit)}",
        *args,
    )


@dataclass(frozen=True)
class Search:
    """What a case search filters by; every field optional."""

    requester: str | None = None
    activity: str | None = None
    activity_date: date | None = None
    registered_from: datetime | None = None
    registered_to: datetime | None = None
    sop_id: str | None = None
    state: str | None = None  # open | closed


async def search_rows(
    conn: Connection, search: Search, after: tuple[datetime, UUID] | None, limit: int
) -> list[Any]:
    """Return cases matching `search`, newest registration first."""
    where = ["true"]
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if search.requester:
        like = arg(f"%{_escape_like(search.requester)}%")
        where.append(f"(c.requester_name ILIKE {like} OR c.requester_agency ILIKE {like})")
    if search.activity:
        where.append(f"c.activity_name ILIKE {arg(f'%{_escape_like(search.activity)}%')}")
    if search.activity_date is not None:
        where.append(f"c.activity_date = {arg(search.activity_date)}")
    if search.registered_from is not None:
        where.append(f"c.registered_at >= {arg(search.registered_from)}")
    if search.registered_to is not None:
        where.append(f"c.registered_at < {arg(search.registered_to)}")
    if search.sop_id:
        where.append(f"c.sop_id = {arg(search.sop_id)}")
    if search.state == "open":
        where.append("s.closed_at IS NULL")
    elif search.state == "closed":
        where.append("s.closed_at IS NOT NULL")
    if after is not None:
        where.append(f"(c.registered_at, c.case_id) < ({arg(after[0])}, {arg(after[1])})")
    return await conn.fetch(
        f"SELECT c.case_id, c.sop_id, c.sop_version, {CASE_COLUMNS}, s.closed_at, s.status,"
        " w.step AS awaiting_step, w.role AS awaiting_role,"
        " w.entered_at, w.standard_seconds, w.at_risk_at, w.breach_at"
        " FROM ledger_case_index c LEFT JOIN ledger_cases s ON s.case_id = c.case_id"
        " LEFT JOIN LATERAL (SELECT step, role, entered_at, standard_seconds, at_risk_at, breach_at"
        "   FROM ledger_step_attempts o"
        "   WHERE o.case_id = c.case_id AND o.completed_at IS NULL LIMIT 1) w ON true"
        f" WHERE {' AND '.join(where)} ORDER BY c.registered_at DESC, c.case_id DESC"
        f" LIMIT {arg(limit)}",
        *args,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def case_status(stored: str | None, running: dict[str, Any] | None) -> str | None:
    """A case's SLA status now: what its measured steps made it, or the running step's
    status when that is worse (a step overdue since the case's last event)."""
    if running is None or stored is None:
        return stored
    now: str = running["status"]
    return max(stored, now, key=lambda status: _SEVERITY.get(status, 0))


_SEVERITY = {Status.ON_TIME.value: 0, Status.AT_RISK.value: 1, Status.BREACHED.value: 2}


def search_item(row: Any, clock: Clock) -> dict[str, Any]:
    """Return one case found by a search (its SLA status as of `clock.now`)."""
    running = sla_clock(row, clock) if row["entered_at"] is not None else None
    return {
        "case_id": str(row["case_id"]),
        "sop_id": row["sop_id"],
        "sop_version": row["sop_version"],
        **case_fields(row),
        "closed_at": _iso(row["closed_at"]),
        "sla_status": case_status(row["status"], running),
        "awaiting_step": row["awaiting_step"],
        "awaiting_role": row["awaiting_role"],
    }


async def timeline_rows(conn: Connection, case_id: UUID) -> tuple[Any, list[Any]]:
    """Return a case's index row (None if unknown) and its audit rows with each event's data."""
    case = await conn.fetchrow(
        "SELECT c.*, s.closed_at, s.status, s.working_seconds, s.standard_seconds"
        " FROM ledger_case_index c LEFT JOIN ledger_cases s ON s.case_id = c.case_id"
        " WHERE c.case_id = $1",
        case_id,
    )
    rows = await conn.fetch(
        "SELECT a.*, e.data FROM ledger_audit a JOIN events e USING (global_position)"
        " WHERE a.case_id = $1 ORDER BY a.global_position",
        case_id,
    )
    return case, rows
