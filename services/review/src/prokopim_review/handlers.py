"""React to other services' events: a draft handed to a review step opens the review."""

from __future__ import annotations

import logging

from prokopim_events.contracts import CONTRACTS, StepCompleted, parse, service_of
from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit.runtime import Runtime

from .domain import SERVICE
from .service import open_review

log = logging.getLogger(__name__)


async def on_event(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
    """Open review when a completed step's next step is one of review's steps."""
    # Review's own decisions already moved its state; types this build does not know
    # cannot be meant for it.
    if event.type not in CONTRACTS or service_of(event.type) == SERVICE:
        return
    contract = parse(event.type, event.data)
    if not isinstance(contract, StepCompleted) or contract.next_step is None:
        return
    sop = runtime.catalog.get(contract.sop_id, contract.sop_version)
    if await open_review(runtime.store, sop, event, contract, conn):
        log.info("case %s opened for review at step %s", contract.case_id, contract.next_step)
