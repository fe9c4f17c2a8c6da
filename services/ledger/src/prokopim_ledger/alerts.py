"""Live SLA events: a running step that reaches 75 % or 100 % of its standard is announced.

The deadlines (`at_risk_at`, `breach_at`) are part of each open attempt's projection row, so
a restarted ledger finds them all again with one query and misses none. Each alert is
appended to the store (the relay publishes it) in one transaction with a row of
`ledger_sla_alerts` keyed by case, step, attempt and threshold, under an event id derived
from the same four: it can be appended once only, whoever gets there first, the periodic
check or the consumer seeing the step complete late.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from prokopim_events.contracts import Assignment, SlaAtRisk, SlaBreached, SlaThresholdCrossed
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor, NewEvent
from prokopim_events.store import EventStore
from prokopim_sop.calendar import WorkingCalendar

from .metrics import LedgerMetrics
from .sla import AT_RISK_SHARE, BREACH_SHARE, Attempt, Status

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
AT_RISK, BREACHED = "at-risk", "breached"
LEDGER = Actor(id="ledger", role="system")
_IDS = uuid.UUID("6f1d3c55-2b8e-4c4e-9a57-5d1a0e7c9b21")  # namespace of alert event ids


def system_clock() -> datetime:
    return datetime.now(UTC)


def alert_id(case_id: uuid.UUID, step: int, attempt: int, threshold: str) -> uuid.UUID:
    """Return the one event id an alert can ever have."""
    return uuid.uuid5(_IDS, f"{case_id}/{step}/{attempt}/{threshold}")


def sla_stream(case_id: uuid.UUID) -> str:
    return f"ledger-{case_id}"


async def raise_alert(
    store: EventStore,
    conn: Connection,
    attempt: Attempt,
    threshold: str,
    crossed_at: datetime,
    metrics: LedgerMetrics,
) -> bool:
    """Append the alert unless it already was; return whether it was appended now."""
    event_id = alert_id(attempt.case_id, attempt.step, attempt.attempt, threshold)
    async with conn.transaction():
        fresh = await conn.fetchval(
            "INSERT INTO ledger_sla_alerts (case_id, step, attempt, threshold, event_id)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true",
            attempt.case_id,
            attempt.step,
            attempt.attempt,
            threshold,
            event_id,
        )
        if not fresh:
            return False
        stream = sla_stream(attempt.case_id)
        # alerts of one case may race (check loop and consumer): one appender at a time
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", stream)
        version = await conn.fetchval(
            "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1", stream
        )
        # the alert belongs to the case's flow: the entering event is its cause and lends
        # it the case's correlation id
        cause = await conn.fetchrow(
            "SELECT event_id, (metadata->>'correlation_id')::uuid AS correlation_id"
            " FROM events WHERE global_position = $1",
            attempt.entered_position,
        )
        contract = _contract(attempt, threshold, crossed_at)
        event = NewEvent(
            event_id=event_id,
            type=contract.TYPE,
            data=contract.model_dump(mode="json"),
            occurred_at=contract.crossed_at,
            actor=LEDGER,
            causation_id=cause["event_id"] if cause else None,
            correlation_id=cause["correlation_id"] if cause else None,
        )
        await store.append(stream, version, [event], conn=conn)
    counter = metrics.at_risk if threshold == AT_RISK else metrics.breaches
    counter.labels(attempt.sop_id, str(attempt.step), attempt.role).inc()
    return True


def _contract(attempt: Attempt, threshold: str, crossed_at: datetime) -> SlaThresholdCrossed:
    kind = SlaAtRisk if threshold == AT_RISK else SlaBreached
    return kind(
        case_id=attempt.case_id,
        sop_id=attempt.sop_id,
        sop_version=attempt.sop_version,
        step=attempt.step,
        attempt=attempt.attempt,
        role=attempt.role,
        assignees=[Assignment(name=name, role=attempt.role) for name in attempt.assignees],
        threshold=AT_RISK_SHARE if threshold == AT_RISK else BREACH_SHARE,
        standard_seconds=round(attempt.standard_seconds),
        entered_at=attempt.entered_at,
        crossed_at=crossed_at,
    )


async def alert_completed(
    store: EventStore,
    conn: Connection,
    attempt: Attempt,
    calendar: WorkingCalendar,
    metrics: LedgerMetrics,
) -> None:
    """Announce what a step that just completed crossed while nobody was checking."""
    if attempt.status in (Status.AT_RISK, Status.BREACHED):
        at = calendar.after_working(attempt.entered_at, AT_RISK_SHARE * attempt.standard_seconds)
        await raise_alert(store, conn, attempt, AT_RISK, at, metrics)
    if attempt.status is Status.BREACHED:
        at = calendar.after_working(attempt.entered_at, BREACH_SHARE * attempt.standard_seconds)
        await raise_alert(store, conn, attempt, BREACHED, at, metrics)


_DUE = """
SELECT a.*, ar.event_id IS NOT NULL AS risk_sent, br.event_id IS NOT NULL AS breach_sent
  FROM ledger_step_attempts a
  LEFT JOIN ledger_sla_alerts ar ON (ar.case_id, ar.step, ar.attempt, ar.threshold)
                                  = (a.case_id, a.step, a.attempt, 'at-risk')
  LEFT JOIN ledger_sla_alerts br ON (br.case_id, br.step, br.attempt, br.threshold)
                                  = (a.case_id, a.step, a.attempt, 'breached')
 WHERE a.completed_at IS NULL AND a.at_risk_at <= $1
   AND (ar.event_id IS NULL OR (a.breach_at < $1 AND br.event_id IS NULL))
 ORDER BY a.at_risk_at
"""


async def check_deadlines(
    pool: asyncpg.Pool, store: EventStore, now: datetime, metrics: LedgerMetrics
) -> int:
    """Append the alerts of every running attempt past a threshold at `now`; return how many."""
    appended = 0
    for row in await pool.fetch(_DUE, now):
        attempt = attempt_from_row(row)
        at_risk_at, breach_at = row["at_risk_at"], row["breach_at"]
        async with pool.acquire() as conn:
            if not row["risk_sent"]:
                appended += await raise_alert(store, conn, attempt, AT_RISK, at_risk_at, metrics)
            if breach_at < now and not row["breach_sent"]:
                appended += await raise_alert(store, conn, attempt, BREACHED, breach_at, metrics)
    if appended:
        store.wake_relay()
    return appended


def attempt_from_row(row: asyncpg.Record | dict[str, Any]) -> Attempt:
    """Read a ledger_step_attempts row back into an Attempt."""
    status = row["status"]
    return Attempt(
        case_id=row["case_id"],
        sop_id=row["sop_id"],
        sop_version=row["sop_version"],
        step=row["step"],
        attempt=row["attempt"],
        role=row["role"],
        assignees=tuple(row["assignees"]),
        entered_at=row["entered_at"],
        entered_position=row["entered_position"],
        standard_seconds=row["standard_seconds"],
        at_risk_at=row["at_risk_at"],
        breach_at=row["breach_at"],
        completed_at=row["completed_at"],
        completed_position=row["completed_position"],
        completed_by=row["completed_by"],
        outcome=row["outcome"],
        reason=row["reason"],
        working_seconds=row["working_seconds"],
        status=Status(status) if status is not None else None,
    )


async def watch(
    pool: asyncpg.Pool,
    store: EventStore,
    clock: Clock,
    metrics: LedgerMetrics,
    interval: float,
    on_tick: Callable[[], Any] | None = None,
) -> None:
    """Check deadlines every `interval` seconds until cancelled."""
    while True:
        try:
            await check_deadlines(pool, store, clock(), metrics)
            if on_tick is not None:
                await on_tick()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("SLA deadline check failed; retrying")
        await asyncio.sleep(interval)
