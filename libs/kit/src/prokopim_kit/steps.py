"""The rules every step command obeys, whatever the step's kind.

Pure functions over an SOP definition: order first (409 names the awaited step), then role
(403 names the required role), then required inputs (422 names the missing ones).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prokopim_sop import Sop, Step, StepKind

from .errors import MissingInputs, StepOutOfOrder, WrongRole


def guard_step(
    sop: Sop,
    awaiting: int | None,
    kinds: Iterable[StepKind],
    role: str,
    inputs: Mapping[str, str] | None = None,
    *,
    required_role: str | None = None,
) -> Step:
    """Return the awaited step if a command of one of `kinds` by `role` may act on it."""
    kinds = set(kinds)
    step = sop.step(awaiting) if awaiting is not None else None
    if step is None or step.kind not in kinds:
        numbers = [s.number for s in sop.steps if s.kind in kinds]
        raise StepOutOfOrder(numbers[0] if len(numbers) == 1 else numbers, awaiting)
    needed_role = required_role or step.role
    if role != needed_role:
        raise WrongRole(step.number, needed_role, role)
    if inputs is not None:
        check_inputs(step, inputs)
    return step


def check_inputs(step: Step, inputs: Mapping[str, str]) -> None:
    """Raise MissingInputs naming every required input not given (or given blank)."""
    missing = [item.id for item in step.inputs if not str(inputs.get(item.id, "")).strip()]
    if missing:
        raise MissingInputs(step.number, missing)
