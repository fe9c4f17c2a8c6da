"""503 with Retry-After, never 500, when the database or NATS refuses or times out.

A command that met an unavailable database (refused, too many connections, shutting down,
a timeout, a deadlock) did not happen and may simply be sent again later: the client is
told so in an RFC 9457 problem (`application/problem+json`) with `Retry-After`.
"""

from __future__ import annotations

import logging

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prokopim_events.failures import TRANSIENT_TYPES, Failure, classify

from .metrics import record_outcome

log = logging.getLogger(__name__)

# Failures that can strike after the database received the statement.
_MIDWAY = (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError, TimeoutError)

PROBLEM_TYPE = "https://prokopim.example/problems/service-unavailable"
_TITLES = {
    Failure.UNAVAILABLE: "The database or the event bus is unavailable",
    Failure.CONTENTION: "The command met a concurrent one and was not applied",
    Failure.TIMEOUT: "The database did not answer in time",
}


def unavailable_response(error: BaseException, retry_after: int) -> JSONResponse | None:
    """The 503 problem for a transient `error`, or None when it is not one."""
    kind = classify(error)
    if not kind.transient:
        return None
    if isinstance(error, _MIDWAY):
        # The connection broke while a statement (perhaps the COMMIT) was on its way: the
        # command may have taken effect. Say so rather than invite a blind repeat.
        outcome = "the command may or may not have taken effect: read the case first"
    else:
        outcome = "nothing was changed"
    body = {
        "type": PROBLEM_TYPE,
        "title": _TITLES[kind],
        "status": 503,
        "detail": f"{type(error).__name__}: {outcome}; try again in {retry_after} s",
    }
    return JSONResponse(
        body,
        status_code=503,
        headers={"Retry-After": str(retry_after)},
        media_type="application/problem+json",
    )


def add_unavailable_handlers(app: FastAPI, retry_after: int) -> None:
    """Answer 503 with Retry-After for every transient database or bus failure."""

    async def unavailable(request: Request, error: Exception) -> JSONResponse:
        response = unavailable_response(error, retry_after)
        if response is None:  # an OSError that is no connection failure, say: a real 500
            raise error
        log.warning(
            "%s %s: 503, %s: %s", request.method, request.url.path, type(error).__name__, error
        )
        record_outcome(request, "unavailable")
        return response

    for error_class in TRANSIENT_TYPES:
        app.add_exception_handler(error_class, unavailable)
