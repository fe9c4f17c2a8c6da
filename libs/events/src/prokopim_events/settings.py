"""Settings every prokopim process reads from its environment."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
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
    # The bus is closed (docs/security.md): each process connects as its own NATS user.
    nats_user: str = Field(default="", description="NATS_USER this process connects as")
    nats_password: SecretStr = Field(
        default=SecretStr(""), description="NATS_PASSWORD of NATS_USER"
    )
    nats_creds_file: Path | None = Field(
        default=None, description="NATS_CREDS_FILE: a .creds file (JWT + nkey seed), no password"
    )
    nats_inbox_prefix: str = Field(
        default="",
        description="NATS_INBOX_PREFIX of replies; default _INBOX_<NATS_USER> (what the"
        " generated permissions allow), _INBOX without a user",
    )
    nats_tls_ca_file: Path | None = Field(
        default=None, description="NATS_TLS_CA_FILE: verify the server against this CA"
    )
    nats_tls_cert_file: Path | None = Field(
        default=None, description="NATS_TLS_CERT_FILE: client certificate (mutual TLS)"
    )
    nats_tls_key_file: Path | None = Field(
        default=None, description="NATS_TLS_KEY_FILE: key of NATS_TLS_CERT_FILE"
    )
    nats_connect_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="NATS_CONNECT_TIMEOUT_SECONDS: how long start-up waits for NATS to answer",
    )
    nats_reconnect_wait_seconds: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="NATS_RECONNECT_WAIT_SECONDS: pause between reconnect attempts (no limit"
        " on their number: a process outlives a NATS outage of any length)",
    )
    nats_ping_interval_seconds: float = Field(
        default=20.0,
        gt=0,
        description="NATS_PING_INTERVAL_SECONDS: how often a silent server is pinged; three"
        " unanswered pings count as a lost connection",
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
    relay_lease_seconds: float = Field(
        default=15.0,
        gt=0,
        description="RELAY_LEASE_SECONDS: a relay that makes no progress for this long (hung,"
        " stopped, cut off) loses its lease and a standby takes over",
    )
    relay_ack_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="RELAY_ACK_TIMEOUT_SECONDS: how long the relay waits for a batch's acks"
        " before it steps down and re-publishes (keep it below RELAY_LEASE_SECONDS)",
    )
    relay_stream_check_seconds: float = Field(
        default=5.0,
        gt=0,
        description="RELAY_STREAM_CHECK_SECONDS: how often the relay checks that the stream"
        " still holds what it published (recreated or behind: re-publish from the store)",
    )
    relay_batch_size: int = Field(
        default=2000, ge=1, le=100_000, description="RELAY_BATCH_SIZE: events per batch"
    )
    metrics_port: int = Field(
        default=9400, ge=0, le=65535, description="METRICS_PORT of /metrics (0: not served)"
    )
    metrics_host: str = Field(default="0.0.0.0", description="METRICS_HOST to listen on")
