"""Hand-overs: another service completed a step whose next step is one of ours.

Every service that takes a case up from another one does the same: recognise the hand-over
(or the rework a rejection sends back), load its own case stream inside the consumer's
transaction, decide, and append with an event id derived from the cause, so that a repeated
delivery can never store twice. Only the decision differs; it stays in the service's domain.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from prokopim_events.contracts import CONTRACTS, Contract, StepCompleted, parse, service_of
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor, StoredEvent
from prokopim_sop import Service, Sop, SopCatalog

from .commands import Evolve, S, append, load, to_new_events
from .runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Handover:
    """A completed step, published by another service, whose next step is `service`'s."""

    service: Service
    event: StoredEvent
    contract: StepCompleted
    sop: Sop

    @property
    def case_id(self) -> UUID:
        return self.contract.case_id

    @property
    def step(self) -> int:
        """The step the case enters here."""
        assert self.contract.next_step is not None  # handover_to only returns such events
        return self.contract.next_step

    @property
    def event_id(self) -> UUID:
        """The id of the event that opens the step: the same for every delivery of the cause."""
        return uuid.uuid5(self.event.event_id, self.service.value)


def handover_to(service: Service, catalog: SopCatalog, event: StoredEvent) -> Handover | None:
    """Return the hand-over `event` makes to `service`, or None when it makes none.

    An event of an unknown SOP raises, so the consumer retries and then dead-letters it where
    an operator sees it, rather than the case silently never arriving.
    """
    if event.type not in CONTRACTS:
        log.debug("%s %s: a type this build does not know", event.type, event.event_id)
        return None
    if service_of(event.type) == service.value:
        return None
    contract = parse(event.type, event.data)
    if not isinstance(contract, StepCompleted) or contract.next_step is None:
        return None
    sop = catalog.get(contract.sop_id, contract.sop_version)
    if sop.step(contract.next_step).service is not service:
        return None
    return Handover(service, event, contract, sop)


async def open_step(
    runtime: Runtime,
    handover: Handover,
    conn: Connection,
    *,
    stream: str,
    initial: S,
    evolve: Evolve[S],
    decide: Callable[[S], Sequence[Contract]],
) -> bool:
    """Append what `decide` makes of the hand-over to `stream`, inside `conn`.

    Returns False when the decision was to do nothing (the step is already open here).
    """
    state, version = await load(runtime.store, stream, initial, evolve, conn=conn)
    contracts = decide(state)
    if not contracts:
        log.info("case %s: %s needs no step here", handover.case_id, handover.event.type)
        return False
    events = to_new_events(
        contracts,
        actor=Actor(id=handover.service.value, role="system"),
        cause=handover.event,
        event_ids=[handover.event_id],
    )
    await append(runtime.store, stream, version, events, case_id=handover.case_id, conn=conn)
    log.info("case %s opened at step %s", handover.case_id, handover.step)
    return True
