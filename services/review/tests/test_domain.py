"""Review's rules, given events -> when a decision -> then events (or a named error)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from functools import reduce

import pytest
from prokopim_events.contracts import (
    Attachment,
    CaseFile,
    Contract,
    DispositionGiven,
    Draft,
    DraftApproved,
    DraftProduced,
    DraftRejected,
    Requester,
    ReviewStepOpened,
)
from prokopim_events.envelope import Actor
from prokopim_kit.errors import InvalidCommand, MissingInputs, StepOutOfOrder, WrongRole
from prokopim_review.domain import (
    CaseState,
    DecideDraft,
    IncompleteHandover,
    StaleDraft,
    decide_draft,
    decide_open,
    evolve,
    review_level,
)
from prokopim_sop import Sop, load_catalog

pytestmark = pytest.mark.unit

CATALOG = load_catalog()
BANDUNG = CATALOG.get("bdg-setda-010-2024")
TANGERANG = CATALOG.get("tgr-58-2025")
PARAF = {"initials": "paraf"}
COVERAGE = {"press-release": "doc:1", "photos": "doc:2", "video": "doc:3"}
CASE_ID = uuid.UUID("00000000-0000-0000-0000-0000000000c5")


def case_file() -> CaseFile:
    return CaseFile(
        letter_number="005/123/Setda",
        requester=Requester(name="Dinas Kominfo", agency="Diskominfo"),
        subject="Tapping video HUT Kota",
        activity_name="HUT Kota",
        activity_date=date(2025, 5, 20),
    )


def draft(version: int = 1) -> Draft:
    return Draft(version=version, files=[Attachment(kind="video", ref=f"s3://draft-v{version}")])


def produced(sop: Sop, step: int, version: int = 1) -> DraftProduced:
    return DraftProduced(
        case_id=CASE_ID,
        sop_id=sop.id,
        sop_version=sop.version,
        step=step,
        next_step=step + 1,
        case=case_file(),
        draft=draft(version),
    )


def opened(sop: Sop, producing_step: int, version: int = 1) -> list[Contract]:
    """Review's events after production hands a draft over at `producing_step`."""
    return decide_open(CaseState(), sop, produced(sop, producing_step, version), uuid.uuid4())


def given(*histories: Sequence[Contract]) -> CaseState:
    return reduce(evolve, [event for history in histories for event in history], CaseState())


def approve(version: int = 1, inputs: dict[str, str] = PARAF) -> DecideDraft:
    return DecideDraft("approve", version, inputs)


def reject(reason: str | None, version: int = 1, inputs: dict[str, str] = PARAF) -> DecideDraft:
    return DecideDraft("reject", version, inputs, reason=reason)


# --- opening ----------------------------------------------------------------------------
def test_a_draft_handed_to_a_review_step_opens_it_with_the_case_and_the_draft() -> None:
    cause = uuid.uuid4()
    [event] = decide_open(CaseState(), BANDUNG, produced(BANDUNG, 7), cause)
    assert isinstance(event, ReviewStepOpened)
    assert (event.step, event.reason, event.cause_event_id) == (8, "handover", cause)
    assert (event.case, event.draft) == (case_file(), draft())
    assert given([event]).awaiting_here(BANDUNG) == 8


def test_a_step_handed_to_another_service_opens_nothing() -> None:
    disposition = DispositionGiven(
        case_id=CASE_ID,
        sop_id=BANDUNG.id,
        sop_version=BANDUNG.version,
        step=2,
        next_step=3,
        case=case_file(),
        instruction="proses",
    )
    assert decide_open(CaseState(), BANDUNG, disposition, uuid.uuid4()) == []


def test_a_hand_over_to_review_without_a_draft_is_refused() -> None:
    bare = DispositionGiven(
        case_id=CASE_ID,
        sop_id=BANDUNG.id,
        sop_version=BANDUNG.version,
        step=7,
        next_step=8,
        case=case_file(),
        instruction="no draft",
    )
    with pytest.raises(IncompleteHandover):
        decide_open(CaseState(), BANDUNG, bare, uuid.uuid4())


# --- Bandung ----------------------------------------------------------------------------
def test_bandung_approve_at_8_then_reject_at_9_returns_to_8() -> None:
    state = given(opened(BANDUNG, 7))

    [approved] = decide_draft(state, BANDUNG, Actor(id="kpp-1", role="koordinator-kpp"), approve())
    assert isinstance(approved, DraftApproved)
    assert (approved.step, approved.next_step, approved.level) == (8, 9, 1)
    assert (approved.reviewer, approved.draft, approved.inputs) == ("kpp-1", draft(), PARAF)
    state = evolve(state, approved)
    assert state.awaiting_here(BANDUNG) == 9

    [rejected] = decide_draft(
        state, BANDUNG, Actor(id="kabag", role="ka-bagian"), reject("  audio pecah ")
    )
    assert isinstance(rejected, DraftRejected)
    assert (rejected.step, rejected.next_step, rejected.level) == (9, 8, 2)
    assert (rejected.reviewer, rejected.reason) == ("kabag", "audio pecah")
    state = evolve(state, rejected)
    assert state.awaiting_here(BANDUNG) == 8
    assert [d.verdict for d in state.decisions] == ["approve", "reject"]


def test_bandung_reject_at_8_sends_the_case_back_to_7_where_review_waits() -> None:
    state = given(opened(BANDUNG, 7))
    [rejected] = decide_draft(
        state, BANDUNG, Actor(id="kpp-1", role="koordinator-kpp"), reject("cut intro")
    )
    assert (rejected.step, rejected.next_step, rejected.level) == (8, 7, 1)
    state = evolve(state, rejected)
    assert state.awaiting_here(BANDUNG) is None

    with pytest.raises(StepOutOfOrder) as refused:
        decide_draft(state, BANDUNG, Actor(id="kpp-1", role="koordinator-kpp"), approve())
    assert refused.value.details["awaiting_step"] is None


def test_bandung_a_new_draft_reopens_review_at_8() -> None:
    first = opened(BANDUNG, 7, version=1)
    state = given(first)
    rejected = decide_draft(
        state, BANDUNG, Actor(id="kpp-1", role="koordinator-kpp"), reject("cut intro")
    )
    state = given(first, rejected, opened(BANDUNG, 7, version=2))
    assert state.awaiting_here(BANDUNG) == 8
    assert state.draft == draft(2)

    [approved] = decide_draft(
        state, BANDUNG, Actor(id="kpp-1", role="koordinator-kpp"), approve(version=2)
    )
    assert (approved.next_step, approved.draft.version) == (9, 2)


def test_bandung_approval_at_9_hands_over_to_publishing() -> None:
    state = given(opened(BANDUNG, 7))
    state = evolve(
        state, *decide_draft(state, BANDUNG, Actor(id="k", role="koordinator-kpp"), approve())
    )
    [approved] = decide_draft(state, BANDUNG, Actor(id="kabag", role="ka-bagian"), approve())
    assert (approved.step, approved.next_step, approved.level) == (9, 10, 2)
    assert approved.outputs == ["recording"]
    assert evolve(state, approved).awaiting_here(BANDUNG) is None


# --- Tangerang --------------------------------------------------------------------------
def test_tangerang_reject_at_5_returns_to_the_coverage_team_at_4() -> None:
    state = given(opened(TANGERANG, 4))
    assert state.awaiting_here(TANGERANG) == 5
    command = reject("foto buram", 1, COVERAGE)
    [rejected] = decide_draft(state, TANGERANG, Actor(id="kt", role="ketua-tim"), command)
    assert (rejected.step, rejected.next_step, rejected.level) == (5, 4, 1)
    assert evolve(state, rejected).awaiting_here(TANGERANG) is None


def test_tangerang_reject_at_6_returns_to_the_head_of_team_at_5() -> None:
    state = given(opened(TANGERANG, 4))
    state = evolve(
        state,
        *decide_draft(state, TANGERANG, Actor(id="kt", role="ketua-tim"), approve(1, COVERAGE)),
    )
    assert state.awaiting_here(TANGERANG) == 6
    [rejected] = decide_draft(
        state, TANGERANG, Actor(id="kb", role="kepala-bagian"), reject("judul", 1, COVERAGE)
    )
    assert (rejected.step, rejected.next_step, rejected.level) == (6, 5, 2)
    assert evolve(state, rejected).awaiting_here(TANGERANG) == 5


def test_review_levels_follow_the_sops_review_steps() -> None:
    assert [review_level(BANDUNG, 8), review_level(BANDUNG, 9)] == [1, 2]
    assert [review_level(TANGERANG, 5), review_level(TANGERANG, 6)] == [1, 2]


# --- refusals ---------------------------------------------------------------------------
def test_a_reviewer_of_another_role_is_refused_naming_the_role() -> None:
    state = given(opened(BANDUNG, 7))
    with pytest.raises(WrongRole) as refused:
        decide_draft(state, BANDUNG, Actor(id="kabag", role="ka-bagian"), approve())
    assert refused.value.details["required_role"] == "koordinator-kpp"


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_rejection_without_a_reason_is_refused_naming_reason(reason: str | None) -> None:
    state = given(opened(BANDUNG, 7))
    with pytest.raises(InvalidCommand) as refused:
        decide_draft(state, BANDUNG, Actor(id="k", role="koordinator-kpp"), reject(reason))
    assert refused.value.details["field"] == "reason"


def test_a_decision_on_a_stale_draft_names_the_current_version() -> None:
    state = given(opened(BANDUNG, 7, version=3))
    with pytest.raises(StaleDraft) as refused:
        decide_draft(state, BANDUNG, Actor(id="k", role="koordinator-kpp"), approve(version=2))
    assert refused.value.status == 409
    assert refused.value.details["current_version"] == 3


def test_a_decision_without_the_initials_names_them() -> None:
    state = given(opened(BANDUNG, 7))
    with pytest.raises(MissingInputs) as refused:
        decide_draft(
            state, BANDUNG, Actor(id="k", role="koordinator-kpp"), approve(inputs={"initials": " "})
        )
    assert refused.value.details["missing_inputs"] == ["initials"]


def test_a_case_review_never_opened_waits_for_nothing() -> None:
    with pytest.raises(StepOutOfOrder):
        decide_draft(CaseState(), BANDUNG, Actor(id="k", role="koordinator-kpp"), approve())


def test_a_late_second_decision_on_a_step_already_decided_is_out_of_order() -> None:
    state = given(opened(BANDUNG, 7))
    state = evolve(
        state, *decide_draft(state, BANDUNG, Actor(id="k1", role="koordinator-kpp"), approve())
    )
    with pytest.raises(StepOutOfOrder) as refused:
        decide_draft(state, BANDUNG, Actor(id="k2", role="koordinator-kpp"), approve())
    assert refused.value.details == {"attempted_step": 8, "awaiting_step": 9}


def test_a_decision_naming_another_step_than_the_awaited_one_is_out_of_order() -> None:
    state = given(opened(BANDUNG, 7))
    command = DecideDraft("approve", 1, PARAF, step=9)
    with pytest.raises(StepOutOfOrder) as refused:
        decide_draft(state, BANDUNG, Actor(id="kabag", role="ka-bagian"), command)
    assert refused.value.details["awaiting_step"] == 8
