"""Publishing's HTTP API: the case's last step, archiving, and the media registry."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from prokopim_events.contracts import PublicationOrdered, RecordingArchived, RecordingHandedOver
from prokopim_kit.auth import CurrentActor
from prokopim_kit.errors import (
    CaseWasCancelled,
    ConcurrentChange,
    InvalidCommand,
    MissingInputs,
    StepOutOfOrder,
    UnknownCase,
    WrongRole,
)
from prokopim_kit.pagination import CursorParam, LimitParam, bad_cursor, decode_cursor, page_of
from prokopim_kit.privacy import REDACTED_NOTE, redact_case, redact_requester
from prokopim_kit.problems import problem_responses

from . import effects, outlets, service
from .deps import IntegrationsDep, ManagersDep, RuntimeDep
from .domain import HandOver, Publish
from .errors import (
    AlreadyArchived,
    DuplicateOutletEmail,
    IntegrationFailed,
    NoApprovedDraft,
    NotAnOutletManager,
    OutletInactive,
    UnknownOutlet,
)
from .registry import DeactivateOutlet, RegisterOutlet, UpdateOutlet
from .schemas import (
    CaseView,
    HandOverRequest,
    OutletPage,
    OutletRequest,
    OutletView,
    PublishRequest,
)

router = APIRouter()

CASE_ERRORS = (
    WrongRole,
    UnknownCase,
    StepOutOfOrder,
    ConcurrentChange,
    CaseWasCancelled,
    MissingInputs,
)
OUTLET_ERRORS = (NotAnOutletManager, ConcurrentChange)
# OpenAPI links: what can be done with a new outlet (schemathesis's stateful tests use them)
_OUTLET_ID = {"outlet_id": "$response.body#/outlet_id"}
OUTLET_LINKS = {
    "UpdateOutlet": {"operationId": "update_outlet", "parameters": _OUTLET_ID},
    "DeactivateOutlet": {"operationId": "deactivate_outlet", "parameters": _OUTLET_ID},
}


@router.post(
    "/cases/{case_id}/handover",
    tags=["cases"],
    responses=problem_responses(*CASE_ERRORS, NoApprovedDraft, body=True),
)
async def hand_over(
    case_id: UUID, body: HandOverRequest, actor: CurrentActor, runtime: RuntimeDep
) -> RecordingHandedOver:
    """Hand the approved recording to the requester and name who archives it."""
    return await service.hand_over(runtime, case_id, actor, HandOver(inputs=body.inputs))


@router.post(
    "/cases/{case_id}/archive",
    tags=["cases"],
    responses=problem_responses(*CASE_ERRORS, AlreadyArchived, IntegrationFailed),
)
async def archive(
    case_id: UUID, actor: CurrentActor, runtime: RuntimeDep, integrations: IntegrationsDep
) -> RecordingArchived:
    """File the handed-over recording (only the role the hand-over named)."""
    return await service.archive(runtime, integrations, case_id, actor)


@router.post(
    "/cases/{case_id}/publication",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["cases"],
    responses=problem_responses(*CASE_ERRORS, NoApprovedDraft, body=True),
)
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


@router.get(
    "/cases/{case_id}",
    tags=["cases"],
    responses=problem_responses(UnknownCase),
    description=REDACTED_NOTE,
)
async def get_case(case_id: UUID, actor: CurrentActor, runtime: RuntimeDep) -> CaseView:
    """Return publishing's view of a case (404 when it never reached publishing)."""
    loaded = await service.load_case(runtime, case_id)
    step = loaded.state.awaiting_step
    kind = loaded.sop.step(step).kind.value if step is not None else None
    view = CaseView.of(loaded.state, kind, await effects.deliveries(runtime, case_id))
    handover = view.handover
    if handover is not None:
        recipient = redact_requester(handover.recipient, loaded.sop, actor.role)
        handover = handover.model_copy(update={"recipient": recipient})
    case = redact_case(view.case, loaded.sop, actor.role)
    return view.model_copy(update={"case": case, "handover": handover})


@router.post(
    "/outlets",
    status_code=status.HTTP_201_CREATED,
    tags=["outlets"],
    responses=problem_responses(*OUTLET_ERRORS, DuplicateOutletEmail, body=True)
    | {201: {"links": OUTLET_LINKS}},
)
async def register_outlet(
    body: OutletRequest,
    actor: CurrentActor,
    runtime: RuntimeDep,
    managers: ManagersDep,
    response: Response,
) -> OutletView:
    """Register a media outlet press releases are emailed to."""
    command = RegisterOutlet(name=body.name, email=str(body.email))
    view = OutletView.of(await outlets.register(runtime, managers, actor, command))
    response.headers["Location"] = f"/outlets/{view.outlet_id}"
    return view


@router.put(
    "/outlets/{outlet_id}",
    tags=["outlets"],
    responses=problem_responses(
        *OUTLET_ERRORS, UnknownOutlet, DuplicateOutletEmail, OutletInactive, body=True
    ),
)
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


@router.post(
    "/outlets/{outlet_id}/deactivate",
    tags=["outlets"],
    responses=problem_responses(*OUTLET_ERRORS, UnknownOutlet, OutletInactive),
)
async def deactivate_outlet(
    outlet_id: UUID, actor: CurrentActor, runtime: RuntimeDep, managers: ManagersDep
) -> OutletView:
    """Stop emailing a media outlet."""
    command = DeactivateOutlet(outlet_id=outlet_id)
    return OutletView.of(await outlets.deactivate(runtime, managers, actor, command))


@router.get("/outlets", tags=["outlets"], responses=problem_responses(InvalidCommand))
async def list_outlets(
    _: CurrentActor,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
    include_inactive: bool = True,
    cursor: CursorParam = None,
    limit: LimitParam = 100,
) -> OutletPage:
    """List the registered media outlets, by id."""
    after = decode_cursor(cursor) or ""
    if not isinstance(after, str):
        raise bad_cursor()
    registry, _version = await outlets.load_registry(runtime)
    listed = registry.outlets.values() if include_inactive else registry.active()
    views = sorted(
        (OutletView.of(o) for o in listed if str(o.outlet_id) > after),
        key=lambda view: str(view.outlet_id),
    )
    items, link = page_of(request, response, views[: limit + 1], limit, lambda v: str(v.outlet_id))
    return OutletPage(outlets=items, count=len(items), next=link)
