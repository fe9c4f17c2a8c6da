"""RFC 9457 problem details: the one shape of every error a prokopim service answers.

Every refusal is `application/problem+json` with `type`, `title`, `status`, `detail` and
`instance`, the machine-readable `error` code and whatever the error names (the step, the
role required, the inputs missing) as extension members; a refused request body or query
adds `errors`, one entry per field. The OpenAPI document says so on every route: the
`responses=` of a route are generated from the error classes it can raise
(`problem_responses`), and `document_problems` rewrites FastAPI's own 422 to this shape.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import (
    CommandRejected,
    InvalidRequest,
    RequestTooLarge,
    Unauthenticated,
    UnknownRole,
    problem_type,
)
from .metrics import record_outcome

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class FieldProblem(BaseModel):
    """One refused field of a request: where it is and why."""

    model_config = ConfigDict(frozen=True)

    field: str = Field(description="the field, dotted: `requester.email`, `inputs.script`")
    location: str = Field(description="body, query, path or header")
    pointer: str = Field(description="JSON pointer into the body (or the parameter's name)")
    detail: str = Field(description="what is wrong with it")
    code: str = Field(description="machine-readable kind: missing, string_too_long, ...")


class Problem(BaseModel):
    """An RFC 9457 problem detail; members beyond these name what the error is about."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI naming the kind of problem: urn:prokopim:problem:<error>")
    title: str = Field(description="short summary of the kind of problem")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what went wrong in this request, for a person")
    instance: str = Field(description="the request path this problem occurred at")
    error: str = Field(description="machine-readable error code, e.g. wrong_role")
    errors: list[FieldProblem] | None = Field(
        default=None, description="for a refused request: each field and why"
    )


def problem_of(error: CommandRejected, path: str) -> dict[str, Any]:
    """Return the problem detail of a refused request to `path`."""
    return {
        "type": problem_type(error.code),
        "title": error.title,
        "status": error.status,
        "detail": error.message,
        "instance": path,
        "error": error.code,
        **jsonable_encoder(error.details),
    }


def problem_body(error: CommandRejected, path: str) -> bytes:
    """Return the encoded problem detail (for answers given outside FastAPI's routing)."""
    return json.dumps(problem_of(error, path)).encode()


def problem_response(request: Request, error: CommandRejected) -> JSONResponse:
    """Return the problem+json response of a refused request."""
    return JSONResponse(
        problem_of(error, request.url.path),
        status_code=error.status,
        media_type=PROBLEM_JSON,
        headers=error.headers(),
    )


def _field_problems(errors: Sequence[Any]) -> list[dict[str, str]]:
    found = []
    for item in errors:
        loc = [str(part) for part in item.get("loc", ())]
        where = loc[0] if loc and loc[0] in {"body", "query", "path", "header", "cookie"} else ""
        path = loc[1:] if where else loc
        if item.get("type") == "json_invalid":  # FastAPI gives the offset as the location
            path = []
        dotted = ".".join(path) or where or "body"
        pointer = "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        found.append(
            {
                "field": dotted,
                "location": where or "body",
                "pointer": pointer if where in {"", "body"} else dotted,
                "detail": message,
                "code": str(item.get("type", "invalid")),
            }
        )
    return found


def validation_problem(errors: Sequence[Any]) -> InvalidRequest:
    """Return the 422 naming every refused field of a request."""
    fields = _field_problems(errors)
    named = "; ".join(f"{f['field']}: {f['detail']}" for f in fields[:5])
    more = f" (and {len(fields) - 5} more)" if len(fields) > 5 else ""
    return InvalidRequest(f"the request is invalid: {named}{more}", fields)


def _query_names(dependant: Any) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def refuse_unknown_query(request: Request) -> None:
    """FastAPI dependency: a query parameter the route does not declare is a 422 naming it.

    As a body refuses unknown fields: `?form=2026-01-01` (for `from`) must not be ignored.
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = _query_names(dependant)
    unknown = [name for name in request.query_params if name not in known]
    if unknown:
        raise validation_problem(
            [
                {
                    "loc": ("query", name),
                    "msg": "unknown query parameter",
                    "type": "extra_forbidden",
                }
                for name in dict.fromkeys(unknown)
            ]
        )


async def _rejected(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CommandRejected)
    record_outcome(request, error.code)
    return problem_response(request, error)


async def _invalid(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError | ValidationError)
    problem = validation_problem(error.errors())
    record_outcome(request, problem.code)
    return problem_response(request, problem)


_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthenticated", "Not authenticated"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "No such resource"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    413: ("request_too_large", "Request body too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
}


_UNPARSABLE = "There was an error parsing the body"  # FastAPI's words for a non-UTF-8 body


async def _http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 400 and error.detail == _UNPARSABLE:
        # one answer for every body that is not JSON, as FastAPI gives for a JSON syntax error
        unreadable = {"loc": ("body",), "msg": "not JSON text (UTF-8)", "type": "json_invalid"}
        return problem_response(request, validation_problem([unreadable]))
    code, title = _HTTP_CODES.get(error.status_code, (f"http_{error.status_code}", "Error"))
    detail = error.detail if isinstance(error.detail, str) else title
    problem = CommandRejected(detail)
    problem.status, problem.code, problem.title = error.status_code, code, title
    if error.status_code == 401:
        problem = Unauthenticated(detail)
    limit = getattr(error, "limit", None)
    if error.status_code == 413 and isinstance(limit, int):
        problem = RequestTooLarge(limit)
    response = problem_response(request, problem)
    response.headers.update(error.headers or {})
    return response


async def _crashed(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    problem = CommandRejected("the service failed to answer this request; it was logged")
    problem.status, problem.code, problem.title = 500, "internal_error", "Internal error"
    return problem_response(request, problem)


def add_problem_handlers(app: FastAPI) -> None:
    """Answer every error of `app` as problem+json, validation errors included."""
    app.add_exception_handler(CommandRejected, _rejected)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(ValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _crashed)


# --- OpenAPI ------------------------------------------------------------------------------

AUTHENTICATED: tuple[type[CommandRejected], ...] = (Unauthenticated, UnknownRole)
"""What any route behind a bearer token can answer."""


def _example(error: type[CommandRejected]) -> dict[str, Any]:
    return {
        "type": problem_type(error.code),
        "title": error.title,
        "status": error.status,
        "detail": error.example_detail or error.title,
        "instance": "/cases/3f0c2a4e-8d5b-4c1e-9a57-2b1f0e6d7c8a",
        "error": error.code,
        **error.example_members,
    }


def problem_responses(
    *errors: type[CommandRejected], body: bool = False, authenticated: bool = True
) -> dict[int | str, dict[str, Any]]:
    """Return a route's `responses=`: one problem+json entry per status its errors have.

    `body=True` adds the refusals of a request body (413, 422); `authenticated` those of
    the bearer token (401, 403 for a role no installed SOP has).
    """
    every: list[type[CommandRejected]] = [
        *(AUTHENTICATED if authenticated else ()),
        *errors,
        InvalidRequest,
    ]
    if body:
        every.append(RequestTooLarge)
    by_status: dict[int, list[type[CommandRejected]]] = {}
    for error in dict.fromkeys(every):  # keep the order, drop repeats
        by_status.setdefault(error.status, []).append(error)
    return {
        status: {
            "description": "; ".join(f"`{e.code}`: {e.title}" for e in kinds),
            "model": Problem,
            "content": {
                PROBLEM_JSON: {
                    "examples": {e.code: {"summary": e.title, "value": _example(e)} for e in kinds}
                }
            },
        }
        for status, kinds in sorted(by_status.items())
    }


_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def _rewrite(operation: dict[str, Any]) -> None:
    for status, response in operation.get("responses", {}).items():
        content = response.get("content", {})
        if not str(status).startswith(("4", "5")):
            continue
        plain = content.pop("application/json", None)
        if plain is not None and plain.get("schema", {}).get("$ref") == _FASTAPI_422:
            plain["schema"] = {"$ref": "#/components/schemas/Problem"}
            response["description"] = "`invalid_request`: names each refused field"
        if plain is not None:
            target = content.setdefault(PROBLEM_JSON, {})
            target["schema"] = plain["schema"]


def document_problems(app: FastAPI, extra: Iterable[tuple[str, dict[str, Any]]] = ()) -> None:
    """Make `app.openapi()` document every error as problem+json (FastAPI's 422 included)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                _rewrite(operation)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        if "Problem" not in components:
            problem = Problem.model_json_schema(ref_template=_REF)
            components.update(problem.pop("$defs", {}))
            components["Problem"] = problem
        for name, value in extra:
            components.setdefault(name, value)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


_REF = "#/components/schemas/{model}"
