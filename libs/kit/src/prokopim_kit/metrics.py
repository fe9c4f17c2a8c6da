"""Prometheus for a service: `GET /metrics` and the count of commands by outcome.

A command is any write request (POST, PUT, PATCH, DELETE) that reached a route. Its outcome
is `accepted` when it succeeded, otherwise the error kind a client sees: the `error` code of
a refused command (`wrong_role`, `step_out_of_order`, ...), `invalid_request` for a body that
does not parse, `internal_error` for a crash.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COMMANDS = Counter(
    "prokopim_commands",
    "Commands a service answered, by outcome: accepted or the error kind.",
    ["service", "command", "outcome"],
)

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_OUTCOME_KEY = "prokopim_command_outcome"


def record_outcome(request: Request, outcome: str) -> None:
    """Name the outcome of this request's command (an exception handler knows it best)."""
    request.scope.setdefault("state", {})[_OUTCOME_KEY] = outcome


def outcome_of(status: int, named: str | None) -> str:
    """Return the outcome label of a finished command."""
    if named is not None:
        return named
    if status < 400:
        return "accepted"
    if status == 422:
        return "invalid_request"
    if status >= 500:
        return "internal_error"
    return f"http_{status}"


class CommandMetricsMiddleware:
    """Count each command once it is answered (pure ASGI: streaming and lifespan untouched)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITES:
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except Exception:
            status = 500
            raise
        finally:
            self._count(scope, status)

    def _count(self, scope: Scope, status: int) -> None:
        route: Any = scope.get("route")
        if route is None:  # no such endpoint: not a command
            return
        named = scope.get("state", {}).get(_OUTCOME_KEY)
        command = getattr(route, "name", None) or getattr(route, "path", "unknown")
        COMMANDS.labels(self.service, command, outcome_of(status, named)).inc()


def add_metrics(app: FastAPI, service: str) -> None:
    """Serve `GET /metrics` and count the app's commands."""
    app.add_middleware(CommandMetricsMiddleware, service=service)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
