"""Intake's settings: the shared service settings plus where to listen."""

from __future__ import annotations

from prokopim_kit.runtime import ServiceSettings
from pydantic import Field

DEFAULT_PORT = 8001


class Settings(ServiceSettings):
    """Read from the environment: DATABASE_URL, NATS_URL, JWT_SECRET, ..., HOST, PORT."""

    host: str = Field(default="127.0.0.1", description="address uvicorn listens on")
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535, description="intake's HTTP port")
