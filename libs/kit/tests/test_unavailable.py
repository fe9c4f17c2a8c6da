"""A database or bus that refuses or times out answers 503 with Retry-After, never 500."""

from __future__ import annotations

import asyncpg
import httpx
import nats.errors
import pytest
from fastapi import FastAPI
from prokopim_events.failures import Failure, classify
from prokopim_kit.unavailable import add_unavailable_handlers

pytestmark = pytest.mark.unit

TRANSIENT: list[Exception] = [
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.InterfaceError("pool is closing"),
    asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.DeadlockDetectedError("deadlock detected"),
    asyncpg.SerializationError("could not serialize access due to concurrent update"),
    ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
    OSError("Multiple exceptions: [Errno 111] Connect call failed ('127.0.0.1', 5432)"),
    TimeoutError(),
    nats.errors.NoServersError(),
]


def app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    add_unavailable_handlers(app, retry_after=7)

    @app.post("/cases")
    async def create() -> None:
        raise error

    return app


@pytest.mark.parametrize("error", TRANSIENT, ids=lambda e: type(e).__name__)
async def test_a_transient_failure_answers_503_problem_with_retry_after(error: Exception) -> None:
    transport = httpx.ASGITransport(app=app_raising(error))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        response = await client.post("/cases")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 503
    assert {"type", "title", "detail"} <= body.keys()
    assert type(error).__name__ in body["detail"]


@pytest.mark.parametrize(
    "error", [FileNotFoundError(2, "No such file", "/archive/x"), PermissionError(13, "denied")]
)
async def test_an_oserror_of_a_file_stays_a_500(error: Exception) -> None:
    transport = httpx.ASGITransport(app=app_raising(error), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        response = await client.post("/cases")

    assert response.status_code == 500


def test_what_a_retry_cannot_fix_is_permanent() -> None:
    assert classify(ValueError("bad data")) is Failure.PERMANENT
    assert classify(asyncpg.UniqueViolationError("duplicate key")) is Failure.PERMANENT
    wrapped = RuntimeError("handler failed")
    wrapped.__cause__ = asyncpg.TooManyConnectionsError("too many")
    assert classify(wrapped) is Failure.UNAVAILABLE
    group = ExceptionGroup("tasks", [ValueError("x"), TimeoutError()])
    assert classify(group) is Failure.TIMEOUT
