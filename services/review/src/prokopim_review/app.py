"""Wire the review service: its router and its reaction to other services' events."""

from __future__ import annotations

from fastapi import FastAPI
from prokopim_kit.runtime import ServiceSettings, create_service_app

from .api import router
from .domain import SERVICE
from .handlers import on_event
from .service import CASES


def create_app(settings: ServiceSettings) -> FastAPI:
    """Build the review app (connections are made in its lifespan)."""
    return create_service_app(
        name=SERVICE,
        router=router,
        settings=settings,
        on_event=on_event,
        wants=CASES.takes,  # hand-overs only: the rest is acked without a transaction
        description="Review steps: examine, approve or reject drafts (Bandung 8-9, Tangerang 5-6).",
    )
