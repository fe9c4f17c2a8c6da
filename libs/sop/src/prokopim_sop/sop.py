"""A whole SOP: its roles and steps, checked to form one well-linked procedure."""

from __future__ import annotations

from itertools import pairwise
from typing import Self

from pydantic import Field, field_validator, model_validator

from prokopim_sop._rules import violation
from prokopim_sop.errors import UnknownRole, UnknownStep
from prokopim_sop.kinds import SERVICE_ORDER, Service
from prokopim_sop.step import Bilingual, Count, Frozen, Role, Slug, Step, Text


class Sop(Frozen):
    """A Standar Operasional Prosedur, loaded from a definition file."""

    id: Slug
    title: Bilingual
    version: Text
    city: Text
    official_number: Text | None = None
    legal_basis: tuple[Text, ...]
    roles: tuple[Role, ...] = Field(min_length=1)
    records_rule: Text
    total_standard_minutes: Count | None = None
    steps: tuple[Step, ...] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        # Versions are compared as text; an unquoted 2024.1 would reach us as a float.
        if isinstance(value, bool):
            raise violation("must be an integer or a quoted string")
        if isinstance(value, float):
            raise violation(f'put the version in quotes ("{value}"); YAML read it as a number')
        if isinstance(value, int):
            return str(value)
        return value

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, roles: tuple[Role, ...]) -> tuple[Role, ...]:
        seen: set[str] = set()
        for role in roles:
            if role.id in seen:
                raise violation(f"role id {role.id!r} is defined twice")
            seen.add(role.id)
        return roles

    @field_validator("steps")
    @classmethod
    def _numbered_in_order(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        for position, step in enumerate(steps, start=1):
            if step.number != position:
                raise violation(
                    f"expected {position}: steps are numbered 1..N in order,"
                    " without gaps or repeats",
                    step=step.number,
                    field="number",
                )
        last = len(steps)
        return tuple(_with_default_next(step, last) for step in steps)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        self._check_role_references()
        self._check_links()
        self._check_service_order()
        self._check_reachable()
        self._check_total()
        return self

    def _check_role_references(self) -> None:
        known = {role.id for role in self.roles}
        for step in self.steps:
            for field, role_id in (("role", step.role), ("archivist_role", step.archivist_role)):
                if role_id is not None and role_id not in known:
                    raise violation(
                        f"unknown role {role_id!r} (roles: {', '.join(sorted(known))})",
                        step=step.number,
                        field=field,
                    )

    def _check_links(self) -> None:
        last = len(self.steps)
        for step in self.steps:
            if step.on_approve is None and step.number != last:
                raise violation(
                    "only the last step may end the procedure", step=step.number, field="on_approve"
                )
            for field, target in (("on_approve", step.on_approve), ("on_reject", step.on_reject)):
                if target is not None and not 1 <= target <= last:
                    raise violation(
                        f"must point to an existing step (got {target}; steps are 1..{last})",
                        step=step.number,
                        field=field,
                    )

    def _check_service_order(self) -> None:
        # Each service owns one contiguous run of steps, so hand-offs between services
        # happen only at the boundaries the services listen for.
        for before, step in pairwise(self.steps):
            if SERVICE_ORDER.index(step.service) < SERVICE_ORDER.index(before.service):
                raise violation(
                    f"{step.service.value!r} steps cannot follow {before.service.value!r} steps;"
                    f" services run in the order {', '.join(SERVICE_ORDER)}",
                    step=step.number,
                    field="service",
                )
        missing = [s.value for s in SERVICE_ORDER if not self.steps_of(s)]
        if missing:
            raise violation(
                f"no step for service {', '.join(missing)}; each service needs one", field="steps"
            )

    def _check_reachable(self) -> None:
        reached, frontier = {1}, [1]
        while frontier:
            step = self.step(frontier.pop())
            for target in (step.on_approve, step.on_reject):
                if target is not None and target not in reached:
                    reached.add(target)
                    frontier.append(target)
        for step in self.steps:
            if step.number not in reached:
                raise violation(
                    "no on_approve or on_reject leads to this step from step 1", step=step.number
                )

    def _check_total(self) -> None:
        stated, actual = self.total_standard_minutes, self.standard_minutes_total
        if stated is not None and stated != actual:
            raise violation(
                f"states {stated} but the steps' minute standards add up to {actual}",
                field="total_standard_minutes",
            )

    @property
    def standard_minutes_total(self) -> int:
        """Return the sum of the minute standards (working-day standards excluded)."""
        return sum(step.standard_minutes or 0 for step in self.steps)

    @property
    def standard_working_days_total(self) -> int:
        """Return the sum of the working-day standards."""
        return sum(step.standard_working_days or 0 for step in self.steps)

    def step(self, number: int) -> Step:
        """Return step `number`; raise UnknownStep if there is none."""
        if not 1 <= number <= len(self.steps):
            raise UnknownStep(self.id, number, len(self.steps))
        return self.steps[number - 1]

    def steps_of(self, service: Service | str) -> list[Step]:
        """Return the steps run by `service`, in order."""
        wanted = Service(service)
        return [step for step in self.steps if step.service is wanted]

    def first_step_of(self, service: Service | str) -> Step:
        """Return the step where `service` takes over (every service has one)."""
        return self.steps_of(service)[0]

    def last_step_of(self, service: Service | str) -> Step:
        """Return the step after which `service` hands over to the next one."""
        return self.steps_of(service)[-1]

    def role(self, role_id: str) -> Role:
        """Return the role `role_id`; raise UnknownRole if the SOP has none."""
        for role in self.roles:
            if role.id == role_id:
                return role
        raise UnknownRole(self.id, role_id, [role.id for role in self.roles])

    def next_after(self, step_number: int) -> int | None:
        """Return the step that follows an approved `step_number`, or None after the last."""
        return self.step(step_number).on_approve


def _with_default_next(step: Step, last: int) -> Step:
    if "on_approve" in step.model_fields_set:
        return step
    following = step.number + 1 if step.number < last else None
    return step.model_copy(update={"on_approve": following})
