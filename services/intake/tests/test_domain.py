"""Intake's pure domain, given events -> when a command -> then events (or a named error)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from uuid import UUID

import pytest
from prokopim_events.contracts import (
    CaseFile,
    Contract,
    DispositionGiven,
    Requester,
    RequestReceived,
    SchedulingStepOpened,
)
from prokopim_events.envelope import Actor
from prokopim_intake.domain import (
    CaseState,
    GiveDisposition,
    RegisterRequest,
    decide_disposition,
    decide_register,
    evolve,
)
from prokopim_kit.errors import MissingInputs, StepOutOfOrder, UnknownCase, WrongRole
from prokopim_sop import Sop, bundled_definitions_dir, load_catalog
from pydantic import ValidationError

pytestmark = pytest.mark.unit

CATALOG = load_catalog(bundled_definitions_dir())


@dataclass(frozen=True)
class Flow:
    """What a test needs to know of one SOP's intake steps."""

    sop: Sop
    receiver: str
    head: str
    step1_inputs: dict[str, str]
    step2_inputs: dict[str, str]
    step1_outputs: list[str]
    step2_outputs: list[str]


BANDUNG = Flow(
    sop=CATALOG.get("bdg-setda-010-2024"),
    receiver="pengadministrasi-umum",
    head="ka-bagian",
    step1_inputs={"request-letter": "doc://letters/17", "script": "doc://scripts/17"},
    step2_inputs={
        "request-letter": "doc://letters/17",
        "script": "doc://scripts/17",
        "disposition-sheet": "doc://dispositions/17",
    },
    step1_outputs=["request-letter", "script"],
    step2_outputs=["disposition"],
)
TANGERANG = Flow(
    sop=CATALOG.get("tgr-58-2025"),
    receiver="pengadministrasi-perkantoran",
    head="kepala-bagian",
    step1_inputs={"request-letter": "doc://letters/58"},
    step2_inputs={"request-letter": "doc://letters/58", "agenda": "doc://agenda/2025-03"},
    step1_outputs=["disposition-sheet"],
    step2_outputs=["disposition"],
)


@pytest.fixture(params=[BANDUNG, TANGERANG], ids=["bandung", "tangerang"])
def flow(request: pytest.FixtureRequest) -> Flow:
    result: Flow = request.param
    return result


CASE_ID = UUID("6f1c1a52-8a4e-4d7a-9a53-3f0a3e1d2b10")
CASE = CaseFile(
    letter_number="800/123-Diskominfo",
    requester=Requester(name="Siti", agency="Diskominfo", email="siti@example.go.id"),
    subject="Tapping video HUT Kota",
    activity_name="HUT Kota",
    activity_date=date(2025, 5, 25),
)


def register_command(flow: Flow, **changes: object) -> RegisterRequest:
    fields: dict[str, object] = {
        "sop_id": flow.sop.id,
        "letter_number": CASE.letter_number,
        "requester": CASE.requester,
        "subject": CASE.subject,
        "activity_name": CASE.activity_name,
        "activity_date": CASE.activity_date,
        "inputs": flow.step1_inputs,
    }
    return RegisterRequest.model_validate({**fields, **changes})


def request_received(flow: Flow) -> RequestReceived:
    return RequestReceived(
        case_id=CASE_ID,
        sop_id=flow.sop.id,
        sop_version=flow.sop.version,
        step=1,
        next_step=2,
        inputs=flow.step1_inputs,
        outputs=flow.step1_outputs,
        case=CASE,
    )


def disposition_given(flow: Flow, instruction: str = "Proceed") -> DispositionGiven:
    return DispositionGiven(
        case_id=CASE_ID,
        sop_id=flow.sop.id,
        sop_version=flow.sop.version,
        step=2,
        next_step=3,
        inputs=flow.step2_inputs,
        outputs=flow.step2_outputs,
        case=CASE,
        instruction=instruction,
    )


def by(role: str) -> Actor:
    return Actor(id=f"{role}-1", role=role)


def given(*events: Contract) -> CaseState:
    state = CaseState(case_id=CASE_ID)
    for event in events:
        state = evolve(state, event)
    return state


# --- step 1: receive the request ----------------------------------------------------------
def test_registering_a_letter_completes_step_1_and_awaits_the_disposition(flow: Flow) -> None:
    events = decide_register(given(), flow.sop, by(flow.receiver), register_command(flow))

    assert events == [request_received(flow)]
    assert given(*events).awaiting_here(flow.sop) == 2


def test_registering_by_another_role_is_refused_naming_step_1s_role(flow: Flow) -> None:
    with pytest.raises(WrongRole) as caught:
        decide_register(given(), flow.sop, by(flow.head), register_command(flow))

    assert caught.value.details["required_role"] == flow.receiver
    assert caught.value.details["step"] == 1


def test_registering_without_required_inputs_names_the_missing_ones(flow: Flow) -> None:
    inputs = {"request-letter": "  "}  # blank counts as missing

    with pytest.raises(MissingInputs) as caught:
        decide_register(given(), flow.sop, by(flow.receiver), register_command(flow, inputs=inputs))

    assert caught.value.details["missing_inputs"] == list(flow.step1_inputs)


def test_the_role_is_checked_before_the_inputs(flow: Flow) -> None:
    with pytest.raises(WrongRole):
        decide_register(given(), flow.sop, by(flow.head), register_command(flow, inputs={}))


def test_a_case_cannot_be_registered_twice(flow: Flow) -> None:
    with pytest.raises(StepOutOfOrder):
        decide_register(
            given(request_received(flow)), flow.sop, by(flow.receiver), register_command(flow)
        )


def test_a_letter_needs_a_real_date_and_no_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="activity_date"):
        register_command(BANDUNG, activity_date="next tuesday")
    with pytest.raises(ValidationError, match="lettr_number"):
        register_command(BANDUNG, lettr_number="x")


# --- step 2: the disposition --------------------------------------------------------------
def test_the_disposition_completes_step_2_and_hands_the_case_over(flow: Flow) -> None:
    command = GiveDisposition(instruction="Proceed", inputs=flow.step2_inputs)

    events = decide_disposition(given(request_received(flow)), flow.sop, by(flow.head), command)

    assert events == [disposition_given(flow)]
    after = given(request_received(flow), *events)
    assert after.awaiting_here(flow.sop) is None
    assert after.steps_done == (1, 2)
    assert after.instruction == "Proceed"


def test_a_disposition_by_another_role_is_refused_naming_step_2s_role(flow: Flow) -> None:
    command = GiveDisposition(instruction="Proceed", inputs=flow.step2_inputs)

    with pytest.raises(WrongRole) as caught:
        decide_disposition(given(request_received(flow)), flow.sop, by(flow.receiver), command)

    assert caught.value.details["required_role"] == flow.head
    assert caught.value.details["step"] == 2


def test_a_disposition_without_required_inputs_names_the_missing_ones(flow: Flow) -> None:
    command = GiveDisposition(instruction="Proceed", inputs={"request-letter": "doc://l"})

    with pytest.raises(MissingInputs) as caught:
        decide_disposition(given(request_received(flow)), flow.sop, by(flow.head), command)

    expected = [i for i in flow.step2_inputs if i != "request-letter"]
    assert caught.value.details["missing_inputs"] == expected


def test_a_second_disposition_is_out_of_order_naming_the_awaited_step(flow: Flow) -> None:
    command = GiveDisposition(instruction="Again", inputs=flow.step2_inputs)
    state = given(request_received(flow), disposition_given(flow))

    with pytest.raises(StepOutOfOrder) as caught:
        decide_disposition(state, flow.sop, by(flow.head), command)

    assert caught.value.details["awaiting_step"] == 3


def test_a_disposition_on_an_unregistered_case_is_unknown(flow: Flow) -> None:
    command = GiveDisposition(instruction="Proceed", inputs=flow.step2_inputs)

    with pytest.raises(UnknownCase):
        decide_disposition(given(), flow.sop, by(flow.head), command)


def test_events_of_other_services_leave_the_state_unchanged(flow: Flow) -> None:
    state = given(request_received(flow))
    foreign = SchedulingStepOpened(
        case_id=CASE_ID,
        sop_id=flow.sop.id,
        sop_version=flow.sop.version,
        step=3,
        reason="handover",
        cause_event_id=uuid.uuid4(),
        case=CASE,
    )

    assert evolve(state, foreign) == state
