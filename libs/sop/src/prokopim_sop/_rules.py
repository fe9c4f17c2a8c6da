"""Rule violations raised inside validators, carrying the step and field they concern."""

from __future__ import annotations

from typing import Any, Final

from pydantic_core import PydanticCustomError

RULE_ERROR: Final = "sop_rule"


def violation(
    reason: str, *, step: int | None = None, field: str | None = None
) -> PydanticCustomError:
    """Build a validation error the loader can turn into `file: step N: field: reason`."""
    # The step and field ride in the error context because a model-level validator's
    # `loc` cannot say which step it found wrong.
    context: dict[str, Any] = {"reason": reason}
    if step is not None:
        context["step"] = step
    if field is not None:
        context["field"] = field
    return PydanticCustomError(RULE_ERROR, "{reason}", context)
