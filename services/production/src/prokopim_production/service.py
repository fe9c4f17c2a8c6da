"""Run production's commands: load the case stream, decide, append at the loaded version."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from prokopim_events.contracts import Contract
from prokopim_events.envelope import Actor
from prokopim_kit.commands import append, load, to_new_events
from prokopim_kit.errors import UnknownCase
from prokopim_kit.runtime import Runtime
from prokopim_sop import Sop

from .domain import CaseState, evolve

SERVICE = "production"

Decision = Callable[[CaseState, Sop, str], list[Contract]]


def stream_of(case_id: UUID) -> str:
    """Return the stream holding production's events of a case."""
    return f"{SERVICE}-{case_id}"


@dataclass(frozen=True)
class Outcome:
    """What a command appended."""

    events: list[Contract]
    event_ids: list[UUID]


async def load_case(runtime: Runtime, case_id: UUID) -> tuple[CaseState, int, Sop]:
    """Return a known case's state, stream version and SOP; UnknownCase (404) otherwise."""
    state, version = await load(runtime.store, stream_of(case_id), CaseState(), evolve)
    if not state.known:
        raise UnknownCase(case_id)
    return state, version, runtime.catalog.get(state.sop_id, state.sop_version)


async def execute(runtime: Runtime, case_id: UUID, actor: Actor, decide: Decision) -> Outcome:
    """Decide a command on a case as `actor` and append its events (409 if another won)."""
    state, version, sop = await load_case(runtime, case_id)
    contracts = decide(state, sop, actor.role)
    events = to_new_events(contracts, actor=actor)
    await append(runtime.store, stream_of(case_id), version, events, case_id=case_id)
    return Outcome(contracts, [e.event_id for e in events])
