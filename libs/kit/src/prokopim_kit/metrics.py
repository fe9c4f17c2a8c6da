"""Prometheus for a service: `GET /metrics`, request latency per route, commands by outcome.

Every HTTP request is timed in `prokopim_http_request_duration_seconds{service, route,
method, status}`, where `route` is the route's template (`/cases/{case_id}`), never the raw
path (one series per case would grow without bound); a path no route serves is `unmatched`.

A command is any write request (POST, PUT, PATCH, DELETE) that reached a route. Its outcome
is `accepted` when it succeeded, otherwise the error kind a client sees: the `error` code of
a refused command (`wrong_role`, `step_out_of_order`, ...), `invalid_request` for a body that
does not parse, `internal_error` for a crash.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request, Response
from prokopim_events.logs import log_context, trace_id_of
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COMMANDS = Counter(
    "prokopim_commands",
    "Commands a service answered, by outcome: accepted or the error kind.",
    ["service", "command", "outcome"],
)

HTTP_DURATION = Histogram(
    "prokopim_http_request_duration_seconds",
    "Time from a request's arrival to its answer, per route template, method and status.",
    ["service", "route", "method", "status"],
    # 0.1 s is the command latency target (p99 under 20 concurrent cases): a bucket edge
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
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
    """Time each request and count each command once it is answered (pure ASGI: streaming
    and lifespan untouched). Lines logged meanwhile carry the caller's trace id."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        traceparent = dict(scope["headers"]).get(b"traceparent", b"").decode("latin-1")
        try:
            with log_context(trace_id=trace_id_of(traceparent)):
                await self.app(scope, receive, send_status)
        except Exception:
            status = 500
            raise
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_DURATION.labels(self.service, template, scope["method"], str(status)).observe(
                time.perf_counter() - started
            )
            if scope["method"] in _WRITES:
                self._count(scope, status)

    def _count(self, scope: Scope, status: int) -> None:
        route: Any = scope.get("route")
        if route is None:  # no such endpoint: not a command
            return
        named = scope.get("state", {}).get(_OUTCOME_KEY)
        command = getattr(route, "name", None) or getattr(route, "path", "unknown")
        COMMANDS.labels(self.service, command, outcome_of(status, named)).inc()


def add_metrics(app: FastAPI, service: str) -> None:
    """Serve `GET /metrics`, time the app's requests and count its commands."""
    app.add_middleware(CommandMetricsMiddleware, service=service)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
