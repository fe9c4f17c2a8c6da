"""Wire intake into a FastAPI app: the only place its parts meet."""

from __future__ import annotations

from fastapi import FastAPI
from prokopim_events.migrations import Migration, package_migrations
from prokopim_kit.runtime import ServiceSettings, create_service_app

from .api import router
from .config import Settings

DESCRIPTION = (
    "Registers request letters (SOP step 1) and records the head's disposition (step 2),"
    " then hands the case to scheduling through the published events."
)


def intake_migrations() -> list[Migration]:
    """Intake's own tables (letter numbers, idempotency keys), applied by the owner."""
    return package_migrations("prokopim_intake", "intake")


def create_app(settings: ServiceSettings) -> FastAPI:
    """Build the intake app; it starts the flow, so it reacts to no other service's events."""
    app = create_service_app(
        name="intake",
        router=router,
        settings=settings,
        on_event=None,
        migrations=intake_migrations(),
        description=DESCRIPTION,
    )
    retention = Settings.model_fields["idempotency_key_retention_hours"].default
    app.state.idempotency_retention_hours = getattr(
        settings, "idempotency_key_retention_hours", retention
    )
    return app
