"""Run a command against one event-sourced stream: load, fold, decide, append.

The domain stays pure: `evolve(state, contract) -> state` and a decision that returns
contract models. This module adds the envelope (ids, time, actor, correlation) and the
optimistic-concurrency append; a racing writer turns into ConcurrentChange (409).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

from prokopim_events import telemetry
from prokopim_events.contracts import Contract, parse
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor, NewEvent, StoredEvent
from prokopim_events.errors import WrongExpectedVersion
from prokopim_events.store import EventStore

from .errors import ConcurrentChange

S = TypeVar("S")
Evolve = Callable[[S, Contract], S]


def fold(initial: S, evolve: Evolve[S], events: Sequence[StoredEvent]) -> S:
    """Rebuild a state from a stream's events."""
    state = initial
    for event in events:
        state = evolve(state, parse(event.type, event.data))
    return state


def to_new_events(
    contracts: Sequence[Contract],
    *,
    actor: Actor,
    now: datetime | None = None,
    cause: StoredEvent | None = None,
    traceparent: str | None = None,
    event_ids: Sequence[UUID] | None = None,
    correlation_id: UUID | None = None,
) -> list[NewEvent]:
    """Wrap decided contracts in envelopes that share one correlation id.

    The correlation id is, in order: the one given (the case's), the cause's, the first
    event's own id (a new flow). A cause also becomes the causation.

    The trace context stored is, in order: the one given, the current span's (the HTTP
    request or the consumed message deciding these events), the cause's.
    """
    occurred_at = now or datetime.now(UTC)
    traceparent = (
        traceparent or telemetry.current_traceparent() or (cause.traceparent if cause else None)
    )
    ids = list(event_ids) if event_ids is not None else [uuid.uuid4() for _ in contracts]
    correlation = correlation_id or (cause.correlation_id if cause else None)
    correlation = correlation or (ids[0] if ids else None)
    return [
        NewEvent(
            event_id=event_id,
            type=contract.TYPE,
            data=contract.model_dump(mode="json"),
            occurred_at=occurred_at,
            actor=actor,
            correlation_id=correlation,
            causation_id=cause.event_id if cause else None,
            traceparent=traceparent,
        )
        for event_id, contract in zip(ids, contracts, strict=True)
    ]


async def load(
    store: EventStore, stream_id: str, initial: S, evolve: Evolve[S], conn: Connection | None = None
) -> tuple[S, int]:
    """Return a stream's state and version."""
    events = await store.read_stream(stream_id, conn=conn)
    version = events[-1].stream_version if events else 0
    return fold(initial, evolve, events), version


async def append(
    store: EventStore,
    stream_id: str,
    version: int,
    events: Sequence[NewEvent],
    *,
    case_id: object,
    conn: Connection | None = None,
) -> list[int]:
    """Append at `version`, turning a lost race into ConcurrentChange."""
    if not telemetry.tracing_active():
        return await _append(store, stream_id, version, events, case_id, conn)
    with telemetry.tracer().start_as_current_span(
        "append",
        attributes={
            "prokopim.stream.id": stream_id,
            "prokopim.stream.expected_version": version,
            "prokopim.event.types": [event.type for event in events],
        },
    ):
        return await _append(store, stream_id, version, events, case_id, conn)


async def _append(
    store: EventStore,
    stream_id: str,
    version: int,
    events: Sequence[NewEvent],
    case_id: object,
    conn: Connection | None,
) -> list[int]:
    try:
        return await store.append(stream_id, version, events, conn=conn)
    except WrongExpectedVersion as error:
        raise ConcurrentChange(case_id) from error
