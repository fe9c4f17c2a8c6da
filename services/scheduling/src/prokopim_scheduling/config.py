"""Scheduling's settings: the shared service settings, listening on port 8002 by default."""

from __future__ import annotations

from prokopim_kit.runtime import ServiceSettings
from pydantic import Field

from .booking_config import BookingSettings
from .status_page import StatusSettings


class Settings(ServiceSettings, BookingSettings, StatusSettings):
    """Read from the environment: DATABASE_URL, NATS_URL, JWT_SECRET, ..., HOST, PORT."""

    port: int = Field(default=8002, ge=1, le=65535, description="PORT (scheduling: 8002)")
