"""Production's rules, given events -> when a command -> then events or a named error."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from functools import reduce

import pytest
from prokopim_events.contracts import (
    Attachment,
    CaseFile,
    Contract,
    Draft,
    DraftProduced,
    DraftRejected,
    EquipmentPrepared,
    ProductionStepOpened,
    RecordingMade,
    Requester,
    StaffAssigned,
    parse,
)
from prokopim_events.envelope import Actor
from prokopim_kit.errors import InvalidCommand, MissingInputs, StepOutOfOrder, WrongRole
from prokopim_production.domain import (
    TICKED,
    CaseState,
    EquipmentNotPrepared,
    MakeRecording,
    PrepareEquipment,
    ProduceDraft,
    decide_draft,
    decide_open,
    decide_prepare_equipment,
    decide_record,
    evolve,
)
from prokopim_sop import Sop, load_catalog

pytestmark = pytest.mark.unit

CATALOG = load_catalog()
BANDUNG = CATALOG.get("bdg-setda-010-2024")
TANGERANG = CATALOG.get("tgr-58-2025")
PENATA = "penata-liputan"
TIM = "tim-liputan"
BANDUNG_KIT = ("video-recorder", "tripod", "mic", "lighting", "teleprompter")
TANGERANG_KIT = ("agenda", "team-assignment", "camera", "camcorder")
CASE_ID = uuid.UUID("6b0f7c9e-0000-4000-8000-000000000001")
CASE = CaseFile(
    letter_number="005/123-Humas",
    requester=Requester(name="Dinas Kominfo", agency="Diskominfo"),
    subject="Video sambutan HUT kota",
    activity_name="Tapping sambutan HUT",
    activity_date=date(2025, 5, 20),
)


def given(*events: Contract) -> CaseState:
    return reduce(evolve, events, CaseState())


def after(state: CaseState, events: list[Contract]) -> CaseState:
    return reduce(evolve, events, state)


def by(role: str) -> Actor:
    return Actor(id=f"{role}-1", role=role)


def handover(sop: Sop, step: int) -> StaffAssigned:
    """The scheduling event that hands the case to production's `step`."""
    return StaffAssigned(
        case_id=CASE_ID,
        sop_id=sop.id,
        sop_version=sop.version,
        step=step - 1,
        next_step=step,
        case=CASE,
        assignments=[],
    )


def opened(sop: Sop, step: int) -> Contract:
    [event] = decide_open(CaseState(), sop, handover(sop, step), uuid.uuid4())
    return event


def files(*names: str) -> list[Attachment]:
    return [Attachment(kind="video", ref=f"drive://{name}", name=name) for name in names]


def ticked(items: tuple[str, ...], **overrides: bool) -> Mapping[str, bool]:
    return {**dict.fromkeys(items, True), **overrides}


def rejection_of(state: CaseState, reason: str) -> list[Contract]:
    assert state.drafts
    sop = BANDUNG if state.sop_id == BANDUNG.id else TANGERANG
    step = 7 if sop is BANDUNG else 4
    rejected = DraftRejected(
        case_id=CASE_ID,
        sop_id=sop.id,
        sop_version=sop.version,
        step=step + 1,
        next_step=step,
        case=CASE,
        draft=state.drafts[-1],
        level=1,
        reviewer="koordinator",
        reason=reason,
    )
    return decide_open(state, sop, rejected, uuid.uuid4())


EDIT_INPUTS = {"computer": "laptop-07", "internet": "kantor"}


def bandung_at_step_7() -> list[Contract]:
    events = [opened(BANDUNG, 6)]
    events += decide_prepare_equipment(
        given(*events), BANDUNG, by(PENATA), PrepareEquipment(ticked(BANDUNG_KIT))
    )
    events += decide_record(given(*events), BANDUNG, by(PENATA), MakeRecording(files("raw.mp4")))
    return events


def test_bandung_handover_opens_step_6_with_the_case_file() -> None:
    [event] = decide_open(CaseState(), BANDUNG, handover(BANDUNG, 6), uuid.uuid4())
    assert isinstance(event, ProductionStepOpened)
    assert (event.step, event.reason, event.case, event.draft) == (6, "handover", CASE, None)
    assert given(event).awaiting_step == 6


def test_bandung_records_at_step_6_then_drafts_at_step_7() -> None:
    state = given(opened(BANDUNG, 6))
    [prepared] = decide_prepare_equipment(
        state, BANDUNG, by(PENATA), PrepareEquipment(ticked(BANDUNG_KIT))
    )
    assert isinstance(prepared, EquipmentPrepared)
    assert prepared.step == 6 and prepared.checklist == dict.fromkeys(BANDUNG_KIT, True)
    state = evolve(state, prepared)
    assert state.awaiting_step == 6  # preparing equipment does not complete the step

    [recorded] = decide_record(state, BANDUNG, by(PENATA), MakeRecording(files("raw.mp4")))
    assert isinstance(recorded, RecordingMade)
    assert (recorded.step, recorded.next_step) == (6, 7)
    assert recorded.outputs == ["raw-recording"]
    assert recorded.inputs == dict.fromkeys(BANDUNG_KIT, TICKED)
    state = evolve(state, recorded)

    [draft] = decide_draft(
        state, BANDUNG, by(PENATA), ProduceDraft(files("draft.mp4"), EDIT_INPUTS, notes="cut 1")
    )
    assert isinstance(draft, DraftProduced)
    assert (draft.step, draft.next_step, draft.case) == (7, 8, CASE)
    assert draft.draft == Draft(version=1, files=files("draft.mp4"), notes="cut 1")
    assert draft.inputs == EDIT_INPUTS
    assert evolve(state, draft).awaiting_step == 8


def test_tangerang_covers_and_drafts_in_step_4() -> None:
    state = given(opened(TANGERANG, 4))
    kit = PrepareEquipment(ticked(TANGERANG_KIT))
    state = after(state, decide_prepare_equipment(state, TANGERANG, by(TIM), kit))
    with pytest.raises(StepOutOfOrder):  # a cover step has no separate recording
        decide_record(state, TANGERANG, by(TIM), MakeRecording(files("raw.mp4")))

    coverage = [Attachment(kind="press-release", ref="doc://pr-1"), *files("foto.jpg")]
    command = ProduceDraft(coverage, {"agenda": "agenda-2025-05-20"}, notes="rilis")
    [draft] = decide_draft(state, TANGERANG, by(TIM), command)
    assert isinstance(draft, DraftProduced)
    assert (draft.step, draft.next_step, draft.draft.version) == (4, 5, 1)
    assert draft.outputs == ["press-release", "photos", "video"]
    assert draft.inputs["agenda"] == "agenda-2025-05-20"  # a given reference wins
    assert draft.inputs["camera"] == TICKED


def test_rejection_reopens_step_7_and_the_next_draft_is_version_2() -> None:
    events = bandung_at_step_7()
    events += decide_draft(
        given(*events), BANDUNG, by(PENATA), ProduceDraft(files("v1"), EDIT_INPUTS)
    )
    [rework] = rejection_of(given(*events), "audio too quiet")
    assert isinstance(rework, ProductionStepOpened)
    assert (rework.step, rework.reason) == (7, "rework")
    assert rework.draft is not None and rework.draft.version == 1

    stored = parse(rework.TYPE, rework.model_dump(mode="json"))  # as read back from the store
    state = given(*events, stored)
    assert (state.awaiting_step, state.rework_count) == (7, 1)
    assert state.last_rejection_reason == "audio too quiet"
    assert state.last_rejected_version == 1

    command = ProduceDraft(files("v2"), EDIT_INPUTS, notes="louder")
    [second] = decide_draft(state, BANDUNG, by(PENATA), command)
    assert isinstance(second, DraftProduced)
    assert second.draft == Draft(version=2, files=files("v2"), notes="louder")
    assert [d.version for d in evolve(state, second).drafts] == [1, 2]


def test_tangerang_rework_keeps_the_prepared_equipment() -> None:
    state = given(opened(TANGERANG, 4))
    kit = PrepareEquipment(ticked(TANGERANG_KIT))
    state = after(state, decide_prepare_equipment(state, TANGERANG, by(TIM), kit))
    state = after(state, decide_draft(state, TANGERANG, by(TIM), ProduceDraft(files("v1"))))
    state = after(state, rejection_of(state, "foto buram"))
    [second] = decide_draft(state, TANGERANG, by(TIM), ProduceDraft(files("v2")))
    assert isinstance(second, DraftProduced) and second.draft.version == 2


def test_a_second_handover_of_a_case_already_taken_up_is_ignored() -> None:
    state = given(*bandung_at_step_7())
    again = decide_open(state, BANDUNG, handover(BANDUNG, 6), uuid.uuid4())
    assert again == []


def test_a_wrong_role_is_refused_naming_the_required_role() -> None:
    state = given(opened(BANDUNG, 6))
    kit = PrepareEquipment(ticked(BANDUNG_KIT))
    with pytest.raises(WrongRole) as error:
        decide_prepare_equipment(state, BANDUNG, by("ka-bagian"), kit)
    assert error.value.details["required_role"] == PENATA

    state = after(state, decide_prepare_equipment(state, BANDUNG, by(PENATA), kit))
    with pytest.raises(WrongRole) as error:
        decide_record(state, BANDUNG, by("koordinator-kpp"), MakeRecording(files("raw.mp4")))
    assert error.value.details == {
        "step": 6,
        "required_role": PENATA,
        "actual_role": "koordinator-kpp",
    }
    with pytest.raises(WrongRole) as error:
        decide_draft(given(opened(TANGERANG, 4)), TANGERANG, by(PENATA), ProduceDraft(files("v1")))
    assert error.value.details["required_role"] == TIM


def test_commands_out_of_order_name_the_awaited_step() -> None:
    at_6 = given(opened(BANDUNG, 6))
    with pytest.raises(StepOutOfOrder) as error:
        decide_draft(at_6, BANDUNG, by(PENATA), ProduceDraft(files("v1"), EDIT_INPUTS))
    assert error.value.details["awaiting_step"] == 6

    at_7 = given(*bandung_at_step_7())
    with pytest.raises(StepOutOfOrder) as error:
        decide_prepare_equipment(at_7, BANDUNG, by(PENATA), PrepareEquipment(ticked(BANDUNG_KIT)))
    assert error.value.details["awaiting_step"] == 7

    with_review = after(
        at_7, decide_draft(at_7, BANDUNG, by(PENATA), ProduceDraft(files("v1"), EDIT_INPUTS))
    )
    with pytest.raises(StepOutOfOrder) as error:
        decide_draft(with_review, BANDUNG, by(PENATA), ProduceDraft(files("v2"), EDIT_INPUTS))
    assert error.value.details["awaiting_step"] == 8


def test_an_incomplete_checklist_names_the_missing_and_unticked_items() -> None:
    state = given(opened(BANDUNG, 6))
    checklist = {"video-recorder": True, "tripod": False, "lighting": True, "teleprompter": True}
    with pytest.raises(MissingInputs) as error:
        decide_prepare_equipment(state, BANDUNG, by(PENATA), PrepareEquipment(checklist))
    assert error.value.status == 422
    assert error.value.details["missing_inputs"] == ["tripod", "mic"]


def test_recording_or_covering_without_prepared_equipment_is_refused() -> None:
    with pytest.raises(EquipmentNotPrepared) as error:
        decide_record(given(opened(BANDUNG, 6)), BANDUNG, by(PENATA), MakeRecording(files("raw")))
    assert error.value.status == 422
    assert error.value.details["missing_inputs"] == list(BANDUNG_KIT)
    assert "equipment prepared first" in error.value.message

    with pytest.raises(EquipmentNotPrepared) as error:
        decide_draft(given(opened(TANGERANG, 4)), TANGERANG, by(TIM), ProduceDraft(files("v1")))
    assert error.value.details["missing_inputs"] == list(TANGERANG_KIT)


def test_an_edit_without_its_inputs_or_files_is_refused() -> None:
    state = given(*bandung_at_step_7())
    with pytest.raises(MissingInputs) as error:
        decide_draft(state, BANDUNG, by(PENATA), ProduceDraft(files("v1"), {"computer": "pc"}))
    assert error.value.details["missing_inputs"] == ["internet"]
    with pytest.raises(InvalidCommand) as invalid:
        decide_draft(state, BANDUNG, by(PENATA), ProduceDraft([], EDIT_INPUTS))
    assert invalid.value.details["field"] == "files"
