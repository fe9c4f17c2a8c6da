"""Named errors a command can fail with, each mapped to one HTTP status.

Every error names what the user must act on: the role required, the step the case is
waiting for, the inputs missing. None of them writes an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class CommandRejected(Exception):
    """Base of the errors a command can be refused with."""

    status = 400
    code = "rejected"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """Return the JSON error body."""
        return {"error": self.code, "message": self.message, **self.details}


class Unauthenticated(CommandRejected):
    status = 401
    code = "unauthenticated"


class WrongRole(CommandRejected):
    status = 403
    code = "wrong_role"

    def __init__(self, step: int, required_role: str, actual_role: str) -> None:
        super().__init__(
            f"step {step} must be done by role {required_role!r}, not {actual_role!r}",
            step=step,
            required_role=required_role,
            actual_role=actual_role,
        )


class UnknownCase(CommandRejected):
    status = 404
    code = "unknown_case"

    def __init__(self, case_id: object) -> None:
        super().__init__(f"case {case_id} is not known here", case_id=str(case_id))


class StepOutOfOrder(CommandRejected):
    status = 409
    code = "step_out_of_order"

    def __init__(self, attempted: int | str | Sequence[int], awaiting: int | None) -> None:
        waiting = f"waiting for step {awaiting}" if awaiting else "not waiting for any step"
        if not isinstance(attempted, int | str):  # a command that may act at several steps
            attempted = list(attempted)
        label = " or ".join(map(str, attempted)) if isinstance(attempted, list) else attempted
        super().__init__(
            f"step {label} is out of order: the case is {waiting}",
            attempted_step=attempted,
            awaiting_step=awaiting,
        )


class ConcurrentChange(CommandRejected):
    status = 409
    code = "concurrent_change"

    def __init__(self, case_id: object) -> None:
        super().__init__(
            f"case {case_id} was changed by another command at the same time; reload and retry",
            case_id=str(case_id),
        )


class MissingInputs(CommandRejected):
    status = 422
    code = "missing_inputs"

    def __init__(self, step: int, missing: list[str]) -> None:
        super().__init__(
            f"step {step} needs its required inputs (kelengkapan): {', '.join(missing)}",
            step=step,
            missing_inputs=missing,
        )


class InvalidCommand(CommandRejected):
    status = 422
    code = "invalid_command"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message, field=field)


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
