"""Scheduling's domain: given past events, when a command, then new events (or a named error)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from functools import reduce
from typing import Any

import pytest
from prokopim_events.contracts import (
    CaseFile,
    Contract,
    DispositionGiven,
    ProductionStepOpened,
    RecordingMade,
    Requester,
    RequesterNotified,
    RequestReceived,
    ScheduleCoordinated,
    SchedulingStepOpened,
    StaffAssigned,
)
from prokopim_events.envelope import Actor
from prokopim_kit.errors import (
    InvalidCommand,
    MissingInputs,
    StepOutOfOrder,
    UnknownCase,
    WrongRole,
)
from prokopim_scheduling.commands import AssignStaff, CoordinateSchedule, NotifyRequester
from prokopim_scheduling.domain import (
    CaseState,
    HandoverWithoutCase,
    Notify,
    decide_assign,
    decide_coordinate,
    decide_notify,
    decide_open,
    evolve,
)
from prokopim_sop import Sop, load_catalog
from pydantic import ValidationError

pytestmark = pytest.mark.unit

CATALOG = load_catalog()
BANDUNG = CATALOG.get("bdg-setda-010-2024")
TANGERANG = CATALOG.get("tgr-58-2025")
CASE_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
WHEN = datetime(2026, 12, 1, 9, 0, tzinfo=timezone(timedelta(hours=7)))
BDG_INPUTS = {"request-letter": "ref://surat", "script": "ref://naskah", "disposition-sheet": "d"}


# --- factories ------------------------------------------------------------------------
def case_file(**requester: Any) -> CaseFile:
    who = {"name": "Diskominfo", "agency": "Diskominfo", "email": "req@example.org"} | requester
    return CaseFile(
        letter_number="800/1/DEMO",
        requester=Requester(**who),
        subject="Permohonan rekaman",
        activity_name="Peresmian Taman Kota",
        activity_date=date(2026, 12, 1),
    )


def disposition(sop: Sop, case: CaseFile | None = None) -> DispositionGiven:
    return DispositionGiven(
        case_id=CASE_ID,
        sop_id=sop.id,
        sop_version=sop.version,
        step=2,
        next_step=3,
        case=case or case_file(),
        instruction="Tindak lanjuti",
    )


def by(role: str) -> Actor:
    return Actor(id=f"{role}-1", role=role)


def given(*events: Contract) -> CaseState:
    return reduce(evolve, events, CaseState(case_id=CASE_ID))


def opened(sop: Sop, case: CaseFile | None = None) -> CaseState:
    return given(*decide_open(CaseState(), sop, disposition(sop, case), uuid.uuid4()))


def coordinate(**overrides: Any) -> CoordinateSchedule:
    fields = {"scheduled_at": WHEN, "location": "Balai Kota", "inputs": BDG_INPUTS} | overrides
    return CoordinateSchedule(**fields)


def notify(channel: str = "email", **overrides: Any) -> NotifyRequester:
    return NotifyRequester(**({"channel": channel, "inputs": BDG_INPUTS} | overrides))


def assign(inputs: dict[str, str], **overrides: Any) -> AssignStaff:
    team = [{"name": "Budi", "role": "penata-liputan", "team": "A"}]
    return AssignStaff(**({"assignments": team, "inputs": inputs} | overrides))


def then(state: CaseState, events: list[Contract]) -> CaseState:
    return reduce(evolve, events, state)


# --- hand-over --------------------------------------------------------------------------
@pytest.mark.parametrize("sop", [BANDUNG, TANGERANG], ids=["bandung", "tangerang"])
def test_a_disposition_opens_the_case_at_step_3(sop: Sop) -> None:
    cause = uuid.uuid4()

    events = decide_open(CaseState(), sop, disposition(sop), cause)

    assert len(events) == 1
    (event,) = events
    assert isinstance(event, SchedulingStepOpened)
    assert (event.step, event.reason, event.cause_event_id) == (3, "handover", cause)
    assert event.case == case_file() and event.sop_version == sop.version
    state = then(given(), events)
    assert state.known and state.awaiting_here(sop) == 3


def test_a_step_handed_to_another_service_is_ignored() -> None:
    received = RequestReceived(
        case_id=CASE_ID,
        sop_id=BANDUNG.id,
        sop_version=BANDUNG.version,
        step=1,
        next_step=2,
        case=case_file(),
    )

    assert decide_open(CaseState(), BANDUNG, received, uuid.uuid4()) == []


def test_a_hand_over_without_case_file_is_refused() -> None:
    bare = RecordingMade(
        case_id=CASE_ID,
        sop_id=BANDUNG.id,
        sop_version=BANDUNG.version,
        step=2,
        next_step=3,
        files=[],
    )

    with pytest.raises(HandoverWithoutCase):
        decide_open(CaseState(), BANDUNG, bare, uuid.uuid4())


def test_evolve_ignores_other_services_events() -> None:
    state = opened(BANDUNG)
    other = ProductionStepOpened(
        case_id=CASE_ID,
        sop_id=BANDUNG.id,
        sop_version=BANDUNG.version,
        step=6,
        reason="handover",
        cause_event_id=uuid.uuid4(),
        case=case_file(),
    )

    assert evolve(state, other) == state


# --- Bandung 3 -> 4 -> 5 ----------------------------------------------------------------
def test_bandung_coordinate_then_notify_then_assign() -> None:
    state = opened(BANDUNG)

    scheduled = decide_coordinate(state, BANDUNG, by("ka-tim-dokpim"), coordinate(notes="Lantai 2"))
    (coordinated,) = scheduled
    assert isinstance(coordinated, ScheduleCoordinated)
    assert (coordinated.step, coordinated.next_step) == (3, 4)
    assert (coordinated.scheduled_at, coordinated.location) == (WHEN, "Balai Kota")
    assert coordinated.inputs == BDG_INPUTS
    state = then(state, scheduled)
    assert state.awaiting_here(BANDUNG) == 4

    nid = uuid.uuid4()
    told = decide_notify(state, BANDUNG, by("koordinator-kpp"), Notify(notify(), nid))
    (notified,) = told
    assert isinstance(notified, RequesterNotified)
    assert (notified.step, notified.next_step, notified.notification_id) == (4, 5, nid)
    assert notified.recipient == case_file().requester
    assert notified.scheduled_at == WHEN and notified.outputs == ["schedule"]
    assert "01-12-2026 pukul 09:00 WIB" in notified.message
    assert "Balai Kota" in notified.message and "Lantai 2" in notified.message
    state = then(state, told)
    assert state.awaiting_here(BANDUNG) == 5
    assert [n.location for n in state.notifications] == ["Balai Kota"]

    staffed = decide_assign(
        state, BANDUNG, by("ka-tim-dokpim"), assign({"schedule": "ref://jadwal"})
    )
    (assigned,) = staffed
    assert isinstance(assigned, StaffAssigned)
    assert (assigned.step, assigned.next_step, assigned.scheduled_at) == (5, 6, WHEN)
    assert assigned.case == case_file()
    assert [(a.name, a.role, a.team) for a in assigned.assignments] == [
        ("Budi", "penata-liputan", "A")
    ]
    state = then(state, staffed)
    assert state.steps_done == (3, 4, 5) and state.awaiting_step == 6
    assert state.awaiting_here(BANDUNG) is None  # handed on to production


def test_the_requester_gets_the_message_written_for_them() -> None:
    state = then(opened(BANDUNG), [scheduled_event()])

    (event,) = decide_notify(
        state,
        BANDUNG,
        by("koordinator-kpp"),
        Notify(notify("letter", message="Hadir 08.30"), uuid.uuid4()),
    )

    assert isinstance(event, RequesterNotified)
    assert (event.message, event.channel) == ("Hadir 08.30", "letter")


@pytest.mark.parametrize("channel", ["email", "phone"])
def test_a_channel_the_requester_cannot_be_reached_by_is_refused(channel: str) -> None:
    state = then(opened(BANDUNG, case_file(email=None, phone=None)), [scheduled_event()])

    with pytest.raises(InvalidCommand) as error:
        decide_notify(state, BANDUNG, by("koordinator-kpp"), Notify(notify(channel), uuid.uuid4()))

    assert error.value.details["field"] == "channel"


def test_a_schedule_without_offset_is_office_time() -> None:
    command = coordinate(scheduled_at="2026-12-01T09:00:00")

    assert command.scheduled_at == WHEN
    assert command.scheduled_at.astimezone(UTC).hour == 2


# --- Tangerang 3 ------------------------------------------------------------------------
def test_tangerang_splits_the_coverage_teams_at_step_3() -> None:
    state = opened(TANGERANG)
    teams = [
        {"name": "Ani", "role": "tim-liputan", "team": "Foto"},
        {"name": "Budi", "role": "tim-liputan", "team": "Video"},
    ]

    events = decide_assign(
        state,
        TANGERANG,
        by("ketua-tim"),
        assign({"disposition": "ref://disposisi"}, assignments=teams),
    )

    (assigned,) = events
    assert isinstance(assigned, StaffAssigned)
    assert (assigned.step, assigned.next_step, assigned.scheduled_at) == (3, 4, None)
    assert assigned.outputs == ["agenda", "team-assignment"]
    assert [a.team for a in assigned.assignments] == ["Foto", "Video"]
    assert then(state, events).awaiting_here(TANGERANG) is None


def test_tangerang_has_no_schedule_step() -> None:
    with pytest.raises(StepOutOfOrder) as error:
        decide_coordinate(opened(TANGERANG), TANGERANG, by("ketua-tim"), coordinate())

    assert error.value.details["awaiting_step"] == 3


# --- the rules every command obeys ------------------------------------------------------
def test_wrong_role_names_the_required_role() -> None:
    with pytest.raises(WrongRole) as error:
        decide_coordinate(opened(BANDUNG), BANDUNG, by("koordinator-kpp"), coordinate())

    assert error.value.details["required_role"] == "ka-tim-dokpim"
    assert error.value.status == 403


def test_assigning_before_the_schedule_names_the_awaited_step() -> None:
    with pytest.raises(StepOutOfOrder) as error:
        decide_assign(opened(BANDUNG), BANDUNG, by("ka-tim-dokpim"), assign({"schedule": "j"}))

    assert error.value.details["awaiting_step"] == 3
    assert error.value.status == 409


def test_a_step_cannot_be_done_twice() -> None:
    state = then(opened(BANDUNG), [scheduled_event()])

    with pytest.raises(StepOutOfOrder) as error:
        decide_coordinate(state, BANDUNG, by("ka-tim-dokpim"), coordinate())

    assert error.value.details["awaiting_step"] == 4


def test_missing_inputs_are_named() -> None:
    partial = {"request-letter": "ref://surat", "script": "   "}

    with pytest.raises(MissingInputs) as error:
        decide_coordinate(opened(BANDUNG), BANDUNG, by("ka-tim-dokpim"), coordinate(inputs=partial))

    assert error.value.details["missing_inputs"] == ["script", "disposition-sheet"]
    assert error.value.status == 422


def test_a_case_not_handed_over_is_unknown() -> None:
    with pytest.raises(UnknownCase):
        decide_coordinate(given(), BANDUNG, by("ka-tim-dokpim"), coordinate())


def test_at_least_one_assignment() -> None:
    with pytest.raises(ValidationError) as error:
        assign({"schedule": "j"}, assignments=[])
    assert error.value.errors()[0]["loc"] == ("assignments",)

    unchecked = AssignStaff.model_construct(assignments=[], inputs={"disposition": "d"})
    with pytest.raises(InvalidCommand) as refused:
        decide_assign(opened(TANGERANG), TANGERANG, by("ketua-tim"), unchecked)
    assert refused.value.details["field"] == "assignments"


def scheduled_event() -> ScheduleCoordinated:
    return ScheduleCoordinated(
        case_id=CASE_ID,
        sop_id=BANDUNG.id,
        sop_version=BANDUNG.version,
        step=3,
        next_step=4,
        scheduled_at=WHEN,
        location="Balai Kota",
    )
