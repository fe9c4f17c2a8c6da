"""The live path: every domain event in, projections updated in the consumer's transaction."""

from __future__ import annotations

from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit.runtime import Runtime

from .alerts import alert_completed
from .context import LedgerContext
from .projection import project_event


async def on_event(
    ledger: LedgerContext, runtime: Runtime, event: StoredEvent, conn: Connection
) -> None:
    """Project the event; measure and, if late, announce the step attempt it completed."""
    sla = await project_event(conn, event.global_position, runtime.catalog, ledger.calendar)
    if sla is None:
        return
    for attempt in sla.attempts:
        if attempt.completed_position != event.global_position:
            continue
        if attempt.working_seconds is not None:
            ledger.metrics.step_duration.labels(attempt.sop_id, str(attempt.step)).observe(
                attempt.working_seconds
            )
        await alert_completed(runtime.store, conn, attempt, ledger.calendar, ledger.metrics)
