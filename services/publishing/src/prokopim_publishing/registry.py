"""The media registry's pure domain: the outlets press releases are emailed to.

Tangerang's step 7 emails "the media outlets registered in the section's database"; only
the heads of section may change that list. Two active outlets never share an email
address (compared case-insensitively), so no outlet gets a release twice.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from uuid import UUID

from prokopim_events.contracts import (
    Contract,
    MediaOutletDeactivated,
    MediaOutletRegistered,
    MediaOutletUpdated,
)

from .errors import DuplicateOutletEmail, NotAnOutletManager, OutletInactive, UnknownOutlet

OUTLETS_STREAM = "publishing-outlets"


@dataclass(frozen=True)
class Outlet:
    """One registered media outlet."""

    outlet_id: UUID
    name: str
    email: str
    active: bool = True


@dataclass(frozen=True)
class Registry:
    """Every outlet ever registered, by id, in registration order."""

    outlets: Mapping[UUID, Outlet] = field(default_factory=lambda: MappingProxyType({}))

    def active(self) -> list[Outlet]:
        """Return the outlets a press release goes to."""
        return [outlet for outlet in self.outlets.values() if outlet.active]

    def _with(self, outlet: Outlet) -> Registry:
        return replace(self, outlets=MappingProxyType({**self.outlets, outlet.outlet_id: outlet}))


@dataclass(frozen=True)
class RegisterOutlet:
    name: str
    email: str


@dataclass(frozen=True)
class UpdateOutlet:
    outlet_id: UUID
    name: str
    email: str


@dataclass(frozen=True)
class DeactivateOutlet:
    outlet_id: UUID


def evolve_registry(registry: Registry, event: Contract) -> Registry:
    """Apply one event of the registry stream."""
    if isinstance(event, MediaOutletRegistered):
        return registry._with(Outlet(event.outlet_id, event.name, str(event.email)))
    if isinstance(event, MediaOutletUpdated) and event.outlet_id in registry.outlets:
        current = registry.outlets[event.outlet_id]
        return registry._with(replace(current, name=event.name, email=str(event.email)))
    if isinstance(event, MediaOutletDeactivated) and event.outlet_id in registry.outlets:
        return registry._with(replace(registry.outlets[event.outlet_id], active=False))
    return registry


def check_manager(role: str, managers: Collection[str]) -> None:
    """Refuse anyone but the heads of section (403 naming the roles that may)."""
    if role not in managers:
        raise NotAnOutletManager(managers, role)


def decide_register(
    registry: Registry,
    role: str,
    command: RegisterOutlet,
    outlet_id: UUID,
    managers: Collection[str],
) -> list[MediaOutletRegistered]:
    """Register a new outlet under `outlet_id`."""
    check_manager(role, managers)
    _refuse_taken_email(registry, command.email, except_id=None)
    return [MediaOutletRegistered(outlet_id=outlet_id, name=command.name, email=command.email)]


def decide_update(
    registry: Registry, role: str, command: UpdateOutlet, managers: Collection[str]
) -> list[MediaOutletUpdated]:
    """Change an outlet's name and email."""
    check_manager(role, managers)
    outlet = _existing(registry, command.outlet_id)
    if outlet.active:
        _refuse_taken_email(registry, command.email, except_id=outlet.outlet_id)
    return [MediaOutletUpdated(outlet_id=outlet.outlet_id, name=command.name, email=command.email)]


def decide_deactivate(
    registry: Registry, role: str, command: DeactivateOutlet, managers: Collection[str]
) -> list[MediaOutletDeactivated]:
    """Stop emailing an outlet (it stays on record for earlier publications)."""
    check_manager(role, managers)
    outlet = _existing(registry, command.outlet_id)
    if not outlet.active:
        raise OutletInactive(outlet.outlet_id)
    return [MediaOutletDeactivated(outlet_id=outlet.outlet_id)]


def _existing(registry: Registry, outlet_id: UUID) -> Outlet:
    outlet = registry.outlets.get(outlet_id)
    if outlet is None:
        raise UnknownOutlet(outlet_id)
    return outlet


def _refuse_taken_email(registry: Registry, email: str, *, except_id: UUID | None) -> None:
    wanted = email.strip().casefold()
    for outlet in registry.active():
        if outlet.outlet_id != except_id and outlet.email.strip().casefold() == wanted:
            raise DuplicateOutletEmail(email, outlet.outlet_id)
