"""The one wiring point of the scheduling service."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from prokopim_kit.runtime import ServiceSettings, create_service_app

from .api import router
from .booking_api import public as public_router
from .booking_api import router as booking_router
from .handlers import on_event, wants
from .invitations import scheduling_migrations
from .lists import router as lists_router


def create_app(settings: ServiceSettings) -> FastAPI:
    """Build the scheduling app: its routes, and its reaction to hand-overs from NATS."""
    routes = APIRouter()  # a fresh one per app: include_router copies the routes
    routes.include_router(router)
    routes.include_router(booking_router)
    routes.include_router(lists_router)
    routes.include_router(public_router)
    return create_service_app(
        name="scheduling",
        router=routes,
        migrations=scheduling_migrations(),
        settings=settings,
        on_event=on_event,
        wants=wants,
        description=(
            "Coordinates the schedule, tells the requester and assigns the staff"
            " (SOP step kinds coordinate-schedule, notify-requester, assign-staff)."
        ),
    )
