"""The review of a draft: pure state, evolution and decisions; no I/O, no clock.

A case enters review when another service completes a step whose next step is a review
step, carrying the draft. Each review step approves (on to `on_approve`) or rejects (back to
`on_reject`, with a reason). When the next step is again a review step the case stays here,
awaiting it; otherwise it waits until a new draft is handed over.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, TypeVar
from uuid import UUID

from prokopim_events.contracts import (
    CaseFile,
    Contract,
    Draft,
    DraftApproved,
    DraftRejected,
    ReviewStepOpened,
    StepCompleted,
)
from prokopim_events.envelope import Actor
from prokopim_kit.errors import CommandRejected, InvalidCommand, StepOutOfOrder
from prokopim_kit.pipeline import CaseState as Case
from prokopim_kit.steps import guard_step
from prokopim_sop import Service, Sop, StepKind

SERVICE = Service.REVIEW.value
Verdict = Literal["approve", "reject"]
VerdictEvent = DraftApproved | DraftRejected
M = TypeVar("M", CaseFile, Draft)


class StaleDraft(CommandRejected):
    """The decision names a draft version other than the one under review."""

    status = 409
    code = "stale_draft"

    def __init__(self, given: int, current: int | None) -> None:
        super().__init__(
            f"draft version {given} is not the draft under review (current version: {current})",
            draft_version=given,
            current_version=current,
        )


class IncompleteHandover(Exception):
    """A step handed to review did not carry the case file and the draft to review."""


@dataclass(frozen=True)
class ReviewVerdict:
    """One reviewer's verdict on one draft at one review step."""

    verdict: Verdict
    step: int
    next_step: int | None
    level: int
    reviewer: str
    draft_version: int
    reason: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class CaseState(Case):
    """What review knows of a case: where it is, the draft and the verdicts so far."""

    service = Service.REVIEW
    case: CaseFile | None = None
    draft: Draft | None = None
    decisions: tuple[ReviewVerdict, ...] = ()


@dataclass(frozen=True)
class DecideDraft:
    """Command: approve or reject the draft under review at the awaited step."""

    verdict: Verdict
    draft_version: int
    inputs: dict[str, str]
    reason: str | None = None
    note: str | None = None
    step: int | None = None  # the step the reviewer means to decide, when the client says


def review_level(sop: Sop, step: int) -> int:
    """Return 1 for the SOP's first review step, 2 for the second, and so on."""
    numbers = [s.number for s in sop.steps if s.kind is StepKind.REVIEW]
    return numbers.index(step) + 1


def evolve(state: CaseState, event: Contract) -> CaseState:
    """Apply one of review's own events to the state."""
    if isinstance(event, ReviewStepOpened):
        return replace(
            state,
            case_id=event.case_id,
            sop_id=event.sop_id,
            sop_version=event.sop_version,
            case=event.case,
            draft=event.draft or state.draft,
            awaiting_step=event.step,
        )
    if isinstance(event, DraftApproved | DraftRejected):
        return replace(
            state,
            awaiting_step=event.next_step,
            decisions=(*state.decisions, _decision_of(event)),
        )
    return state


def _decision_of(event: VerdictEvent) -> ReviewVerdict:
    approved = isinstance(event, DraftApproved)
    return ReviewVerdict(
        verdict="approve" if approved else "reject",
        step=event.step,
        next_step=event.next_step,
        level=event.level,
        reviewer=event.reviewer,
        draft_version=event.draft.version,
        reason=event.reason if isinstance(event, DraftRejected) else None,
        note=event.note if isinstance(event, DraftApproved) else None,
    )


def decide_open(
    state: CaseState, sop: Sop, event: StepCompleted, cause_event_id: UUID
) -> list[Contract]:
    """Open review at `event.next_step` if that step is review's; else decide nothing."""
    if event.next_step is None or sop.step(event.next_step).service is not Service.REVIEW:
        return []
    case, draft = _carried(event, "case", CaseFile), _carried(event, "draft", Draft)
    if case is None or draft is None:
        raise IncompleteHandover(
            f"{event.TYPE} of case {event.case_id} hands step {event.next_step} to review"
            " without the case file and the draft"
        )
    return [
        ReviewStepOpened(
            case_id=event.case_id,
            sop_id=event.sop_id,
            sop_version=event.sop_version,
            step=event.next_step,
            reason="handover",
            cause_event_id=cause_event_id,
            case=case,
            draft=draft,
        )
    ]


def _carried(event: StepCompleted, name: str, model: type[M]) -> M | None:
    # Only some StepCompleted types declare `case`/`draft`; others may carry them as extras.
    value = getattr(event, name, None)
    if value is None or isinstance(value, model):
        return value
    return model.model_validate(value)


def decide_draft(
    state: CaseState, sop: Sop, actor: Actor, command: DecideDraft
) -> list[VerdictEvent]:
    """Approve or reject the draft at the awaited review step (the actor is the reviewer)."""
    awaiting = state.awaiting_here(sop)
    _refuse_stale_step(state, sop, awaiting, actor.role, command)
    step = guard_step(sop, awaiting, [StepKind.REVIEW], actor.role, command.inputs)
    reviewer = actor.id
    reason = (command.reason or "").strip()
    if command.verdict == "reject" and not reason:
        raise InvalidCommand(f"rejecting at step {step.number} needs a reason", field="reason")
    current = state.draft.version if state.draft else None
    if (
        state.case_id is None
        or state.sop_id is None
        or state.sop_version is None
        or state.case is None
        or state.draft is None
        or command.draft_version != current
    ):
        raise StaleDraft(command.draft_version, current)
    level = review_level(sop, step.number)
    if command.verdict == "approve":
        return [
            DraftApproved(
                case_id=state.case_id,
                sop_id=state.sop_id,
                sop_version=state.sop_version,
                step=step.number,
                next_step=step.on_approve,
                inputs=dict(command.inputs),
                outputs=[item.id for item in step.outputs],
                case=state.case,
                draft=state.draft,
                level=level,
                reviewer=reviewer,
                note=(command.note or "").strip() or None,
            )
        ]
    return [
        DraftRejected(
            case_id=state.case_id,
            sop_id=state.sop_id,
            sop_version=state.sop_version,
            step=step.number,
            next_step=step.on_reject,
            inputs=dict(command.inputs),
            case=state.case,
            draft=state.draft,
            level=level,
            reviewer=reviewer,
            reason=reason,
        )
    ]


def _refuse_stale_step(
    state: CaseState, sop: Sop, awaiting: int | None, role: str, command: DecideDraft
) -> None:
    """Refuse (409) a decision meant for a step that is no longer the awaited one.

    Two reviewers racing on step 8 must not see the loser told "wrong role for step 9":
    when the actor's role decided the last step on this very draft and the case has moved
    on, the command was meant for that step and is out of order.
    """
    if command.step is not None and command.step != awaiting:
        raise StepOutOfOrder(command.step, awaiting)
    last = state.decisions[-1] if state.decisions else None
    if (
        awaiting is not None
        and last is not None
        and last.draft_version == command.draft_version
        and sop.step(awaiting).role != role
        and sop.step(last.step).role == role
    ):
        raise StepOutOfOrder(last.step, awaiting)
