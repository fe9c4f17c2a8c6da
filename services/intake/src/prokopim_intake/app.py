"""Wire intake into a FastAPI app: the only place its parts meet."""

from __future__ import annotations

from fastapi import FastAPI
from prokopim_kit.runtime import ServiceSettings, create_service_app

from .api import router

DESCRIPTION = (
    "Registers request letters (SOP step 1) and records the head's disposition (step 2),"
    " then hands the case to scheduling through the published events."
)


def create_app(settings: ServiceSettings) -> FastAPI:
    """Build the intake app; it starts the flow, so it reacts to no other service's events."""
    return create_service_app(
        name="intake",
        router=router,
        settings=settings,
        on_event=None,
        description=DESCRIPTION,
    )
