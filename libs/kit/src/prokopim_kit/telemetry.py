"""Tracing for a service app: the SDK from OTEL_* variables, FastAPI and asyncpg spans.

Nothing is instrumented unless an OTLP endpoint is configured, so a service without one
pays nothing on its request and store paths.
"""

from __future__ import annotations

from fastapi import FastAPI
from prokopim_events.telemetry import setup_tracing

# Probes and scrapes every few seconds would drown the traces that matter.
_UNTRACED_URLS = "healthz,readyz,metrics"
_asyncpg_instrumented = False


def instrument_app(app: FastAPI, service: str) -> bool:
    """Trace the app's requests and its database calls when tracing is configured."""
    global _asyncpg_instrumented
    if not setup_tracing(f"prokopim-{service}"):
        return False
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls=_UNTRACED_URLS)
    if not _asyncpg_instrumented:
        AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
        _asyncpg_instrumented = True
    return True
