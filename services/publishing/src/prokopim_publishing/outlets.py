"""Media registry commands over the `publishing-outlets` stream."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from prokopim_events.contracts import Contract
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor
from prokopim_kit.commands import append, load, to_new_events
from prokopim_kit.runtime import Runtime

from .registry import (
    OUTLETS_STREAM,
    DeactivateOutlet,
    Outlet,
    RegisterOutlet,
    Registry,
    UpdateOutlet,
    decide_deactivate,
    decide_register,
    decide_update,
    evolve_registry,
)


async def load_registry(runtime: Runtime, conn: Connection | None = None) -> tuple[Registry, int]:
    """Return every registered outlet and the registry stream's version."""
    return await load(runtime.store, OUTLETS_STREAM, Registry(), evolve_registry, conn)


async def register(
    runtime: Runtime, managers: Collection[str], actor: Actor, command: RegisterOutlet
) -> Outlet:
    """Register a media outlet; return it."""
    registry, version = await load_registry(runtime)
    outlet_id = uuid.uuid4()
    decided = decide_register(registry, actor.role, command, outlet_id, managers)
    return await _record(runtime, registry, version, actor, decided, outlet_id)


async def update(
    runtime: Runtime, managers: Collection[str], actor: Actor, command: UpdateOutlet
) -> Outlet:
    """Change an outlet's name and email; return it."""
    registry, version = await load_registry(runtime)
    decided = decide_update(registry, actor.role, command, managers)
    return await _record(runtime, registry, version, actor, decided, command.outlet_id)


async def deactivate(
    runtime: Runtime, managers: Collection[str], actor: Actor, command: DeactivateOutlet
) -> Outlet:
    """Stop emailing an outlet; return it."""
    registry, version = await load_registry(runtime)
    decided = decide_deactivate(registry, actor.role, command, managers)
    return await _record(runtime, registry, version, actor, decided, command.outlet_id)


async def _record(
    runtime: Runtime,
    registry: Registry,
    version: int,
    actor: Actor,
    decided: Sequence[Contract],
    outlet_id: uuid.UUID,
) -> Outlet:
    new_events = to_new_events(decided, actor=actor)
    await append(runtime.store, OUTLETS_STREAM, version, new_events, case_id=OUTLETS_STREAM)
    after = registry
    for contract in decided:
        after = evolve_registry(after, contract)
    return after.outlets[outlet_id]
