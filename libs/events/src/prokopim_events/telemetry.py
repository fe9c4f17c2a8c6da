"""OpenTelemetry for prokopim processes: set-up from OTEL_* variables, W3C trace context.

Tracing is on only when an OTLP endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); then spans go to it over OTLP/HTTP in batches. The
SDK reads the rest of its usual variables itself: `OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`, the exporter's headers,
timeout and compression. Without an endpoint (or with `OTEL_SDK_DISABLED=true` or
`OTEL_TRACES_EXPORTER=none`) nothing is installed: the hot paths check `tracing_active()`
and skip span work entirely.

The trace context of the span that decided an event is stored with the event as a W3C
`traceparent`; the relay and consumers continue the trace from it across NATS headers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from .envelope import StoredEvent

log = logging.getLogger(__name__)

TRACER_NAME = "prokopim"
_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_propagator = TraceContextTextMapPropagator()
_active = False


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Return whether the environment asks for traces to be exported."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "otlp").lower()
    if "otlp" not in {part.strip() for part in exporters.split(",")}:
        return False
    return any(environ.get(name, "").strip() for name in _ENDPOINT_VARIABLES)


def setup_tracing(default_service_name: str) -> bool:
    """Install the SDK and the OTLP/HTTP exporter if an endpoint is configured; return if on.

    Idempotent per process: the first caller's provider stays (OpenTelemetry allows one).
    """
    global _active
    if _active:
        return True
    if not tracing_requested():
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol != "http/protobuf":
        log.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%s: spans are sent as http/protobuf", protocol)
    resource = Resource.create()  # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: default_service_name}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _active = True
    log.info("tracing on: exporting spans of %s", resource.attributes.get(SERVICE_NAME))
    return True


def tracing_active() -> bool:
    """Return whether this process records spans (checked before any span work)."""
    return _active


def flush_tracing(timeout_millis: int = 5000) -> None:
    """Export the spans still buffered (at shutdown, so the last ones are not lost)."""
    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if _active and force_flush is not None:
        force_flush(timeout_millis)


def tracer() -> trace.Tracer:
    """Return prokopim's tracer."""
    return trace.get_tracer(TRACER_NAME)


def current_traceparent() -> str | None:
    """Return the W3C traceparent of the current span, or None when there is none."""
    if not _active:
        return None
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def context_from_traceparent(traceparent: str | None) -> Context | None:
    """Return the context a stored traceparent names (None: start a new trace)."""
    if not traceparent:
        return None
    return _propagator.extract({"traceparent": traceparent})


def context_from_headers(headers: Mapping[str, str] | None) -> Context | None:
    """Return the trace context carried in message headers."""
    if not headers or "traceparent" not in headers:
        return None
    return _propagator.extract(dict(headers))


def inject_into(headers: dict[str, str], context: Context) -> None:
    """Write `context` into `headers` as W3C trace context."""
    _propagator.inject(headers, context=context)


def message_attributes(event: StoredEvent, subject: str, operation: str) -> dict[str, str | int]:
    """Return the OpenTelemetry messaging attributes of one event on NATS."""
    return {
        "messaging.system": "nats",
        "messaging.operation.type": operation,
        "messaging.destination.name": subject,
        "messaging.message.id": str(event.event_id),
        "prokopim.event.type": event.type,
        "prokopim.stream.id": event.stream_id,
        "prokopim.global_position": event.global_position,
    }


def record_error(span: Span, error: BaseException) -> None:
    """Mark a span failed with the error that ended it."""
    from opentelemetry.trace import Status, StatusCode

    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
