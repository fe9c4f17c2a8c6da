"""Scheduling steps that reserve people and equipment, and rescheduling and cancelling.

The step's decision stays the pure one of `domain`; around it, in one transaction, the
case's agenda row is locked, its bookings are made (refused with 409 on a clash), overlaps
on the leader's agenda are flagged, and the step's event, the bookings' events and the
flags are appended. A refused booking therefore leaves no event and no booking behind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import asyncpg
from prokopim_events.contracts import (
    BookingsReleased,
    CaseCancelled,
    CaseRescheduled,
    Contract,
    ResourcesBooked,
)
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor, NewEvent
from prokopim_kit.commands import append, to_new_events
from prokopim_kit.errors import ConcurrentChange
from prokopim_kit.handover import routed
from prokopim_kit.pipeline import Loaded, Result, cancellation
from prokopim_kit.runtime import Runtime
from prokopim_kit.text import FilledNote, Line, SaneYear
from prokopim_sop import Sop
from pydantic import BaseModel, ConfigDict, Field

from . import agenda, service
from .booking_config import BookingSettings, booking_settings
from .bookings import CaseRef, Change, Want, Window, arrange, confirmed_of, release
from .commands import WIB, OfficeTime
from .domain import CaseState, decide_assign, decide_coordinate
from .resources import office_of, offices
from .schemas import AssignmentsBody, ScheduleBody, StaffBody
from .service import step_result, stream_of
from .views import StepResult

LoadedCase = Loaded[CaseState]
Reason = FilledNote
OVERRIDE = "book over a clash anyway; the reason is recorded with the booking"
LEADER = "whose agenda the activity is on (AGENDA_LEADER when not given)"


class CrewPick(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    member_id: UUID
    role: str | None = None


class BookedSchedule(ScheduleBody):
    """Coordinate the schedule and reserve who and what it needs (Bandung step 3)."""

    ends_at: Annotated[OfficeTime, SaneYear()] | None = Field(
        default=None, description="the activity's end; BOOKING_DEFAULT_MINUTES after its start"
    )
    leader: Line | None = Field(default=None, description=LEADER)
    crew: list[CrewPick] = Field(default=[], description="registered crew to reserve")
    equipment: list[UUID] = Field(default=[], description="registered items to reserve")
    override_reason: Reason | None = Field(default=None, description=OVERRIDE)


class BookedMember(StaffBody):
    member_id: UUID | None = Field(
        default=None, description="the registered crew member; reserved for the case's window"
    )


class BookedAssignment(AssignmentsBody):
    """Assign the team and reserve it (Bandung step 5, Tangerang step 3).

    The window is the one coordinated before (Bandung), else `starts_at`/`ends_at`, else
    the activity's date at BOOKING_DEFAULT_START for BOOKING_DEFAULT_MINUTES.
    """

    assignments: list[BookedMember] = Field(min_length=1)  # type: ignore[assignment]
    equipment: list[UUID] = Field(default=[], description="registered items to reserve")
    starts_at: Annotated[OfficeTime, SaneYear()] | None = None
    ends_at: Annotated[OfficeTime, SaneYear()] | None = None
    location: Line | None = None
    leader: Line | None = Field(default=None, description=LEADER)
    override_reason: Reason | None = Field(default=None, description=OVERRIDE)


class RescheduleCase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
    starts_at: Annotated[OfficeTime, SaneYear()]
    ends_at: Annotated[OfficeTime, SaneYear()] | None = None
    location: Line | None = None
    reason: Reason
    override_reason: Reason | None = Field(default=None, description=OVERRIDE)


class CancelCase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
    reason: Reason


class CaseChange(BaseModel):
    """What a reschedule or cancellation did."""

    case_id: UUID
    event_types: list[str]
    booked: list[UUID] = Field(description="bookings made or moved")
    released: list[UUID]
    flags: int = Field(description="overlaps on the leader's agenda flagged")


@dataclass
class Arranged:
    """What the bookings part of a command adds to its append."""

    contracts: list[Contract] = field(default_factory=list)
    flags: list[Contract] = field(default_factory=list)


# The bookings part of a command: in its transaction, given the case's agenda row as locked.
Arrange = Callable[[Connection, LoadedCase, asyncpg.Record | None, datetime], Awaitable[Arranged]]


def _case_ref(loaded: LoadedCase) -> CaseRef:
    assert loaded.state.case is not None
    case = loaded.state.case
    return CaseRef(loaded.case_id, office_of(loaded.sop), case.activity_name)


def _completion(loaded: LoadedCase) -> dict[str, object]:
    return {
        "case_id": loaded.case_id,
        "sop_id": loaded.sop.id,
        "sop_version": loaded.sop.version,
    }


def _placement(
    loaded: LoadedCase, window: Window, venue: str | None, leader: str
) -> agenda.Placement:
    ref = _case_ref(loaded)
    return agenda.Placement(
        case_id=ref.case_id,
        office=ref.office,
        sop_id=loaded.sop.id,
        sop_version=loaded.sop.version,
        leader=leader,
        venue=venue,
        activity_name=ref.summary,
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        tentative=False,
    )


async def _book(
    conn: Connection,
    loaded: LoadedCase,
    settings: BookingSettings,
    now: datetime,
    *,
    window: Window,
    location: str | None,
    leader: str,
    wants: list[Want],
    keep: Callable[[asyncpg.Record], bool],
    override_reason: str | None,
) -> tuple[Change, Arranged]:
    change = await arrange(
        conn,
        _case_ref(loaded),
        window,
        location,
        wants,
        keep=keep,
        buffer=settings.buffer,
        now=now,
        override_reason=override_reason,
    )
    placement = _placement(loaded, window, location, leader)
    arranged = Arranged(flags=list(await agenda.place_and_flag(conn, placement, now, "scheduling")))
    if change.booked:
        arranged.contracts.append(
            ResourcesBooked(**_completion(loaded), bookings=change.booked, location=location)
        )
    if change.released:
        arranged.contracts.append(
            BookingsReleased(
                **_completion(loaded),
                booking_ids=change.released,
                reason="no longer part of the case's team",
            )
        )
    return change, arranged


async def _run(
    runtime: Runtime,
    actor: Actor,
    case_id: UUID,
    decide: Callable[[CaseState, Sop], list[Contract]],
    work: Arrange,
) -> tuple[LoadedCase, list[Contract], list[NewEvent], Arranged]:
    """Decide, then in one transaction lock the agenda row, arrange, and append it all.

    Scheduling's own consumer appends to the case's stream too (a mail's outcome): a
    command that loses that race is decided again on the case as it now is, a few times.
    """
    attempts = runtime.command_attempts
    for attempt in range(1, attempts + 1):
        try:
            return await _run_once(runtime, actor, case_id, decide, work)
        except ConcurrentChange:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


async def _run_once(
    runtime: Runtime,
    actor: Actor,
    case_id: UUID,
    decide: Callable[[CaseState, Sop], list[Contract]],
    work: Arrange,
) -> tuple[LoadedCase, list[Contract], list[NewEvent], Arranged]:
    loaded = await service.load_case(runtime, case_id)
    decided = routed(decide(loaded.state, loaded.sop), loaded.sop)
    now = datetime.now(UTC)
    correlation = loaded.events[0].correlation_id  # the case's, kept by every event of it
    # the store's pool: no RESET round trip on release (the store's own appends use it too)
    async with runtime.store.pool.acquire() as conn, conn.transaction():
        row = await agenda.lock(conn, case_id)
        if row is not None and row["status"] == "cancelled":  # its event is in that commit
            refused = await cancellation(runtime, case_id, conn)
            assert refused is not None
            raise refused
        arranged = await work(conn, loaded, row, now)
        events = to_new_events(
            [*decided, *arranged.contracts], actor=actor, now=now, correlation_id=correlation
        )
        await append(
            runtime.store, stream_of(case_id), loaded.version, events, case_id=case_id, conn=conn
        )
        flags = to_new_events(arranged.flags, actor=actor, now=now, correlation_id=correlation)
        await agenda.append_flags(runtime, conn, case_id, flags)
    runtime.store.wake_relay()
    return loaded, decided, events, arranged


def _result(loaded: LoadedCase, decided: list[Contract], events: list[NewEvent]) -> StepResult:
    after = loaded.state
    for contract in decided:
        after = service.CASES.evolve(after, contract)
    return step_result(Result(after, loaded.sop, tuple(decided), tuple(events[: len(decided)])))


async def coordinate_schedule(
    runtime: Runtime, actor: Actor, case_id: UUID, body: BookedSchedule
) -> StepResult:
    """Coordinate the schedule (Bandung step 3), reserving the crew and items named."""
    settings = booking_settings(runtime)

    async def work(
        conn: Connection, loaded: LoadedCase, row: asyncpg.Record | None, now: datetime
    ) -> Arranged:
        window = Window(
            body.scheduled_at, body.ends_at or body.scheduled_at + settings.default_length
        )
        wants = [Want(p.member_id, p.role) for p in body.crew]
        wants += [Want(item) for item in body.equipment]
        _, arranged = await _book(
            conn,
            loaded,
            settings,
            now,
            window=window,
            location=body.location,
            leader=body.leader or settings.agenda_leader,
            wants=wants,
            keep=lambda row: True,
            override_reason=body.override_reason,
        )
        return arranged

    loaded, decided, events, _ = await _run(
        runtime, actor, case_id, lambda s, sop: decide_coordinate(s, sop, actor, body), work
    )
    return _result(loaded, decided, events)


async def assign_staff(
    runtime: Runtime, actor: Actor, case_id: UUID, body: BookedAssignment
) -> StepResult:
    """Assign the team (Bandung step 5, Tangerang step 3), reserving registered members."""
    settings = booking_settings(runtime)

    async def work(
        conn: Connection, loaded: LoadedCase, row: asyncpg.Record | None, now: datetime
    ) -> Arranged:
        window = _assignment_window(body, loaded, row, settings)
        location = body.location or (row["venue"] if row else None)
        if location is None and loaded.state.schedule is not None:
            location = loaded.state.schedule.location
        leader = body.leader or (row["leader"] if row and not row["tentative"] else None)
        wants = [Want(a.member_id, a.role) for a in body.assignments if a.member_id]
        wants += [Want(item) for item in body.equipment]
        crew_named = any(a.member_id for a in body.assignments)
        _, arranged = await _book(
            conn,
            loaded,
            settings,
            now,
            window=window,
            location=location,
            leader=leader or settings.agenda_leader,
            wants=wants,
            keep=lambda r: r["type"] == "equipment" or not crew_named,
            override_reason=body.override_reason,
        )
        return arranged

    loaded, decided, events, _ = await _run(
        runtime, actor, case_id, lambda s, sop: decide_assign(s, sop, actor, body), work
    )
    return _result(loaded, decided, events)


def _assignment_window(
    body: BookedAssignment,
    loaded: LoadedCase,
    row: asyncpg.Record | None,
    settings: BookingSettings,
) -> Window:
    if body.starts_at is not None:
        return Window(body.starts_at, body.ends_at or body.starts_at + settings.default_length)
    if row is not None and not row["tentative"]:
        return Window(row["starts_at"], row["ends_at"])
    assert loaded.state.case is not None
    day = loaded.state.case.activity_date
    start = datetime.combine(day, settings.booking_default_start, tzinfo=WIB)
    return Window(start, start + settings.default_length)


def _no_decision(state: CaseState, sop: Sop) -> list[Contract]:
    return []


async def reschedule(
    runtime: Runtime, actor: Actor, case_id: UUID, body: RescheduleCase
) -> CaseChange:
    """Move a case's activity to a new window; its bookings move along (409 on a clash)."""
    settings = booking_settings(runtime)
    moved: list[Change] = []

    async def work(
        conn: Connection, loaded: LoadedCase, row: asyncpg.Record | None, now: datetime
    ) -> Arranged:
        offices(runtime).require_scheduler(office_of(loaded.sop), actor.role)
        window = Window(body.starts_at, body.ends_at or body.starts_at + settings.default_length)
        location = body.location or (row["venue"] if row else None)
        leader = row["leader"] if row else settings.agenda_leader
        change, arranged = await _book(
            conn,
            loaded,
            settings,
            now,
            window=window,
            location=location,
            leader=leader,
            wants=[],
            keep=lambda r: True,
            override_reason=body.override_reason,
        )
        moved[:] = [change]  # a retried attempt replaces the rolled-back one
        rescheduled = CaseRescheduled(
            **_completion(loaded),
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            location=location,
            reason=body.reason,
        )
        arranged.contracts.insert(0, rescheduled)
        return arranged

    _, _, events, arranged = await _run(runtime, actor, case_id, _no_decision, work)
    return CaseChange(
        case_id=case_id,
        event_types=[e.type for e in events],
        booked=[b.booking_id for b in moved[0].booked],
        released=moved[0].released,
        flags=len(arranged.flags),
    )


async def cancel(runtime: Runtime, actor: Actor, case_id: UUID, body: CancelCase) -> CaseChange:
    """Cancel a case: release its bookings, take it off the agenda, stop its SLA clocks."""
    released: list[UUID] = []

    async def work(
        conn: Connection, loaded: LoadedCase, row: asyncpg.Record | None, now: datetime
    ) -> Arranged:
        offices(runtime).require_scheduler(office_of(loaded.sop), actor.role)
        released[:] = await confirmed_of(conn, case_id)  # as of this (maybe retried) attempt
        await release(conn, released, now)
        if row is None:
            assert loaded.state.case is not None
            start, end = agenda.day_of(loaded.state.case.activity_date)
            placement = _placement(loaded, Window(start, end), None, "-")
            await agenda.place(conn, placement, now)
        await agenda.cancel(conn, case_id, now)
        contracts: list[Contract] = [CaseCancelled(**_completion(loaded), reason=body.reason)]
        if released:
            contracts.append(
                BookingsReleased(**_completion(loaded), booking_ids=released, reason=body.reason)
            )
        return Arranged(contracts=contracts)

    _, _, events, _ = await _run(runtime, actor, case_id, _no_decision, work)
    return CaseChange(
        case_id=case_id,
        event_types=[e.type for e in events],
        booked=[],
        released=released,
        flags=0,
    )
