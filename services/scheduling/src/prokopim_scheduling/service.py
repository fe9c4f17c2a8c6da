"""Scheduling's command side: load the case stream, decide, append at the loaded version."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from prokopim_events.contracts import Contract
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor, NewEvent, StoredEvent
from prokopim_events.store import EventStore
from prokopim_kit.commands import append, fold, to_new_events
from prokopim_kit.errors import CommandRejected, UnknownCase
from prokopim_sop import Sop, SopCatalog, UnknownSop

from .commands import AssignStaff, CoordinateSchedule, NotifyRequester
from .domain import (
    CaseState,
    awaiting_step,
    decide_assign,
    decide_coordinate,
    decide_notify,
    evolve,
)
from .views import NotificationResult, StepResult, notification_record

Decision = Callable[[CaseState, Sop], list[Contract]]


class SopNotInstalled(CommandRejected):
    """A case's SOP version is no longer in this installation's catalog."""

    status = 409
    code = "sop_not_installed"

    def __init__(self, sop_id: str, version: str) -> None:
        super().__init__(
            f"the case runs under SOP {sop_id!r} version {version!r}, which is not installed;"
            " restore that definition to continue the case",
            sop_id=sop_id,
            sop_version=version,
        )


@dataclass(frozen=True)
class LoadedCase:
    """A case's state, the events it was folded from, and the SOP it runs under."""

    state: CaseState
    events: list[StoredEvent]
    sop: Sop

    @property
    def version(self) -> int:
        return self.events[-1].stream_version if self.events else 0


@dataclass(frozen=True)
class Outcome:
    """What a command decided and appended, and the case it acted on."""

    loaded: LoadedCase
    decided: list[Contract]
    events: list[NewEvent]

    def state_after(self) -> CaseState:
        """Return the case's state with the decided events applied."""
        state = self.loaded.state
        for contract in self.decided:
            state = evolve(state, contract)
        return state

    def result(self) -> StepResult:
        """Return what the command did, for its HTTP answer."""
        after, sop = self.state_after(), self.loaded.sop
        return StepResult(
            case_id=after.case_id,
            sop_id=sop.id,
            sop_version=sop.version,
            event_id=self.events[-1].event_id,
            event_type=self.events[-1].type,
            step=after.steps_done[-1],
            next_step=after.next_step,
            awaiting_step=awaiting_step(after, sop),
        )


def stream_of(case_id: UUID) -> str:
    """Return the stream holding scheduling's events of a case."""
    return f"scheduling-{case_id}"


async def load_state(
    store: EventStore, case_id: UUID, conn: Connection | None = None
) -> tuple[CaseState, list[StoredEvent]]:
    """Return a case's state (possibly not opened) and its events."""
    events = await store.read_stream(stream_of(case_id), conn=conn)
    return fold(CaseState(case_id=case_id), evolve, events), events


async def load_case(store: EventStore, catalog: SopCatalog, case_id: UUID) -> LoadedCase:
    """Return a case scheduling has been handed; 404 (UnknownCase) otherwise."""
    state, events = await load_state(store, case_id)
    if not state.opened or state.sop_id is None or state.sop_version is None:
        raise UnknownCase(case_id)
    try:
        sop = catalog.get(state.sop_id, state.sop_version)
    except UnknownSop as error:
        raise SopNotInstalled(state.sop_id, state.sop_version) from error
    return LoadedCase(state, events, sop)


async def execute(
    store: EventStore,
    catalog: SopCatalog,
    actor: Actor,
    case_id: UUID,
    decide: Decision,
    *,
    now: datetime | None = None,
) -> Outcome:
    """Run one decision against a case and append its events at the loaded version."""
    loaded = await load_case(store, catalog, case_id)
    decided = decide(loaded.state, loaded.sop)
    # Commands keep the correlation of the hand-over that opened the case, so one case's
    # events across services can be followed as one chain.
    correlation = loaded.events[0].correlation_id
    events = [
        event.model_copy(update={"correlation_id": correlation})
        for event in to_new_events(decided, actor=actor, now=now or datetime.now(UTC))
    ]
    await append(store, stream_of(case_id), loaded.version, events, case_id=case_id)
    return Outcome(loaded, decided, events)


async def coordinate_schedule(
    store: EventStore, catalog: SopCatalog, actor: Actor, case_id: UUID, command: CoordinateSchedule
) -> StepResult:
    """Record the coordinated schedule (Bandung step 3)."""
    outcome = await execute(
        store,
        catalog,
        actor,
        case_id,
        lambda s, sop: decide_coordinate(s, sop, actor.role, command),
    )
    return outcome.result()


async def notify_requester(
    store: EventStore,
    catalog: SopCatalog,
    actor: Actor,
    case_id: UUID,
    command: NotifyRequester,
    *,
    notification_id: UUID | None = None,
) -> NotificationResult:
    """Tell the requester the schedule (Bandung step 4)."""
    nid = notification_id or uuid.uuid4()
    outcome = await execute(
        store,
        catalog,
        actor,
        case_id,
        lambda s, sop: decide_notify(s, sop, actor.role, command, nid),
    )
    sent = next(n for n in outcome.state_after().notifications if n.notification_id == nid)
    at = {nid: outcome.events[-1].occurred_at}
    return NotificationResult(
        **outcome.result().model_dump(), notification=notification_record(sent, at)
    )


async def assign_staff(
    store: EventStore, catalog: SopCatalog, actor: Actor, case_id: UUID, command: AssignStaff
) -> StepResult:
    """Assign the staff or coverage teams (Bandung step 5, Tangerang step 3)."""
    outcome = await execute(
        store, catalog, actor, case_id, lambda s, sop: decide_assign(s, sop, actor.role, command)
    )
    return outcome.result()
