"""The one pipeline, on a real store: correlation, causation, idempotent reactions, errors.

A toy scheduling service (open on a hand-over, coordinate the schedule) stands in for the
five: what is checked here is what they all get from `prokopim_kit.pipeline`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from prokopim_events.contracts import (
    CaseCancelled,
    CaseFile,
    Contract,
    DispositionGiven,
    InvitationMailed,
    Requester,
    ScheduleCoordinated,
    SchedulingStepOpened,
    StepCompleted,
)
from prokopim_events.db import create_pool
from prokopim_events.envelope import Actor, NewEvent, StoredEvent
from prokopim_events.store import EventStore
from prokopim_kit.commands import to_new_events
from prokopim_kit.errors import (
    CaseWasCancelled,
    ConcurrentChange,
    SopNotInstalled,
    StepOutOfOrder,
    UnknownCase,
)
from prokopim_kit.pipeline import COMMAND_ATTEMPTS, Cases, CaseState, Loaded
from prokopim_kit.runtime import ServiceSettings
from prokopim_sop import Service, Sop, SopCatalog, StepKind, load_catalog
from pydantic import ValidationError

pytestmark = pytest.mark.integration

CATALOG = load_catalog()
BANDUNG = CATALOG.get("bdg-setda-010-2024")
HEAD = Actor(id="kabag-1", role="ka-bagian")
KATIM = Actor(id="katim-1", role="ka-tim-dokpim")
CASE = CaseFile(
    letter_number="800/1",
    requester=Requester(name="Siti", agency="Diskominfo"),
    subject="Tapping",
    activity_name="HUT Kota",
    activity_date=date(2026, 5, 25),
)


@dataclass(frozen=True)
class Toy(CaseState):
    service = Service.SCHEDULING


@dataclass(frozen=True)
class Coordinate:
    location: str


def evolve(state: Toy, event: Contract) -> Toy:
    if isinstance(event, SchedulingStepOpened):
        return replace(
            state, sop_id=event.sop_id, sop_version=event.sop_version, awaiting_step=event.step
        )
    if isinstance(event, StepCompleted):
        return replace(state, awaiting_step=event.next_step)
    return state


def decide_open(state: Toy, sop: Sop, cause: StepCompleted, cause_id: UUID) -> list[Contract]:
    if state.known or cause.next_step is None:
        return []
    return [
        SchedulingStepOpened(
            case_id=cause.case_id,
            sop_id=sop.id,
            sop_version=sop.version,
            step=cause.next_step,
            reason="handover",
            cause_event_id=cause_id,
            case=CASE,
        )
    ]


def decide_coordinate(state: Toy, sop: Sop, actor: Actor, command: Coordinate) -> list[Contract]:
    assert state.case_id and state.sop_id and state.sop_version
    if not state.awaiting_step or sop.step(state.awaiting_step).kind is not (
        StepKind.COORDINATE_SCHEDULE
    ):
        raise StepOutOfOrder("schedule", state.awaiting_step)
    return [
        ScheduleCoordinated(
            case_id=state.case_id,
            sop_id=state.sop_id,
            sop_version=state.sop_version,
            step=state.awaiting_step,
            next_step=sop.next_after(state.awaiting_step),
            scheduled_at=datetime(2026, 5, 20, 9, tzinfo=timezone(timedelta(hours=7))),
            location=command.location,
        )
    ]


CASES = Cases(
    Service.SCHEDULING,
    Toy,
    evolve,
    commands={Coordinate: decide_coordinate},
    reactions={StepCompleted: decide_open},
)


@dataclass
class Backing:
    store: EventStore
    catalog: SopCatalog
    command_attempts: int = COMMAND_ATTEMPTS


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Backing]:
    pool = await create_pool(database_url, max_size=3)
    yield Backing(EventStore(pool), CATALOG)
    await pool.close()


async def handed_over(runtime: Backing, sop_version: str = BANDUNG.version) -> StoredEvent:
    """Store intake's disposition of a new case (its first event, so its own correlation)."""
    case_id = uuid.uuid4()
    disposition = DispositionGiven(
        case_id=case_id,
        sop_id=BANDUNG.id,
        sop_version=sop_version,
        step=2,
        next_step=3,
        case=CASE,
        instruction="Proses",
    )
    await runtime.store.append(f"intake-{case_id}", 0, to_new_events([disposition], actor=HEAD))
    (stored,) = await runtime.store.read_stream(f"intake-{case_id}")
    return stored


async def test_a_reaction_keeps_the_cause_s_correlation_and_derives_its_id(
    runtime: Backing,
) -> None:
    cause = await handed_over(runtime)
    async with runtime.store.pool.acquire() as conn, conn.transaction():
        result = await CASES.react(runtime, cause, conn)

    assert result is not None and result.awaiting_here == 3
    (opened,) = await runtime.store.read_stream(CASES.stream_of(UUID(cause.data["case_id"])))
    assert opened.event_id == uuid.uuid5(cause.event_id, "scheduling")
    assert (opened.correlation_id, opened.causation_id) == (cause.correlation_id, cause.event_id)
    assert opened.actor == Actor(id="scheduling", role="system")


async def test_a_command_on_the_case_carries_the_case_s_correlation_id(runtime: Backing) -> None:
    cause = await handed_over(runtime)
    async with runtime.store.pool.acquire() as conn, conn.transaction():
        await CASES.react(runtime, cause, conn)
    case_id = UUID(cause.data["case_id"])

    result = await CASES.handle(runtime, case_id, KATIM, Coordinate("Balai Kota"))

    events = await runtime.store.read_stream(CASES.stream_of(case_id))
    assert [e.type for e in events] == [SchedulingStepOpened.TYPE, ScheduleCoordinated.TYPE]
    assert {e.correlation_id for e in events} == {cause.correlation_id}
    assert events[1].causation_id is None  # a person's command, not a reaction
    assert events[1].actor == KATIM
    assert result.event_id == events[1].event_id and result.awaiting_here == 4


async def test_a_completed_step_names_the_service_of_its_next_step(runtime: Backing) -> None:
    cause = await handed_over(runtime)
    async with runtime.store.pool.acquire() as conn, conn.transaction():
        await CASES.react(runtime, cause, conn)
    case_id = UUID(cause.data["case_id"])

    await CASES.handle(runtime, case_id, KATIM, Coordinate("Balai Kota"))

    _, coordinated = await runtime.store.read_stream(CASES.stream_of(case_id))
    next_step = coordinated.data["next_step"]
    assert coordinated.data["next_service"] == BANDUNG.step(next_step).service.value


async def test_a_case_not_opened_here_is_unknown(runtime: Backing) -> None:
    with pytest.raises(UnknownCase):
        await CASES.handle(runtime, uuid.uuid4(), KATIM, Coordinate("Balai Kota"))


async def test_a_case_whose_sop_version_is_gone_is_refused_naming_it(runtime: Backing) -> None:
    case_id = uuid.uuid4()
    opened = SchedulingStepOpened(
        case_id=case_id,
        sop_id=BANDUNG.id,
        sop_version="0-removed",
        step=3,
        reason="handover",
        cause_event_id=uuid.uuid4(),
        case=CASE,
    )
    await runtime.store.append(
        CASES.stream_of(case_id), 0, to_new_events([opened], actor=CASES.actor)
    )

    with pytest.raises(SopNotInstalled) as refused:
        await CASES.handle(runtime, case_id, KATIM, Coordinate("Balai Kota"))

    assert (refused.value.status, refused.value.details["sop_version"]) == (409, "0-removed")


async def cancel(runtime: Backing, case_id: UUID, reason: str) -> None:
    """Append scheduling's cancellation of the case, as `POST /cases/{id}/cancel` does."""
    stream = f"scheduling-{case_id}"
    version = len(await runtime.store.read_stream(stream))
    cancelled = CaseCancelled(
        case_id=case_id, sop_id=BANDUNG.id, sop_version=BANDUNG.version, reason=reason
    )
    await runtime.store.append(stream, version, to_new_events([cancelled], actor=HEAD))


async def test_a_cancelled_case_takes_no_command_and_names_the_cancellation(
    runtime: Backing,
) -> None:
    cause = await handed_over(runtime)
    async with runtime.store.pool.acquire() as conn, conn.transaction():
        await CASES.react(runtime, cause, conn)
    case_id = UUID(cause.data["case_id"])
    await cancel(runtime, case_id, "Acara dibatalkan")

    with pytest.raises(CaseWasCancelled) as refused:
        await CASES.handle(runtime, case_id, KATIM, Coordinate("Balai Kota"))

    assert refused.value.status == 409 and refused.value.code == "case_cancelled"
    assert refused.value.details["case_id"] == str(case_id)
    assert refused.value.details["reason"] == "Acara dibatalkan"
    assert f"case {case_id} was cancelled on " in refused.value.message
    assert [e.type for e in await runtime.store.read_stream(CASES.stream_of(case_id))] == [
        SchedulingStepOpened.TYPE,
        CaseCancelled.TYPE,
    ]


async def test_a_hand_over_of_a_cancelled_case_opens_no_step(runtime: Backing) -> None:
    cause = await handed_over(runtime)
    case_id = UUID(cause.data["case_id"])
    await cancel(runtime, case_id, "Acara dibatalkan")

    async with runtime.store.pool.acquire() as conn, conn.transaction():
        assert await CASES.react(runtime, cause, conn) is None

    assert [e.type for e in await runtime.store.read_stream(CASES.stream_of(case_id))] == [
        CaseCancelled.TYPE
    ]


def test_events_decided_together_share_the_first_one_s_id_as_correlation() -> None:
    events = to_new_events([CASE_EVENT, CASE_EVENT], actor=HEAD)
    assert [e.correlation_id for e in events] == [events[0].event_id] * 2


CASE_EVENT = DispositionGiven(
    case_id=uuid.uuid4(),
    sop_id=BANDUNG.id,
    sop_version=BANDUNG.version,
    step=2,
    next_step=3,
    case=CASE,
    instruction="Proses",
)


def test_a_request_body_is_decided_as_the_command_it_extends() -> None:
    """HTTP bodies subclass their commands (bounded fields): the command's decider runs."""

    class Command:
        pass

    class Body(Command):
        pass

    def decide(state: Toy, sop: Sop, actor: Actor, command: Command) -> list[Contract]:
        return []

    cases = Cases(Service.SCHEDULING, Toy, evolve, commands={Command: decide})
    assert cases._decider(Body()) is decide


# --- a command racing another writer of the case's stream --------------------------------
async def opened_case(runtime: Backing) -> Loaded[Toy]:
    cause = await handed_over(runtime)
    async with runtime.store.pool.acquire() as conn, conn.transaction():
        await CASES.react(runtime, cause, conn)
    return await CASES.load(runtime, UUID(cause.data["case_id"]))


def mail_outcome(loaded: Loaded[Toy]) -> list[NewEvent]:
    """What the service's own consumer appends meanwhile: the outcome of an effect."""
    mailed = InvitationMailed(
        case_id=loaded.case_id,
        sop_id=BANDUNG.id,
        sop_version=BANDUNG.version,
        cause_event_id=uuid.uuid4(),
        email="siti@example.org",
        attempts=1,
        message_id="<m@prokopim>",
    )
    return to_new_events([mailed], actor=CASES.actor)


async def test_a_command_that_lost_the_append_to_an_effect_s_outcome_is_decided_again(
    runtime: Backing,
) -> None:
    loaded = await opened_case(runtime)
    stream = CASES.stream_of(loaded.case_id)
    await runtime.store.append(stream, loaded.version, mail_outcome(loaded))  # after the load

    result = await CASES.apply(runtime, loaded, KATIM, Coordinate("Balai Kota"))

    events = await runtime.store.read_stream(stream)
    assert [e.type for e in events] == [
        SchedulingStepOpened.TYPE,
        InvitationMailed.TYPE,
        ScheduleCoordinated.TYPE,
    ]
    assert result.event_id == events[2].event_id and result.awaiting_here == 4


async def test_a_command_another_writer_did_meanwhile_is_refused_when_decided_again(
    runtime: Backing,
) -> None:
    loaded = await opened_case(runtime)
    await CASES.handle(runtime, loaded.case_id, KATIM, Coordinate("Balai Kota"))

    with pytest.raises(StepOutOfOrder) as refused:
        await CASES.apply(runtime, loaded, KATIM, Coordinate("Pendopo"))

    assert refused.value.details["awaiting_step"] == 4
    events = await runtime.store.read_stream(CASES.stream_of(loaded.case_id))
    assert [e.type for e in events] == [SchedulingStepOpened.TYPE, ScheduleCoordinated.TYPE]


class AlwaysBeaten(EventStore):
    """A store where another writer appends to the stream just before every append."""

    def __init__(self, store: EventStore, loaded: Loaded[Toy]) -> None:
        super().__init__(store.pool)
        self.loaded = loaded
        self.appends = 0

    async def append(
        self, stream_id: str, expected_version: int, events: Any, **kwargs: Any
    ) -> list[int]:
        self.appends += 1
        await super().append(stream_id, expected_version, mail_outcome(self.loaded))
        return await super().append(stream_id, expected_version, events, **kwargs)


async def test_a_command_that_loses_every_race_is_409_after_its_attempts(
    runtime: Backing,
) -> None:
    loaded = await opened_case(runtime)
    beaten = AlwaysBeaten(runtime.store, loaded)
    cases = Cases(
        Service.SCHEDULING, Toy, evolve, commands={Coordinate: decide_coordinate}, attempts=3
    )

    with pytest.raises(ConcurrentChange):
        await cases.apply(Backing(beaten, CATALOG), loaded, KATIM, Coordinate("Balai Kota"))

    assert beaten.appends == 3
    events = await runtime.store.read_stream(CASES.stream_of(loaded.case_id))
    assert [e.type for e in events] == [SchedulingStepOpened.TYPE] + [InvitationMailed.TYPE] * 3


async def test_a_command_gives_up_after_the_process_s_command_attempts(runtime: Backing) -> None:
    # COMMAND_ATTEMPTS of the service process, for every service's cases and for
    # scheduling's booked steps alike (those had their own constant of 3)
    loaded = await opened_case(runtime)
    beaten = AlwaysBeaten(runtime.store, loaded)

    with pytest.raises(ConcurrentChange):
        await CASES.apply(
            Backing(beaten, CATALOG, command_attempts=2), loaded, KATIM, Coordinate("Balai Kota")
        )

    assert beaten.appends == 2


SECRET = "k7Qz2mVx9LpR4tWc8NbY3hJd6FsG1aEu5oKi0TyXqZ"


@pytest.mark.unit
def test_command_attempts_is_a_setting_of_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMAND_ATTEMPTS", "7")
    assert ServiceSettings(jwt_secret=SECRET).command_attempts == 7
    monkeypatch.setenv("COMMAND_ATTEMPTS", "0")
    with pytest.raises(ValidationError, match="command_attempts"):
        ServiceSettings(jwt_secret=SECRET)
