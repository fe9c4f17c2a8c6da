"""Publishing's HTTP API: the case's last step, archiving, and the media registry."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, status
from prokopim_events.contracts import PublicationOrdered, RecordingArchived, RecordingHandedOver
from prokopim_kit.auth import CurrentActor

from . import effects, outlets, service
from .deps import IntegrationsDep, ManagersDep, RuntimeDep
from .domain import HandOver, Publish
from .registry import DeactivateOutlet, RegisterOutlet, UpdateOutlet
from .schemas import CaseView, HandOverRequest, OutletRequest, OutletView, PublishRequest

router = APIRouter()


@router.post("/cases/{case_id}/handover", tags=["cases"])
async def hand_over(
    case_id: UUID, body: HandOverRequest, actor: CurrentActor, runtime: RuntimeDep
) -> RecordingHandedOver:
    """Hand the approved recording to the requester and name who archives it."""
    return await service.hand_over(runtime, case_id, actor, HandOver(inputs=body.inputs))


@router.post("/cases/{case_id}/archive", tags=["cases"])
async def archive(
    case_id: UUID, actor: CurrentActor, runtime: RuntimeDep, integrations: IntegrationsDep
) -> RecordingArchived:
    """File the handed-over recording (only the role the hand-over named)."""
    return await service.archive(runtime, integrations, case_id, actor)


@router.post("/cases/{case_id}/publication", status_code=status.HTTP_202_ACCEPTED, tags=["cases"])
async def publish(
    case_id: UUID, body: PublishRequest, actor: CurrentActor, runtime: RuntimeDep
) -> PublicationOrdered:
    """Order the press release to the city website and to the active outlets (202).

    Publishing's consumer posts and mails it once each; `GET /cases/{id}` shows each
    outlet's delivery, and `news-published` completes the step. A repeated order answers
    the first one.
    """
    command = Publish(inputs=body.inputs, title=body.title, body=body.body)
    return await service.publish(runtime, case_id, actor, command)


@router.get("/cases/{case_id}", tags=["cases"])
async def get_case(case_id: UUID, _: CurrentActor, runtime: RuntimeDep) -> CaseView:
    """Return publishing's view of a case (404 when it never reached publishing)."""
    loaded = await service.load_case(runtime, case_id)
    step = loaded.state.awaiting_step
    kind = loaded.sop.step(step).kind.value if step is not None else None
    return CaseView.of(loaded.state, kind, await effects.deliveries(runtime, case_id))


@router.post("/outlets", status_code=status.HTTP_201_CREATED, tags=["outlets"])
async def register_outlet(
    body: OutletRequest, actor: CurrentActor, runtime: RuntimeDep, managers: ManagersDep
) -> OutletView:
    """Register a media outlet press releases are emailed to."""
    command = RegisterOutlet(name=body.name, email=str(body.email))
    return OutletView.of(await outlets.register(runtime, managers, actor, command))


@router.put("/outlets/{outlet_id}", tags=["outlets"])
async def update_outlet(
    outlet_id: UUID,
    body: OutletRequest,
    actor: CurrentActor,
    runtime: RuntimeDep,
    managers: ManagersDep,
) -> OutletView:
    """Change a media outlet's name and email."""
    command = UpdateOutlet(outlet_id=outlet_id, name=body.name, email=str(body.email))
    return OutletView.of(await outlets.update(runtime, managers, actor, command))


@router.post("/outlets/{outlet_id}/deactivate", tags=["outlets"])
async def deactivate_outlet(
    outlet_id: UUID, actor: CurrentActor, runtime: RuntimeDep, managers: ManagersDep
) -> OutletView:
    """Stop emailing a media outlet."""
    command = DeactivateOutlet(outlet_id=outlet_id)
    return OutletView.of(await outlets.deactivate(runtime, managers, actor, command))


@router.get("/outlets", tags=["outlets"])
async def list_outlets(
    _: CurrentActor, runtime: RuntimeDep, include_inactive: bool = True
) -> list[OutletView]:
    """List the registered media outlets."""
    registry, _version = await outlets.load_registry(runtime)
    listed = registry.outlets.values() if include_inactive else registry.active()
    return [OutletView.of(outlet) for outlet in listed]
