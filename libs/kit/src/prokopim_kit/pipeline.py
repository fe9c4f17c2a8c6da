"""The one decider pipeline every service runs its case commands and reactions through.

A service declares one `Cases`: its case-state type, its `evolve`, and a table of its
commands and reactions (command or contract type -> pure decider). The pipeline does the
rest, the same way everywhere: load the case's stream (`<service>-<case_id>`), fold it, find
the SOP it runs under (409 `sop_not_installed` when that version is gone), run the decider,
wrap the events in envelopes that keep the case's correlation id (its first event's) and the
causation, and append at the loaded version. When another writer won, the command is
decided again on the case as it now is (`apply`), a few times, then 409 `concurrent_change`.

A case scheduling cancelled (`case-cancelled`, in its stream `scheduling-<case_id>`) takes
no more commands in any service (409 `case_cancelled`) and opens no more steps: its SLA
clocks, stopped by the ledger at the cancellation, stay stopped. The pipeline reads that
event from the store at each command, so no service waits for a consumer to learn it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar
from uuid import UUID

from prokopim_events.contracts import CaseCancelled, Contract, StepCompleted
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor, NewEvent, StoredEvent
from prokopim_events.store import EventStore
from prokopim_sop import Service, Sop, SopCatalog, UnknownSop

from .commands import Evolve, append, fold, to_new_events
from .errors import CaseWasCancelled, ConcurrentChange, SopNotInstalled, UnknownCase
from .handover import handover_to, routed

log = logging.getLogger(__name__)

# How many times `Cases.apply` decides a command that keeps losing the append to other
# writers of the case's stream before it answers 409 `concurrent_change`: a service's
# COMMAND_ATTEMPTS setting (`Runtime.command_attempts`), this by default.
COMMAND_ATTEMPTS = 5


class Runtime(Protocol):
    """What the pipeline needs of a service process (`prokopim_kit.runtime.Runtime` has it)."""

    @property
    def store(self) -> EventStore: ...

    @property
    def catalog(self) -> SopCatalog: ...

    @property
    def command_attempts(self) -> int: ...


@dataclass(frozen=True)
class CaseState:
    """Base of every service's case state: the case, its SOP, and the step it waits for.

    `awaiting_step` is the step the case waits for, whichever service owns it (None before
    the case reached this service, or once the SOP ended); `awaiting_here` keeps it only
    when it is this service's step.
    """

    service: ClassVar[Service]
    case_id: UUID | None = None
    sop_id: str | None = None
    sop_version: str | None = None
    awaiting_step: int | None = None

    @property
    def known(self) -> bool:
        """Tell whether the case was opened in this service's stream."""
        return self.sop_id is not None and self.sop_version is not None

    def awaiting_here(self, sop: Sop) -> int | None:
        """Return the step the case waits for if it is one of this service's, else None."""
        mine = {step.number for step in sop.steps if step.service is self.service}
        return self.awaiting_step if self.awaiting_step in mine else None


S = TypeVar("S", bound=CaseState)
# A command's decider: the case, its SOP, who acts, what they order -> the events to append.
Decider = Callable[[S, Sop, Actor, Any], Sequence[Contract]]
# A reaction's decider: the case here, the SOP, the completed step handing it over, its id.
Reaction = Callable[[S, Sop, StepCompleted, UUID], Sequence[Contract]]


def stream_of(service: Service, case_id: UUID) -> str:
    """Return the stream holding `service`'s events of a case."""
    return f"{service.value}-{case_id}"


# The cancellation of a case, if any: the first `case-cancelled` of its scheduling stream.
_CANCELLED = (
    "SELECT occurred_at, data->>'reason' AS reason FROM events"
    " WHERE stream_id = $1 AND type = $2 ORDER BY stream_version LIMIT 1"
)


async def cancellation(
    runtime: Runtime, case_id: UUID, conn: Connection | None = None
) -> CaseWasCancelled | None:
    """Return the refusal of a command on a cancelled case; None if it was not cancelled."""
    executor = conn if conn is not None else runtime.store.pool
    stream = stream_of(Service.SCHEDULING, case_id)
    row = await executor.fetchrow(_CANCELLED, stream, CaseCancelled.TYPE)
    return None if row is None else CaseWasCancelled(case_id, row["occurred_at"], row["reason"])


@dataclass(frozen=True)
class Loaded(Generic[S]):
    """A known case: its state, the events it was folded from, and the SOP it runs under."""

    case_id: UUID
    state: S
    events: list[StoredEvent]
    sop: Sop

    @property
    def version(self) -> int:
        return self.events[-1].stream_version if self.events else 0


@dataclass(frozen=True)
class Result(Generic[S]):
    """What a command or reaction did: the events appended and the case's state after them."""

    state: S
    sop: Sop
    decided: tuple[Contract, ...]
    events: tuple[NewEvent, ...]

    @property
    def contract(self) -> Contract:
        """Return the last event decided (most commands decide exactly one)."""
        return self.decided[-1]

    @property
    def event_id(self) -> UUID:
        return self.events[-1].event_id

    @property
    def awaiting_here(self) -> int | None:
        """Return the step the case now waits for here, or None once it left this service."""
        return self.state.awaiting_here(self.sop)


class Cases(Generic[S]):
    """One service's cases: its state, evolve, and table of commands and reactions."""

    def __init__(
        self,
        service: Service,
        state: type[S],
        evolve: Evolve[S],
        commands: Mapping[type[Any], Decider[S]],
        reactions: Mapping[type[Contract], Reaction[S]] | None = None,
        *,
        attempts: int | None = None,
    ) -> None:
        self.service = service
        self.state = state
        self.evolve = evolve
        self.commands = dict(commands)
        self.reactions = dict(reactions or {})
        # decisions of one command that loses races (`apply`); None: the runtime's setting
        self.attempts = attempts
        self.actor = Actor(id=service.value, role="system")  # who reactions act as

    def stream_of(self, case_id: UUID) -> str:
        """Return the stream holding this service's events of a case."""
        return stream_of(self.service, case_id)

    async def read(
        self, runtime: Runtime, case_id: UUID, conn: Connection | None = None
    ) -> tuple[S, list[StoredEvent]]:
        """Return a case's state (possibly not opened here) and its events."""
        events = await runtime.store.read_stream(self.stream_of(case_id), conn=conn)
        return fold(self.state(case_id=case_id), self.evolve, events), events

    async def load(
        self, runtime: Runtime, case_id: UUID, conn: Connection | None = None
    ) -> Loaded[S]:
        """Return a case opened here; UnknownCase (404) or SopNotInstalled (409) otherwise."""
        state, events = await self.read(runtime, case_id, conn)
        if not state.known or state.sop_id is None or state.sop_version is None:
            raise UnknownCase(case_id)
        try:
            sop = runtime.catalog.get(state.sop_id, state.sop_version)
        except UnknownSop as error:
            raise SopNotInstalled(state.sop_id, state.sop_version) from error
        return Loaded(case_id, state, events, sop)

    async def handle(
        self,
        runtime: Runtime,
        case_id: UUID,
        actor: Actor,
        command: object,
        *,
        conn: Connection | None = None,
        now: datetime | None = None,
    ) -> Result[S]:
        """Run a command on a case opened here, keeping the case's correlation id."""
        loaded = await self.load(runtime, case_id, conn)
        return await self.apply(runtime, loaded, actor, command, conn=conn, now=now)

    async def apply(
        self,
        runtime: Runtime,
        loaded: Loaded[S],
        actor: Actor,
        command: object,
        *,
        conn: Connection | None = None,
        now: datetime | None = None,
    ) -> Result[S]:
        """Run a command on a case already loaded (e.g. under a lock, inside `conn`);
        CaseWasCancelled (409) if the case was cancelled.

        A command whose append lost the race to another writer of the case's stream (often
        this service's own consumer recording an effect's outcome) is decided again on the
        case as it now is, up to `attempts` times: the decider sees what the other writer
        stored and refuses the command if that did it already (409 `step_out_of_order`...).
        Every retry follows another writer's progress, so it cannot spin. Only the decider
        sees the new state: a caller whose own checks or outside work depend on `loaded`
        must hold a lock that keeps commands of the case one at a time (publishing does).
        """
        refused = await cancellation(runtime, loaded.case_id, conn)
        if refused is not None:
            raise refused
        attempts = runtime.command_attempts if self.attempts is None else self.attempts
        for attempt in range(1, attempts + 1):
            try:
                return await self._apply_once(runtime, loaded, actor, command, conn, now)
            except ConcurrentChange:
                if attempt == attempts:
                    raise
                loaded = await self.catch_up(runtime, loaded, conn)
        raise AssertionError("unreachable")

    async def catch_up(
        self, runtime: Runtime, loaded: Loaded[S], conn: Connection | None = None
    ) -> Loaded[S]:
        """Return `loaded` with the events appended to its stream since it was read."""
        stream = self.stream_of(loaded.case_id)
        newer = await runtime.store.read_stream(stream, after_version=loaded.version, conn=conn)
        state = fold(loaded.state, self.evolve, newer)
        return Loaded(loaded.case_id, state, [*loaded.events, *newer], loaded.sop)

    async def _apply_once(
        self,
        runtime: Runtime,
        loaded: Loaded[S],
        actor: Actor,
        command: object,
        conn: Connection | None,
        now: datetime | None,
    ) -> Result[S]:
        decided = self._decider(command)(loaded.state, loaded.sop, actor, command)
        correlation = loaded.events[0].correlation_id if loaded.events else None
        decided = routed(decided, loaded.sop)
        events = to_new_events(decided, actor=actor, now=now, correlation_id=correlation)
        stream = self.stream_of(loaded.case_id)
        await append(
            runtime.store, stream, loaded.version, events, case_id=loaded.case_id, conn=conn
        )
        if conn is not None:  # the store wakes the relay itself only for its own connections
            runtime.store.wake_relay()
        return self._result(loaded.state, loaded.sop, decided, events)

    async def start(
        self,
        runtime: Runtime,
        case_id: UUID,
        sop: Sop,
        actor: Actor,
        command: object,
        *,
        now: datetime | None = None,
        conn: Connection | None = None,
    ) -> Result[S]:
        """Open a new case with a command: its first event's id becomes its correlation id.

        With `conn` (in a transaction) the caller commits and wakes the relay."""
        state = self.state(case_id=case_id)
        decided = routed(self._decider(command)(state, sop, actor, command), sop)
        events = to_new_events(decided, actor=actor, now=now)
        stream = self.stream_of(case_id)
        await append(runtime.store, stream, 0, events, case_id=case_id, conn=conn)
        return self._result(state, sop, decided, events)

    def takes(self, runtime: Runtime, event: StoredEvent) -> bool:
        """Tell, without I/O, whether `react` may act on `event` (a hand-over to this service
        of a kind it reacts to); a consumer acks the others without a transaction."""
        handover = handover_to(self.service, runtime.catalog, event)
        return handover is not None and any(
            isinstance(handover.contract, kind) for kind in self.reactions
        )

    async def react(
        self, runtime: Runtime, event: StoredEvent, conn: Connection
    ) -> Result[S] | None:
        """Open this service's step when `event` hands the case over; None if it does not.

        The event ids derive from the cause (uuid5 of its id and this service), so a repeated
        delivery can never store twice; correlation and causation come from the cause.
        """
        handover = handover_to(self.service, runtime.catalog, event)
        if handover is None:
            return None
        react = next(
            (r for t, r in self.reactions.items() if isinstance(handover.contract, t)), None
        )
        if react is None:
            return None
        if await cancellation(runtime, handover.case_id, conn) is not None:
            log.info("case %s was cancelled: %s opens no step", handover.case_id, event.type)
            return None
        state, events = await self.read(runtime, handover.case_id, conn)
        sop = handover.sop
        decided = routed(react(state, sop, handover.contract, event.event_id), sop)
        if not decided:
            log.info("case %s: %s needs no step here", handover.case_id, event.type)
            return None
        ids = [
            handover.event_id,
            *(uuid.uuid5(handover.event_id, str(i)) for i in range(1, len(decided))),
        ]
        new = to_new_events(decided, actor=self.actor, cause=event, event_ids=ids)
        version = events[-1].stream_version if events else 0
        stream = self.stream_of(handover.case_id)
        await append(runtime.store, stream, version, new, case_id=handover.case_id, conn=conn)
        log.info("case %s opened at step %s", handover.case_id, handover.step)
        return self._result(state, handover.sop, decided, new)

    def _decider(self, command: object) -> Decider[S]:
        # A request body is its command's subclass (the command with its fields bounded):
        # the closest class of the table in its MRO decides it.
        for kind in type(command).__mro__:
            decider = self.commands.get(kind)
            if decider is not None:
                return decider
        # a wiring mistake, not a user's
        raise TypeError(f"{self.service.value} has no decider for {type(command).__name__}")

    def _result(
        self, before: S, sop: Sop, decided: Sequence[Contract], events: Sequence[NewEvent]
    ) -> Result[S]:
        after = before
        for contract in decided:
            after = self.evolve(after, contract)
        return Result(after, sop, tuple(decided), tuple(events))
