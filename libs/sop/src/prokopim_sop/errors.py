"""Named errors of the SOP library: each says what is wrong and where."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DefinitionProblem:
    """One thing wrong in a definition file: which step, which field, and why."""

    step: int | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        parts = [f"step {self.step}"] if self.step is not None else []
        if self.field:
            parts.append(self.field)
        parts.append(self.reason)
        return ": ".join(parts)


class SopError(Exception):
    """Base of every error raised by prokopim_sop."""


class SopDefinitionError(SopError):
    """A definition file is malformed; the message names the file, step and field."""

    def __init__(self, path: Path, problems: Sequence[DefinitionProblem]) -> None:
        self.path = path
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{path.name}: {problem}" for problem in self.problems))


class UnknownSop(SopError, LookupError):
    """No SOP in the catalog has this id (or this version of it)."""

    def __init__(self, sop_id: str, version: str | None, known: Sequence[str]) -> None:
        self.sop_id = sop_id
        self.version = version
        what = f"SOP {sop_id!r}" if version is None else f"SOP {sop_id!r} version {version!r}"
        label = "known SOPs" if version is None else "known versions"
        super().__init__(f"no {what} ({label}: {', '.join(known) or 'none'})")


class UnknownStep(SopError, LookupError):
    """The SOP has no step with this number."""

    def __init__(self, sop_id: str, number: int, step_count: int) -> None:
        self.sop_id = sop_id
        self.number = number
        super().__init__(f"SOP {sop_id!r} has no step {number} (steps are 1..{step_count})")


class UnknownRole(SopError, LookupError):
    """The SOP defines no role with this id."""

    def __init__(self, sop_id: str, role_id: str, known: Sequence[str]) -> None:
        self.sop_id = sop_id
        self.role_id = role_id
        super().__init__(f"SOP {sop_id!r} has no role {role_id!r} (roles: {', '.join(known)})")
