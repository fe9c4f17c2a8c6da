"""Crew members and equipment items as data: registered per office, each change an event.

An office is the city of the SOPs it runs (`bandung`, `tangerang`). A crew member can
fill SOP roles of that office's SOPs; an equipment item's kind is one of the equipment
inputs (kelengkapan of record and cover steps) of those SOPs. Each resource has its own
stream, `scheduling-resource-<id>`; the `scheduling_resources` table is written in the
same transaction as its events.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from prokopim_events.contracts import (
    Contract,
    CrewMemberRegistered,
    CrewMemberUpdated,
    EquipmentItemRegistered,
    EquipmentItemUpdated,
)
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor
from prokopim_kit.commands import append, to_new_events
from prokopim_kit.errors import CommandRejected, InvalidCommand
from prokopim_kit.runtime import Runtime
from prokopim_sop import Service, Sop, SopCatalog, StepKind
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Condition = Literal["available", "in-repair"]
EQUIPMENT_STEP_KINDS = frozenset({StepKind.RECORD, StepKind.COVER})
SCHEDULER_STEP_KINDS = frozenset({StepKind.DISPOSITION})


class UnknownOffice(CommandRejected):
    status = 404
    code = "unknown_office"

    def __init__(self, office: str, known: list[str]) -> None:
        super().__init__(
            f"no SOP of this installation runs in office {office!r} (offices: {', '.join(known)})",
            office=office,
            offices=known,
        )


class UnknownResource(CommandRejected):
    status = 404
    code = "unknown_resource"

    def __init__(self, resource_id: UUID, office: str, what: str = "crew member or item") -> None:
        super().__init__(
            f"office {office!r} has no {what} {resource_id}",
            resource_id=str(resource_id),
            office=office,
        )


class NotAScheduler(CommandRejected):
    status = 403
    code = "wrong_role"

    def __init__(self, office: str, role: str, allowed: list[str]) -> None:
        super().__init__(
            f"role {role!r} cannot manage office {office!r}'s schedule"
            f" (roles: {', '.join(allowed)})",
            required_role=allowed,
            actual_role=role,
        )


class Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class CrewMemberBody(Body):
    """A crew member: who, which SOP roles they can fill, how to reach them."""

    name: NonBlank
    roles: list[NonBlank] = Field(min_length=1, description="SOP role ids of the office's SOPs")
    contact: str | None = Field(default=None, max_length=200, description="phone or email")


class EquipmentItemBody(Body):
    """An equipment item: its kind (an equipment input of the SOPs), a label, its condition."""

    kind: NonBlank = Field(description="e.g. video-recorder, tripod, mic, camera")
    label: NonBlank
    condition: Condition = "available"


class ResourceView(BaseModel):
    """A registered crew member or equipment item, as the office now has it."""

    resource_id: UUID
    office: str
    type: Literal["crew", "equipment"]
    name: str = Field(description="a person's name or an item's label")
    roles: list[str] = []
    contact: str | None = None
    kind: str | None = None
    condition: Condition | None = None
    version: int


def office_of(sop: Sop) -> str:
    """Return the office a SOP runs in: its city, lower case, spaces as dashes."""
    return "-".join(sop.city.lower().split())


class Offices:
    """What the SOP catalog says about each office: roles, equipment kinds, schedulers."""

    def __init__(self, catalog: SopCatalog) -> None:
        self._sops: dict[str, list[Sop]] = {}
        for sop in catalog:
            self._sops.setdefault(office_of(sop), []).append(sop)

    @property
    def names(self) -> list[str]:
        return sorted(self._sops)

    def sops(self, office: str) -> list[Sop]:
        if office not in self._sops:
            raise UnknownOffice(office, self.names)
        return self._sops[office]

    def roles(self, office: str) -> list[str]:
        return sorted({role.id for sop in self.sops(office) for role in sop.roles})

    def equipment_kinds(self, office: str) -> list[str]:
        return sorted(
            {
                item.id
                for sop in self.sops(office)
                for step in sop.steps
                if step.kind in EQUIPMENT_STEP_KINDS
                for item in step.inputs
            }
        )

    def schedulers(self, office: str) -> list[str]:
        """Roles that run scheduling steps or give dispositions (the head of section)."""
        return sorted(
            {
                step.role
                for sop in self.sops(office)
                for step in sop.steps
                if step.service is Service.SCHEDULING or step.kind in SCHEDULER_STEP_KINDS
            }
        )

    def require_scheduler(self, office: str, role: str) -> None:
        allowed = self.schedulers(office)
        if role not in allowed:
            raise NotAScheduler(office, role, allowed)


def offices(runtime: Runtime) -> Offices:
    cached = runtime.extras.get("offices")
    if not isinstance(cached, Offices):
        cached = runtime.extras["offices"] = Offices(runtime.catalog)
    return cached


def check_crew(offices: Offices, office: str, body: CrewMemberBody) -> None:
    known = offices.roles(office)
    unknown = [role for role in body.roles if role not in known]
    if unknown:
        raise InvalidCommand(
            f"unknown SOP role(s) {', '.join(unknown)} in office {office!r}"
            f" (roles: {', '.join(known)})",
            field="roles",
        )


def check_equipment(offices: Offices, office: str, body: EquipmentItemBody) -> None:
    kinds = offices.equipment_kinds(office)
    if body.kind not in kinds:
        raise InvalidCommand(
            f"unknown equipment kind {body.kind!r} in office {office!r}"
            f" (kinds: {', '.join(kinds)})",
            field="kind",
        )


def stream_of_resource(resource_id: UUID) -> str:
    return f"scheduling-resource-{resource_id}"


async def register(
    runtime: Runtime, actor: Actor, office: str, body: CrewMemberBody | EquipmentItemBody
) -> ResourceView:
    """Register a crew member or an equipment item in `office`."""
    _check(runtime, actor, office, body)
    resource_id = uuid.uuid4()
    return await _write(runtime, actor, office, resource_id, 0, body)


async def update(
    runtime: Runtime,
    actor: Actor,
    office: str,
    resource_id: UUID,
    body: CrewMemberBody | EquipmentItemBody,
) -> ResourceView:
    """Replace a resource's record (name/roles/contact, or label/condition)."""
    _check(runtime, actor, office, body)
    current = await get(runtime, office, resource_id)
    expected = "crew" if isinstance(body, CrewMemberBody) else "equipment"
    if current.type != expected:
        raise UnknownResource(resource_id, office, f"{expected} resource")
    return await _write(runtime, actor, office, resource_id, current.version, body)


def _check(
    runtime: Runtime, actor: Actor, office: str, body: CrewMemberBody | EquipmentItemBody
) -> None:
    known = offices(runtime)
    known.require_scheduler(office, actor.role)
    if isinstance(body, CrewMemberBody):
        check_crew(known, office, body)
    else:
        check_equipment(known, office, body)


async def _write(
    runtime: Runtime,
    actor: Actor,
    office: str,
    resource_id: UUID,
    version: int,
    body: CrewMemberBody | EquipmentItemBody,
) -> ResourceView:
    contract: Contract
    if isinstance(body, CrewMemberBody):
        kind = CrewMemberRegistered if version == 0 else CrewMemberUpdated
        contract = kind(resource_id=resource_id, office=office, **body.model_dump())
    else:
        kind_e = EquipmentItemRegistered if version == 0 else EquipmentItemUpdated
        contract = kind_e(resource_id=resource_id, office=office, **body.model_dump())
    now = datetime.now(UTC)
    events = to_new_events([contract], actor=actor, now=now)
    async with runtime.pool.acquire() as conn, conn.transaction():
        await append(
            runtime.store,
            stream_of_resource(resource_id),
            version,
            events,
            case_id=resource_id,
            conn=conn,
        )
        await _project(conn, contract, version + 1, now)
    runtime.store.wake_relay()
    return await get(runtime, office, resource_id)


async def _project(conn: Connection, contract: Contract, version: int, now: datetime) -> None:
    values: tuple[str, str, list[str], str | None, str | None, str | None]
    if isinstance(contract, CrewMemberRegistered | CrewMemberUpdated):
        values = ("crew", contract.name, contract.roles, contract.contact, None, None)
    elif isinstance(contract, EquipmentItemRegistered | EquipmentItemUpdated):
        values = ("equipment", contract.label, [], None, contract.kind, contract.condition)
    else:  # pragma: no cover - only resource events reach here
        raise TypeError(type(contract).__name__)
    await conn.execute(
        "INSERT INTO scheduling_resources (resource_id, office, type, name, roles, contact,"
        " kind, condition, version, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (resource_id) DO UPDATE SET name = $4, roles = $5, contact = $6,"
        " kind = $7, condition = $8, version = $9, updated_at = $10",
        contract.resource_id,
        contract.office,
        *values,
        version,
        now,
    )


COLUMNS = "resource_id, office, type, name, roles, contact, kind, condition, version"


async def get(runtime: Runtime, office: str, resource_id: UUID) -> ResourceView:
    """Return one resource of `office` (404 when it has none such)."""
    row = await runtime.pool.fetchrow(
        f"SELECT {COLUMNS} FROM scheduling_resources WHERE resource_id = $1 AND office = $2",
        resource_id,
        office,
    )
    if row is None:
        raise UnknownResource(resource_id, office)
    return ResourceView(**dict(row))


async def list_resources(
    runtime: Runtime, office: str, type_: Literal["crew", "equipment"]
) -> list[ResourceView]:
    """Return an office's crew members or equipment items, by name."""
    offices(runtime).sops(office)  # 404 for an unknown office
    rows = await runtime.pool.fetch(
        f"SELECT {COLUMNS} FROM scheduling_resources WHERE office = $1 AND type = $2"
        " ORDER BY name, resource_id",
        office,
        type_,
    )
    return [ResourceView(**dict(row)) for row in rows]
