"""The one wiring point of the publishing service."""

from __future__ import annotations

from fastapi import FastAPI
from prokopim_events.migrations import Migration, package_migrations
from prokopim_kit.runtime import create_service_app

from .api import router
from .archive import LocalArchive
from .config import Settings
from .handlers import reactions, wants
from .mailer import SmtpMailer
from .ports import Integrations
from .website import HttpWebsite

DESCRIPTION = (
    "The last SOP step: hand-over and archiving (Bandung), publication to the city website"
    " and the media registry (Tangerang)."
)


def default_integrations(settings: Settings) -> Integrations:
    """Build the adapters the settings describe."""
    return Integrations(
        website=HttpWebsite(
            settings.website_url, token=settings.website_token, timeout=settings.website_timeout
        ),
        mailer=SmtpMailer(settings, settings.smtp_sender),
        archive=LocalArchive(settings.archive_dir),
    )


def publishing_migrations() -> list[Migration]:
    """Publishing's own tables (the delivery record), applied by the migrating owner."""
    return package_migrations("prokopim_publishing", "publishing")


def create_app(settings: Settings, integrations: Integrations | None = None) -> FastAPI:
    """Build the publishing app (adapters from settings unless given)."""
    integrations = integrations or default_integrations(settings)
    app = create_service_app(
        name="publishing",
        router=router,
        settings=settings,
        on_event=reactions(integrations, settings.delivery_attempts),
        wants=wants,
        migrations=publishing_migrations(),
        description=DESCRIPTION,
    )
    app.state.integrations = integrations
    app.state.outlet_managers = settings.outlet_manager_roles
    return app
