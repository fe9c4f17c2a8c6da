"""Materialise what the SQL fold needs of the Python configuration, as tables.

`ledger_sla_plan`: each SOP step's role and standard seconds (step 0: the SOP's total).
`ledger_working_days`: every local day of the covered years with its office opening
instant, its working seconds and the working seconds of the days before it, computed by
`WorkingCalendar` (hours, working days, Indonesian holidays, collective leave). The SQL
fold reads only these, so the live path and the rebuild measure with one definition.

Written at start-up and before a rebuild, and again whenever an event falls outside the
covered years or the settings or the fold's SQL (sla_sql.py, re-created then too) changed.
Rows already projected keep the calendar they were measured with: after changing calendar
settings, run `prokopim replay`.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta

import holidays
from prokopim_events.db import Connection
from prokopim_sop import SopCatalog
from prokopim_sop.calendar import WorkingCalendar

from . import sla_sql
from .sla import sop_standard_seconds, standard_seconds

# SQLSTATE of the fold's refusal to measure a fact on a day the calendar table lacks
CALENDAR_GAP = "LC001"
PlanRow = tuple[str, str, int, str, float]
DayRow = tuple[date, datetime, float, float, float]
# years after the last event covered too: running attempts' deadlines lie ahead of it
_AHEAD_YEARS = 1
_fingerprints: dict[tuple[int, int], tuple[SopCatalog, WorkingCalendar, str]] = {}


def plan_rows(catalog: SopCatalog, calendar: WorkingCalendar) -> list[PlanRow]:
    """Each step's (sop, version, step, role, standard seconds); step 0 is the SOP total."""
    rows: list[PlanRow] = []
    for sop in catalog:
        rows.append((sop.id, sop.version, 0, "", sop_standard_seconds(sop, calendar)))
        for step in sop.steps:
            seconds = standard_seconds(sop, step.number, calendar)
            rows.append((sop.id, sop.version, step.number, step.role, seconds))
    return rows


def day_rows(calendar: WorkingCalendar, first: date, last: date) -> list[DayRow]:
    """Every local day from `first` to `last`: opening instant, working seconds, and the
    working seconds of the days before it (from `first`) and through it."""
    rows: list[DayRow] = []
    before = 0.0
    day = first
    while day <= last:
        opens = datetime.combine(day, calendar.opens, calendar.zone)
        if calendar.is_working_day(day):
            closes = datetime.combine(day, calendar.closes, calendar.zone)
            length = calendar.working_seconds(opens, closes)
        else:
            opens, length = datetime.combine(day, time.min, calendar.zone), 0.0
        rows.append((day, opens, length, before, before + length))
        before += length
        day += timedelta(days=1)
    return rows


def fingerprint(catalog: SopCatalog, calendar: WorkingCalendar) -> str:
    """A digest of everything the SQL fold depends on (bar the covered years): the
    calendar, the plan, and the text of its functions and views."""
    text = repr(
        (
            calendar.timezone,
            calendar.opens,
            calendar.closes,
            sorted(calendar.working_days),
            sorted(calendar.collective_leave),
            calendar.package_collective_leave,
            calendar.public_holidays,
            getattr(holidays, "__version__", ""),
            plan_rows(catalog, calendar),
            sla_sql.DIGEST,
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _cached_fingerprint(catalog: SopCatalog, calendar: WorkingCalendar) -> str:
    """`fingerprint`, cached by identity (the live path asks for every step completion; the
    entry keeps both objects alive, so their ids cannot be reused meanwhile)."""
    cached = _fingerprints.get((id(catalog), id(calendar)))
    if cached is None:
        if len(_fingerprints) > 64:
            _fingerprints.clear()
        cached = (catalog, calendar, fingerprint(catalog, calendar))
        _fingerprints[(id(catalog), id(calendar))] = cached
    return cached[2]


def covered_span(first: datetime, last: datetime) -> tuple[date, date]:
    """Whole years around two instants (with the years ahead that deadlines may reach)."""
    return date(first.year - 1, 1, 1), date(last.year + _AHEAD_YEARS, 12, 31)


async def ensure_sla_config(
    conn: Connection,
    catalog: SopCatalog,
    calendar: WorkingCalendar,
    first: datetime,
    last: datetime | None = None,
) -> None:
    """Make the plan and calendar tables match these settings and cover `first`..`last`."""
    wanted = _cached_fingerprint(catalog, calendar)
    low, high = covered_span(first, last or first)
    row = await conn.fetchrow("SELECT fingerprint, first_day, last_day FROM ledger_sla_config")
    if row is not None and row[0] == wanted and row[1] <= low and row[2] >= high:
        return
    async with conn.transaction():
        # one writer at a time; re-read under the lock (another process may have done it)
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('ledger-sla', 0))")
        row = await conn.fetchrow("SELECT fingerprint, first_day, last_day FROM ledger_sla_config")
        if row is not None and row[0] == wanted:
            if row[1] <= low and row[2] >= high:
                return
            low, high = min(low, row[1]), max(high, row[2])
        await sla_sql.install(conn)  # the code's fold, whatever an older version left
        await conn.execute("DELETE FROM ledger_sla_plan")
        await conn.copy_records_to_table("ledger_sla_plan", records=plan_rows(catalog, calendar))
        await conn.execute("DELETE FROM ledger_working_days")
        await conn.copy_records_to_table(
            "ledger_working_days", records=day_rows(calendar, low, high)
        )
        await conn.execute(
            "INSERT INTO ledger_sla_config (timezone, fingerprint, first_day, last_day)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (one) DO UPDATE SET timezone ="
            " excluded.timezone, fingerprint = excluded.fingerprint,"
            " first_day = excluded.first_day, last_day = excluded.last_day",
            calendar.timezone,
            wanted,
            low,
            high,
        )


async def ensure_for_store(
    conn: Connection, catalog: SopCatalog, calendar: WorkingCalendar, *, every_event: bool = True
) -> None:
    """Cover the store's events (and today): every event's year, or, cheaper, the years of
    its first and last events by position (the fold refuses a fact on a day not covered,
    with CALENDAR_GAP, and the caller then covers every event)."""
    if every_event:
        query = "SELECT min(occurred_at), max(occurred_at) FROM events"
    else:
        query = (
            "SELECT (SELECT occurred_at FROM events ORDER BY global_position LIMIT 1),"
            " (SELECT occurred_at FROM events ORDER BY global_position DESC LIMIT 1)"
        )
    row = await conn.fetchrow(query)
    now = datetime.now(calendar.zone)
    instants = [now, *(row or ())]
    known = [moment for moment in instants if moment is not None]
    await sla_sql.install(conn)  # at start-up and before a rebuild, from the code running
    await ensure_sla_config(conn, catalog, calendar, min(known), max(known))
