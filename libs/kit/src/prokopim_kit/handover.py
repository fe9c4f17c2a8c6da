"""Hand-overs: another service completed a step whose next step is one of ours.

Every service that takes a case up from another one recognises the hand-over (or the rework
a rejection sends back) here; `pipeline.Cases.react` then decides and appends it inside the
consumer's transaction, with an event id derived from the cause.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from prokopim_events.contracts import CONTRACTS, Contract, StepCompleted, parse, service_of
from prokopim_events.envelope import StoredEvent
from prokopim_sop import Service, Sop, SopCatalog

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

    Only a completed step is parsed, and one whose `next_service` names another service is
    no concern of this one, whether or not its SOP is installed here. An event of an
    unknown SOP that comes (or may come: stored without `next_service`) to `service`
    raises, so the consumer retries and then dead-letters it where an operator sees it,
    rather than the case silently never arriving.
    """
    kind = CONTRACTS.get(event.type)
    if kind is None:
        log.debug("%s %s: a type this build does not know", event.type, event.event_id)
        return None
    if not issubclass(kind, StepCompleted) or service_of(event.type) == service.value:
        return None
    contract = parse(event.type, event.data)
    assert isinstance(contract, StepCompleted)
    if contract.next_step is None:
        return None
    if contract.next_service is not None and contract.next_service != service.value:
        return None
    sop = catalog.get(contract.sop_id, contract.sop_version)
    if sop.step(contract.next_step).service is not service:
        return None
    return Handover(service, event, contract, sop)


def routed(decided: Sequence[Contract], sop: Sop) -> list[Contract]:
    """Name the service of each completed step's next step (`next_service`) in `decided`."""
    return [
        contract.model_copy(update={"next_service": sop.step(contract.next_step).service.value})
        if isinstance(contract, StepCompleted) and contract.next_step is not None
        else contract
        for contract in decided
    ]
