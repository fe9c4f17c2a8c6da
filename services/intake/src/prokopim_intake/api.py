"""Intake's HTTP routes: parse the body, take the actor from the token, hand on."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import JSONResponse
from prokopim_kit.auth import CurrentActor
from prokopim_kit.errors import (
    ConcurrentChange,
    InvalidCommand,
    MissingInputs,
    StepOutOfOrder,
    UnknownCase,
    WrongRole,
)
from prokopim_kit.privacy import REDACTED_NOTE, redact_case
from prokopim_kit.problems import problem_responses
from prokopim_kit.runtime import Runtime, runtime_of
from prokopim_sop import UnknownSop

from . import once, service
from .schemas import DispositionBody, RegisterBody
from .service import StepResult
from .views import CaseView, case_view

RuntimeDep = Annotated[Runtime, Depends(runtime_of)]

router = APIRouter(tags=["intake"])

# OpenAPI links: where a new case can be followed (schemathesis's stateful tests use them)
_CASE_ID = {"case_id": "$response.body#/case_id"}
CASE_LINKS = {
    "GetCase": {"operationId": "get_case", "parameters": _CASE_ID},
    "GiveDisposition": {"operationId": "give_disposition", "parameters": _CASE_ID},
}


@router.post(
    "/cases",
    status_code=status.HTTP_201_CREATED,
    response_model=StepResult,
    responses=problem_responses(
        WrongRole,
        StepOutOfOrder,
        MissingInputs,
        InvalidCommand,
        once.DuplicateLetter,
        once.IdempotencyKeyReused,
        once.BadIdempotencyKey,
        body=True,
    )
    | {201: {"links": CASE_LINKS}},
)
async def register_request(
    body: RegisterBody,
    actor: CurrentActor,
    runtime: RuntimeDep,
    request: Request,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Register a request letter: SOP step 1, by the step's role, with its inputs.

    With an `Idempotency-Key` header a retry answers the first answer and creates nothing.
    A letter number already registered in the office is 409 naming its case.
    """
    retention: float = request.app.state.idempotency_retention_hours
    answer = await once.register_once(runtime, actor, body, idempotency_key, retention)
    return JSONResponse(answer.body, answer.status, headers={"Location": answer.location})


@router.post(
    "/cases/{case_id}/disposition",
    response_model=StepResult,
    responses=problem_responses(
        WrongRole, UnknownCase, StepOutOfOrder, ConcurrentChange, MissingInputs, body=True
    ),
)
async def give_disposition(
    case_id: UUID, body: DispositionBody, actor: CurrentActor, runtime: RuntimeDep
) -> StepResult:
    """Give the disposition on a registered request (SOP step 2) and hand the case on."""
    return await service.give_disposition(runtime, actor, case_id, body)


@router.get(
    "/cases/{case_id}",
    response_model=CaseView,
    responses=problem_responses(UnknownCase),
    description=REDACTED_NOTE,
)
async def get_case(case_id: UUID, actor: CurrentActor, runtime: RuntimeDep) -> CaseView:
    """Return intake's view of a case: file, SOP, awaited step, history."""
    view = await case_view(runtime.store, runtime.catalog, case_id)
    try:
        sop = runtime.catalog.get(view.sop_id, view.sop_version)
    except UnknownSop:
        sop = None
    return view.model_copy(update={"case": redact_case(view.case, sop, actor.role)})
