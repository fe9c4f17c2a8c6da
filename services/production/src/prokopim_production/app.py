"""The one wiring point of the production service."""

from __future__ import annotations

from fastapi import FastAPI
from prokopim_kit.runtime import create_service_app

from .api import router
from .config import Settings
from .handlers import on_event
from .service import CASES, SERVICE


def create_app(settings: Settings) -> FastAPI:
    """Build the production app: recording and coverage steps (record, edit, cover)."""
    return create_service_app(
        name=SERVICE,
        router=router,
        settings=settings,
        on_event=on_event,
        wants=CASES.takes,  # hand-overs only: the rest is acked without a transaction
        description="Recording and coverage: equipment, raw recordings and drafts.",
    )
