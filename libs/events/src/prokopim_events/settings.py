"""Settings every prokopim process reads from its environment."""

from __future__ import annotations

import sys
from typing import Literal, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound=BaseSettings)


def settings_problems(error: ValidationError) -> list[str]:
    """Return one line per refused setting, naming its environment variable."""
    lines = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        names = [str(part) for part in problem["loc"]]
        lines.append(f"{'_'.join(names).upper()}: {message}" if names else message)
    return lines


def load_settings(cls: type[S]) -> S:
    """Read settings from the environment, or exit saying which variable to fix."""
    try:
        return cls()
    except ValidationError as error:
        problems = "\n".join(f"  - {line}" for line in settings_problems(error))
        sys.exit(f"{cls.__module__}.{cls.__name__}: refusing to start:\n{problems}")


class BackboneSettings(BaseSettings):
    """Where the event store and NATS are, and the namespace of this installation."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        description="PostgreSQL DSN of the event store",
    )
    nats_url: str = Field(default="nats://127.0.0.1:4222")
    nats_connect_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="NATS_CONNECT_TIMEOUT_SECONDS: how long start-up waits for NATS to answer",
    )
    prokopim_namespace: str = Field(
        default="", description="prefix for NATS subjects and streams (tests use their own)"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="LOG_LEVEL of the process's logs (any case: info, INFO)"
    )
    log_format: Literal["json", "text"] = Field(
        default="text", description="LOG_FORMAT: json (one object a line; compose) or text"
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


class RelaySettings(BackboneSettings):
    """What the relay process reads besides the backbone: its name and metrics port."""

    prokopim_relay_name: str = Field(
        default="default",
        min_length=1,
        description="PROKOPIM_RELAY_NAME: relays of one name elect a single active one",
    )
    metrics_port: int = Field(
        default=9400, ge=0, le=65535, description="METRICS_PORT of /metrics (0: not served)"
    )
    metrics_host: str = Field(default="0.0.0.0", description="METRICS_HOST to listen on")
