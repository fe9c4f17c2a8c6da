"""The HTTP edge's budgets: body size, header and idle timeouts, connections per process.

A body larger than MAX_BODY_BYTES is refused with 413 before anything parses it: at once
when its Content-Length says so, otherwise (chunked) as soon as the bytes read pass the
limit. A connection that sends no complete request head within HTTP_HEADER_TIMEOUT_SECONDS
is closed (uvicorn only times out idle connections after a first response), an idle
keep-alive connection after HTTP_KEEP_ALIVE_SECONDS, and a process holds at most
HTTP_MAX_CONNECTIONS connections (uvicorn answers 503 beyond them).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from fastapi import HTTPException
from pydantic import Field
from pydantic_settings import BaseSettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from .errors import RequestTooLarge


class HttpSettings(BaseSettings):
    """Budgets of one service's HTTP edge (each an environment variable)."""

    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="MAX_BODY_BYTES: largest request body (413)"
    )
    http_header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="HTTP_HEADER_TIMEOUT_SECONDS: time a client has to send a request's head",
    )
    http_keep_alive_seconds: float = Field(
        default=5.0, gt=0, description="HTTP_KEEP_ALIVE_SECONDS: idle keep-alive connections"
    )
    http_max_connections: int = Field(
        default=500, ge=1, description="HTTP_MAX_CONNECTIONS: per process; beyond them 503"
    )
    http_max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, description="HTTP_MAX_HEADER_BYTES: a request's head"
    )


class BodyTooLarge(HTTPException):
    """Raised while a body is read past the limit.

    An HTTPException because FastAPI re-raises one met while reading the body (any other
    error it turns into a 400); the problem handler answers it as `request_too_large`.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=RequestTooLarge(limit).message)
        self.limit = limit


class BodyLimitMiddleware:
    """Refuse a request body larger than `limit` bytes with 413, before it is parsed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.limit + 1
                if declared > self.limit:
                    await self._refuse(scope, send)
                    return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        from .problems import PROBLEM_JSON, problem_body

        body = problem_body(RequestTooLarge(self.limit), scope.get("path", "/"))
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol that also closes a connection slow to send a request head."""

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm_head_timer()  # part of a head (or nothing yet) on this connection
        else:
            self._disarm_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._disarm_head_timer()  # idle again: uvicorn's keep-alive timeout takes over

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def uvicorn_options(settings: HttpSettings) -> dict[str, Any]:
    """Return the uvicorn options that enforce `settings`."""
    protocol = type(
        "HeaderTimedH11Protocol",
        (TimedH11Protocol,),
        {"header_timeout": settings.http_header_timeout_seconds},
    )
    return {
        "http": protocol,
        # uvloop (a dependency on every platform it builds on) under the services' HTTP,
        # asyncpg and NATS I/O; "auto" falls back to asyncio's own loop where it does not
        "loop": "auto",
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "limit_concurrency": settings.http_max_connections,
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
    }
