"""React to other services' events: open a production step on a hand-over or a rework."""

from __future__ import annotations

from prokopim_events.contracts import CaseFile, Draft, DraftRejected
from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit.handover import handover_to, open_step
from prokopim_kit.runtime import Runtime
from prokopim_sop import Service

from .domain import CaseState, decide_open, evolve
from .service import stream_of


class MissingCaseFile(Exception):
    """A hand-over to production came without the case file production needs."""

    def __init__(self, event: StoredEvent) -> None:
        super().__init__(f"{event.type} {event.event_id} hands a case over without its case file")


async def on_event(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
    """Open the step a hand-over or a rejection sends to production, inside `conn`."""
    handover = handover_to(Service.PRODUCTION, runtime.catalog, event)
    if handover is None:
        return
    contract = handover.contract
    case = getattr(contract, "case", None)
    if not isinstance(case, CaseFile):
        raise MissingCaseFile(event)  # retried, then dead-lettered where operators see it
    draft = getattr(contract, "draft", None)
    rejection = (
        (contract.reason, contract.reviewer) if isinstance(contract, DraftRejected) else None
    )
    await open_step(
        runtime,
        handover,
        conn,
        stream=stream_of(contract.case_id),
        initial=CaseState(),
        evolve=evolve,
        decide=lambda state: decide_open(
            state,
            case_id=contract.case_id,
            sop=handover.sop,
            step=handover.step,
            cause_event_id=event.event_id,
            case=case,
            draft=draft if isinstance(draft, Draft) else None,
            rejection=rejection,
        ),
    )
