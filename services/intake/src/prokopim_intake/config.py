"""Intake's settings: the shared service settings (port 8001), and idempotency keys' life."""

from __future__ import annotations

from prokopim_kit.runtime import ServiceSettings
from pydantic import Field


class Settings(ServiceSettings):
    """Read from the environment: DATABASE_URL, NATS_URL, JWT_SECRET, ..., HOST, PORT."""

    port: int = Field(default=8001, ge=1, le=65535, description="PORT (intake: 8001)")
    idempotency_key_retention_hours: float = Field(
        default=24.0,
        gt=0,
        description="IDEMPOTENCY_KEY_RETENTION_HOURS: how long a POST /cases Idempotency-Key"
        " replays its first answer (a retry after that is decided again)",
    )
