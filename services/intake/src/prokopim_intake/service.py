"""Intake's command side: load the case stream, decide, append at the loaded version."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID

from prokopim_events.contracts import Contract
from prokopim_events.envelope import Actor
from prokopim_events.store import EventStore
from prokopim_kit.commands import append, load, to_new_events
from prokopim_kit.errors import CommandRejected, InvalidCommand, UnknownCase
from prokopim_sop import Sop, SopCatalog, UnknownSop
from pydantic import BaseModel, ConfigDict

from .domain import (
    CaseState,
    GiveDisposition,
    RegisterRequest,
    awaiting_step,
    decide_disposition,
    decide_register,
    evolve,
)


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


class StepResult(BaseModel):
    """What a command did: the step done, the one after it, and the intake step awaited."""

    model_config = ConfigDict(frozen=True)

    case_id: UUID
    sop_id: str
    sop_version: str
    step: int
    next_step: int | None
    awaiting_step: int | None


def stream_of(case_id: UUID) -> str:
    """Return the stream holding intake's events of a case."""
    return f"intake-{case_id}"


def requested_sop(catalog: SopCatalog, sop_id: str, version: str | None) -> Sop:
    """Return the SOP a request names; 422 naming `sop_id` or `sop_version` if unknown."""
    try:
        return catalog.get(sop_id, version)
    except UnknownSop as error:
        raise InvalidCommand(
            str(error), field="sop_id" if error.version is None else "sop_version"
        ) from error


def sop_of_case(catalog: SopCatalog, state: CaseState) -> Sop:
    """Return the SOP (id and version) a registered case started under."""
    if state.sop_id is None or state.sop_version is None:
        raise UnknownCase(state.case_id)
    try:
        return catalog.get(state.sop_id, state.sop_version)
    except UnknownSop as error:
        raise SopNotInstalled(state.sop_id, state.sop_version) from error


async def register(
    store: EventStore,
    catalog: SopCatalog,
    actor: Actor,
    command: RegisterRequest,
    *,
    case_id: UUID | None = None,
    now: datetime | None = None,
) -> StepResult:
    """Open a new case from a request letter (SOP step 1)."""
    sop = requested_sop(catalog, command.sop_id, command.sop_version)
    state = CaseState(case_id=case_id or uuid.uuid4())
    decided = decide_register(state, sop, actor.role, command)
    stream = stream_of(state.case_id)
    events = to_new_events(decided, actor=actor, now=now or datetime.now(UTC))
    await append(store, stream, 0, events, case_id=state.case_id)
    return _result(state, sop, decided)


async def give_disposition(
    store: EventStore,
    catalog: SopCatalog,
    actor: Actor,
    case_id: UUID,
    command: GiveDisposition,
    *,
    now: datetime | None = None,
) -> StepResult:
    """Record the disposition on a registered case (SOP step 2) and hand it over."""
    stream = stream_of(case_id)
    state, version = await load(store, stream, CaseState(case_id=case_id), evolve)
    if version == 0:
        raise UnknownCase(case_id)
    sop = sop_of_case(catalog, state)
    decided = decide_disposition(state, sop, actor.role, command)
    events = to_new_events(decided, actor=actor, now=now or datetime.now(UTC))
    await append(store, stream, version, events, case_id=case_id)
    return _result(state, sop, decided)


def _result(before: CaseState, sop: Sop, decided: list[Contract]) -> StepResult:
    after = before
    for event in decided:
        after = evolve(after, event)
    last = after.steps_done[-1]
    return StepResult(
        case_id=after.case_id,
        sop_id=sop.id,
        sop_version=sop.version,
        step=last,
        next_step=after.next_step,
        awaiting_step=awaiting_step(after, sop),
    )
