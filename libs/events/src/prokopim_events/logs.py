"""Logs of every prokopim process, configured in one place: JSON lines for machines, or text.

`configure_logging` is called once at start-up by each process (services through
`prokopim_kit.runtime.serve`, the relay in `relay_main`). It sends the standard library's
records — ours, uvicorn's, FastStream's, asyncpg's — through structlog's processors, so
every line has the same keys:

    {"timestamp": "2026-12-06T10:41:07.113Z", "level": "info", "logger": "prokopim_kit.handover",
     "message": "case ... opened at step 3", "trace_id": "4bf9...", "consumer": "scheduling",
     "event_id": "...", "event_type": "prokopim.intake.disposition-given.v1",
     "case_id": "...", "step": 2}

The ids come from context variables: a consumer binds the message it handles
(`ConsumeLogContext`, a FastStream middleware), so anything logged while handling it —
the handler, the consumer's retries and dead letters, the store — carries them without
being passed. `trace_id` is the active span's when tracing is on, else the W3C
`traceparent` the message or request came with.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping
from typing import Any, Literal, TextIO

import orjson
import structlog
from faststream import BaseMiddleware
from faststream._internal.basic_types import AsyncFuncAny
from faststream.message import StreamMessage
from opentelemetry import trace
from structlog.typing import EventDict, WrappedLogger

LogFormat = Literal["json", "text"]

# Keys an on-call engineer filters by; bound for the duration of one message or request.
CONTEXT_KEYS = ("trace_id", "case_id", "event_id", "event_type", "consumer", "step")


def _trace_id(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Put the active span's trace id on the line (it wins over a bound one)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
    return event


def _processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _trace_id,
    ]


def configure_logging(
    level: str = "INFO", log_format: LogFormat = "text", stream: TextIO | None = None
) -> None:
    """Send every log record of the process to stderr (or `stream`) as JSON lines or as
    text, at `level`."""
    rendering: list[Any] = (
        [
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(serializer=_dumps),
        ]
        if log_format == "json"
        # plain tracebacks: rich's would print local variables, secrets included
        else [
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        ]
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    structlog.configure(
        processors=[*_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _dumps(value: Any, **_: Any) -> str:
    # orjson: UUIDs and datetimes as strings; anything else as its repr rather than failing
    return orjson.dumps(value, default=repr).decode()


@contextlib.contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Bind values (None left out) to every line logged inside the block, in this task."""
    tokens = structlog.contextvars.bind_contextvars(
        **{key: value for key, value in values.items() if value is not None}
    )
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def trace_id_of(traceparent: str | None) -> str | None:
    """Return the trace id of a W3C traceparent (`00-<trace id>-<span id>-<flags>`)."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def message_context(consumer: str, body: bytes, headers: Mapping[str, Any]) -> dict[str, Any]:
    """The ids of a published event (CloudEvents JSON) for the log context of its handling."""
    context: dict[str, Any] = {"consumer": consumer}
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return context  # a poison message: the consumer logs what it does with it
    if not isinstance(event, dict):
        return context
    data = event.get("data")
    data = data if isinstance(data, dict) else {}
    context.update(
        event_id=event.get("id"),
        event_type=event.get("type"),
        case_id=data.get("case_id"),
        step=data.get("step"),
        trace_id=trace_id_of(headers.get("traceparent") or event.get("traceparent")),
    )
    return context


class ConsumeLogContext(BaseMiddleware):
    """FastStream middleware: bind the consumer and the event's ids while a message is handled."""

    def __init__(self, msg: Any, /, *, context: Any, consumer: str) -> None:
        super().__init__(msg, context=context)
        self.consumer = consumer

    async def consume_scope(self, call_next: AsyncFuncAny, msg: StreamMessage[Any]) -> Any:
        body = msg.body if isinstance(msg.body, bytes) else b""
        with log_context(**message_context(self.consumer, body, msg.headers)):
            return await call_next(msg)
