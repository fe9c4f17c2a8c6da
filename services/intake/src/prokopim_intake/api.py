"""Intake's HTTP routes: parse the body, take the actor from the token, hand on."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import JSONResponse
from prokopim_kit.auth import CurrentActor, current_actor
from prokopim_kit.runtime import Runtime, runtime_of

from . import once, service
from .domain import GiveDisposition, RegisterRequest
from .service import StepResult
from .views import CaseView, case_view

RuntimeDep = Annotated[Runtime, Depends(runtime_of)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or invalid bearer token"},
    403: {"description": "wrong_role: names the role the step requires"},
    404: {"description": "unknown_case"},
    409: {"description": "step_out_of_order or concurrent_change"},
    422: {"description": "missing_inputs (names them), invalid_command or a body field"},
}
_CREATE_ERRORS: dict[int | str, dict[str, Any]] = {
    **{k: v for k, v in _ERRORS.items() if k not in (404, 409)},
    409: {"description": "duplicate_letter: names the case the letter number opened"},
    422: {
        "description": "missing_inputs, invalid_command, a body field, or"
        " idempotency_key_reused (names the key)"
    },
}

router = APIRouter(tags=["intake"])


@router.post(
    "/cases",
    status_code=status.HTTP_201_CREATED,
    response_model=StepResult,
    responses=_CREATE_ERRORS,
)
async def register_request(
    body: RegisterRequest,
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


@router.post("/cases/{case_id}/disposition", response_model=StepResult, responses=_ERRORS)
async def give_disposition(
    case_id: UUID, body: GiveDisposition, actor: CurrentActor, runtime: RuntimeDep
) -> StepResult:
    """Give the disposition on a registered request (SOP step 2) and hand the case on."""
    return await service.give_disposition(runtime, actor, case_id, body)


@router.get(
    "/cases/{case_id}",
    response_model=CaseView,
    responses={404: _ERRORS[404], 401: _ERRORS[401]},
    # The case file holds the requester's contact details, so reading needs a token too.
    dependencies=[Depends(current_actor)],
)
async def get_case(case_id: UUID, runtime: RuntimeDep) -> CaseView:
    """Return intake's view of a case: file, SOP, awaited step, history."""
    return await case_view(runtime.store, runtime.catalog, case_id)
