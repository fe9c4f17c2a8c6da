"""The one wiring point of the scheduling service."""

from __future__ import annotations

from fastapi import FastAPI
from prokopim_kit.runtime import ServiceSettings, create_service_app

from .api import router
from .handlers import on_event
from .invitations import scheduling_migrations


def create_app(settings: ServiceSettings) -> FastAPI:
    """Build the scheduling app: its routes, and its reaction to hand-overs from NATS."""
    return create_service_app(
        name="scheduling",
        router=router,
        settings=settings,
        on_event=on_event,
        migrations=scheduling_migrations(),
        description=(
            "Coordinates the schedule, tells the requester and assigns the staff"
            " (SOP step kinds coordinate-schedule, notify-requester, assign-staff)."
        ),
    )
