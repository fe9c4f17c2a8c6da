"""FastAPI dependency aliases of the publishing routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from prokopim_kit.runtime import Runtime, runtime_of

from .ports import Integrations


async def integrations_of(request: Request) -> Integrations:
    """The adapters of this process (set by `create_app`)."""
    integrations: Integrations = request.app.state.integrations
    return integrations


async def outlet_managers_of(request: Request) -> frozenset[str]:
    """The roles that may manage the media registry (from settings)."""
    managers: frozenset[str] = request.app.state.outlet_managers
    return managers


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]
IntegrationsDep = Annotated[Integrations, Depends(integrations_of)]
ManagersDep = Annotated[frozenset[str], Depends(outlet_managers_of)]
