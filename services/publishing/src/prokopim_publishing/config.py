"""Publishing's settings: where the archive, the city website and the mail server are."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from prokopim_kit.mail import SmtpSettings
from prokopim_kit.runtime import ServiceSettings
from prokopim_kit.status_links import StatusLinkSettings
from pydantic import Field, field_validator
from pydantic_settings import NoDecode

DEFAULT_OUTLET_MANAGERS = frozenset({"kepala-bagian", "ka-bagian"})


class Settings(ServiceSettings, StatusLinkSettings, SmtpSettings):
    """Everything the publishing service reads from its environment."""

    port: int = Field(default=8005, ge=1, le=65535, description="PORT (publishing: 8005)")
    archive_dir: Path = Field(
        default=Path("archive"), description="ARCHIVE_DIR: where archive manifests are written"
    )
    website_url: str | None = Field(
        default=None, description="WEBSITE_URL: the city website's endpoint for news posts"
    )
    website_token: str | None = Field(
        default=None, description="WEBSITE_TOKEN: bearer token for the website, if it needs one"
    )
    website_timeout: float = Field(default=15.0, gt=0, description="WEBSITE_TIMEOUT seconds")
    smtp_sender: str = Field(
        default="prokopim@localhost", description="SMTP_SENDER: From address of press releases"
    )
    delivery_attempts: int = Field(
        default=3,
        ge=1,
        le=5,
        description="DELIVERY_ATTEMPTS: tries per outlet while its mail server is unreachable or"
        " answers 4xx, before the outlet is recorded failed (a 5xx fails at once); at most the"
        " consumer's redeliveries (5)",
    )
    outlet_manager_roles: Annotated[frozenset[str], NoDecode] = Field(
        default=DEFAULT_OUTLET_MANAGERS,
        description="OUTLET_MANAGER_ROLES: comma-separated roles that may manage media outlets",
    )

    @field_validator("outlet_manager_roles", mode="before")
    @classmethod
    def _split_roles(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("outlet_manager_roles")
    @classmethod
    def _some_manager(cls, value: frozenset[str]) -> frozenset[str]:
        if not value:
            raise ValueError("name at least one role that may manage media outlets")
        return value
