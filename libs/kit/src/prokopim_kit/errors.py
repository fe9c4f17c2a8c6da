"""Named errors a command can fail with, each mapped to one HTTP status.

Every error names what the user must act on: the role required, the step the case is
waiting for, the inputs missing. None of them writes an event. Each class carries what its
RFC 9457 problem detail and its OpenAPI documentation need (`prokopim_kit.problems`):
`status`, `code`, `title`, and an example of its detail and members.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

WIB = timezone(timedelta(hours=7), "WIB")  # the offices' time, in what a user reads


def problem_type(code: str) -> str:
    """Return the problem `type` URI of an error code."""
    return f"urn:prokopim:problem:{code.replace('_', '-')}"


class CommandRejected(Exception):
    """Base of the errors a command can be refused with."""

    status = 400
    code = "rejected"
    title = "Request refused"
    example_detail: ClassVar[str] = ""
    example_members: ClassVar[dict[str, Any]] = {}

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """Return the JSON error body (the members the problem detail extends with)."""
        return {"error": self.code, "detail": self.message, **self.details}

    def headers(self) -> dict[str, str] | None:
        """Return the response headers this refusal needs, if any."""
        return None


class Unauthenticated(CommandRejected):
    status = 401
    code = "unauthenticated"
    title = "Missing or invalid bearer token"
    example_detail = "a bearer token is required (Authorization: Bearer ...)"

    def __init__(self, message: str, *, invalid_token: bool = False) -> None:
        super().__init__(message)
        self.invalid_token = invalid_token

    def headers(self) -> dict[str, str]:
        """RFC 6750: every 401 says how to authenticate, and why a token was refused."""
        challenge = 'Bearer realm="prokopim"'
        if self.invalid_token:
            # error_description allows printable ASCII except '"' and '\\'
            reason = "".join(c for c in self.message if " " <= c <= "~" and c not in '"\\')
            challenge += f', error="invalid_token", error_description="{reason}"'
        return {"WWW-Authenticate": challenge}


class UnknownRole(CommandRejected):
    status = 403
    code = "unknown_role"
    title = "The token's role is in no installed SOP"
    example_detail = "role 'tamu' is in no installed SOP"
    example_members: ClassVar[dict[str, Any]] = {"actual_role": "tamu"}

    def __init__(self, role: str) -> None:
        super().__init__(
            f"role {role!r} is in no installed SOP; ask for a token with an SOP role",
            actual_role=role,
        )


class WrongRole(CommandRejected):
    status = 403
    code = "wrong_role"
    title = "The step must be done by another role"
    example_detail = "step 2 must be done by role 'ka-bagian', not 'pengadministrasi-umum'"
    example_members: ClassVar[dict[str, Any]] = {
        "step": 2,
        "required_role": "ka-bagian",
        "actual_role": "pengadministrasi-umum",
    }

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
    title = "No such case here"
    example_members: ClassVar[dict[str, Any]] = {"case_id": "3f0c2a4e-8d5b-4c1e-9a57-2b1f0e6d7c8a"}

    def __init__(self, case_id: object) -> None:
        super().__init__(f"case {case_id} is not known here", case_id=str(case_id))


class StepOutOfOrder(CommandRejected):
    status = 409
    code = "step_out_of_order"
    title = "The case is waiting for another step"
    example_detail = "step 5 is out of order: the case is waiting for step 3"
    example_members: ClassVar[dict[str, Any]] = {"attempted_step": 5, "awaiting_step": 3}

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
    title = "Another command changed the case at the same time"
    example_members: ClassVar[dict[str, Any]] = {"case_id": "3f0c2a4e-8d5b-4c1e-9a57-2b1f0e6d7c8a"}

    def __init__(self, case_id: object) -> None:
        super().__init__(
            f"case {case_id} was changed by another command at the same time; reload and retry",
            case_id=str(case_id),
        )


class CaseWasCancelled(CommandRejected):
    """The case was cancelled (scheduling's `case-cancelled`): no service takes commands on it."""

    status = 409
    code = "case_cancelled"
    title = "The case was cancelled"
    example_detail = (
        "case 3f0c2a4e-8d5b-4c1e-9a57-2b1f0e6d7c8a was cancelled on 2026-12-08 10:15 WIB"
        " (Acara dibatalkan oleh penyelenggara); it takes no more commands"
    )
    example_members: ClassVar[dict[str, Any]] = {
        "case_id": "3f0c2a4e-8d5b-4c1e-9a57-2b1f0e6d7c8a",
        "cancelled_at": "2026-12-08T10:15:00+07:00",
        "reason": "Acara dibatalkan oleh penyelenggara",
    }

    def __init__(self, case_id: object, cancelled_at: datetime, reason: str) -> None:
        at = cancelled_at.astimezone(WIB)
        super().__init__(
            f"case {case_id} was cancelled on {at:%Y-%m-%d %H:%M} WIB ({reason});"
            " it takes no more commands",
            case_id=str(case_id),
            cancelled_at=at.isoformat(),
            reason=reason,
        )


class MissingInputs(CommandRejected):
    status = 422
    code = "missing_inputs"
    title = "The step's required inputs (kelengkapan) are missing"
    example_detail = "step 1 needs its required inputs (kelengkapan): script"
    example_members: ClassVar[dict[str, Any]] = {"step": 1, "missing_inputs": ["script"]}

    def __init__(self, step: int, missing: list[str]) -> None:
        super().__init__(
            f"step {step} needs its required inputs (kelengkapan): {', '.join(missing)}",
            step=step,
            missing_inputs=missing,
        )


class InvalidCommand(CommandRejected):
    status = 422
    code = "invalid_command"
    title = "The command breaks a rule of its step"
    example_detail = "'to' (2026-01-01) is before 'from' (2026-06-30)"
    example_members: ClassVar[dict[str, Any]] = {"field": "to"}

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message, field=field)


class SopNotInstalled(CommandRejected):
    """A case's SOP version is no longer in this installation's catalog."""

    status = 409
    code = "sop_not_installed"
    title = "The case's SOP version is not installed"
    example_detail = (
        "the case runs under SOP 'bdg-setda-010-2024' version '2023', which is not installed;"
        " restore that definition to continue the case"
    )
    example_members: ClassVar[dict[str, Any]] = {
        "sop_id": "bdg-setda-010-2024",
        "sop_version": "2023",
    }

    def __init__(self, sop_id: str, version: str) -> None:
        super().__init__(
            f"the case runs under SOP {sop_id!r} version {version!r}, which is not installed;"
            " restore that definition to continue the case",
            sop_id=sop_id,
            sop_version=version,
        )


class InvalidRequest(CommandRejected):
    """A body, query or path parameter that does not validate; `errors` names each field."""

    status = 422
    code = "invalid_request"
    title = "The request does not validate"
    example_detail = "the request is invalid: requester.email: value is not a valid email address"
    example_members: ClassVar[dict[str, Any]] = {
        "errors": [
            {
                "field": "requester.email",
                "location": "body",
                "pointer": "/requester/email",
                "detail": "value is not a valid email address",
                "code": "value_error",
            }
        ]
    }

    def __init__(self, message: str, errors: list[dict[str, str]]) -> None:
        super().__init__(message, errors=errors)


class RequestTooLarge(CommandRejected):
    status = 413
    code = "request_too_large"
    title = "Request body too large"
    example_detail = "the request body exceeds 1048576 bytes (MAX_BODY_BYTES)"
    example_members: ClassVar[dict[str, Any]] = {"limit_bytes": 1048576}

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the request body exceeds {limit} bytes (MAX_BODY_BYTES)", limit_bytes=limit
        )
