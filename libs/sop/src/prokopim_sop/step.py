"""One SOP step and its Mutu Baku: role, inputs (Kelengkapan), standard time, outputs."""

from __future__ import annotations

import re
from typing import Annotated, Self

from annotated_types import Gt
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Strict,
    StringConstraints,
    model_validator,
)

from prokopim_sop._rules import violation
from prokopim_sop.kinds import Service, StepKind

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _check_slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise violation(f"must be a kebab-case slug such as 'ka-bagian' (got {value!r})")
    return value


Slug = Annotated[str, AfterValidator(_check_slug)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Count = Annotated[int, Strict(), Gt(0)]
StepRef = Annotated[int, Strict()]


class Frozen(BaseModel):
    """Immutable model that refuses unknown fields, so a typo in a file is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Bilingual(Frozen):
    """A text in Indonesian (`id`, as in the seed) and English (`en`)."""

    id: Text
    en: Text


class Role(Frozen):
    """A Pelaksana: who carries out a step."""

    id: Slug
    name: Text


class Item(Frozen):
    """Something a step needs (Kelengkapan) or produces (Output)."""

    id: Slug
    name: Text


class Standard(Frozen):
    """The standard time of a step: minutes or working days, never both."""

    minutes: Count | None = None
    working_days: Count | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.minutes is None) == (self.working_days is None):
            raise violation("give exactly one of minutes or working_days")
        return self


class Step(Frozen):
    """A numbered SOP step; `on_approve` defaults to the next step (none after the last)."""

    number: Count
    name: Bilingual
    role: Slug
    service: Service
    kind: StepKind
    standard: Standard
    inputs: tuple[Item, ...] = ()
    outputs: tuple[Item, ...] = ()
    on_approve: StepRef | None = None
    on_reject: StepRef | None = None
    archivist_role: Slug | None = None

    @property
    def standard_minutes(self) -> int | None:
        """Return the standard time in minutes, or None for a working-day standard."""
        return self.standard.minutes

    @property
    def standard_working_days(self) -> int | None:
        """Return the standard time in working days, or None for a minute standard."""
        return self.standard.working_days

    @model_validator(mode="after")
    def _fits_its_kind(self) -> Self:
        if self.kind.service is not self.service:
            raise violation(
                f"kind {self.kind.value!r} belongs to service {self.kind.service.value!r},"
                f" not {self.service.value!r}",
                field="kind",
            )
        if self.service is Service.REVIEW and self.on_reject is None:
            raise violation(
                "a review step must say which step a rejection returns to", field="on_reject"
            )
        if self.service is not Service.REVIEW and self.on_reject is not None:
            raise violation("only review steps can reject", field="on_reject")
        if self.on_reject is not None and self.on_reject >= self.number:
            raise violation(
                f"must point to an earlier step (got {self.on_reject})", field="on_reject"
            )
        if self.on_approve is not None and self.on_approve <= self.number:
            raise violation(
                f"must point to a later step (got {self.on_approve})", field="on_approve"
            )
        if self.archivist_role is not None and self.service is not Service.PUBLISHING:
            raise violation(
                "only a publishing step hands records to an archivist", field="archivist_role"
            )
        return self
